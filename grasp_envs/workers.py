"""Worker processes that die with their parent.

Pass :func:`worker_init` as the ``initializer`` of a ``ProcessPoolExecutor`` or
``multiprocessing.Pool`` (or call it first thing in an existing initializer).  A worker then

* exits when its parent dies, however the parent died (``SIGKILL`` included): on Linux the kernel
  signals it (``PR_SET_PDEATHSIG``); everywhere a watchdog thread sees the parent process change
  within :data:`POLL_S` seconds;
* leaves Ctrl-C to the parent: the terminal sends ``SIGINT`` to the whole process group, and a
  worker exits at once without printing a traceback, so the command reports one interruption,
  and work in flight is dropped as if the worker had been killed (dataset shards are written
  atomically, so ``--resume`` redoes only unfinished ones).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time

#: Seconds between the watchdog's looks at the parent process.
POLL_S = 0.5
#: ``prctl`` option number of ``PR_SET_PDEATHSIG`` (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(sig: int) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent exits; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent:  # re-parented: the parent is gone
            os._exit(1)


def _exit_on_interrupt(signum, frame) -> None:
    os._exit(128 + signum)


def worker_init() -> None:
    """Initializer for pool workers: die with the parent, and exit quietly on Ctrl-C."""
    parent = os.getppid()
    _set_parent_death_signal(signal.SIGKILL)
    spawner = multiprocessing.parent_process()
    if os.getppid() != parent or (spawner is not None and not spawner.is_alive()):
        os._exit(1)  # the parent died before this worker could watch it
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _exit_on_interrupt)
