import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore
from otgate.config.loader import load_config
from otgate.core.modes import PlcMode
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway

ROOT = Path(__file__).resolve().parent.parent
PLANT_CONFIGS = ROOT / "plant_configs"
TANK_CONFIG = load_config(PLANT_CONFIGS / "tank.yaml")
# A tank PLC whose level loop is already in REMOTE, so an engage is confirmed at the next scan.
REMOTE_PLC = {
    "LIC-101.SP": 650.0,
    "LIC-101.RSP": 650.0,
    "LIC-101.MODE": float(PlcMode.REMOTE),
    "LIT-101": 640.0,
}


@pytest.fixture
def plant_config_dir() -> Path:
    return PLANT_CONFIGS


@pytest.fixture
def fake() -> FakeLink:
    return FakeLink(TANK_CONFIG.tags, REMOTE_PLC)


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path) -> Iterator[Gateway]:
    """A tank gateway on the in-memory fake PLC, with a real audit store and a manual clock."""
    store = AuditStore(tmp_path, None)
    yield Gateway(compile_plant(TANK_CONFIG), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
    store.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Copy `requirement` marker ids into each test's JUnit properties, for `otgate evidence`."""
    for item in items:
        for marker in item.iter_markers("requirement"):
            for rid in marker.args:
                if not isinstance(rid, str) or not re.fullmatch(r"R-\d{2}", rid):
                    raise pytest.UsageError(f"{item.nodeid}: requirement id {rid!r} is not R-NN")
                item.user_properties.append(("requirement", rid))
