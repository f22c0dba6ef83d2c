"""The scenario library, run as part of the test suite.

Every scenario must pass against otgate (and fail against the pass-through gateway: the module beside
this one, so the two halves run in parallel under `make test`), and a run is a pure function of the scenario: the same file twice gives the
same trace hash. Each scenario's run against otgate is made once and judged by every test that needs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate_hil.assertions import judge
from otgate_hil.coverage import coverage, load_hazards
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import load_scenario
from tests.hil.library_runs import FILES, LIBRARY, otgate_run


def test_library_has_at_least_forty_five_scenarios_over_three_plants_and_three_groups():
    scenarios = [load_scenario(path) for path in FILES]
    assert len(scenarios) >= 45
    assert {s.plant for s in scenarios} == {"tank", "cstr", "ricker"}
    assert {s.metadata.category for s in scenarios} == {"ai-misbehaviour", "infra-fault", "operator"}
    assert len({s.metadata.id for s in scenarios}) == len(scenarios)


def test_every_library_scenario_names_known_hazards_and_every_hazard_is_covered():
    result = coverage([load_scenario(path) for path in FILES], load_hazards())
    assert result.unknown == {}
    assert [h.id for h in result.uncovered] == []
    assert all(load_scenario(path).metadata.hazards for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.requirement("R-54")
@pytest.mark.timeout(180)  # the longest run takes ~35 s alone, several times that beside other work
async def test_scenario_passes_against_otgate(path: Path):
    record = await otgate_run(path)
    failed = [f"{o.id}: {o.message}" for o in judge(record) if not o.passed]
    assert failed == []


@pytest.mark.parametrize(
    "name",
    [
        "A08_stale_recommendation_tank",
        "A08R_repeated_id_cstr",
        "A16_interlock_blocks_increase_ricker",
        "P06_plc_link_loss_cstr",  # link faults through the proxy, reconnect back-off on simulated time
        "P09K_gateway_sigkill_cstr",  # the gateway in a child process, SIGKILLed and restarted
        "H01_approval_digest_ricker",  # operator actions through the HMI app
        "L02_jitter_loss_reorder_tank",  # seeded frame faults in ticks
    ],
)
async def test_same_scenario_twice_gives_same_trace_hash(name: str):
    scenario = load_scenario(LIBRARY / f"{name}.yaml")
    first = await otgate_run(LIBRARY / f"{name}.yaml")  # the library test's run when it came first
    second = await run_scenario(scenario)
    assert first.trace_sha256 == second.trace_sha256
    assert len(first.rows) == round(scenario.duration)


async def test_different_seed_gives_different_trace_hash():
    scenario = load_scenario(LIBRARY / "A08_stale_recommendation_tank.yaml")
    reseeded = scenario.model_copy(update={"seed": scenario.seed + 1})
    assert (await run_scenario(scenario)).trace_sha256 != (await run_scenario(reseeded)).trace_sha256
