"""Profile one figure's benchmark with cProfile: where its time goes, for the analysis in findings.md.

    .venv/bin/python -m benchmarks.profile decision_path [--sort tottime] [--top 30]

Runs the figure at a reduced size (profiling slows Python code several times over, not I/O waits, so
read the profile for proportions, never for times). For wall-clock waits (fsync, sockets) time the seam
instead, e.g. `AuditStore.append_many` or a field link's `read`/`write`; py-spy (`py-spy record -o
out.svg -- .venv/bin/python -m benchmarks --only NAME`) shows both.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
from collections.abc import Callable

from benchmarks import (
    audit_bench,
    decision_path,
    mcp_propose,
    opcua_northbound,
    scan_scaling,
    sim_speed,
    validate_bench,
)
from benchmarks.figure import FIGURES, Figure

REDUCED: dict[str, Callable[[], list[Figure]]] = {
    "validate": lambda: validate_bench.run(validate_bench.Size(loops=10, batches=10)),
    "decision_path": lambda: asyncio.run(decision_path.run(decision_path.Size(requests=300, rounds=1))),
    "scan_scaling": lambda: asyncio.run(scan_scaling.run(scan_scaling.Size(budget_s=1.0))),
    "audit": lambda: audit_bench.run(audit_bench.Size(chunks=2, records=20_000, verifies=1)),
    "sim_speed": lambda: asyncio.run(sim_speed.run_figures(sim_speed.Size(ticks=1_000, repeats=1))),
    "opcua_northbound": lambda: asyncio.run(
        opcua_northbound.run(opcua_northbound.Size(requests=200, warmup=10, rounds=1))
    ),
    "mcp_propose": lambda: asyncio.run(mcp_propose.run(mcp_propose.Size(requests=100, rounds=1))),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumtime", "ncalls"))
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    profiler = cProfile.Profile()
    profiler.runcall(REDUCED[args.figure])
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
