"""Prometheus families of earned autonomy: each engine's level and evidence per loop (current models)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from otgate.core.config import Autonomy
from otgate.runtime.ledger import LEVEL_NUMBER
from otgate.runtime.view import GatewayView

EVIDENCE = ("proposals", "would_accept", "safety_refusals", "availability_refusals", "anomalies")
REVIEWS = ("approvals", "rejections")


def autonomy_metrics(view: GatewayView) -> Iterator[Metric]:
    rows = [r for r in view.autonomy_summary() if r["current_model"]]
    labels = ["engine", "loop"]
    level = GaugeMetricFamily(
        "otgate_autonomy_level", "Earned level: 0 shadow, 2 supervised, 3 autonomous", labels=labels
    )
    eligible = GaugeMetricFamily(
        "otgate_autonomy_eligible", "1 when the evidence meets the policy for the next level", labels=labels
    )
    stage = GaugeMetricFamily(
        "otgate_autonomy_stage_evidence",
        "Evidence counted since the current level was entered",
        labels=[*labels, "kind"],
    )
    for row in rows:
        key = [row["engine"], row["loop"]]
        level.add_metric(key, LEVEL_NUMBER[Autonomy(row["level"])])
        eligible.add_metric(key, 1.0 if row["eligible"] else 0.0)
        for kind in (*EVIDENCE, *REVIEWS):
            stage.add_metric([*key, kind], row["stage"][kind])
    yield level
    yield eligible
    yield stage
