"""The autoregressive grasp planner (Tobin et al. 2017, section III.B).

The planner models ``p(g | o) = prod_i p(g_i | g_1..g_{i-1}, o)`` over the grasp's bins:

* **Image representation.**  Every depth image of the observation is turned into a 4-channel
  feature map (see :class:`DepthFeatures`): each pixel's 3-D point expressed in the grasp grid's
  own frame (0 at the bounding box's minimum side, 1 at its maximum) plus an object mask.  A
  separate CNN per camera encodes its map; the flattened outputs are stacked with the bounding
  box's extents and passed through dense layers to an embedding ``s``.
* **One sub-network per grasp dimension** (no weight sharing; the paper found sharing hurts):
  head ``i`` is a small MLP taking ``s`` and the one-hot bins of dimensions ``0..i-1`` and
  returning logits over the 20 bins of dimension ``i``.

Training maximises the likelihood of successful grasps in the *stacked* form: one image forward
pass per object for all of its ``m`` successful grasps, given as an ``(n_objects, m, dims)``
matrix padded with a mask (:meth:`GraspPlanner.log_prob`).  :meth:`GraspPlanner.beam_search`
returns the ``k`` most likely grasps with their log-likelihoods; :meth:`GraspPlanner.sample`
draws grasps ancestrally.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from grasp_envs.envs.observations import ObservationConfig

#: Feature channels per camera image: grid-frame x, y, z of the seen point, and object mask.
FEATURE_CHANNELS = 4
#: Pixels at least this far (m) above the table belong to the object.
OBJECT_THRESHOLD = 0.003


@dataclass(frozen=True)
class PlannerConfig:
    """Architecture of :class:`GraspPlanner` (stored as JSON beside every checkpoint).

    Attributes:
        dims: Grasp dimensions (4: x, y, z, yaw; 6: x, y, z, roll, pitch, yaw).
        n_bins: Bins per dimension.
        observation: The :class:`ObservationConfig` the planner was trained on, as a dict; the
            feature maps are computed with its cameras, so an env with other cameras is refused.
        channels: Output channels of the CNN's stride-2 convolutions (the first uses a 5x5 kernel,
            the rest 3x3).
        embed: Size of the image embedding ``s`` (two dense layers).
        head_hidden: Hidden units of each per-dimension sub-network (two hidden layers).
    """

    dims: int = 4
    n_bins: int = 20
    observation: dict = field(default_factory=lambda: ObservationConfig().to_dict())
    channels: tuple[int, ...] = (32, 64, 64, 64)
    embed: int = 256
    head_hidden: int = 128

    def __post_init__(self) -> None:
        if self.dims not in (4, 6):
            raise ValueError(f"dims must be 4 or 6, got {self.dims}")
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, got {self.n_bins}")
        if not isinstance(self.observation, dict):
            raise TypeError("observation must be a dict (ObservationConfig.to_dict()), "
                            f"got {type(self.observation).__name__}")
        ObservationConfig(**self.observation)  # validates
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be a non-empty list of positive ints, got {self.channels}")
        if self.embed < 1 or self.head_hidden < 1:
            raise ValueError(f"embed and head_hidden must be positive, got {self.embed}, {self.head_hidden}")

    @property
    def obs_config(self) -> ObservationConfig:
        return ObservationConfig(**self.observation)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class DepthFeatures(nn.Module):
    """Depth images + bounding box -> per-pixel grid-frame coordinates and object mask.

    Pixel ``p`` of camera ``k`` seen at depth ``d`` is the world point
    ``R_k (d * r_p) + c_k + (cx, cy, 0)``, where ``r_p`` is its ray (with unit z), ``R_k`` and
    ``c_k`` the camera's rotation and offset from the box's table point ``(cx, cy, 0)``.  Dividing
    by the box gives the point in the grid's frame, in which the planner's position bins live.
    Coordinates are clipped to [-1, 2]; rays that hit nothing get the mask 0 and coordinates of
    the far plane (clipped).
    """

    def __init__(self, obs_config: ObservationConfig) -> None:
        super().__init__()
        cam = obs_config.camera
        f = cam.focal
        u = (np.arange(cam.width) + 0.5 - cam.width / 2) / f
        v = (np.arange(cam.height) + 0.5 - cam.height / 2) / f
        U, V = np.meshgrid(u, v)
        rays = np.stack([U, V, np.ones_like(U)], axis=-1)  # (H, W, 3), z = 1
        zero_box = np.zeros((2, 3))
        dirs, offsets = [], []
        for pos, R in obs_config.camera_poses(zero_box):
            dirs.append(rays @ R.T)
            offsets.append(pos)
        self.register_buffer("dirs", torch.tensor(np.stack(dirs), dtype=torch.float32), persistent=False)  # (K,H,W,3)
        self.register_buffer("offsets", torch.tensor(np.stack(offsets), dtype=torch.float32), persistent=False)  # (K,3)
        self.far = float(cam.far)

    def forward(self, depth: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        """``depth`` (B, K, H, W) metres, ``bbox`` (B, 6) -> features (B, K, 4, H, W)."""
        lo, hi = bbox[:, :3], bbox[:, 3:]
        span = (hi - lo).clamp_min(1e-4)
        centre = torch.stack([(lo[:, 0] + hi[:, 0]) / 2, (lo[:, 1] + hi[:, 1]) / 2, torch.zeros_like(lo[:, 0])], -1)
        pts = self.dirs[None] * depth[..., None] + (self.offsets[None] + centre[:, None])[:, :, None, None]
        frac = (pts - lo[:, None, None, None]) / span[:, None, None, None]
        frac = frac.clamp(-1.0, 2.0).permute(0, 1, 4, 2, 3)  # (B, K, 3, H, W)
        mask = ((pts[..., 2] > OBJECT_THRESHOLD) & (depth < self.far - 1e-6)).to(depth.dtype)
        return torch.cat([frac, mask[:, :, None]], dim=2)


def conv_encoder(channels: tuple[int, ...], in_ch: int, height: int, width: int) -> tuple[nn.Module, int]:
    layers: list[nn.Module] = []
    c, h, w = in_ch, height, width
    for i, out in enumerate(channels):
        k = 5 if i == 0 else 3
        layers += [nn.Conv2d(c, out, k, stride=2, padding=k // 2), nn.ReLU(inplace=True)]
        c, h, w = out, (h + 1) // 2, (w + 1) // 2
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), c * h * w


class GraspPlanner(nn.Module):
    """Autoregressive distribution over grasp bins given a depth observation."""

    def __init__(self, config: PlannerConfig = PlannerConfig()) -> None:
        super().__init__()
        self.config = config
        obs = config.obs_config
        self.features = DepthFeatures(obs)
        encoders, flat = [], 0
        for _ in range(obs.n_cameras):
            enc, n = conv_encoder(config.channels, FEATURE_CHANNELS, obs.height, obs.width)
            encoders.append(enc)
            flat += n
        self.encoders = nn.ModuleList(encoders)
        self.dense = nn.Sequential(
            nn.Linear(flat + 3, config.embed), nn.ReLU(inplace=True),
            nn.Linear(config.embed, config.embed), nn.ReLU(inplace=True),
        )
        nb, hh = config.n_bins, config.head_hidden
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(config.embed + i * nb, hh), nn.ReLU(inplace=True),
                          nn.Linear(hh, hh), nn.ReLU(inplace=True), nn.Linear(hh, nb))
            for i in range(config.dims)
        )

    # --------------------------------------------------------------- pieces
    def embed_features(self, feats: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        """Embedding ``s`` (B, embed) from feature maps (B, K, 4, H, W) and boxes (B, 6)."""
        flat = [enc(feats[:, k]) for k, enc in enumerate(self.encoders)]
        extent = (bbox[:, 3:] - bbox[:, :3]) * 10.0  # decimetres: O(1)
        return self.dense(torch.cat(flat + [extent], dim=1))

    def embed(self, depth: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        """Embedding ``s`` (B, embed) of raw observations: depth (B, K, H, W) metres, bbox (B, 6)."""
        return self.embed_features(self.features(depth, bbox), bbox)

    def head_logits(self, i: int, s: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Logits over dimension ``i``'s bins; ``s`` (..., E), ``prev`` (..., i) integer bins.

        ``s`` broadcasts against ``prev``'s leading dimensions (e.g. (B, 1, E) against (B, m, i)).
        The first layer of head ``i`` acts on ``[s, onehot(prev)]``; it is computed as its ``s``
        part once per embedding plus its one-hot part per grasp: the same affine map, without
        repeating the embedding's product for every grasp of the object (the stacked form).
        """
        first, rest = self.heads[i][0], self.heads[i][1:]
        E = s.shape[-1]
        h = F.linear(s, first.weight[:, :E], first.bias)
        if i > 0:
            onehot = F.one_hot(prev[..., :i], self.config.n_bins).to(s.dtype).flatten(-2)
            h = h + F.linear(onehot, first.weight[:, E:])
        return rest(h)

    def log_prob_given_embedding(self, s: torch.Tensor, grasps: torch.Tensor) -> torch.Tensor:
        """log p(grasps | s): ``s`` (B, E), ``grasps`` (B, m, dims) -> (B, m)."""
        B, m, d = grasps.shape
        se = s[:, None, :]
        total = torch.zeros(B, m, dtype=s.dtype, device=s.device)
        for i in range(d):
            logp = torch.log_softmax(self.head_logits(i, se, grasps), -1)
            total = total + logp.expand(B, m, logp.shape[-1]).gather(-1, grasps[..., i : i + 1]).squeeze(-1)
        return total

    # --------------------------------------------------------------- public API
    def log_prob(self, depth: torch.Tensor, bbox: torch.Tensor, grasps: torch.Tensor) -> torch.Tensor:
        """Log-likelihood (B, m) of ``grasps`` (B, m, dims) under each observation, stacked form."""
        return self.log_prob_given_embedding(self.embed(depth, bbox), grasps.long())

    def nll_stacked(self, feats: torch.Tensor, bbox: torch.Tensor, grasps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean NLL of the successful grasps: one image pass per object for all of its grasps.

        ``feats`` (B, K, 4, H, W), ``bbox`` (B, 6), ``grasps`` (B, m, dims) padded, ``mask`` (B, m)
        with 1 for real grasps and 0 for padding.
        """
        lp = self.log_prob_given_embedding(self.embed_features(feats, bbox), grasps.long())
        mask = mask.to(lp.dtype)
        return -(lp * mask).sum() / mask.sum().clamp_min(1.0)

    def nll_naive(self, feats: torch.Tensor, bbox: torch.Tensor, grasps: torch.Tensor) -> torch.Tensor:
        """Mean NLL in the naive form: one row (and one image pass) per grasp.

        ``feats`` (N, K, 4, H, W) and ``bbox`` (N, 6) repeat each object's image once per grasp;
        ``grasps`` is (N, dims).
        """
        lp = self.log_prob_given_embedding(self.embed_features(feats, bbox), grasps.long()[:, None, :])
        return -lp.mean()

    @torch.no_grad()
    def beam_search(self, depth: torch.Tensor, bbox: torch.Tensor, beam_width: int = 20, top_k: int = 20
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``top_k`` most likely grasps per observation by beam search.

        Returns ``grasps`` (B, k, dims) int64 and their log-likelihoods (B, k), best first.
        """
        _check_beam(beam_width, top_k)
        return self._beam(self.embed(depth, bbox), beam_width, top_k)

    def _beam(self, s: torch.Tensor, beam_width: int, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Beam search from embeddings ``s`` (B, E); the arguments are checked by the callers."""
        B, nb, d = s.shape[0], self.config.n_bins, self.config.dims
        seqs = torch.zeros(B, 1, 0, dtype=torch.long, device=s.device)
        scores = torch.zeros(B, 1, dtype=s.dtype, device=s.device)
        for i in range(d):
            n = seqs.shape[1]
            logp = torch.log_softmax(self.head_logits(i, s[:, None].expand(B, n, s.shape[-1]), seqs), -1)
            cand = (scores[..., None] + logp).reshape(B, n * nb)
            keep = min(beam_width, n * nb)
            scores, idx = cand.topk(keep, dim=1)
            parent, bin_ = idx // nb, idx % nb
            seqs = torch.cat([seqs.gather(1, parent[..., None].expand(B, keep, i)), bin_[..., None]], dim=2)
        k = min(top_k, seqs.shape[1])
        return seqs[:, :k], scores[:, :k]

    def dihedral_defined(self) -> bool:
        """Whether the 8 dihedral transforms of the scene apply (4-D grasps, one overhead camera)."""
        return self.config.dims == 4 and self.config.obs_config.n_cameras == 1

    @torch.no_grad()
    def beam_search_dihedral(self, depth: torch.Tensor, bbox: torch.Tensor, beam_width: int = 20, top_k: int = 20
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Beam search over the 8 mirrored and turned copies of the scene, ranked by their mean log-likelihood.

        The planner is trained on all 8 dihedral transforms of each scene, so each copy is an
        equally valid view of the same grasping problem.  Each copy's beam proposes ``beam_width``
        grasps (mapped back to the original frame); every distinct proposal is scored by its
        log-likelihood averaged over the 8 copies, and the ``top_k`` best are returned, best
        first, with those mean scores.  Defined for 4-D grasps and a single overhead camera.
        """
        if not self.dihedral_defined():
            raise ValueError("the dihedral ensemble needs a 4-D planner with a single overhead camera "
                             f"(this one is {self.config.dims}-D with {self.config.obs_config.n_cameras} cameras)")
        _check_beam(beam_width, top_k)
        feats = self.features(depth, bbox)
        B, nb = feats.shape[0], self.config.n_bins
        views = [dihedral_features(feats, bbox, k, flip) for k, flip in DIHEDRAL]
        s = self.embed_features(torch.cat([f for f, _ in views]), torch.cat([b for _, b in views]))  # (8B, E)
        props, _ = self._beam(s, beam_width, beam_width)  # (8B, w, 4) in each view's frame
        props = props.reshape(len(DIHEDRAL), B, -1, 4).numpy()
        back = np.concatenate([dihedral_bins(props[t], *_inverse(k, flip), nb) for t, (k, flip) in enumerate(DIHEDRAL)],
                              axis=1)  # (B, 8w, 4) original frame
        out_g = torch.zeros(B, top_k, 4, dtype=torch.long)
        out_s = torch.full((B, top_k), -torch.inf)
        s = s.reshape(len(DIHEDRAL), B, -1)
        for i in range(B):
            cand = np.unique(back[i], axis=0)  # (c, 4)
            score = torch.stack([
                self.log_prob_given_embedding(s[t, i : i + 1], torch.from_numpy(dihedral_bins(cand, k, flip, nb))[None])[0]
                for t, (k, flip) in enumerate(DIHEDRAL)]).mean(0)
            # Stable order: score, then bins, so ties break identically on every platform.
            order = np.lexsort((*cand.T[::-1], -score.numpy()))[:top_k]
            out_g[i, : len(order)] = torch.from_numpy(cand[order])
            out_s[i, : len(order)] = score[order]
        return out_g, out_s

    @torch.no_grad()
    def sample(self, depth: torch.Tensor, bbox: torch.Tensor, n: int = 1, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` ancestral samples per observation: grasps (B, n, dims) and their log-likelihoods (B, n)."""
        s = self.embed(depth, bbox)
        B = s.shape[0]
        se = s[:, None].expand(B, n, s.shape[-1])
        seqs = torch.zeros(B, n, 0, dtype=torch.long, device=s.device)
        total = torch.zeros(B, n, dtype=s.dtype, device=s.device)
        for i in range(self.config.dims):
            logp = torch.log_softmax(self.head_logits(i, se, seqs), -1)
            pick = torch.multinomial(logp.exp().reshape(B * n, -1), 1, generator=generator).reshape(B, n, 1)
            total = total + logp.gather(-1, pick).squeeze(-1)
            seqs = torch.cat([seqs, pick], dim=2)
        return seqs, total


def _check_beam(beam_width: int, top_k: int) -> None:
    if beam_width < 1 or top_k < 1:
        raise ValueError(f"beam_width and top_k must be positive, got {beam_width}, {top_k}")
    if top_k > beam_width:
        raise ValueError(f"top_k ({top_k}) cannot exceed beam_width ({beam_width}): the beam keeps only "
                         f"{beam_width} hypotheses; raise beam_width")


# ------------------------------------------------------------------ dihedral augmentation
#: The 8 dihedral transforms as (quarter turns, mirror) pairs, identity first.
DIHEDRAL = tuple((k, flip) for flip in (False, True) for k in range(4))


def _inverse(k: int, flip: bool) -> tuple[int, bool]:
    """The transform undoing ``(k, flip)`` (a turn undoes with the opposite turn; a mirrored one is its own inverse)."""
    return (k, True) if flip else ((4 - k) % 4, False)


def dihedral_bins(grasps: np.ndarray, k: int, flip: bool, n_bins: int = 20) -> np.ndarray:
    """Bins of 4-D grasps after the scene is mirrored in x (if ``flip``) then turned ``k`` x 90 degrees.

    Mirroring ``x -> -x`` maps x bin ``b`` to ``n-1-b`` and yaw ``t`` to ``pi - t``; a quarter turn
    ``(x, y) -> (-y, x)`` maps ``(bx, by)`` to ``(n-1-by, bx)`` and adds ``pi/2`` to yaw.  These
    match :func:`dihedral_features` (``np.rot90`` / ``torch.rot90`` of an image whose rows run
    towards -y and whose columns run towards +x).
    """
    g = np.array(grasps, dtype=np.int64, copy=True)
    if g.shape[-1] != 4:
        raise ValueError(f"dihedral augmentation is defined for 4-D grasps, got {g.shape[-1]}-D")
    n = n_bins
    if flip:
        g[..., 0] = n - 1 - g[..., 0]
        g[..., 3] = (n - g[..., 3]) % n
    for _ in range(k % 4):
        x, y = g[..., 0].copy(), g[..., 1].copy()
        g[..., 0], g[..., 1] = n - 1 - y, x
        g[..., 3] = (g[..., 3] + n // 2) % n
    return g


def dihedral_features(feats: torch.Tensor, bbox: torch.Tensor, k: int, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature maps (B, 1, 4, H, W) and boxes (B, 6) of the mirrored and turned scene.

    Only for a single overhead camera (the turned scene of an oblique camera is another camera).
    """
    if feats.shape[1] != 1:
        raise ValueError("dihedral augmentation needs a single overhead camera (n_cameras=1)")
    f = feats.clone()
    b = bbox.clone()
    centre = (b[:, :3] + b[:, 3:]) / 2
    half = (b[:, 3:] - b[:, :3]) / 2
    if flip:
        f = torch.flip(f, dims=(-1,))
        f[:, :, 0] = 1.0 - f[:, :, 0]
    for _ in range(k % 4):
        f = torch.rot90(f, 1, dims=(-2, -1))
        x, y = f[:, :, 0].clone(), f[:, :, 1].clone()
        f[:, :, 0], f[:, :, 1] = 1.0 - y, x
        half = half[:, [1, 0, 2]]
    # Only the extents matter to the planner (it sees the box through them and the maps).
    b = torch.cat([centre - half, centre + half], dim=1)
    return f, b
