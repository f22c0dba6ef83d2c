"""Package layout that pyproject.toml cannot say statically (everything else is in pyproject.toml).

The repository keeps the example plant configs at the top (`plant_configs/`, where engineers look for
them); the wheel carries them inside the package as `otgate/plant_configs/` so that an installed otgate
finds them from any directory (`otgate demo`, `otgate hil run`, `otgate.config.bundled`). Likewise the
requirement and hazard catalogues from `docs/` (only the two YAML files, see pyproject.toml).
"""

from setuptools import find_packages, setup

PACKAGE_DIRS = {"otgate.plant_configs": "plant_configs", "otgate.docs": "docs"}

setup(
    packages=[*find_packages(include=["otgate*", "simulator*", "hil*"]), *PACKAGE_DIRS],
    package_dir=PACKAGE_DIRS,
)
