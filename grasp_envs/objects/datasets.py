"""Object datasets as data: where each mesh comes from, its checksum, licence and mass.

Nothing here downloads anything; ``grasp-envs download NAME`` (:mod:`grasp_envs.objects.download`)
fetches, verifies and processes a dataset under the data root:

* the data root is ``$GRASP_ENVS_DATA`` if set, else ``~/.cache/grasp_envs`` (:func:`data_root`);
* ``<root>/<dataset>/<object>/`` holds each verified mesh, ``<root>/<dataset>/index.json`` the
  processed objects, and ``<root>/cache/decompositions/`` the convex decompositions, keyed by
  content hash (:mod:`grasp_envs.objects.mesh_import`).

**Checksums.**  Every object pins the sha256 of its mesh *geometry*
(:func:`grasp_envs.objects.mesh_import.geometry_sha256`: vertex positions and triangles), which
is what the physics sees; it ignores comments, normals and material names.  The YCB pins were
computed from the google_16k ``textured.obj`` meshes as copied, geometry unchanged, by
elpis-lab/YCB_Dataset (commit b7d8884); the Google Scanned Objects pins from the meshes as
converted by kevinzakka/mujoco_scanned_objects (robosuite commit 21b8a25).  A download whose
geometry differs from the pin is rejected.

**Which YCB objects.**  The YCB set has 78 scanned objects; the paper used the 75 "with meshes
capable of being grasped by our robot's gripper".  This table pins the 52 objects whose geometry
and mass the project has verified; an object is *graspable* (the box rule of the v0 tasks) when
its smallest oriented-bounding-box extent is below the Fetch gripper's 10 cm opening
(:data:`FETCH_MAX_OPENING`), and the YCB tasks' default object list is the graspable objects of
this table (47 of 52; see ``docs/objects.md``).  The stricter rule from resting poses and
top-down widths is :mod:`grasp_envs.objects.graspability` (pinned here as :data:`YCB_TOP_GRASPABLE`).

**Objects without a pin.**  Any other id of the upstream layout (:attr:`Dataset.id_pattern`, e.g.
``011_banana``) is accepted too: :meth:`Dataset.source` returns an unpinned source, which the
downloader fetches with a warning, records the geometry checksum of in the index on first use and
verifies on every later run.  Its mass is unknown here, so it gets the dataset's stated density
(:data:`YCB_DENSITY`) over its convex parts, and the index says so (``mass_source``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

ENV_VAR = "GRASP_ENVS_DATA"
DEFAULT_ROOT = "~/.cache/grasp_envs"
#: Widest opening of the Fetch gripper (m); equals ``grasp_envs.sim.gripper.MAX_OPENING`` (tested).
FETCH_MAX_OPENING = 0.100
#: Fraction of every mesh dataset's objects in the test split (chosen by a hash of the object id).
TEST_FRACTION = 0.2

CC_BY_4 = "CC BY 4.0"
YCB_BASE_URL = "http://ycb-benchmarks.s3-website-us-east-1.amazonaws.com/data/"
SCANNED_BASE_URL = ("https://raw.githubusercontent.com/SaumyaSaxena/robosuite/21b8a259e82aecc6f3e68c3dd3e7b5a85814eaeb/"
                    "robosuite/models/assets/objects/mujoco_scanned_objects/")
#: Density (kg/m^3) for scanned objects, whose masses are unknown (the data pack's placeholder).
SCANNED_DENSITY = 250.0
#: Density (kg/m^3) for YCB objects without a pinned mass: the median mass / mesh volume of the 39
#: pinned YCB objects with watertight meshes (601 kg/m^3; quartiles 336 and 1355), rounded.
YCB_DENSITY = 600.0
#: Upstream YCB ids: three digits, an optional ``-letter`` variant, an underscore and a name.
YCB_ID_PATTERN = r"^[0-9]{3}(-[a-z])?_[a-z0-9_]+$"
#: Google Scanned Objects ids of the converted set: one folder name of letters, digits, ``_-.``.
SCANNED_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else ``$GRASP_ENVS_DATA``, else ``~/.cache/grasp_envs``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path(DEFAULT_ROOT).expanduser()


def split_of(object_id: str, test_fraction: float = TEST_FRACTION) -> str:
    """``"test"`` or ``"train"``, fixed by the sha256 of the object id (stable across machines)."""
    u = int(hashlib.sha256(object_id.encode()).hexdigest()[:12], 16) / float(1 << 48)
    return "test" if u < test_fraction else "train"


@dataclass(frozen=True)
class DataSource:
    """One object's mesh: where to fetch it and how to check it.

    Attributes:
        object_id: Id within its dataset, e.g. ``"013_apple"``.
        url: Upstream URL of the archive or file.
        relpath: ``url`` relative to the dataset's base URL; a mirror serves the same relative path.
        member: Path of the mesh inside a ``.tgz``/``.zip`` archive, or ``None`` for a plain file.
        geometry_sha256: Pinned geometry checksum of the mesh, or ``None`` for an object without
            a pin (the downloader records its checksum on first use).
        target: Where the verified mesh is stored, relative to the data root.
        license: Licence of the mesh.
        mass: Mass in kg, or ``None`` when unknown (then ``density`` applies).
        density: Density in kg/m^3 used when ``mass`` is ``None``.
        obb_extent: Sorted extents of the oriented bounding box (m), or ``None`` when not pinned.
    """

    object_id: str
    url: str
    relpath: str
    member: str | None
    geometry_sha256: str | None
    target: str
    license: str
    mass: float | None
    density: float | None
    obb_extent: tuple[float, float, float] | None

    def __post_init__(self) -> None:
        if self.geometry_sha256 is not None and len(self.geometry_sha256) != 64:
            raise ValueError(f"{self.object_id}: geometry_sha256 must be 64 hex digits")
        if (self.mass is None) == (self.density is None):
            raise ValueError(f"{self.object_id}: give exactly one of mass and density")

    @property
    def pinned(self) -> bool:
        """Whether the checksum is pinned in this table (else recorded on first download)."""
        return self.geometry_sha256 is not None

    @property
    def graspable(self) -> bool | None:
        """The box rule: the smallest extent fits between the Fetch gripper's fingers (``None``
        for an unpinned object, whose extents are known only once downloaded)."""
        if self.obb_extent is None:
            return None
        return min(self.obb_extent) < FETCH_MAX_OPENING


class UnknownObjectError(KeyError, ValueError):
    """An object id the dataset does not have; the message names the near misses and the listing command."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Dataset:
    """A dataset: its pinned sources, and how any other id of the upstream layout is found.

    Attributes:
        id_pattern: Regular expression of the upstream ids; an id that matches it but is not
            pinned gets an unpinned source (:meth:`source`).  ``None``: pinned ids only.
        unpinned: Builds the unpinned source of an id (checksum ``None``, the stated density).
    """

    name: str
    description: str
    license: str
    base_url: str
    sources: tuple[DataSource, ...]
    id_pattern: str | None = None
    unpinned: Callable[[str], DataSource] | None = None

    def pinned_source(self, object_id: str) -> DataSource | None:
        for s in self.sources:
            if s.object_id == object_id:
                return s
        return None

    def source(self, object_id: str) -> DataSource:
        """The pinned source of ``object_id``, else an unpinned one when the id has the upstream
        form; raises :class:`UnknownObjectError` naming near misses otherwise."""
        s = self.pinned_source(object_id)
        if s is not None:
            return s
        if self.id_pattern is not None and self.unpinned is not None and re.match(self.id_pattern, str(object_id)):
            return self.unpinned(object_id)
        ids = [s.object_id for s in self.sources]
        near = difflib.get_close_matches(str(object_id), ids, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
        form = (f"; other upstream objects are accepted by their id (the form {self.id_pattern})"
                if self.id_pattern is not None else "")
        raise UnknownObjectError(
            f"{self.name} has no object {object_id!r}{hint}{form}; `grasp-envs download {self.name} --list` prints "
            f"its {len(ids)} pinned object ids: {', '.join(ids)}"
        )

    @property
    def graspable_ids(self) -> tuple[str, ...]:
        """Pinned objects graspable by the box rule (the v0 tasks' default object list)."""
        return tuple(s.object_id for s in self.sources if s.graspable)

    @property
    def top_graspable_ids(self) -> tuple[str, ...]:
        """Pinned objects graspable by the resting-pose rule (:func:`pinned_top_graspable`)."""
        return tuple(s.object_id for s in self.sources if pinned_top_graspable(self.name, s.object_id))


class YCBObject(NamedTuple):
    object_id: str
    mass: float
    obb_extent: tuple[float, float, float]
    geometry_sha256: str


class ScannedObject(NamedTuple):
    object_id: str
    obb_extent: tuple[float, float, float]
    geometry_sha256: str


# Masses: the YCB object list (kg).  Extents: sorted OBB of the google_16k mesh (m).
YCB_OBJECTS: tuple[YCBObject, ...] = (
    YCBObject("002_master_chef_can", 0.414, (0.10241, 0.10251, 0.14026), "5dfcc9bb3527abb3bebc44cea191aa84477c3ccc3c1958ef603f59bf466507f9"),
    YCBObject("003_cracker_box", 0.411, (0.07168, 0.1636, 0.2138), "571b051e69f16d5ee1eed0f4d566b3ad48e265d2dc246dff4f372c22c52a1e61"),
    YCBObject("004_sugar_box", 0.514, (0.04518, 0.09212, 0.17615), "a3a6eb6e29c24ccc2e9188073ca25dec561199d2fe690525c2dc27b64af60b47"),
    YCBObject("007_tuna_fish_can", 0.171, (0.03345, 0.08533, 0.08535), "24382d80838eaaf48c0964920d1214b34eb37a0a000b071a354707a0cfecf346"),
    YCBObject("009_gelatin_box", 0.097, (0.02978, 0.07272, 0.0894), "4110fa2a2f229fc32e153d34427df5e6cf2b552c6b5c493aa48a1277a38a43a9"),
    YCBObject("010_potted_meat_can", 0.37, (0.05729, 0.08345, 0.10154), "e0b18f0d73a9ccb51ffffc50a1bb79e365c5d7d30d4a8ce958ad960b4661bb94"),
    YCBObject("012_strawberry", 0.018, (0.04284, 0.0462, 0.04677), "c82143bde04b10013183d49b74cb2ccc8a9bd2d2f77b0d73aa51e879aae79f23"),
    YCBObject("013_apple", 0.068, (0.07125, 0.07466, 0.07473), "5db546b391f800cb45407f7bc6bd7e31d47ee01824d67ca4a360b0faff70e81d"),
    YCBObject("014_lemon", 0.029, (0.05294, 0.05853, 0.05977), "e6fba8ffaa7908fe9f526481746e5e194637a7f82b844b472c1a3d2acb40556f"),
    YCBObject("015_peach", 0.033, (0.05736, 0.05912, 0.06375), "19da9ff5e4eeed81cca8f23f5488d76548be75636ddab58ea020b2145459c586"),
    YCBObject("017_orange", 0.047, (0.07136, 0.07172, 0.07235), "652001d6c94d47279ab85484da5a97edb3472fa29ca7f4140cdf36587ef2c8d2"),
    YCBObject("019_pitcher_base", 0.178, (0.14277, 0.14609, 0.24561), "e28d842f2254d2355f069e72f5c754525459f8775d0fec7b0dc94efe763ff43b"),
    YCBObject("022_windex_bottle", 1.022, (0.08086, 0.09381, 0.26951), "5933d8f71123fef71f69633182f4f43ae468281a3c630df8ba3380b70446ad90"),
    YCBObject("026_sponge", 0.0062, (0.01814, 0.07927, 0.11121), "b3432c3667e9a98536b8999ecfbf097d1f5a8d9c9087258fca099edd953fcde5"),
    YCBObject("028_skillet_lid", 0.652, (0.07488, 0.26765, 0.26792), "77ad43b63a0056325650a3156352e88da9fac13b7b1a45974bdbbf74b80e105b"),
    YCBObject("029_plate", 0.279, (0.02646, 0.2599, 0.25997), "32aa70288e01da3f721a8e1a5e62475f964f1448ef57e02c95133bd17ff7b1d6"),
    YCBObject("030_fork", 0.034, (0.01553, 0.02564, 0.19779), "07ae9cce19236a935d682453bf4f118204d75c1148a36f2c40f67f9c1f28a276"),
    YCBObject("032_knife", 0.031, (0.01534, 0.01954, 0.21486), "0b08f2b898c2861110b30c4c9803a16511736647ab747d93e48d9b578606ee16"),
    YCBObject("033_spatula", 0.0515, (0.03292, 0.0836, 0.31098), "94d15f88b0cd049f4d1b592c727857b8a6d61f164e735613c4588c095277f1d3"),
    YCBObject("035_power_drill", 0.895, (0.05718, 0.18434, 0.18678), "51b2d6b8f87613eea3496cd0b566ec3856cc1e5aeb2f4b2294f20ff1fe80da9a"),
    YCBObject("036_wood_block", 0.729, (0.08929, 0.08981, 0.20611), "a8cd5782a20f6d215954940486aef39b9717104e35d7ccbbbb3f00065f3943cf"),
    YCBObject("038_padlock", 0.208, (0.02884, 0.05387, 0.07027), "61e7f9312e0a3903cacf6baefb52fd0a85e454a2279bcac4bddc3b9c6bffd5f7"),
    YCBObject("040_large_marker", 0.0158, (0.01879, 0.01881, 0.12085), "926567645a78f2d6c4908ea6b167298e9d6cdc6e630ffccf767f9fe87be8cb8d"),
    YCBObject("042_adjustable_wrench", 0.252, (0.01366, 0.0584, 0.20283), "79951963876ab42fa04ede112b744b2ca9973250175ba0d03940efb66e70d24d"),
    YCBObject("044_flat_screwdriver", 0.0984, (0.03355, 0.03452, 0.21615), "c3aa22e07cc995b3d5eccf59d5e93387904e34b6c9e9f1dccfae76e57bc6fb33"),
    YCBObject("051_large_clamp", 0.125, (0.0362, 0.12164, 0.16493), "e169417f0bb65644a4b5dff8d2e8f5dd4304fae7e6c5d074c8c15ea7836c8e11"),
    YCBObject("052_extra_large_clamp", 0.202, (0.03619, 0.16522, 0.20228), "749fff7617db6c0a02b76e88a3ffccda9673c6c11b076687b7f69f1d0930c347"),
    YCBObject("053_mini_soccer_ball", 0.123, (0.122, 0.12535, 0.1264), "1a23e14ee4c12da51d6b0106ae6e5162c671ae8698ae6f43999bdbcd1c399a6c"),
    YCBObject("054_softball", 0.191, (0.09475, 0.09522, 0.09561), "0c5cb26c6c0220848030235a626775056e9c47571cf4dfbeb9bd12487e887b58"),
    YCBObject("057_racquetball", 0.041, (0.05556, 0.05569, 0.0558), "7a1d36d2c8a1da7bcb2487406bda9a2b763ab9c5aa973aae9884edd35d27a4ae"),
    YCBObject("058_golf_ball", 0.046, (0.04239, 0.04256, 0.04263), "270cb7bed24a768b9b77dfd52e4ebaaba23918684729959f1999333144c1f3be"),
    YCBObject("059_chain", 0.1, (0.02453, 0.27251, 0.2747), "e7f9218474bbc6ba8c4e1d42749772d3473eafe07c2ebba0ea9ed08bb981239e"),
    YCBObject("063-a_marbles", 0.001, (0.07095, 0.07238, 0.07471), "2d2ebf0dff839e5998fac0658a85879f12bbd0caf2fadb4596cc424fe2aaf6a7"),
    YCBObject("063-b_marbles", 0.001, (0.03445, 0.03468, 0.03479), "dda581c8e06804da5739a34f388464966576b01587f43685a81569a6afb04954"),
    YCBObject("065-a_cups", 0.013, (0.057, 0.05714, 0.06144), "9bf5752af5d293223eea219a3d49b8f91fd96012b69355c19d4485652272b029"),
    YCBObject("065-b_cups", 0.014, (0.06055, 0.06061, 0.06384), "11b1338662735555f6fe0dbf3a384e418f8d3cc01fc9e660f0ef6e5fdf70a91d"),
    YCBObject("065-d_cups", 0.019, (0.06889, 0.07016, 0.07047), "aa4a53a743a5e38ad3945b371f0ba8390db8af8d1680d3000e6fe1ec2582eed5"),
    YCBObject("065-e_cups", 0.021, (0.07066, 0.07511, 0.07511), "7032c4e2088439289057917b6efb7382641121c286dc7df0533a30bae695a1bc"),
    YCBObject("065-g_cups", 0.028, (0.07383, 0.08669, 0.08681), "1db8bcac5a9afbd458225faa8711e2846693a024784fd4513ef0d851e4a72465"),
    YCBObject("065-h_cups", 0.031, (0.0749, 0.09112, 0.09148), "fed378e1903e29b802217cdd8ab604e3de34bc9a6a83f3736f57c135d1e255cb"),
    YCBObject("065-j_cups", 0.038, (0.07542, 0.10226, 0.10273), "0ba594c65f14878bf1d6052ed615a9fcfa186c5a3f064865d77ea8d82b608c56"),
    YCBObject("070-a_colored_wood_blocks", 0.0108, (0.14084, 0.14208, 0.16549), "555d3439c492c7f7b999a0c16e824b791fe4e74e04315fb6cc9ef8664d620ba4"),
    YCBObject("071_nine_hole_peg_test", 1.435, (0.04047, 0.13148, 0.1525), "7cadfdd29b2f36f9ef78f7907539b25b0e5e50e33bb1f2d3d1214cc528470e92"),
    YCBObject("072-a_toy_airplane", 0.114, (0.17744, 0.24981, 0.27492), "b7717c3b38a1be366e175764148ee89cea7d665e20c956be561e2bc23aae5398"),
    YCBObject("072-c_toy_airplane", 0.114, (0.03052, 0.03054, 0.06665), "efaa9c5596f70c3b28a8a5e26dbd7804a6fed65c18b46cde5b01bfde4a436f4a"),
    YCBObject("072-d_toy_airplane", 0.114, (0.03062, 0.03062, 0.06642), "935d657e1bfdabff7f49d4ee88809a003b8f44f408db2206e43a14f29761e996"),
    YCBObject("072-e_toy_airplane", 0.114, (0.0306, 0.03065, 0.06609), "4be0ec3482419a724c4c438e42fb6675cb67b785c83f55d9b697726151c85684"),
    YCBObject("073-a_lego_duplo", 0.0372, (0.02392, 0.03223, 0.064), "3165a3a5e99071fffea033787e98f18240ec181a1d10e4f39fb3e3cdcb159ecf"),
    YCBObject("073-b_lego_duplo", 0.0372, (0.03222, 0.03231, 0.04322), "d90db684f82d03c13f473d5c063a91524ca785582fe7fe13d14d369d20b5dfcf"),
    YCBObject("073-d_lego_duplo", 0.0372, (0.03255, 0.04318, 0.04794), "fb7fbc6a838c5c9c84e7a897c4d0696597217312435b88092362af5343474c9f"),
    YCBObject("073-e_lego_duplo", 0.0372, (0.03237, 0.04301, 0.09595), "522e45df42abf0ff49e8f03f25e89b8453fce5a5010b8cbff4f9cb8481a85ce7"),
    YCBObject("073-g_lego_duplo", 0.1488, (0.05972, 0.12717, 0.3027), "29e5919c7834119ad5a8dc91a5070b4906be040132d86ac1e4cabe0d36cfd58d"),
)
SCANNED_OBJECTS: tuple[ScannedObject, ...] = (
    ScannedObject("ACE_Coffee_Mug_Kristen_16_oz_cup", (0.08999, 0.11895, 0.13397), "20ef89d3bd74ce8c38a7e905bcf03516394079e164d77ddf87cc4314df96e855"),
    ScannedObject("Chelsea_BlkHeelPMP_DwxLtZNxLZZ", (0.08307, 0.15159, 0.26237), "7b9c9767e5ab7739270e00290250e936e9dfd0db38f186d08ab760ae0dacae42"),
    ScannedObject("Crunch_Girl_Scouts_Candy_Bars_Peanut_Butter_Creme_78_oz_box", (0.06195, 0.1388, 0.16353), "656cdcf743eea0f9b825d2a80f20279ee71c9b9085d5e4149b42eb23bf319d0a"),
    ScannedObject("Folic_Acid", (0.04733, 0.04747, 0.08371), "e9a75ccc4a0f0ecc2fcfcf5f4e2ac876534e46ec10ddec73ad6e956e0f6e2adf"),
    ScannedObject("Germanium_GE132", (0.04377, 0.04387, 0.07734), "784f41ee93b21d00a536aca695d258eaf84474916288a909b0acfaee68cc4077"),
    ScannedObject("Google_Cardboard_Original_package", (0.02148, 0.17521, 0.21414), "1a4718eea0015e0fa973ba0886881c4aed117d9d27a743aa3124d46241efd297"),
    ScannedObject("Hyaluronic_Acid", (0.05379, 0.05389, 0.09776), "64ef3641cfc86fdebb495c2f24aebb6bf9efca1cf081398fb57a3ca02e3d67fc"),
    ScannedObject("LEGO_Bricks_More_Creative_Suitcase", (0.14665, 0.28151, 0.37976), "3f6bce9e7c17a190bad7be43866cccd541cdb161232c56ebf9ae64770236a63f"),
    ScannedObject("Lego_Friends_Advent_Calendar", (0.07461, 0.26117, 0.38469), "ced1d36b212810c6b341327fc2321d9efa8831a1fb7ce6c5c151a480833c6d8e"),
    ScannedObject("Nestl_Crunch_Girl_Scouts_Cookie_Flavors_Caramel_Coconut_78_oz_box", (0.06098, 0.1389, 0.16247), "f69e6bc8b0814d3471392d82b29b6616029d44fcbd4c0dd63778a98a4e9c8047"),
    ScannedObject("Olive_Kids_Game_On_Lunch_Box", (0.10335, 0.21948, 0.27448), "7ebed42b81b72a14caec59d85841c1b90ac45bb3091b4983b7d11ee4c25078f9"),
    ScannedObject("ReadytoUse_Rolled_Fondant_Pure_White_24_oz_box", (0.04735, 0.12148, 0.16865), "554bcee892636d7c691f4138ee5154934423aabad69ab66689f5571cd51b4395"),
    ScannedObject("Reebok_CL_RAYEN", (0.09747, 0.11257, 0.29317), "a1d2406c5332b870e95a9fa5d4e812714b5273d067360eae9eb85c860c9a9e36"),
    ScannedObject("Reebok_JR_ZIG_COOPERSTOWN_MR", (0.09384, 0.1173, 0.24025), "1f8490cddfbd93fa29ce03a4086842e0620318bdf43df83fc43ceb36a30096cd"),
    ScannedObject("Reebok_ZIGLITE_RUSH", (0.10498, 0.12813, 0.27344), "5a46baa6ba36fddaab53c6e1f9d998e198e8a606b7bbf177753ea38ba5ab82a5"),
    ScannedObject("Room_Essentials_Mug_White_Yellow", (0.10194, 0.10438, 0.12715), "2b3c532d5766df15f5b7561921e2f44dc8109df95a41bdc0a9eaeea6627be6b6"),
    ScannedObject("Sony_Acid_Music_Studio", (0.03282, 0.14041, 0.1948), "b2dbc4fed06a60333803bd8192d29797dd9de678d179038d70984bff93e442cb"),
    ScannedObject("TROCHILUS_BOOST", (0.09905, 0.13086, 0.27021), "2a8c0573fb670d056794200a8ecc2013ef1a55b3c246cd334308fd35a95e6594"),
    ScannedObject("Threshold_Porcelain_Coffee_Mug_All_Over_Bead_White", (0.09675, 0.11457, 0.12028), "6adb3c506a561ddba3af0c61b86806eb7de96a68b0753dc17835e1509cc9c9ce"),
    ScannedObject("Threshold_Porcelain_Pitcher_White", (0.16916, 0.21784, 0.27791), "e8ea7ca66a4aa613e4c3448e18a14b49042e54280a8e7e8aaf7080a3876c0b04"),
    ScannedObject("VANS_FIRE_ROASTED_VEGGIE_CRACKERS_GLUTEN_FREE", (0.05906, 0.13958, 0.2089), "1bc7b80dd19813f51eb1526414436e5da900eb9c9a93bc3d14045e10affd3bcb"),
)


#: Pinned objects that the resting-pose rule (:func:`grasp_envs.objects.graspability.top_graspability`
#: with the default :class:`~grasp_envs.objects.graspability.TopGraspConfig`) finds **not**
#: graspable from above: they land, more often than not, where no reachable width fits the 10 cm
#: opening.  Computed from the pinned meshes; ``tests/test_graspability.py`` recomputes it (slow).
YCB_TOP_NOT_GRASPABLE = frozenset({"003_cracker_box", "029_plate", "053_mini_soccer_ball"})
SCANNED_TOP_NOT_GRASPABLE = frozenset({
    "Crunch_Girl_Scouts_Candy_Bars_Peanut_Butter_Creme_78_oz_box", "Google_Cardboard_Original_package",
    "LEGO_Bricks_More_Creative_Suitcase", "Lego_Friends_Advent_Calendar",
    "Nestl_Crunch_Girl_Scouts_Cookie_Flavors_Caramel_Coconut_78_oz_box",
    "ReadytoUse_Rolled_Fondant_Pure_White_24_oz_box", "Sony_Acid_Music_Studio",
    "VANS_FIRE_ROASTED_VEGGIE_CRACKERS_GLUTEN_FREE",
})
_TOP_NOT_GRASPABLE = {"ycb": YCB_TOP_NOT_GRASPABLE, "scanned": SCANNED_TOP_NOT_GRASPABLE}


def pinned_top_graspable(dataset: str, object_id: str) -> bool:
    """The resting-pose rule's verdict for a pinned object (no mesh needed)."""
    if get_dataset(dataset).pinned_source(object_id) is None:
        raise ValueError(f"{dataset}/{object_id} is not pinned; its verdict is in the index once downloaded")
    return object_id not in _TOP_NOT_GRASPABLE[dataset]


def _ycb_source(o: YCBObject) -> DataSource:
    rel = f"google/{o.object_id}_google_16k.tgz"
    return DataSource(o.object_id, YCB_BASE_URL + rel, rel, f"{o.object_id}/google_16k/textured.obj", o.geometry_sha256,
                      f"ycb/{o.object_id}/textured.obj", CC_BY_4, o.mass, None, o.obb_extent)


def _ycb_unpinned(object_id: str) -> DataSource:
    rel = f"google/{object_id}_google_16k.tgz"
    return DataSource(object_id, YCB_BASE_URL + rel, rel, f"{object_id}/google_16k/textured.obj", None,
                      f"ycb/{object_id}/textured.obj", CC_BY_4, None, YCB_DENSITY, None)


def _scanned_source(o: ScannedObject) -> DataSource:
    rel = f"{o.object_id}/model.obj"
    return DataSource(o.object_id, SCANNED_BASE_URL + rel, rel, None, o.geometry_sha256,
                      f"scanned/{o.object_id}/model.obj", CC_BY_4, None, SCANNED_DENSITY, o.obb_extent)


def _scanned_unpinned(object_id: str) -> DataSource:
    rel = f"{object_id}/model.obj"
    return DataSource(object_id, SCANNED_BASE_URL + rel, rel, None, None, f"scanned/{object_id}/model.obj", CC_BY_4,
                      None, SCANNED_DENSITY, None)


DATASETS: dict[str, Dataset] = {
    "ycb": Dataset(
        "ycb",
        "YCB Object and Model Set, google_16k scanned meshes (Calli et al. 2015), per-object archives",
        CC_BY_4 + " (YCB Object and Model Set, ycbbenchmarks.com)",
        YCB_BASE_URL,
        tuple(_ycb_source(o) for o in YCB_OBJECTS),
        YCB_ID_PATTERN,
        _ycb_unpinned,
    ),
    "scanned": Dataset(
        "scanned",
        "Google Scanned Objects (Downs et al. 2022) as converted by kevinzakka/mujoco_scanned_objects",
        CC_BY_4 + " (Google Scanned Objects); conversion MIT",
        SCANNED_BASE_URL,
        tuple(_scanned_source(o) for o in SCANNED_OBJECTS),
        SCANNED_ID_PATTERN,
        _scanned_unpinned,
    ),
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None


# --------------------------------------------------------------------------- processed objects


def index_path(name: str, root: str | Path | None = None) -> Path:
    return data_root(root) / name / "index.json"


def download_command(name: str, root: str | Path | None = None) -> str:
    cmd = f"grasp-envs download {name}"
    if root is not None:
        cmd += f" --root {root}"
    return cmd


def load_index(name: str, root: str | Path | None = None, object_ids: tuple[str, ...] | list[str] | None = None) -> dict:
    """The processed-object index of dataset ``name``; raises ``FileNotFoundError`` naming the
    download command when the dataset (or one of ``object_ids``) has not been downloaded."""
    from grasp_envs.objects.mesh_import import CACHE_VERSION

    path = index_path(name, root)
    where = data_root(root)
    if not path.is_file():
        raise FileNotFoundError(
            f"the {name!r} object set is not downloaded under {where} (no {path}); fetch and process it with "
            f"`{download_command(name, root)}` (data root: --root, or ${ENV_VAR}, default {DEFAULT_ROOT})"
        )
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{path} is unreadable ({exc}); rerun `{download_command(name, root)}`") from None
    if index.get("cache_version") != CACHE_VERSION:
        raise FileNotFoundError(
            f"{path} was processed by cache version {index.get('cache_version')}, this grasp-envs uses {CACHE_VERSION}; "
            f"reprocess with `{download_command(name, root)}` (downloads are reused)"
        )
    if object_ids is not None:
        missing = [o for o in object_ids if o not in index["objects"]]
        if missing:
            fetch = download_command(name, root) + (f" --objects {' '.join(missing)}" if len(missing) <= 5 else "")
            raise FileNotFoundError(
                f"{len(missing)} {name} object(s) are not downloaded under {where}: {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}; fetch them with `{fetch}`"
            )
    return index
