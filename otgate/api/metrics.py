"""Prometheus exposition of the gateway's counters, modes and alarms, collected at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import otgate
from otgate.api.autonomy_metrics import autonomy_metrics
from otgate.core.modes import LoopMode
from otgate.runtime.view import GatewayView


class GatewayCollector(Collector):
    def __init__(self, view: GatewayView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        counters = self.view.counters()
        decisions = CounterMetricFamily(
            "otgate_recommendations", "Recommendations received, by outcome", labels=["outcome"]
        )
        decisions.add_metric(["accepted"], counters.accepted)
        decisions.add_metric(["rejected"], counters.rejected)
        decisions.add_metric(["other"], counters.recommendations - counters.accepted - counters.rejected)
        yield decisions
        yield CounterMetricFamily("otgate_fallbacks", "Loops sent to fallback", value=counters.fallbacks)
        yield CounterMetricFamily("otgate_scans", "Scans run", value=self.view.scans)
        modes = GaugeMetricFamily(
            "otgate_loop_mode", "1 for the loop's current gateway mode", labels=["loop", "mode"]
        )
        for name, state in self.view.loop_states().items():
            for mode in LoopMode:
                modes.add_metric([name, mode.value], 1.0 if state.mode is mode else 0.0)
        yield modes
        alarms = GaugeMetricFamily(
            "otgate_alarm_active", "Active alarms, with their count", labels=["code", "priority"]
        )
        for alarm in self.view.active_alarms():
            alarms.add_metric([alarm.code, alarm.priority], alarm.count)
        yield alarms
        offsets = GaugeMetricFamily(
            "otgate_engine_clock_offset_seconds",
            "Each engine's measured clock offset (positive: behind the gateway); absent until measured",
            labels=["engine"],
        )
        for engine in self.view.config.engines:
            offset = self.view.engine_clock_offset(engine)
            if offset is not None:
                offsets.add_metric([engine], offset)
        yield offsets
        yield from autonomy_metrics(self.view)
        yield GaugeMetricFamily(
            "otgate_plc_available",
            "1 when every PLC link is up",
            value=float(self.view.snapshot.plc_available),
        )
        yield from self._fleet()

    def _fleet(self) -> Iterator[Metric]:
        """What a fleet dashboard groups and alerts on (docs/DEPLOYMENT.md): which build runs which
        config, quarantined engines, a failing audit trail."""
        digest = self.view.config_sha256
        build = GaugeMetricFamily(
            "otgate_build_info",
            "Always 1: the otgate version, the plant and the SHA-256 of the config file in force",
            labels=["version", "plant", "config_sha256"],
        )
        build.add_metric([otgate.__version__, self.view.config.plant, digest or ""], 1.0)
        yield build
        quarantine = GaugeMetricFamily(
            "otgate_engine_quarantined", "1 while the engine is quarantined", labels=["engine"]
        )
        quarantined = self.view.quarantined()
        for engine in self.view.config.engines:
            quarantine.add_metric([engine], float(engine in quarantined))
        yield quarantine
        yield GaugeMetricFamily(
            "otgate_audit_failing",
            "1 while the audit trail cannot be written (the gateway holds every loop in fallback)",
            value=float(self.view.audit_failed),
        )


def render_metrics(view: GatewayView) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(view))
    return generate_latest(registry).decode()
