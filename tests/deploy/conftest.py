"""A wheel of this source tree installed into a fresh virtual environment, shared by the deployment tests.

The wheel is installed with `--no-deps --no-index` and the fresh environment borrows the third-party
dependencies from this test's own environment (one `.pth` line): CI machines may be offline, and what is
under test is the wheel's own contents (code, plant configs, scenarios, catalogues, unit files), which
come only from the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "otgate-data", "evidence", "out"
)


def run(
    *args: str | Path, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or {"PATH": "/usr/bin:/bin", "HOME": str(cwd)},  # no PYTHONPATH, no checkout on any path
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, an empty working directory)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE)  # the build writes build/ and egg-info: not into ROOT
    wheels = base / "wheels"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, source, cwd=base, timeout=300)
    (wheel,) = wheels.glob("otgate-*.whl")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", "-q", wheel, cwd=base)
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base
        ).stdout.strip()
    )
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = base / "elsewhere"
    work.mkdir()
    return venv / "bin", work
