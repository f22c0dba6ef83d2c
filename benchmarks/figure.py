"""One benchmark figure: a measured value next to a baseline measured in the same process run.

Every row of `benchmarks/results.json` is one `Figure`:

    name      row name; it always starts with the figure it belongs to (`figure`)
    figure    one of FIGURES, the name tracked over time
    value     the median (or p99 where the name says so) of what otgate costs or achieves
    unit      "us", "ms", "records/s", "x realtime", "exponent"
    baseline  the same quantity for the bare operation otgate builds on, measured in the same run
    ratio     overhead factor: how many times worse than the baseline otgate is (value / baseline for
              times, baseline / value for rates); 1.0 means no overhead
    n         samples behind the value (calls, requests, scans or repeated runs)
    spread    interquartile range of the samples divided by their median (0.1 = the middle half of
              the samples lies within 10 % of the median); shows how noisy the figure is
    target    the issue's target, or None; `target_of` says whether it bounds the value (same unit) or
              the ratio; `met` says whether it is reached

Times are medians of many samples; this machine is shared and noisy, so compare ratios, not bare times.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FIGURES = (
    "validate",
    "predict",
    "decision_path",
    "scan_scaling",
    "audit",
    "sim_speed",
    "fallback_latency",
    "hil_suite",
    "hmi_under_flood",
    "flood",
    "opcua_northbound",
    "mcp_propose",
)
RATE_UNITS = frozenset({"records/s", "x realtime", "proposals/s"})


@dataclass(frozen=True)
class Figure:
    name: str
    figure: str
    value: float
    unit: str
    baseline: float
    ratio: float
    n: int
    spread: float
    target: float | None = None
    target_of: str = "value"
    met: bool | None = None
    what: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def figure(
    name: str,
    unit: str,
    samples: Sequence[float],
    baseline_samples: Sequence[float],
    *,
    what: str,
    target: float | None = None,
    ratio_target: float | None = None,
    quantile: float = 0.5,
    extra: dict[str, Any] | None = None,
) -> Figure:
    """A row from raw samples: value and baseline are the same quantile of each sample set."""
    value = quantile_of(samples, quantile)
    baseline = quantile_of(baseline_samples, quantile)
    higher_is_better = unit in RATE_UNITS
    ratio = baseline / value if higher_is_better else value / baseline
    met = None if target is None else (value >= target if higher_is_better else value <= target)
    if ratio_target is not None:
        target, met = ratio_target, ratio <= ratio_target
    return Figure(
        name=name,
        figure=next(f for f in FIGURES if name.startswith(f)),
        value=_round(value),
        unit=unit,
        baseline=_round(baseline),
        ratio=round(ratio, 3),
        n=len(samples),
        spread=round(relative_iqr(samples), 3),
        target=target,
        target_of="value" if ratio_target is None else "ratio",
        met=met,
        what=what,
        extra=extra or {},
    )


def quantile_of(samples: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (q=0.5 is the median, 0.99 the p99)."""
    if not samples:
        raise ValueError("no samples")
    if q == 0.5:
        return statistics.median(samples)
    ordered = sorted(samples)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def relative_iqr(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    middle = statistics.median(samples)
    return (q3 - q1) / middle if middle else 0.0


def _round(value: float) -> float:
    """Four significant digits: more would be noise on this machine."""
    return float(f"{value:.4g}")
