"""The wheel works from any directory: built from the source tree, installed into a fresh virtual
environment outside the repository, then `otgate --version`, `otgate demo --duration 10 --json` and
`otgate hil run` on a scenario that came with the package, all run from an empty working directory.

The wheel is installed with `--no-deps --no-index` and the fresh environment borrows the third-party
dependencies from this test's own environment (one `.pth` line): CI machines may be offline, and what is
under test is the wheel's own contents (code, plant configs, scenarios, catalogues), which come only from
the wheel. The checks below prove that otgate, the simulator and the HIL runner (installed as
`otgate_simulator` and `otgate_hil`) were imported from there.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import run

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "A11_replay_tank.yaml"


@pytest.mark.timeout(600)
def test_wheel_fresh_venv_imports_from_itself_and_prints_version(installed: tuple[Path, Path]):
    bin_dir, work = installed
    version = run(bin_dir / "otgate", "--version", cwd=work).stdout
    assert version.startswith("otgate ")
    where = run(
        bin_dir / "python",
        "-c",
        "import otgate, otgate_simulator, otgate_hil, otgate.config.bundled as b; "
        "print(otgate.__file__, otgate_simulator.__file__, otgate_hil.__file__, b.plant_configs_dir(), "
        "b.catalogue_path('hazards.yaml'))",
        cwd=work,
    ).stdout.split()
    venv = bin_dir.parent
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert not any(str(ROOT) in p for p in where)


@pytest.mark.timeout(600)
def test_wheel_top_level_names_cannot_clash(installed: tuple[Path, Path]):
    """Every top-level name the wheel installs is otgate's own: no `simulator` or `hil` to collide with
    another distribution (the folders keep those names in the repository only)."""
    bin_dir, work = installed
    site = Path(
        run(
            bin_dir / "python",
            "-c",
            "import otgate, pathlib; print(pathlib.Path(otgate.__file__).parents[1])",
            cwd=work,
        ).stdout.strip()
    )
    (record,) = site.glob("otgate-*.dist-info/RECORD")
    tops = {line.split("/")[0] for line in record.read_text().splitlines() if not line.startswith("..")}
    tops = {
        top.split(",")[0] for top in tops if not top.startswith("otgate-") and not top.endswith(".dist-info")
    }
    assert tops == {"otgate", "otgate_simulator", "otgate_hil"}
    for old in ("simulator", "hil"):
        probe = subprocess.run(
            [bin_dir / "python", "-c", f"import {old}"], cwd=work, capture_output=True, text=True, timeout=60
        )
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr


@pytest.mark.timeout(600)
def test_wheel_fresh_venv_demo_duration_json(installed: tuple[Path, Path]):
    bin_dir, work = installed
    result = run(bin_dir / "otgate", "demo", "--duration", "10", "--json", cwd=work, timeout=180)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"recommendations", "accepted", "rejected", "fallbacks", "audit_records"}
    assert summary["recommendations"] > 0 and summary["audit_records"] > 0
    assert (work / "otgate-data" / "audit.sqlite3").is_file()  # the data dir is relative to where it ran


@pytest.mark.timeout(600)
def test_wheel_fresh_venv_hil_run_packaged_scenario(installed: tuple[Path, Path]):
    bin_dir, work = installed
    scenarios = run(
        bin_dir / "python",
        "-c",
        "import otgate_hil, pathlib; print(pathlib.Path(otgate_hil.__file__).parent / 'scenarios')",
        cwd=work,
    ).stdout.strip()
    scenario = Path(scenarios) / SCENARIO
    assert scenario.is_file() and scenario.is_relative_to(bin_dir.parent)
    result = run(
        bin_dir / "otgate", "hil", "run", scenario, "--report", work / "report", cwd=work, timeout=300
    )
    assert "PASS" in result.stdout + result.stderr  # the progress bar is on stderr
    assert "no coverage matrix" not in result.stderr  # the hazard list came with the package too
    assert (work / "report" / "report.html").is_file()
