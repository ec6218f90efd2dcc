import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The development meshes in ../shared/data (skip where absent)."""
    if not (SHARED_DATA / "index.json").exists():
        pytest.skip(f"development data not found at {SHARED_DATA} (the shared/data folder beside the repo)")
    return SHARED_DATA
