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
        grasp_dims: 0: the image alone (the paper's evaluator).  4 or 6: the dense layer also reads
            the candidate's own parameters, its bins scaled to [0, 1], and the object box's
            extents (decimetres), so it knows where in the box the grasp sits and at which angle.
        n_bins: Bins per grasp dimension (to scale ``grasp_dims`` bins).
    """

    height: int = 32
    width: int = 32
    standoff: float = 0.10
    depth_range: float = 0.15
    channels: tuple[int, ...] = (32, 64, 64)
    hidden: int = 128
    grasp_dims: int = 0
    n_bins: int = 20

    def __post_init__(self) -> None:
        if self.grasp_dims not in (0, 4, 6):
            raise ValueError(f"grasp_dims must be 0 (image only), 4 or 6, got {self.grasp_dims}")
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
        extra = config.grasp_dims + 3 if config.grasp_dims else 0
        self.head = nn.Sequential(nn.Linear(flat + extra, config.hidden), nn.ReLU(inplace=True),
                                  nn.Linear(config.hidden, 1))

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

    def grasp_features(self, grasp: torch.Tensor | None, bbox: torch.Tensor | None, n: int) -> torch.Tensor:
        """(N, grasp_dims + 3) features of the candidates' bins (N, dims) and boxes (N, 6) or (6,)."""
        c = self.config
        if grasp is None or bbox is None:
            raise ValueError(f"this evaluator reads the grasp's own parameters (grasp_dims={c.grasp_dims}): pass "
                             "grasp=(N, dims) bins and bbox=(N, 6) or (6,) with the hand images")
        grasp = torch.as_tensor(grasp).reshape(n, -1)
        if grasp.shape[1] != c.grasp_dims:
            raise ValueError(f"grasps must have {c.grasp_dims} bins each, got {grasp.shape[1]}")
        bbox = torch.as_tensor(bbox, dtype=torch.float32).reshape(-1, 6).expand(n, 6)
        return torch.cat([grasp.float() / (c.n_bins - 1), (bbox[:, 3:] - bbox[:, :3]) * 10.0], dim=1)

    def forward(self, hand_depth: torch.Tensor, grasp: torch.Tensor | None = None,
                bbox: torch.Tensor | None = None) -> torch.Tensor:
        """Success logits (N,) for hand images (N, H, W) in metres (and, with ``grasp_dims``, their
        grasps' bins (N, dims) and the object's box (6,) or (N, 6))."""
        x = self.encoder(self.inputs(hand_depth))
        if self.config.grasp_dims:
            x = torch.cat([x, self.grasp_features(grasp, bbox, len(hand_depth))], dim=1)
        return self.head(x).squeeze(-1)

    @torch.no_grad()
    def success_probability(self, hand_depth: torch.Tensor, grasp: torch.Tensor | None = None,
                            bbox: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.forward(hand_depth, grasp, bbox))

    def widened(self, grasp_dims: int) -> "GraspEvaluator":
        """A copy that also reads the grasp's parameters, with this one's weights and zero weights
        for the new inputs: it starts out making exactly this evaluator's predictions."""
        cfg = EvaluatorConfig(**{**self.config.to_dict(), "grasp_dims": grasp_dims})
        out = GraspEvaluator(cfg)
        out.encoder.load_state_dict(self.encoder.state_dict())
        out.head[2].load_state_dict(self.head[2].state_dict())
        with torch.no_grad():
            w = self.head[0].weight
            out.head[0].weight.zero_()
            out.head[0].weight[:, : w.shape[1]] = w
            out.head[0].bias.copy_(self.head[0].bias)
        return out
