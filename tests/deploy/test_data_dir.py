"""`otgate run` keeps its trail in the config's `gateway.data_dir` unless `--data-dir` says otherwise, and
logs as `--log-format`/`--log-level` say (here: JSON lines on stderr, uvicorn's among them)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.deploy.test_credentials import own_secrets_config


def test_run_without_data_dir_option_uses_config_data_dir(tmp_path: Path):
    config = own_secrets_config(tmp_path)
    wanted = tmp_path / "from-config"
    text = config.read_text().replace("data_dir: ./otgate-data", f"data_dir: {wanted}")
    text = text.replace("port: 8000}", "port: 0}").replace("port: 8080}", "port: 0}")
    text = text.replace("port: 5020,", "port: 1,")  # no PLC: the gateway starts (in fallback) all the same
    config.write_text(text)
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otgate",
            "--log-format",
            "json",
            "--log-level",
            "info",
            "run",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert "AI API" in process.stdout.readline()  # both listeners are up
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0
        finally:
            process.kill()
    records = [json.loads(line) for line in err.splitlines()]
    assert any(r["logger"].startswith("uvicorn") for r in records), err
    assert all(r["level"] in {"INFO", "WARNING", "ERROR"} for r in records)
    assert (wanted / "audit.sqlite3").is_file()
    assert not (tmp_path / "otgate-data").exists()
