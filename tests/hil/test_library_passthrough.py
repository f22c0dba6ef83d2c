"""Every library scenario fails against the pass-through gateway: a scenario that cannot fail proves nothing.

(Its own module, beside `test_library.py`, so `make test`'s two workers run the two halves side by side.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate_hil.assertions import judge
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import load_scenario
from tests.hil.library_runs import FILES


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.requirement("R-54")
@pytest.mark.timeout(180)  # the longest run takes ~35 s alone, several times that beside other work
async def test_scenario_fails_against_passthrough_gateway(path: Path):
    record = await run_scenario(load_scenario(path), subject="passthrough")
    outcomes = judge(record)
    assert any(not o.passed for o in outcomes), "this scenario cannot tell otgate from a pass-through"
