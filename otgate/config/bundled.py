"""Where the bundled data files are: inside the installed package (put there by the wheel build, see
setup.py) or, in a source checkout, at the top of the repository.

- the example plant configs: `otgate/plant_configs/` in a wheel, `plant_configs/` in a checkout;
- the requirement and hazard catalogues: `otgate/docs/{requirements,hazards}.yaml` in a wheel,
  `docs/` in a checkout.

`otgate demo`, the simulator and `otgate hil run` read them through here, so an installed otgate works
from any directory and a checkout works without installing.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # the `otgate` package


def _bundled(folder: str) -> Path:
    packaged = _PACKAGE / folder
    return packaged if packaged.is_dir() else _PACKAGE.parent / folder


def plant_configs_dir() -> Path:
    return _bundled("plant_configs")


def catalogue_path(name: str) -> Path:
    """`requirements.yaml` or `hazards.yaml`."""
    return _bundled("docs") / name


def plant_config_path(plant: str) -> Path:
    return plant_configs_dir() / f"{plant}.yaml"
