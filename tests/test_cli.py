"""The ``grasp-envs`` command: lazy subcommands (no torch needed outside training), bad input, Ctrl-C."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grasp_envs.cli import main
from grasp_envs.objects.datasets import DATASETS

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from grasp_envs.cli import main; sys.exit(main())"]


@pytest.fixture
def no_torch_env(tmp_path):
    """Environment for a subprocess in which ``import torch`` fails, as on a base install."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim), str(REPO)]))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "torch" in probe.stderr  # the shim really hides torch
    return env


def run_cli(args, env=None, timeout=120):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_non_learning_commands_run_without_torch(no_torch_env, tmp_path):
    r = run_cli(["--help"], no_torch_env)
    assert r.returncode == 0, r.stderr
    for name in ("baselines", "dataset", "download", "evaluate", "generate", "leaderboard", "paper", "primitives", "train"):
        assert re.search(rf"^\s+{name}\s", r.stdout, re.M), name
    for args in (["download", "--help"], ["generate", "--help"], ["dataset", "--help"], ["download", "ycb", "--list"]):
        r = run_cli(args, no_torch_env)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    out = tmp_path / "data"
    r = run_cli(["generate", "--num-objects", "2", "--attempts", "3", "--out", str(out), "--no-progress"], no_torch_env)
    assert r.returncode == 0, r.stderr
    assert "2 scenes, 6 attempts" in r.stdout
    r = run_cli(["dataset", "info", str(out)], no_torch_env)
    assert r.returncode == 0 and "shards: 1/1 ok" in r.stdout, r.stdout + r.stderr


def test_learning_commands_without_torch_name_the_install(no_torch_env):
    r = run_cli(["train", "--help"], no_torch_env)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "grasp-envs train: error: this needs torch" in r.stderr and "pip install 'grasp-envs[train]'" in r.stderr


@pytest.mark.parametrize("value, message", [("0", "must be at least 1, got 0"), ("-5", "must be at least 1, got -5"),
                                            ("ten", "expected a whole number, got 'ten'")])
def test_baselines_episode_count_is_checked(value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["baselines", "--episodes", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --episodes: {message} (for example: --episodes 50)" in err


@pytest.mark.parametrize("args", [["generate", "--out", "x", "--workers", "0"], ["generate", "--out", "x", "--attempts", "0"],
                                  ["download", "ycb", "--workers", "0"], ["evaluate", "--scenes", "-1"]])
def test_other_counts_are_checked(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_unknown_object_id_names_the_listing(tmp_path, capsys):
    # 011_banana is an upstream id (downloaded unpinned: tests/test_download.py); 13_apple is no id.
    rc = main(["download", "ycb", "--objects", "13_apple", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("grasp-envs download: error: ycb has no object '13_apple' (did you mean '013_apple'")
    assert "`grasp-envs download ycb --list`" in err and "other upstream objects are accepted by their id" in err
    assert not (tmp_path / "ycb").exists()  # refused before anything was fetched
    assert main(["download", "ycb", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(s.object_id in listed for s in DATASETS["ycb"].sources)


def test_object_ids_in_the_docs_exist():
    # Pinned ids, or ids of the upstream form that the docs show downloading unpinned.
    seen = 0
    for page in (REPO / "docs").glob("*.md"):
        for m in re.finditer(r"grasp-envs download (\w+)[^\n]*?--objects ([^\n#`]*)", page.read_text()):
            words = m.group(2).split()
            ids = words[: next((i for i, w in enumerate(words) if w.startswith("-")), len(words))]
            ds = DATASETS[m.group(1)]
            for i in ids:
                ds.source(i)  # UnknownObjectError for an id of neither kind
            assert {i for i in ids if ds.pinned_source(i) is None} <= {"011_banana", "025_mug"}, (page.name, ids)
            seen += len(ids)
    assert seen > 0


def test_interrupted_command_says_how_to_resume(tmp_path, monkeypatch, capsys):
    import grasp_envs.objects.download as download

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "download_dataset", interrupted)
    rc = main(["download", "ycb", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 130
    assert err.strip() == (f"grasp-envs download: interrupted; finished work is kept, so running the same command "
                           f"again resumes: grasp-envs download ycb --root {tmp_path}")


def test_ctrl_c_during_generate_exits_130_with_the_resume_command(tmp_path):
    out = tmp_path / "data"
    args = ["generate", "--num-objects", "400", "--attempts", "50", "--scenes-per-shard", "1", "--out", str(out)]
    # A shell's background job inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; give the child the default disposition whatever runs the tests.
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(out.glob("shards/*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)  # interrupt once the run is writing shards
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("grasp-envs generate: interrupted; to finish it, run: grasp-envs ")
    assert shlex.split(last.split("run: ", 1)[1]) == ["grasp-envs", *args, "--resume"]


def test_every_command_has_a_summary_and_every_named_extra_exists():
    from importlib.metadata import entry_points

    from grasp_envs.cli import EXTRAS, SUMMARIES

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    assert set(SUMMARIES) == {ep.name for ep in entry_points(group="grasp_envs.cli")}
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras)
    assert "moviepy" in " ".join(extras["video"]) and "video" in extras["all"][0]
    named = set(re.findall(r"grasp-envs\[(\w+)\]", (REPO / "docs" / "quickstart.md").read_text()))
    named |= set(re.findall(r"\| `(\w+)` \|", (REPO / "docs" / "quickstart.md").read_text()))
    assert set(extras) - {"all"} <= named | {"test", "docs"}


def test_paper_checks_every_input_before_running(tmp_path, capsys):
    out = tmp_path / "paper"
    rc = main(["paper", "--results", str(tmp_path / "nothing"), "--out", str(out), "--fig8",
               "--fig8-tasks", "random-4d-tset-v0", "--fig8-agent", "random", "--fig8-agent-kwargs", "{bad"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "4 problems, nothing was run" in err
    assert f"results directory {tmp_path / 'nothing'} does not exist" in err and "--run`" in err
    assert "--fig8-agent-kwargs is not valid JSON" in err
    assert "unknown task 'random-4d-tset-v0'. Did you mean 'random-4d-test-v0'" in err
    assert "--fig8-agent 'random' has no propose(observation, k) method" in err
    assert not out.exists()
    rc = main(["paper", "--results", str(tmp_path), "--out", str(out), "--run", "--agents", "centroid", "planer"])
    assert rc == 1 and "--agents: unknown agent 'planer'" in capsys.readouterr().err and not out.exists()
