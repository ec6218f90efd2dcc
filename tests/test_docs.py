"""The docs site builds with warnings as errors; env pages come from the registry."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="mkdocs is not installed; install the docs extra: pip install -e '.[docs]'")


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(site)], cwd=root, capture_output=True, text=True, timeout=300)


def copy_site_sources(dst: Path) -> Path:
    shutil.copy(REPO / "mkdocs.yml", dst / "mkdocs.yml")
    shutil.copytree(REPO / "docs", dst / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_docs_build_strict(tmp_path):
    import gymnasium as gym

    import grasp_envs  # noqa: F401

    site = tmp_path / "site"
    proc = build(REPO, site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [k for k in gym.registry if k.startswith("grasp_envs/")]
    assert ids
    for env_id in ids:
        page = site / "envs" / env_id.split("/", 1)[1] / "index.html"
        assert page.exists(), f"no generated page for {env_id}"
        html = page.read_text()
        for section in ("Description", "Action Space", "Observation Space", "Version History"):
            assert section in html
    bench = (site / "benchmarks" / "index.html").read_text()
    assert "benchmark-tasks" not in bench and "random-4d-test-v0" in bench and "ycb-4d-v0" in bench
    assert (site / "leaderboard" / "index.html").exists() and (site / "quickstart" / "index.html").exists()


def test_nav_follows_the_pages_that_exist(tmp_path):
    root = copy_site_sources(tmp_path)
    docs = root / "docs"
    for name in ("objects.md", "dataset.md", "training.md", "real_robot.md"):
        (docs / name).unlink(missing_ok=True)
    assert build(root, tmp_path / "a").returncode == 0
    (docs / "objects.md").write_text("# Object sets\n\nYCB and random objects.\n")
    (docs / "extra_notes.md").write_text("# Notes\n")
    proc = build(root, tmp_path / "b")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home = (tmp_path / "b" / "index.html").read_text()
    assert home.index("Object sets") < home.index("Benchmarks") < home.index("Extra notes")


def test_broken_link_fails_the_build(tmp_path):
    root = copy_site_sources(tmp_path)
    (root / "docs" / "quickstart.md").write_text("# Quickstart\n\nSee [missing](no_such_page.md).\n")
    proc = build(root, tmp_path / "site")
    assert proc.returncode != 0 and "no_such_page.md" in proc.stdout + proc.stderr
