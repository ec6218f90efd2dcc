"""The instant rejection's physical claim is sound: grasps that close on air never lift.

The penetration reasons are a feasibility rule, not a claim that physics would fail (the contact
solver pushes a gripper started in collision out, and it sometimes lifts): their rates are
measured by ``python -m benchmarks.rejection_soundness`` and documented in docs/simulation.md.
"""

from __future__ import annotations

import pytest

from benchmarks.rejection_soundness import rejected_outcomes
from grasp_envs.sim import Rejection


def test_grasps_closing_on_air_never_lift_quick():
    codes, lifted = rejected_outcomes(40, per_object=20, reasons=(Rejection.CLOSES_ON_AIR,))
    assert (codes == Rejection.CLOSES_ON_AIR).all() and len(codes) >= 40
    assert not lifted.any()


@pytest.mark.slow
def test_500_grasps_closing_on_air_never_lift():
    codes, lifted = rejected_outcomes(500, per_object=30, reasons=(Rejection.CLOSES_ON_AIR,))
    assert len(codes) >= 500
    assert not lifted.any(), f"{int(lifted.sum())} of {len(codes)} grasps rejected as closing on air lifted the object"
