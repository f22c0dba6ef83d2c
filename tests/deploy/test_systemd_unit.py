"""The template unit `otgate@.service`: clean under `systemd-analyze verify`, hardened (offline security
score), Type=notify with a watchdog, state and credentials where the docs say."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import otgate

FILES = Path(otgate.__file__).parent / "deploy" / "files"
UNIT = FILES / "otgate@.service"
UNITS = ["otgate@.service", "otgate-audit-ship@.service"]
INSTALLED_BINARY = "/opt/otgate/bin/otgate"
# systemd-analyze's exposure score in tenths, 0 (locked down) to 100 (unprotected); the unit scores 14 (1.4 "OK").
MAX_EXPOSURE = "20"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is not installed (apt-get install systemd; .ci/run does)"
    return found


def instance(tmp_path: Path, unit: str = UNIT.name) -> Path:
    """The unit's `tank` instance as it would be installed, except that ExecStart points at this test's
    own `otgate` (verify insists the program exists; /opt/otgate is the documented install location)."""
    otgate_bin = Path(sys.executable).with_name("otgate")
    assert otgate_bin.is_file(), otgate_bin
    text = (FILES / unit).read_text()
    assert INSTALLED_BINARY in text
    path = tmp_path / unit.replace("@", "@tank")
    path.write_text(text.replace(INSTALLED_BINARY, str(otgate_bin)))
    return path


@pytest.mark.parametrize("unit", UNITS)
def test_unit_systemd_analyze_verify_no_warning(tmp_path: Path, unit: str):
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(instance(tmp_path, unit))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys too, with a warning on stderr: both must be clean.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_unit_security_exposure_below_threshold(tmp_path: Path, unit: str):
    result = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=yes",
            f"--threshold={MAX_EXPOSURE}",
            str(instance(tmp_path, unit)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_unit_notify_watchdog_state_and_credential():
    directives = dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^[A-Z]\w*=", line)
    )
    assert directives["Type"] == "notify" and directives["NotifyAccess"] == "main"
    assert directives["WatchdogSec"] and directives["Restart"] == "on-failure"
    assert directives["StateDirectory"] == "otgate/%i"
    assert "--data-dir %S/otgate/%i" in directives["ExecStart"]
    assert directives["LoadCredential"].startswith("audit-hmac-key:")
    assert "--allow-demo-secrets" not in directives["ExecStart"]
