"""`python -m benchmarks` (`make bench`): run every figure, write `benchmarks/results.json` and regenerate
`BENCHMARKS.md`.

    python -m benchmarks                     everything at full size (a few minutes)
    python -m benchmarks --only validate     some figures (repeatable); the files then hold only those
    python -m benchmarks --tiny --out DIR    every benchmark on a tiny size (the smoke test; no meaning)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import (
    audit_bench,
    decision_path,
    fallback_latency,
    flood,
    hil_suite,
    hmi_flood,
    mcp_propose,
    opcua_northbound,
    predict_bench,
    scan_scaling,
    sim_speed,
    validate_bench,
)
from benchmarks.figure import FIGURES, Figure
from benchmarks.machine import ROOT, describe, load_average
from benchmarks.report import render

Runner = Callable[[bool], list[Figure]]

RUNNERS: dict[str, Runner] = {
    "validate": lambda tiny: validate_bench.run(validate_bench.TINY if tiny else validate_bench.Size()),
    "predict": lambda tiny: predict_bench.run(predict_bench.TINY if tiny else predict_bench.Size()),
    "decision_path": lambda tiny: asyncio.run(
        decision_path.run(decision_path.TINY if tiny else decision_path.Size())
    ),
    "scan_scaling": lambda tiny: asyncio.run(
        scan_scaling.run(scan_scaling.TINY if tiny else scan_scaling.Size())
    ),
    "audit": lambda tiny: audit_bench.run(audit_bench.TINY if tiny else audit_bench.Size()),
    "sim_speed": lambda tiny: asyncio.run(
        sim_speed.run_figures(sim_speed.TINY if tiny else sim_speed.Size())
    ),
    "fallback_latency": lambda tiny: asyncio.run(
        fallback_latency.run(fallback_latency.TINY if tiny else fallback_latency.Size())
    ),
    "hil_suite": lambda tiny: hil_suite.run(hil_suite.TINY if tiny else hil_suite.Size()),
    "flood": lambda tiny: asyncio.run(flood.run(flood.TINY if tiny else flood.Size())),
    "hmi_under_flood": lambda tiny: asyncio.run(
        hmi_flood.run_figures(hmi_flood.TINY if tiny else hmi_flood.Size())
    ),
    "opcua_northbound": lambda tiny: asyncio.run(
        opcua_northbound.run(opcua_northbound.TINY if tiny else opcua_northbound.Size())
    ),
    "mcp_propose": lambda tiny: asyncio.run(
        mcp_propose.run(mcp_propose.TINY if tiny else mcp_propose.Size())
    ),
}


def run(only: Sequence[str], tiny: bool, out: Path, say: Callable[[str], None]) -> list[Figure]:
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    load_at_start = load_average()
    started = time.perf_counter()
    for name in only or FIGURES:
        say(f"bench {name} ...")
        begun = time.perf_counter()
        rows = RUNNERS[name](tiny)
        timings[name] = round(time.perf_counter() - begun, 1)
        for row in rows:
            say(
                f"  {row.name:32s} {row.value:>10g} {row.unit:<10s} baseline {row.baseline:g}  x{row.ratio:g}"
            )
        figures.extend(rows)
    machine = describe()
    machine["load_at_start"] = load_at_start
    machine["wall_s"] = {**timings, "total": round(time.perf_counter() - started, 1)}
    results = out / "benchmarks" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps([f.as_json() for f in figures], indent=2) + "\n")
    (out / "BENCHMARKS.md").write_text(render(figures, machine, tiny=tiny))
    say(f"wrote {results} and {out / 'BENCHMARKS.md'} in {machine['wall_s']['total']} s")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=FIGURES, default=[])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks that each benchmark runs")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        help="writes OUT/benchmarks/results.json and OUT/BENCHMARKS.md (default: the repository)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # asyncua's session-timeout notices are not results
    run(args.only, args.tiny, args.out.resolve(), lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
