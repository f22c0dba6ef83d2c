"""The trend plot of one run (matplotlib, headless Agg backend), saved as PNG.

Panel 1: true PV (left axis); AI-proposed setpoint, setpoint at the PLC (the PLC's working setpoint) and
the AI limits (right axis); assertion limit lines on the PV axis.
Panel 2: PLC loop mode (MAN / AUTO / REMOTE) and the gateway's own loop mode (fallback / ai / manual; gaps
while the gateway is down).
Markers: a grey vertical line for every injection, a red tick for every gateway decision that refused or
reshaped a proposal, and a black line where an interlock trip latched. The title carries PASS or FAIL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from otgate_hil.assertions import Outcome
from otgate_hil.record import RunRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def render_plot(record: RunRecord, outcomes: Sequence[Outcome], path: Path) -> Path | None:
    """Write the PNG; None when matplotlib is not installed (the report then says so)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    spec = record.scenario.plot
    t_min = [r["t"] / 60.0 for r in record.rows]

    def series(name: str) -> list[float]:
        return [r.get(name, math.nan) for r in record.rows]

    passed = all(o.passed for o in outcomes)
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(11, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, dpi=100
    )
    # One axis: the PV and its setpoints share a unit, so the distance between them reads directly.
    ax1.plot(t_min, series(spec.pv), color="tab:blue", lw=1.4, label=spec.pv_label)
    proposed = [(t / 60.0, v) for t, tag, v in record.proposals if tag == spec.sp_tag and math.isfinite(v)]
    ax1.plot(
        [p[0] for p in proposed],
        [p[1] for p in proposed],
        color="tab:orange",
        lw=0,
        marker=".",
        ms=4,
        label=f"AI proposed {spec.sp_tag}",
    )
    ax1.plot(t_min, series(spec.working_sp), color="tab:green", lw=1.4, label="setpoint at the PLC")
    for i, limit in enumerate(spec.limits):
        ax1.axhline(limit, color="tab:gray", ls="--", lw=0.9, label="AI limits" if i == 0 else None)
    for limit in spec.assert_lines:
        ax1.axhline(limit, color="tab:red", ls=":", lw=1.2, label=f"assertion limit {limit:g}")
    ax1.set_ylabel(spec.pv_label)
    _markers(record, ax1, ax2)
    ax1.legend(loc="best", fontsize=7, framealpha=0.8)
    ax2.step(
        t_min,
        series(f"mode.{spec.loop}"),
        where="post",
        color="tab:purple",
        lw=1.5,
        label=f"PLC {spec.loop} (0 MAN, 1 AUTO, 2 REMOTE)",
    )
    ax2.step(
        t_min,
        [v + 0.05 if not math.isnan(v) else v for v in series(f"gw.{spec.loop}")],
        where="post",
        color="tab:brown",
        lw=1.2,
        ls="--",
        label="gateway (0 fallback, 1 ai, 2 manual)",
    )
    ax2.set_yticks([0, 1, 2])
    ax2.set_ylim(-0.3, 2.4)
    ax2.set_xlabel("simulated time (min)")
    ax2.legend(loc="upper left", fontsize=7, framealpha=0.8)
    meta = record.scenario.metadata
    verdict = "PASS" if passed else "FAIL"
    fig.suptitle(
        f"{meta.id} {meta.title} - {verdict} ({record.subject}, {record.protocol})",
        color="tab:green" if passed else "tab:red",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _markers(record: RunRecord, ax1: Axes, ax2: Axes) -> None:
    for event in record.events:
        for ax in (ax1, ax2):
            ax.axvline(event.t / 60.0, color="0.55", lw=0.8, alpha=0.8)
        ax1.annotate(
            event.label,
            (event.t / 60.0, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=6.5,
            rotation=90,
            va="top",
            ha="right",
            color="0.35",
        )
    refused = sorted(
        {t for t, a in record.audit if a.kind == "decision" and a.data.get("decision") == "rejected"}
    )
    if refused:
        ax1.plot(
            [t / 60.0 for t in refused],
            [0.02] * len(refused),
            "|",
            color="tab:red",
            ms=9,
            transform=ax1.get_xaxis_transform(),
            label="gateway rejected",
        )
    trips = [c for c in record.columns if c.startswith("trip.")]
    for column in trips:
        previous = 0.0
        for row in record.rows:
            if row[column] > previous:
                ax1.axvline(row["t"] / 60.0, color="black", lw=1.4, label=f"{column[5:]} trip")
            previous = row[column]
