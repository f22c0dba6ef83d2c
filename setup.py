"""Package layout that pyproject.toml cannot say statically (everything else is in pyproject.toml).

- Installed import names that cannot clash with other distributions: the simulator and the HIL runner
  keep their short folder names in the repository (`simulator/`, `hil/`) and are installed and imported
  as `otgate_simulator` and `otgate_hil`.
- The repository keeps the example plant configs at the top (`plant_configs/`, where engineers look for
  them); the wheel carries them inside the package as `otgate/plant_configs/` so that an installed otgate
  finds them from any directory (`otgate demo`, `otgate hil run`, `otgate.config.bundled`). Likewise the
  requirement and hazard catalogues from `docs/` (only the two YAML files, see pyproject.toml).
"""

from setuptools import find_packages, setup

RENAMED = {"otgate_simulator": "simulator", "otgate_hil": "hil"}
DATA_DIRS = {"otgate.plant_configs": "plant_configs", "otgate.docs": "docs"}


def packages() -> list[str]:
    found = find_packages(include=["otgate", "otgate.*"])
    for name, folder in RENAMED.items():
        found += [name, *(f"{name}.{sub}" for sub in find_packages(folder))]
    return [*found, *DATA_DIRS]


setup(packages=packages(), package_dir={**RENAMED, **DATA_DIRS})
