"""The autoregressive planner: normalisation, stacked = naive NLL, exact beam search, sampling,
dihedral augmentation checked against the simulator, and that training lowers the NLL."""

import itertools

import numpy as np
import pytest
import torch

import grasp_envs  # noqa: F401
from agents.planner import (DIHEDRAL, GraspPlanner, PlannerConfig, _inverse, dihedral_bins, dihedral_features)
from grasp_envs.grid import GraspGrid
from grasp_envs.sim.simulator import mat_to_quat, quat_to_mat

torch.set_num_threads(1)

SMALL = dict(channels=(8, 8, 8, 8), embed=32, head_hidden=16)


@pytest.fixture(scope="module")
def scene(env):
    obs, _ = env.reset(seed=3)
    return torch.from_numpy(obs["depth"])[None], torch.from_numpy(obs["bbox"])[None]


def planner(dims=4, seed=0):
    torch.manual_seed(seed)
    return GraspPlanner(PlannerConfig(dims=dims, **SMALL)).eval()


def all_grasps(dims=4, n=20):
    return torch.tensor(list(itertools.product(range(n), repeat=dims)), dtype=torch.long)


def test_distribution_sums_to_one(scene):
    p = planner()
    with torch.no_grad():
        lp = p.log_prob(*scene, all_grasps()[None])
    assert lp.shape == (1, 20**4)
    assert torch.logsumexp(lp.double(), dim=1).item() == pytest.approx(0.0, abs=1e-4)


def test_stacked_equals_naive(scene):
    p = planner(seed=1)
    g = torch.randint(0, 20, (2, 5, 4))
    depth, bbox = scene[0].repeat(2, 1, 1, 1), scene[1].repeat(2, 1)
    depth[1] = depth[1] + 0.01  # two different observations
    feats = p.features(depth, bbox)
    mask = torch.ones(2, 5)
    mask[1, 3:] = 0
    with torch.no_grad():
        stacked = p.nll_stacked(feats, bbox, g, mask)
        rows = [(i, j) for i in range(2) for j in range(5) if mask[i, j]]
        naive = p.nll_naive(feats[[i for i, _ in rows]], bbox[[i for i, _ in rows]], torch.stack([g[i, j] for i, j in rows]))
    assert stacked.item() == pytest.approx(naive.item(), rel=1e-5)


def test_beam_search_is_exact_with_a_wide_beam_and_sorted_with_the_default(scene):
    p = planner(seed=2)
    with torch.no_grad():
        every = p.log_prob(*scene, all_grasps()[None])[0]
        best = torch.topk(every, 20)
        g, s = p.beam_search(*scene, beam_width=20**3, top_k=20)
        assert torch.allclose(s[0], best.values, atol=1e-5)
        g20, s20 = p.beam_search(*scene, beam_width=20, top_k=20)
    assert g20.shape == (1, 20, 4) and s20.shape == (1, 20)
    assert torch.all(s20[0, :-1] >= s20[0, 1:])
    assert len({tuple(x) for x in g20[0].tolist()}) == 20
    # The scores are the grasps' log-likelihoods, and no better than the exact top 20.
    with torch.no_grad():
        assert torch.allclose(p.log_prob(*scene, g20), s20, atol=1e-5)
    assert torch.all(s20[0] <= best.values + 1e-5)


def test_beam_search_refuses_top_k_above_width(scene):
    with pytest.raises(ValueError, match=r"top_k \(30\) cannot exceed beam_width \(20\)"):
        planner().beam_search(*scene, beam_width=20, top_k=30)


def test_sampling_is_seeded_and_scores_match(scene):
    p = planner(dims=6, seed=3)
    a = p.sample(*scene, n=7, generator=torch.Generator().manual_seed(5))
    b = p.sample(*scene, n=7, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and a[0].shape == (1, 7, 6)
    with torch.no_grad():
        assert torch.allclose(p.log_prob(*scene, a[0]), a[1], atol=1e-5)


def test_training_lowers_nll(scene):
    p = planner(seed=4).train()
    g = torch.tensor([[[3, 4, 5, 6], [3, 4, 6, 6], [10, 10, 2, 0]]])
    feats, mask = p.features(*scene), torch.ones(1, 3)
    opt = torch.optim.Adam(p.parameters(), lr=3e-3)
    first = p.nll_stacked(feats, scene[1], g, mask).item()
    for _ in range(60):
        loss = p.nll_stacked(feats, scene[1], g, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 11.0  # about 4 * log(20) = 12 at initialisation
    assert loss.item() < first / 2


# ---------------------------------------------------------------- dihedral augmentation
def test_dihedral_group_laws():
    g = np.random.default_rng(0).integers(0, 20, (50, 4))
    assert np.array_equal(dihedral_bins(g, 4, False), g)
    assert np.array_equal(dihedral_bins(dihedral_bins(g, 0, True), 0, True), g)
    f = torch.rand(3, 1, 4, 8, 8)
    b = torch.tensor([[0.0, 0, 0, 0.1, 0.2, 0.3]] * 3)
    f4, b4 = dihedral_features(f, b, 4, False)
    assert torch.allclose(f4, f) and torch.allclose(b4, b)
    f2, _ = dihedral_features(*dihedral_features(f, b, 0, True), 0, True)
    assert torch.allclose(f2, f)


def test_mirror_bins_decode_to_mirrored_poses():
    grid = GraspGrid(4)
    bounds = np.array([[-0.03, -0.05, 0.0], [0.05, 0.02, 0.07]])
    g = np.random.default_rng(1).integers(0, 20, (40, 4))
    p, q = grid.decode(g, bounds), grid.decode(dihedral_bins(g, 0, True), bounds)
    cx = bounds[:, 0].mean()
    assert np.allclose(q.position[:, 0] - cx, -(p.position[:, 0] - cx))
    assert np.allclose(q.position[:, 1:], p.position[:, 1:])
    # Closing axis mirrored in x (the jaws are symmetric, so only up to sign).
    assert np.allclose(np.abs(q.rotation[:, :, 0]), np.abs(p.rotation[:, :, 0] * [-1, 1, 1]), atol=1e-9)


def test_quarter_turn_matches_the_simulated_turned_scene(env):
    """Turn the settled object 90 degrees about the vertical through its box centre: the rendered
    features equal the turned features, and turned grasps have the same outcomes."""
    base = env.unwrapped
    obs, _ = env.reset(seed=11)
    sim = base.simulator
    if not hasattr(sim, "set_rest_pose"):
        pytest.skip("GraspSimulator.set_rest_pose is not available in this version of the simulator")
    p = planner()
    feats = p.features(torch.from_numpy(obs["depth"])[None], torch.from_numpy(obs["bbox"])[None])
    rng = np.random.default_rng(0)
    cand = rng.integers(0, 20, (300, 4))
    before = base.evaluate_grasps(cand)
    centre = sim.object_bounds.mean(axis=0)
    Rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    q = sim.object_qpos.copy()
    pos = q[:3].copy()
    pos[:2] = centre[:2] + Rz[:2, :2] @ (q[:2] - centre[:2])
    turned = np.concatenate([pos, mat_to_quat(Rz @ quat_to_mat(q[3:]))[0]])
    sim.set_rest_pose(turned)
    depth2 = base.depth_images().astype(np.float32)
    bbox2 = sim.object_bounds.astype(np.float32).ravel()
    feats2 = p.features(torch.from_numpy(depth2)[None], torch.from_numpy(bbox2)[None])
    ft, bt = dihedral_features(feats, torch.from_numpy(obs["bbox"])[None], 1, False)
    assert np.allclose(bt.numpy(), bbox2, atol=1e-5)
    mask_agree = (ft[0, 0, 3] == feats2[0, 0, 3]).float().mean().item()
    assert mask_agree > 0.97  # pixel-edge effects only
    on_obj = (ft[0, 0, 3] > 0) & (feats2[0, 0, 3] > 0)
    assert (ft[0, 0, :3, on_obj] - feats2[0, 0, :3, on_obj]).abs().median().item() < 0.05
    after = base.evaluate_grasps(dihedral_bins(cand, 1, False))
    assert np.array_equal(before.rejection, after.rejection)
    assert (before.success == after.success).mean() >= 0.97


# ---------------------------------------------------------------- dihedral ensemble at test time
def test_dihedral_inverse_undoes_every_transform():
    g = np.random.default_rng(1).integers(0, 20, (64, 4))
    assert len(set(DIHEDRAL)) == 8 and DIHEDRAL[0] == (0, False)
    for k, flip in DIHEDRAL:
        assert np.array_equal(dihedral_bins(dihedral_bins(g, k, flip), *_inverse(k, flip)), g)


def test_dihedral_ensemble_scores_are_mean_view_log_likelihoods(scene):
    p = planner(seed=2)
    grasps, scores = p.beam_search_dihedral(*scene, beam_width=20, top_k=20)
    g = grasps[0].numpy()
    assert len(np.unique(g, axis=0)) == 20
    assert torch.all(scores[0, :-1] >= scores[0, 1:])
    feats = p.features(*scene)
    with torch.no_grad():
        per_view = []
        for k, flip in DIHEDRAL:
            f, b = dihedral_features(feats, scene[1], k, flip)
            per_view.append(p.log_prob_given_embedding(p.embed_features(f, b), torch.from_numpy(dihedral_bins(g, k, flip))[None])[0])
    assert torch.allclose(torch.stack(per_view).mean(0), scores[0], atol=1e-5)
    # The identity view's beam is among the candidates, so the plain beam's best grasp scores no
    # higher under the ensemble than the ensemble's own best.
    plain = p.beam_search(*scene, beam_width=20, top_k=1)[0][0].numpy()
    with torch.no_grad():
        plain_score = torch.stack([
            p.log_prob_given_embedding(p.embed_features(*dihedral_features(feats, scene[1], k, flip)),
                                       torch.from_numpy(dihedral_bins(plain, k, flip))[None])[0]
            for k, flip in DIHEDRAL]).mean(0)
    assert plain_score.item() <= scores[0, 0].item() + 1e-5


def test_dihedral_ensemble_is_invariant_to_turning_the_scene(scene):
    """Turning the observation a quarter turn turns the ensemble's proposals with it."""
    p = planner(seed=4)
    depth, bbox = scene
    b = bbox.clone()
    centre, half = (b[:, :3] + b[:, 3:]) / 2, (b[:, 3:] - b[:, :3]) / 2
    half = half[:, [1, 0, 2]]
    turned_bbox = torch.cat([centre - half, centre + half], dim=1)
    turned_depth = torch.rot90(depth, 1, dims=(-2, -1))
    g0, s0 = p.beam_search_dihedral(depth, bbox)
    g1, s1 = p.beam_search_dihedral(turned_depth, turned_bbox)
    assert torch.allclose(s0, s1, atol=1e-4)
    assert np.array_equal(dihedral_bins(g0[0, :5].numpy(), 1, False), g1[0, :5].numpy())


def test_dihedral_ensemble_refuses_6d(scene):
    with pytest.raises(ValueError, match="4-D planner"):
        planner(dims=6).beam_search_dihedral(*scene)
