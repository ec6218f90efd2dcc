"""``grasp-envs download`` against a loopback HTTP mirror in the upstream archive layout.

The mirror is built in a temporary folder from the development meshes in ../shared/data
(``ycb/<id>/visual.obj`` packed as ``google/<id>_google_16k.tgz`` holding
``<id>/google_16k/textured.obj``) and served on 127.0.0.1 with HTTP Range support.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401
from grasp_envs.objects.datasets import (
    FETCH_MAX_OPENING,
    YCB_DENSITY,
    UnknownObjectError,
    get_dataset,
    load_index,
    split_of,
)
from grasp_envs.objects.download import DownloadError, UnpinnedObjectWarning, download_dataset, fetch
from grasp_envs.objects.mesh_import import DecompositionConfig, geometry_sha256

pytest.importorskip("coacd", reason="CoACD is not installed: pip install -e '.[objects]'")

TINY = DecompositionConfig.tiny()
YCB_IDS = ["003_cracker_box", "032_knife"]  # small, quick to decompose


def make_tgz(obj_bytes: bytes, object_id: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in ((f"{object_id}/google_16k/textured.obj", obj_bytes),
                           (f"{object_id}/google_16k/texture_map.png", b"\x89PNG placeholder" * 100)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_ycb_mirror(shared: Path, dest: Path, ids: list[str]) -> Path:
    for oid in ids:
        out = dest / "google" / f"{oid}_google_16k.tgz"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(make_tgz((shared / "ycb" / oid / "visual.obj").read_bytes(), oid))
    return dest


class MirrorServer:
    """Serves a folder on 127.0.0.1 with Range support; can cut the next response short."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                path = server.folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ycb_mirror(shared_data, tmp_path):
    folder = build_ycb_mirror(shared_data, tmp_path / "mirror", YCB_IDS)
    with MirrorServer(folder) as server:
        yield server


def test_sources_are_data():
    ycb = get_dataset("ycb")
    assert len(ycb.sources) == 52 and len(set(s.object_id for s in ycb.sources)) == 52
    for s in ycb.sources:
        assert s.url == ycb.base_url + s.relpath and s.url.endswith(f"{s.object_id}_google_16k.tgz")
        assert s.member == f"{s.object_id}/google_16k/textured.obj" and s.mass > 0 and "CC BY 4.0" in s.license
    # Graspable = smallest extent below the gripper opening; 5 of the 52 are too big.
    assert set(s.object_id for s in ycb.sources) - set(ycb.graspable_ids) == {
        "002_master_chef_can", "019_pitcher_base", "053_mini_soccer_ball", "070-a_colored_wood_blocks",
        "072-a_toy_airplane"}
    from grasp_envs.sim.gripper import MAX_OPENING

    assert FETCH_MAX_OPENING == MAX_OPENING
    with pytest.raises(ValueError, match="unknown dataset 'ycbb'; choose one of"):
        get_dataset("ycbb")


def test_pins_match_the_development_meshes(shared_data):
    for name in ("ycb", "scanned"):
        for s in get_dataset(name).sources:
            assert geometry_sha256(shared_data / name / s.object_id / "visual.obj") == s.geometry_sha256, s.object_id


def test_download_from_http_mirror_then_rerun_is_cached(ycb_mirror, tmp_path):
    root = tmp_path / "root"
    rep = download_dataset("ycb", root=root, mirror=ycb_mirror.url, objects=YCB_IDS, config=TINY, progress=False)
    assert rep.decomposed == 2 and len(ycb_mirror.requests) == 2
    index = load_index("ycb", root, YCB_IDS)
    for oid in YCB_IDS:
        e = index["objects"][oid]
        assert (root / e["mesh"]).is_file() and e["n_parts"] >= 1 and e["split"] == split_of(oid)
        assert not (root / "downloads" / "google" / f"{oid}_google_16k.tgz").exists()  # archive removed once extracted
    rep2 = download_dataset("ycb", root=root, mirror=ycb_mirror.url, objects=YCB_IDS, config=TINY, progress=False)
    assert rep2.decomposed == 0 and len(ycb_mirror.requests) == 2  # nothing fetched or decomposed again


def test_checksum_mismatch_is_rejected(shared_data, tmp_path):
    oid = YCB_IDS[0]
    text = (shared_data / "ycb" / oid / "visual.obj").read_text()
    i = text.index("\nv ") + 3
    tampered = text[:i] + "0.5" + text[text.index(" ", i):]  # one vertex moved
    mirror = tmp_path / "mirror" / "google"
    mirror.mkdir(parents=True)
    (mirror / f"{oid}_google_16k.tgz").write_bytes(make_tgz(tampered.encode(), oid))
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=f"{oid}: checksum mismatch: mesh geometry sha256 .* pinned"):
        download_dataset("ycb", root=root, mirror=tmp_path / "mirror", objects=[oid], config=TINY, progress=False)
    assert not (root / "ycb" / oid / "textured.obj").exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_or_truncated_archive_is_rejected(shared_data, tmp_path, damage):
    oid = YCB_IDS[1]
    build_ycb_mirror(shared_data, tmp_path / "mirror", [oid])
    arc = tmp_path / "mirror" / "google" / f"{oid}_google_16k.tgz"
    data = arc.read_bytes()
    arc.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:100] + bytes(range(256)) * 50)
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=f"archive {oid}_google_16k.tgz is corrupt or truncated .* it was deleted"):
        download_dataset("ycb", root=root, mirror=tmp_path / "mirror", objects=[oid], config=TINY, progress=False)
    assert not (root / "downloads" / "google" / arc.name).exists()


def test_interrupted_download_resumes(ycb_mirror, tmp_path):
    oid = YCB_IDS[0]
    size = (ycb_mirror.folder / "google" / f"{oid}_google_16k.tgz").stat().st_size
    ycb_mirror.cut_after = size // 3
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="interrupted after .* rerun the same command to resume"):
        download_dataset("ycb", root=root, mirror=ycb_mirror.url, objects=[oid], config=TINY, progress=False)
    part = root / "downloads" / "google" / f"{oid}_google_16k.tgz.part"
    assert part.stat().st_size == size // 3
    download_dataset("ycb", root=root, mirror=ycb_mirror.url, objects=[oid], config=TINY, progress=False)
    assert ycb_mirror.requests[-1] == (f"/google/{oid}_google_16k.tgz", f"bytes={size // 3}-")
    assert (root / "ycb" / oid / "textured.obj").is_file() and not part.exists()


def test_fetch_restarts_when_partial_is_already_complete(ycb_mirror, tmp_path):
    src = ycb_mirror.folder / "google" / f"{YCB_IDS[0]}_google_16k.tgz"
    dest = tmp_path / "x.tgz"
    dest.with_name("x.tgz.part").write_bytes(src.read_bytes())
    fetch(ycb_mirror.url + f"google/{src.name}", dest, progress=False)  # server answers 416
    assert dest.read_bytes() == src.read_bytes()


def test_unreachable_or_missing_mirror(tmp_path):
    with pytest.raises(DownloadError, match="the mirror has no .*upstream layout"):
        download_dataset("ycb", root=tmp_path, mirror=tmp_path / "empty", objects=["013_apple"], progress=False)


def test_scanned_plain_files_from_folder_mirror_and_cli(shared_data, tmp_path):
    oid = "Sony_Acid_Music_Studio"
    mirror = tmp_path / "mirror"
    (mirror / oid).mkdir(parents=True)
    (mirror / oid / "model.obj").write_bytes((shared_data / "scanned" / oid / "visual.obj").read_bytes())
    from grasp_envs.cli import main

    root = tmp_path / "root"
    assert main(["download", "scanned", "--root", str(root), "--mirror", str(mirror), "--objects", oid, "--tiny",
                 "--workers", "1"]) == 0
    e = load_index("scanned", root, [oid])["objects"][oid]
    assert e["mass"] is None and e["density"] == 250.0
    assert json.loads((root / "scanned" / "index.json").read_text())["dataset"] == "scanned"


def test_missing_data_names_the_download_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not downloaded .*`grasp-envs download ycb --root "):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"`grasp-envs download scanned --root "):
        gym.make("grasp_envs/GraspScanned6D-v0", root=str(tmp_path))


def test_missing_objects_name_the_download_command(ycb_mirror, tmp_path):
    root = tmp_path / "root"
    download_dataset("ycb", root=root, mirror=ycb_mirror.url, objects=YCB_IDS[:1], config=TINY, progress=False)
    with pytest.raises(FileNotFoundError, match=r"1 ycb object\(s\) are not downloaded .*032_knife.*grasp-envs download ycb"):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=YCB_IDS)
    env = gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=YCB_IDS[:1], split=split_of(YCB_IDS[0]))
    obs, info = env.reset(seed=0)
    assert info["object_name"] == f"ycb/{YCB_IDS[0]}" and np.isfinite(obs["depth"]).all()


# ------------------------------------------------------------------- objects without a pin

UNPINNED = "997_test_knife"  # the dev knife under an id the table does not pin (test split)


def test_any_upstream_id_is_accepted_and_others_are_not():
    ycb = get_dataset("ycb")
    s = ycb.source("011_banana")
    assert not s.pinned and s.geometry_sha256 is None and s.mass is None and s.density == YCB_DENSITY
    assert s.url == ycb.base_url + "google/011_banana_google_16k.tgz" and s.graspable is None
    assert ycb.source("013_apple").pinned
    with pytest.raises(UnknownObjectError, match=r"ycb has no object '13_apple' \(did you mean '013_apple'.*other "
                                                 r"upstream objects are accepted by their id"):
        ycb.source("13_apple")


def test_unpinned_object_is_recorded_on_first_use_and_verified_later(shared_data, tmp_path, capsys):
    knife = (shared_data / "ycb" / "032_knife" / "visual.obj").read_bytes()
    mirror = tmp_path / "mirror" / "google"
    mirror.mkdir(parents=True)
    (mirror / f"{UNPINNED}_google_16k.tgz").write_bytes(make_tgz(knife, UNPINNED))
    build_ycb_mirror(shared_data, tmp_path / "mirror", ["032_knife"])
    root = tmp_path / "root"
    # A dataset of one pinned object, so that a run without --objects stays small.
    ds = dataclasses.replace(get_dataset("ycb"), sources=(get_dataset("ycb").source("032_knife"),))
    with MirrorServer(tmp_path / "mirror") as server:
        with pytest.warns(UnpinnedObjectWarning, match=f"ycb/{UNPINNED} has no pinned checksum: downloaded unverified"):
            rep = download_dataset("ycb", root=root, mirror=server.url, objects=[UNPINNED], config=TINY,
                                   progress=False)
        assert rep.unpinned == (UNPINNED,)
        e = load_index("ycb", root, [UNPINNED])["objects"][UNPINNED]
        assert e["checksum"] == "recorded on first download"
        assert e["geometry_sha256"] == geometry_sha256(shared_data / "ycb" / "032_knife" / "visual.obj")
        assert e["mass"] is None and e["density"] == YCB_DENSITY and "density 600 kg/m^3" in e["mass_source"]
        assert np.allclose(e["obb_extent"], get_dataset("ycb").source("032_knife").obb_extent, atol=2e-3)
        assert e["graspable"] is True and e["top_grasp"]["graspable"] is True and e["top_grasp"]["poses"]
        # Later runs verify it without a warning or a download; a run without --objects includes it.
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnpinnedObjectWarning)
            n = len(server.requests)
            rep = download_dataset("ycb", root=root, mirror=server.url, config=TINY, progress=False, dataset=ds)
        assert set(rep.objects) == {"032_knife", UNPINNED} and len(server.requests) == n + 1  # the knife only
        # The mirror's copy changes: a clear error naming the fix, and the fix works.
        text = knife.decode()
        i = text.index("\nv ") + 3
        changed = (text[:i] + "0.01" + text[text.index(" ", i):]).encode()
        (mirror / f"{UNPINNED}_google_16k.tgz").write_bytes(make_tgz(changed, UNPINNED))
        (root / "ycb" / UNPINNED / "textured.obj").unlink()
        with pytest.raises(DownloadError, match=f"{UNPINNED}: the mesh changed since its checksum was recorded on "
                                                f"first download .*`grasp-envs download ycb --objects {UNPINNED} "
                                                "--rerecord`"):
            download_dataset("ycb", root=root, mirror=server.url, objects=[UNPINNED], config=TINY, progress=False)
        from grasp_envs.cli import main

        assert main(["download", "ycb", "--root", str(root), "--mirror", server.url, "--objects", UNPINNED,
                     "--rerecord", "--tiny", "--workers", "1"]) == 0
        err = capsys.readouterr().err
        assert f"warning: ycb/{UNPINNED} has no pinned checksum" in err and "Traceback" not in err
        assert load_index("ycb", root)["objects"][UNPINNED]["geometry_sha256"] != e["geometry_sha256"]
    # An id the source does not have: one clear line, no traceback.
    assert main(["download", "ycb", "--root", str(root), "--mirror", str(tmp_path / "mirror"), "--objects",
                 "011_banana", "--tiny"]) == 1
    err = capsys.readouterr().err
    assert "011_banana is not one of the pinned ycb objects, and the source has no such object" in err
    assert "Traceback" not in err
    # An explicit object list needs no split: the object lies in the test split, the default is train.
    assert split_of(UNPINNED) == "test"
    env = gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=[UNPINNED])
    obs, info = env.reset(seed=0)
    assert env.unwrapped.split == "all" and info["object_name"] == f"ycb/{UNPINNED}"
    from grasp_envs.objects.procedural import union_volume

    obj = env.unwrapped.object
    assert obj.mass == pytest.approx(YCB_DENSITY * union_volume(list(obj.parts)), rel=1e-6)
    env.close()
    with pytest.raises(ValueError, match=r"no object of the 1 given falls in the 'train' split; .*leave split out"):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=[UNPINNED], split="train")
    with pytest.raises(TypeError, match=f"object_ids must be a list of ids, got the string '{UNPINNED}'"):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=UNPINNED)


def test_graspable_rule_chooses_the_default_list(tmp_path):
    with pytest.raises(ValueError, match=r"graspable_rule must be one of \['box', 'top'\], got 'boxes'"):
        gym.make("grasp_envs/GraspYCB4D-v1", root=str(tmp_path), graspable_rule="boxes")
    with pytest.raises(ValueError, match="graspable_rule chooses the default object list; it cannot be combined"):
        gym.make("grasp_envs/GraspYCB4D-v1", root=str(tmp_path), object_ids=["013_apple"], graspable_rule="top")
    ycb = get_dataset("ycb")
    assert "003_cracker_box" in ycb.graspable_ids and "003_cracker_box" not in ycb.top_graspable_ids
