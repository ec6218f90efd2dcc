"""Grasp datasets: generation (local process pool or Ray), Parquet storage, NumPy reader.

``grasp-envs generate`` writes a dataset; ``grasp-envs dataset info DIR`` summarises one;
:class:`GraspDataset` reads one as NumPy arrays (see :mod:`grasp_envs.dataset.reader` for the
stable API); ``agents.data`` wraps it for PyTorch.  Needs the ``data`` extra (pyarrow).
"""

from grasp_envs.dataset.generate import OBJECT_SETS, GenerateConfig, GenerateSummary, generate, object_set_env_id
from grasp_envs.dataset.info import dataset_info, format_info
from grasp_envs.dataset.reader import AttemptArrays, GraspDataset, SceneArrays, check_disjoint
from grasp_envs.dataset.storage import FORMAT_VERSION, CorruptShardError, DatasetError

__all__ = [
    "FORMAT_VERSION", "OBJECT_SETS", "AttemptArrays", "CorruptShardError", "DatasetError", "GenerateConfig",
    "GenerateSummary", "GraspDataset", "SceneArrays", "check_disjoint", "dataset_info", "format_info", "generate",
    "object_set_env_id",
]
