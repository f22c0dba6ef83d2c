"""The `Engine` protocol (state in, proposals out) and the loop that runs one live against a gateway.

An engine is any object with `propose(view) -> proposals`; it never sees HTTP, tokens, ids or clocks.
Each cycle the runner reads what the engine may see (`GET /v1/tags`, `GET /v1/state`), asks it, sends
what it proposed in one batch, and hands the decisions back if the engine wants them (`decided`). A cycle
with nothing to propose sends a heartbeat, so a content engine is not taken for a silent one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import itertools
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from otgate.client.connection import AsyncGatewayClient, GatewayError
from otgate.client.models import Decision, Proposal, View


@runtime_checkable
class Engine(Protocol):
    """`propose` may also be a coroutine (an engine that awaits a model server)."""

    def propose(self, view: View) -> Iterable[Proposal] | Awaitable[Iterable[Proposal]]: ...


@dataclass
class RunStats:
    cycles: int = 0
    sent: int = 0
    heartbeats: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n


async def run_cycle(engine: Engine, client: AsyncGatewayClient, stats: RunStats) -> list[Decision]:
    """One cycle; a gateway error is counted (`http_<status>`) and the engine tries again next cycle."""
    stats.cycles += 1
    try:
        view = View(await client.tags(), await client.state())
        answer = engine.propose(view)
        proposals = list(await answer if inspect.isawaitable(answer) else answer)
        if not proposals:
            await client.heartbeat()
            stats.heartbeats += 1
            return []
        stats.sent += len(proposals)
        decisions = await client.propose_many(proposals)
    except GatewayError as error:
        stats.count(f"http_{error.status}")
        return []
    for decision in decisions:
        stats.count(decision.decision)
    decided = getattr(engine, "decided", None)
    if callable(decided):
        decided(decisions)
    return decisions


async def run_engine(
    engine: Engine,
    client: AsyncGatewayClient,
    *,
    period_s: float,
    stop: asyncio.Event,
    cycles: int | None = None,
    stats: RunStats | None = None,
) -> RunStats:
    """Cycle every `period_s` (monotonic, via the event loop) until `stop` is set or `cycles` are done."""
    stats = stats if stats is not None else RunStats()
    for done in itertools.count(1):
        if stop.is_set():
            break
        await run_cycle(engine, client, stats)
        if cycles is not None and done >= cycles:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period_s)
    return stats


def load_engine(spec: str) -> Engine:
    """`package.module:Class` -> an instance (made with no arguments). Imports a module, evaluates nothing."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name.isidentifier():
        raise ValueError(f"engine must be given as module:Class, not {spec!r}")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if cls is None:
        raise ValueError(f"module {module_name!r} has no {class_name!r}")
    engine = cls()
    if not isinstance(engine, Engine):
        raise ValueError(f"{spec} has no propose(view) method")
    return engine
