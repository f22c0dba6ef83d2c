"""The AI-facing HTTP API: engines propose setpoints and read the envelope they may move in.

Every request is authenticated by the engine's bearer token (stored hashed in the config). Bodies are
parsed strictly (no NaN/Infinity tokens, no duplicate keys, bounded size) before the wire model sees
them; errors carry a code and a correlation id, never internals.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from otgate.api.metrics import render_metrics
from otgate.api.openapi import error_answers, publish_openapi
from otgate.api.schemas import (
    Batch,
    DecisionOut,
    DecisionsOut,
    Heartbeat,
    Range,
    ReasonOut,
    Recommendation,
    StateOut,
    TagsOut,
    epoch,
)
from otgate.api.strict_requests import (
    ApiError,
    error_response,
    on_framework_error,
    parse_json,
    read_body,
    require_json,
)
from otgate.core.config import Autonomy, Engine
from otgate.core.proposal import Proposal
from otgate.core.rate_limit import TokenBucket
from otgate.core.text import visible
from otgate.runtime.gateway import Gateway
from otgate.runtime.hand_off import Busy, HandOff
from otgate.runtime.state import Answer, AuditUnavailable
from otgate.runtime.view import GatewayView

log = logging.getLogger(__name__)


def _bearer_digest(request: Request) -> str:
    """`sha256:<hex>` of the bearer token, as configs store it; 401 when there is no bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def create_ai_app(gateway: Gateway, hand_off: HandOff | None = None) -> FastAPI:
    """The API for `gateway`. Requests are read, authenticated and parsed on the API's own loop; whatever
    reads or changes the gateway runs on the gateway's loop through `hand_off` (the plant config is an
    immutable value replaced whole on reload, so reading it here is safe)."""
    door = hand_off or HandOff()
    view = GatewayView(gateway)
    # No public OpenAPI document: every route but /healthz needs a credential (docs/API.md describes it).
    app = FastAPI(title="otgate AI-facing API", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.openapi = publish_openapi(app)  # type: ignore[method-assign]
    buckets: dict[str, TokenBucket] = {}

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.fields, error.headers)

    @app.exception_handler(Busy)
    async def on_busy(request: Request, error: Busy) -> JSONResponse:
        return error_response(503, "busy", headers={"Retry-After": "1"})

    app.add_exception_handler(StarletteHTTPException, on_framework_error)  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", visible(request.url.path, 200))
        return error_response(500, "internal_error")

    def authenticate(request: Request) -> tuple[str, Engine]:
        digest = _bearer_digest(request)
        for name, engine in view.config.engines.items():
            if hmac.compare_digest(digest, engine.token_sha256):
                return name, engine
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})

    def throttle(name: str, engine: Engine, cost: int) -> None:
        now = view.monotonic()
        bucket = buckets.get(name) or TokenBucket.full(engine.max_requests_per_s, engine.burst, now)
        if (bucket.rate_per_s, bucket.burst) != (engine.max_requests_per_s, engine.burst):
            bucket = bucket.resized(engine.max_requests_per_s, engine.burst)  # a reload changed the rate
        buckets[name], wait = bucket.take(now, cost)
        if wait > 0:
            gateway.note_refusal(name)
            raise ApiError(429, "rate_limited", headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def record_read(request: Request, name: str, engine: Engine) -> None:
        if not engine.audit_reads:
            return
        tool = request.headers.get("x-otgate-tool", "")[:64]  # which MCP tool asked, when one did
        if not gateway.record_engine_read(name, {"path": request.url.path, "tool": tool or None}):
            raise ApiError(503, "audit_unavailable")

    @app.post(
        "/v1/recommendations",
        response_model=DecisionsOut,
        responses=error_answers(401, 422, 429, 503),
    )
    async def recommend(request: Request) -> DecisionsOut:
        name, engine = authenticate(request)
        require_json(request)
        items = parse_recommendations(await read_body(request), view.config.gateway.max_batch)
        proposals = [to_proposal(item, name) for item in items]

        async def decide() -> list[Answer]:
            throttle(name, engine, len(items))  # before the first await: one synchronous section
            try:
                return await gateway.submit_durably(proposals, [item.rationale for item in items])
            except AuditUnavailable:
                raise ApiError(503, "audit_unavailable") from None

        answers = await door.run(decide)
        return DecisionsOut(decisions=[decision_out(a) for a in answers])

    @app.get(
        "/v1/decisions/{decision_id}",
        response_model=DecisionOut,
        responses=error_answers(401, 404, 503),
    )
    async def decision(request: Request, decision_id: str) -> DecisionOut:
        """The answer this engine was given for one of its recent proposals (an audited read where the
        engine's reads are audited). Older answers are in the audit trail."""
        name, engine = authenticate(request)

        def look_up() -> Answer | None:
            record_read(request, name, engine)
            return view.answer(name, decision_id)

        answer = await door.run(look_up)
        if answer is None:
            raise ApiError(404, "not_found")
        return decision_out(answer)

    @app.post("/v1/heartbeat", responses=error_answers(401, 429))
    async def heartbeat(request: Request) -> dict[str, str]:
        """An engine with nothing to propose says it is alive, so it is not taken for silent."""
        name, engine = authenticate(request)
        body = await read_body(request)
        sent_at = None
        if body.strip():
            require_json(request)
            try:
                beat = Heartbeat.model_validate(parse_json(body))
            except ValidationError as error:
                raise ApiError(422, "invalid_body", fields=_field_errors(error)) from None
            sent_at = epoch(beat.sent_at) if beat.sent_at else None

        def alive() -> None:
            throttle(name, engine, 1)
            gateway.heartbeat_from(name, sent_at)

        await door.run(alive)
        return {"status": "ok"}

    @app.get("/v1/tags", response_model=TagsOut, responses=error_answers(401, 503))
    async def tags(request: Request) -> dict[str, Any]:
        name, engine = authenticate(request)

        def read() -> dict[str, Any]:
            record_read(request, name, engine)
            return {
                "writable": [envelope(view, tag, engine, name) for tag in engine.writes],
                "readable": readable(view, engine),
            }

        return await door.run(read)

    @app.get("/v1/state", response_model=StateOut, responses=error_answers(401, 503))
    async def state(request: Request) -> dict[str, Any]:
        name, engine = authenticate(request)
        return await door.run(lambda: state_for(request, name, engine))

    def state_for(request: Request, name: str, engine: Engine) -> dict[str, Any]:
        record_read(request, name, engine)
        snapshot = view.snapshot
        visible = set(engine.reads) | {view.plant.loop_by_setpoint[t][1].working_sp for t in engine.writes}
        loops = {view.plant.loop_by_setpoint[t][0] for t in engine.writes}
        return {
            "at": snapshot.stamped_at if math.isfinite(snapshot.stamped_at) else None,
            "plc_available": snapshot.plc_available,
            "values": {
                t: snapshot.values[t]
                for t in sorted(visible)
                if t in snapshot.values and t not in snapshot.bad_quality
            },
            "loops": {
                n: {"mode": view.loop_state(n).mode.value, "latched": view.loop_state(n).latched}
                for n in sorted(loops)
            },
            "alarms": [
                {"code": a.code, "priority": a.priority, "count": a.count} for a in view.active_alarms()
            ],
            # This engine's clock against the gateway's, as measured (positive: behind); null until known.
            "clock_offset_s": view.engine_clock_offset(name),
            # Earned autonomy (docs/AUTONOMY.md): this engine's level and evidence per loop with a policy.
            "autonomy": view.autonomy_summary(engine=name),
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", responses=error_answers(401))
    async def metrics(request: Request) -> Response:
        expected = view.config.gateway.metrics_token_sha256
        if expected is None or not hmac.compare_digest(_bearer_digest(request), expected):
            raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
        text = await door.run(lambda: render_metrics(view))
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app


def parse_recommendations(body: bytes, max_batch: int) -> list[Recommendation]:
    data = parse_json(body)
    try:
        if isinstance(data, dict) and "recommendations" in data:
            batch = Batch.model_validate(data)
            if len(batch.recommendations) > max_batch:
                raise ApiError(
                    422,
                    "batch_too_large",
                    fields=[{"loc": ["recommendations"], "msg": f"at most {max_batch}"}],
                )
            items = batch.recommendations
        else:
            items = [Recommendation.model_validate(data)]
    except ValidationError as error:
        raise ApiError(422, "invalid_body", fields=_field_errors(error)) from None
    for item in items:
        if not _is_finite_number(item.value):  # 1e999 parses to inf; a 400-digit integer overflows
            raise ApiError(422, "invalid_body", fields=[{"loc": ["value"], "msg": "must be a finite number"}])
    return items


def _field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False)
    ]


def _is_finite_number(value: float | int) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def to_proposal(item: Recommendation, engine: str) -> Proposal:
    return Proposal(
        id=item.id,
        engine=engine,
        tag=item.tag,
        value=float(item.value),
        issued_at=epoch(item.issued_at),
        basis_at=epoch(item.basis_at) if item.basis_at else None,
        model_digest=item.model.digest if item.model else None,
    )


def envelope(
    view: GatewayView, tag_name: str, engine: Engine | None = None, name: str | None = None
) -> dict[str, Any]:
    """What a well-behaved engine needs to stay inside the rules: limits, moves, rates and where the PLC is."""
    tag = view.config.tags[tag_name]
    rules = tag.setpoint
    if rules is None:  # unreachable: the config loader lets engines write only setpoints, which have rules
        raise ApiError(500, "internal_error")
    loop_name, loop = view.plant.loop_by_setpoint[tag_name]
    autonomy = rules.autonomy.capped(engine.max_autonomy if engine else Autonomy.AUTONOMOUS)
    earned = view.earned_level(name, loop_name) if name is not None else None
    return {
        "tag": tag_name,
        "unit": tag.unit,
        "limits": {"lo": rules.limits.lo, "hi": rules.limits.hi},
        "max_move": {"up": rules.max_move_up, "down": rules.max_move_down},
        "rate_per_s": {"up": rules.rate_up_per_s, "down": rules.rate_down_per_s},
        "change_budget": {
            "max_change": rules.change_budget.max_change,
            "window_s": rules.change_budget.window_s,
        },
        "deadband": rules.deadband,
        "min_write_interval_s": rules.min_write_interval_s,
        "autonomy": (autonomy if earned is None else autonomy.capped(earned)).value,
        "current_setpoint": view.snapshot.values.get(loop.working_sp),
        "loop": loop_name,
        "mode": view.loop_state(loop_name).mode.value,
    }


def readable(view: GatewayView, engine: Engine) -> list[dict[str, Any]]:
    tags, envelope = view.config.tags, view.config.envelope
    return [
        {
            "tag": name,
            "unit": tags[name].unit,
            "kind": tags[name].kind.value,
            "operating_envelope": (
                {"lo": envelope[name].lo, "hi": envelope[name].hi} if name in envelope else None
            ),
        }
        for name in engine.reads
    ]


def decision_out(answer: Answer) -> DecisionOut:
    decision = answer.decision
    return DecisionOut(
        id=decision.proposal_id,
        decision=decision.verdict.value,
        reasons=[ReasonOut(code=r.code.value, detail=r.detail) for r in decision.reasons],
        written_value=decision.value,
        audit_seq=answer.audit_seq,
        admissible=_range(decision.admissible),
    )


def _range(interval: tuple[float, float] | None) -> Range | None:
    return None if interval is None else Range(lo=interval[0], hi=interval[1])
