"""Prometheus exposition of the gateway's counters, modes and alarms, collected at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from otgate.api.autonomy_metrics import autonomy_metrics
from otgate.core.modes import LoopMode
from otgate.gateway import Gateway


class GatewayCollector(Collector):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        counters = self.gateway.counters
        decisions = CounterMetricFamily(
            "otgate_recommendations", "Recommendations received, by outcome", labels=["outcome"]
        )
        decisions.add_metric(["accepted"], counters.accepted)
        decisions.add_metric(["rejected"], counters.rejected)
        decisions.add_metric(["other"], counters.recommendations - counters.accepted - counters.rejected)
        yield decisions
        yield CounterMetricFamily("otgate_fallbacks", "Loops sent to fallback", value=counters.fallbacks)
        yield CounterMetricFamily("otgate_scans", "Scans run", value=self.gateway.scans)
        modes = GaugeMetricFamily(
            "otgate_loop_mode", "1 for the loop's current gateway mode", labels=["loop", "mode"]
        )
        for name, runtime in self.gateway.loops.items():
            for mode in LoopMode:
                modes.add_metric([name, mode.value], 1.0 if runtime.state.mode is mode else 0.0)
        yield modes
        alarms = GaugeMetricFamily(
            "otgate_alarm_active", "Active alarms, with their count", labels=["code", "priority"]
        )
        for alarm in self.gateway.alarms.values():
            if alarm.active:
                alarms.add_metric([alarm.code, alarm.priority], alarm.count)
        yield alarms
        offsets = GaugeMetricFamily(
            "otgate_engine_clock_offset_seconds",
            "Each engine's measured clock offset (positive: behind the gateway); absent until measured",
            labels=["engine"],
        )
        for engine in self.gateway.plant.config.engines:
            offset = self.gateway.engine_clock_offset(engine)
            if offset is not None:
                offsets.add_metric([engine], offset)
        yield offsets
        yield from autonomy_metrics(self.gateway)
        yield GaugeMetricFamily(
            "otgate_plc_available",
            "1 when every PLC link is up",
            value=float(self.gateway.snapshot.plc_available),
        )


def render_metrics(gateway: Gateway) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gateway))
    return generate_latest(registry).decode()
