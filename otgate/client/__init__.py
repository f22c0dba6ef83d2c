"""otgate's client SDK: talk to a gateway's AI-facing API, or write an `Engine` and let `otgate engine run`
drive it. Typed with the gateway's own wire models; see docs/INTEGRATION.md."""

from otgate.client.connection import AsyncGatewayClient, GatewayClient, GatewayError
from otgate.client.engine import Engine, RunStats, load_engine, run_cycle, run_engine
from otgate.client.models import (
    Decision,
    Envelope,
    Interval,
    Proposal,
    State,
    Tags,
    View,
    batch_body,
    read_decisions,
    recommendation_body,
)

__all__ = [
    "AsyncGatewayClient",
    "Decision",
    "Engine",
    "Envelope",
    "GatewayClient",
    "GatewayError",
    "Interval",
    "Proposal",
    "RunStats",
    "State",
    "Tags",
    "View",
    "batch_body",
    "load_engine",
    "read_decisions",
    "recommendation_body",
    "run_cycle",
    "run_engine",
]
