"""What people see of the look-ahead (issue 15), over HTTP against the simulated CSTR: a refused move names
the variable, when and by how much in the engine's answer and in the HMI's state, and each loop that moves
an enveloped variable carries its predicted band and the envelope for the trend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.core.config import PlantConfig
from otgate.core.process_models import EnvelopeLimit
from tests.conftest import PLANT_CONFIGS
from tests.e2e.harness import Harness, running

pytestmark = pytest.mark.requirement("R-15")
TOKEN = "demo-cstr-engine-token"  # the shipped demo engine's token (plant_configs/cstr.yaml)
ENVELOPE_HI = 325.5  # just above the reactor's 325 K rest: a +1 K move (legal by every other rule) leaves it


def tight(config: PlantConfig) -> PlantConfig:
    return config.model_copy(
        update={"envelope": {"TT-101": EnvelopeLimit(hi=ENVELOPE_HI, persistence_s=30.0)}}
    )


async def settle(h: Harness, scans: int = 40) -> None:
    """A trend window of samples for the forecast, the engine alive throughout."""
    for _ in range(scans):
        h.keepalive()
        await h.step()


async def propose(h: Harness, value: float) -> dict[str, object]:
    issued = datetime.fromtimestamp(h.clock.now(), UTC).isoformat()
    body = {"id": "rec-up", "tag": "TIC-101.RSP", "value": value, "issued_at": issued}
    transport = httpx.ASGITransport(app=create_ai_app(h.gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        answer = await http.post(
            "/v1/recommendations", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert answer.status_code == 200, answer.text
    (decision,) = answer.json()["decisions"]
    return dict(decision)


async def hmi_state(h: Harness) -> dict[str, object]:
    app = create_hmi_app(h.gateway, config_path=PLANT_CONFIGS / "cstr.yaml")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hmi") as http:
        session = await http.post("/hmi/api/session", json={"user": "viewer", "password": "demo-viewer"})
        assert session.status_code == 200, session.text
        state = await http.get("/hmi/api/state")
    assert state.status_code == 200, state.text
    return dict(state.json())


async def test_refused_move_names_the_excursion_in_the_answer_and_the_hmi(tmp_path: Path):
    async with running("cstr", tmp_path, adjust=tight) as h:
        await h.engage("TIC-101")
        await settle(h)
        start = h.setpoint("TIC-101")
        decision = await propose(h, round(start + 1.0, 3))
        assert decision["decision"] == "rejected"
        codes = [r["code"] for r in decision["reasons"]]  # type: ignore[attr-defined]
        assert "PREDICTED_EXCURSION" in codes and "MODE_BLOCKED" not in codes, codes
        (reason,) = [r for r in decision["reasons"] if r["code"] == "PREDICTED_EXCURSION"]  # type: ignore[attr-defined]
        assert reason["detail"].startswith("TT-101 predicted ")
        assert f"above its envelope limit {ENVELOPE_HI:g}" in reason["detail"]
        admissible = decision["admissible"]
        assert admissible is not None and admissible["hi"] < start + 1.0  # type: ignore[index]
        await h.step()
        (loop,) = (await hmi_state(h))["loops"]  # type: ignore[misc]
        assert reason["detail"] in [r["detail"] for r in loop["last"]["reasons"]]


async def test_hmi_state_carries_the_predicted_band_and_the_envelope_per_loop(tmp_path: Path):
    async with running("cstr", tmp_path) as h:
        await h.engage("TIC-101")
        await settle(h)
        (loop,) = (await hmi_state(h))["loops"]  # type: ignore[misc]
        (view,) = loop["prediction"]
        assert view["variable"] == "TT-101" and view["unit"] == "K"
        assert view["envelope"] == {"lo": None, "hi": 335.0}
        assert len(view["t_s"]) == len(view["expected"]) == len(view["band_lo"]) == len(view["band_hi"]) == 40
        assert view["t_s"][-1] == pytest.approx(view["horizon_s"])
        assert all(
            lo <= e <= hi
            for lo, e, hi in zip(view["band_lo"], view["expected"], view["band_hi"], strict=True)
        )
        assert abs(view["expected"][-1] - 325.0) < 1.0  # at rest near 325 K, the forecast stays there
