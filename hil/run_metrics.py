"""Figures a report gives per scenario beside pass/fail: valve travel, decision latency, peak memory.

    valve travel      sum of |change| of every loop output the PLC drives (`plc.<loop>.OUT`, in its unit),
                      tick to tick over the run: the wear an oscillating or nervous setpoint costs
    latency p95       95th percentile of the wall time from POSTing a recommendation to having the
                      gateway's answer (parsing, schema, authentication, the rules, the audit write)
    peak RSS          the process's peak resident set after the run, in MB (the whole process: a
                      figure to watch for growth across a suite, not a per-scenario budget)

Wall-clock figures are not part of the trace hash: they differ run to run.
"""

from __future__ import annotations

import itertools
import math
import resource
import sys

from otgate_hil.record import RunRecord


def valve_travel(record: RunRecord) -> dict[str, float]:
    outputs = [c for c in record.columns if c.startswith("plc.") and c.endswith(".OUT")]
    travel: dict[str, float] = {}
    for name in outputs:
        values = [r[name] for r in record.rows if math.isfinite(r.get(name, math.nan))]
        travel[name.removeprefix("plc.")] = sum(abs(b - a) for a, b in itertools.pairwise(values))
    return travel


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (
        peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
    )  # bytes on macOS, KiB on Linux
