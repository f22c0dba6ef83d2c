"""Fleet view: alert rules checked and unit-tested with promtool, every metric they and the Grafana
dashboard query is one the gateway exposes, and `otgate_build_info` names version, plant and config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import otgate
from otgate.api.metrics import render_metrics
from otgate.config.loader import load_config_file
from otgate.runtime.gateway import Gateway
from otgate.runtime.view import GatewayView
from tests.conftest import PLANT_CONFIGS

FILES = Path(otgate.__file__).parent / "deploy" / "files"
RULES = FILES / "otgate-alerts.yml"
DASHBOARD = FILES / "otgate-fleet.grafana.json"
METRIC = re.compile(r"\b(otgate_[a-z_]+)")


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is not installed (apt-get install prometheus; .ci/run does)"
    return found


@pytest.mark.parametrize(
    "check", [["check", "rules", RULES.name], ["test", "rules", "otgate-alerts.test.yml"]]
)
def test_alert_rules_promtool_check_and_unit_tests_pass(check: list[str]):
    result = subprocess.run([promtool(), *check], cwd=FILES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def exposed(gateway: Gateway) -> set[str]:
    names = set()
    for line in render_metrics(GatewayView(gateway)).splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names |= {name, f"{name}_total"} if kind == "counter" else {name}
    return names


def dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in data["panels"] for target in panel["targets"]]


def test_rules_and_dashboard_query_only_exposed_metrics(gateway: Gateway):
    names = exposed(gateway)
    queried = set(METRIC.findall(RULES.read_text())) | {
        m for e in dashboard_exprs() for m in METRIC.findall(e)
    }
    assert queried, "no otgate metric queried"
    assert queried <= names, f"queried but never exposed: {sorted(queried - names)}"
    alerts = set(re.findall(r"alert: (\w+)", RULES.read_text()))
    expected = {"OtgateAiDisengaged", "OtgateFallbackUnconfirmed", "OtgateAuditFailing", "OtgatePlcLinkDown"}
    assert expected | {"OtgateEngineQuarantined"} <= alerts


def test_build_info_names_version_plant_and_config_hash(gateway: Gateway):
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    gateway.watch_config_file(loaded)
    text = render_metrics(GatewayView(gateway))
    line = f'otgate_build_info{{config_sha256="{loaded.sha256}",plant="tank",version="{otgate.__version__}"}} 1.0'
    assert line in text


def test_engine_quarantined_and_audit_failing_follow_the_gateway(gateway: Gateway):
    assert 'otgate_engine_quarantined{engine="optimizer"} 0.0' in render_metrics(GatewayView(gateway))
    gateway.quarantined.add("optimizer")
    gateway.audit_failed = True
    text = render_metrics(GatewayView(gateway))
    assert 'otgate_engine_quarantined{engine="optimizer"} 1.0' in text
    assert "otgate_audit_failing 1.0" in text
