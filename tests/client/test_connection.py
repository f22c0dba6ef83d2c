"""The SDK's connection against the real AI API app (ASGI): typed answers, made ids and times, errors, 429."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.client import AsyncGatewayClient, GatewayClient, GatewayError, Proposal
from otgate.runtime.gateway import Gateway
from tests.client.conftest import TOKEN, connect


async def test_propose_in_range_accepted_with_made_id_and_rfc3339_time(
    client: AsyncGatewayClient, engaged: Gateway
):
    decision = await client.propose(Proposal("LIC-101.RSP", 650.4, "a step up"))
    assert decision.decision == "accepted" and decision.is_written
    assert decision.written_value == 650.4
    assert decision.admissible is None  # this gateway computes no admissible interval yet
    recommendation = next(r for r in engaged.audit.records() if r.kind == "recommendation")
    assert recommendation.data["id"] == decision.id and decision.id.startswith("rec-")
    assert recommendation.data["issued_at"] == engaged.clock.now()
    assert recommendation.data["rationale"] == "a step up"


async def test_propose_out_of_range_rejected_with_reason_codes(client: AsyncGatewayClient):
    decision = await client.propose(Proposal("LIC-101.RSP", 999.0))
    assert decision.decision == "rejected" and not decision.is_written
    assert "OUT_OF_RANGE" in decision.codes


async def test_propose_many_one_decision_each_in_order(client: AsyncGatewayClient):
    decisions = await client.propose_many(
        [Proposal("LIC-101.RSP", 651.0, id="first"), Proposal("LIT-101", 1.0, id="second")]
    )
    assert [d.id for d in decisions] == ["first", "second"]
    assert decisions[1].codes[0] == "NOT_AUTHORIZED"


async def test_same_id_twice_rejected_as_replay(client: AsyncGatewayClient):
    await client.propose(Proposal("LIC-101.RSP", 651.0, id="once"))
    again = await client.propose(Proposal("LIC-101.RSP", 651.0, id="once"))
    assert "REPLAY" in again.codes


async def test_tags_and_state_typed(client: AsyncGatewayClient):
    tags = await client.tags()
    (envelope,) = tags.writable
    assert envelope.tag == "LIC-101.RSP" and envelope.unit == "mm"
    assert (envelope.limits.lo, envelope.limits.hi) == (500.0, 800.0)
    assert envelope.autonomy == "autonomous" and envelope.mode == "ai"
    assert {r.tag for r in tags.readable} == {"LIT-101", "LIC-101.SP", "LIC-101.MODE", "FT-101", "FT-102"}
    state = await client.state()
    assert state.plc_available and state.values["LIT-101"] == 640.0
    assert state.loops["LIC-101"].mode == "ai"


async def test_bad_token_raises_gateway_error_with_code_and_correlation_id(engaged: Gateway):
    async with connect(engaged, token="wrong") as sdk:
        with pytest.raises(GatewayError) as caught:
            await sdk.tags()
    assert caught.value.status == 401 and caught.value.code == "unauthorized"
    assert caught.value.correlation_id


@pytest.mark.parametrize(
    ("proposal", "problem"),
    [
        (Proposal("LIC-101.RSP", float("nan")), "finite"),
        (Proposal("LIC-101.RSP", float("inf")), "finite"),
        (Proposal("x" * 65, 650.0), "tag"),
        (Proposal("LIC-101.RSP", 650.0, id="has space"), "id"),
        (Proposal("LIC-101.RSP", 650.0, "r" * 4001), "rationale"),
    ],
)
async def test_malformed_proposal_refused_before_sending(
    client: AsyncGatewayClient, engaged: Gateway, proposal: Proposal, problem: str
):
    with pytest.raises(ValueError, match=problem):
        await client.propose(proposal)
    assert not [r for r in engaged.audit.records() if r.kind == "recommendation"]


async def test_rate_limited_request_waits_retry_after_then_succeeds(engaged: Gateway):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the gateway's manual clock stands still unless moved
        waits.append(seconds)
        engaged.clock.advance(seconds)  # type: ignore[attr-defined]

    async with connect(engaged, sleep=sleep) as sdk:
        for _ in range(60):  # burst 40 at 20/s for engine "optimizer"
            await sdk.heartbeat()
    assert waits and all(w >= 1 for w in waits)


async def test_rate_limited_beyond_retries_raises_429(engaged: Gateway):
    async def no_wait(seconds: float) -> None:
        return None

    async with connect(engaged, sleep=no_wait, retries=1) as sdk:
        with pytest.raises(GatewayError) as caught:
            for _ in range(60):
                await sdk.heartbeat()
    assert caught.value.status == 429 and caught.value.code == "rate_limited"


def test_sync_client_reads_and_proposes(gateway: Gateway):
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    now = datetime.fromtimestamp(gateway.clock.now(), UTC)
    with GatewayClient("http://gw", TOKEN, transport=transport, now=lambda: now) as sdk:
        assert [e.tag for e in sdk.tags().writable] == ["LIC-101.RSP"]
        assert sdk.state().plc_available is False  # no scan yet
        decision = sdk.propose(Proposal("LIC-101.RSP", 651.0))
        sdk.heartbeat()
    assert decision.decision == "rejected"  # the loop is in fallback at start-up
    assert "PLC_UNAVAILABLE" in decision.codes  # no scan has read the PLC yet


async def test_proposal_with_its_own_old_issue_time_rejected_stale(
    client: AsyncGatewayClient, engaged: Gateway
):
    old = datetime.fromtimestamp(engaged.clock.now() - 3600, UTC)
    decision = await client.propose(Proposal("LIC-101.RSP", 650.4, issued_at=old))
    assert decision.codes[0] == "STALE"
