"""Pool workers started with grasp_envs.workers.worker_init die with their parent."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process states from /proc")

PARENT = """
import concurrent.futures as cf, multiprocessing as mp, os, sys, time
from grasp_envs.workers import worker_init

def work(folder):
    open(os.path.join(folder, str(os.getpid())), "w").close()  # this worker is running the task
    time.sleep(120)

if __name__ == "__main__":
    init = worker_init if sys.argv[1] == "init" else None
    pool = cf.ProcessPoolExecutor(2, mp_context=mp.get_context(sys.argv[2]), initializer=init)
    futures = [pool.submit(work, sys.argv[3]) for i in range(2)]
    while len(os.listdir(sys.argv[3])) < 2:
        time.sleep(0.05)
    try:  # the test may interrupt as soon as it reads the line, so print inside the handler's reach
        print(" ".join(os.listdir(sys.argv[3])), flush=True)
        time.sleep(120)
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        print("parent: interrupted", file=sys.stderr)
        sys.exit(130)
"""


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its new parent, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def start_parent(tmp_path, mode: str, context: str = "spawn"):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    started = tmp_path / "started"
    started.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), mode, context, str(started)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # a shell's background job would hand SIGINT down ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = proc.stdout.readline()
    assert line, proc.communicate()
    workers = [int(p) for p in line.split()]
    assert len(workers) == 2 and all(alive(p) for p in workers)
    return proc, workers


def wait_gone(pids, seconds: float) -> list[int]:
    deadline = time.time() + seconds
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_workers_die_when_the_parent_is_killed(tmp_path, context):
    proc, workers = start_parent(tmp_path, "init", context)
    proc.kill()
    proc.wait()
    assert wait_gone(workers, 5.0) == []


def test_without_the_initializer_workers_outlive_a_killed_parent(tmp_path):
    # The control: the check above sees orphans when nothing kills them.
    proc, workers = start_parent(tmp_path, "none")
    proc.kill()
    proc.wait()
    try:
        time.sleep(1.5)
        assert all(alive(p) for p in workers)
    finally:
        for p in workers:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_ctrl_c_reaches_only_the_parent(tmp_path):
    proc, workers = start_parent(tmp_path, "init")
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip() == "parent: interrupted"  # no worker printed a traceback
    assert wait_gone(workers, 5.0) == []
