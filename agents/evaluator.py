"""The grasp evaluator (Tobin et al. 2017, section III.C).

A CNN with a sigmoid output that reads the hand-camera depth image of a candidate grasp (the
palm's view along the approach axis from the pre-grasp pose, :meth:`GraspEnv.hand_camera_images`)
and estimates the probability that executing the grasp lifts the object.  Trained with binary
cross-entropy on simulated attempts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from agents.planner import conv_encoder


@dataclass(frozen=True)
class EvaluatorConfig:
    """Architecture of :class:`GraspEvaluator` (stored as JSON beside every checkpoint).

    Attributes:
        height: Hand-camera image height in pixels.
        width: Hand-camera image width in pixels.
        standoff: The hand camera's distance back from the grasp pose (m); depths are measured
            relative to it, so the network sees how far the grasp point sits in front of a surface.
        depth_range: Depths beyond ``standoff + depth_range`` are clipped (m).
        channels: Output channels of the CNN's stride-2 convolutions.
        hidden: Hidden units of the dense layer before the sigmoid.
    """

    height: int = 32
    width: int = 32
    standoff: float = 0.10
    depth_range: float = 0.15
    channels: tuple[int, ...] = (32, 64, 64)
    hidden: int = 128

    def __post_init__(self) -> None:
        if self.height < 4 or self.width < 4:
            raise ValueError(f"hand images must be at least 4 x 4, got {self.height} x {self.width}")
        if self.standoff < 0 or self.depth_range <= 0:
            raise ValueError(f"standoff must be >= 0 and depth_range > 0, got {self.standoff}, {self.depth_range}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.channels or min(self.channels) < 1 or self.hidden < 1:
            raise ValueError(f"channels and hidden must be positive, got {self.channels}, {self.hidden}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class GraspEvaluator(nn.Module):
    """Hand-camera depth image -> logit of grasp success (apply a sigmoid for the probability)."""

    def __init__(self, config: EvaluatorConfig = EvaluatorConfig()) -> None:
        super().__init__()
        self.config = config
        self.encoder, flat = conv_encoder(config.channels, 2, config.height, config.width)
        self.head = nn.Sequential(nn.Linear(flat, config.hidden), nn.ReLU(inplace=True), nn.Linear(config.hidden, 1))

    def inputs(self, hand_depth: torch.Tensor) -> torch.Tensor:
        """(N, H, W) metres -> (N, 2, H, W): depth relative to the grasp point, and a near mask."""
        c = self.config
        if hand_depth.shape[-2:] != (c.height, c.width):
            raise ValueError(f"hand images must be {c.height} x {c.width} (the evaluator's training size), "
                             f"got {tuple(hand_depth.shape[-2:])}; use an env with hand_height={c.height}, "
                             f"hand_width={c.width}")
        rel = (hand_depth - c.standoff).clamp(-c.standoff, c.depth_range) / c.depth_range
        near = (hand_depth < c.standoff + c.depth_range).to(hand_depth.dtype)
        return torch.stack([rel, near], dim=1)

    def forward(self, hand_depth: torch.Tensor) -> torch.Tensor:
        """Success logits (N,) for hand images (N, H, W) in metres."""
        return self.head(self.encoder(self.inputs(hand_depth))).squeeze(-1)

    @torch.no_grad()
    def success_probability(self, hand_depth: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(hand_depth))
