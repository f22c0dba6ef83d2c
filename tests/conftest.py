from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLANT_CONFIGS = ROOT / "plant_configs"


@pytest.fixture
def plant_config_dir() -> Path:
    return PLANT_CONFIGS
