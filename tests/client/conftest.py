from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.client import AsyncGatewayClient
from otgate.core.modes import ModeEvent
from otgate.runtime.gateway import Gateway

TOKEN = "demo-tank-engine-token"  # plant_configs/tank.yaml, engine "optimizer"


def connect(gateway: Gateway, token: str = TOKEN, **kwargs: object) -> AsyncGatewayClient:
    """An SDK client on the gateway's ASGI app, its clock the gateway's (manual) clock."""
    return AsyncGatewayClient(
        "http://gw",
        token,
        transport=httpx.ASGITransport(app=create_ai_app(gateway)),
        now=lambda: datetime.fromtimestamp(gateway.clock.now(), UTC),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
async def engaged(gateway: Gateway) -> Gateway:
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await gateway.scan(gateway.clock.monotonic())
    return gateway


@pytest.fixture
async def client(engaged: Gateway) -> AsyncIterator[AsyncGatewayClient]:
    async with connect(engaged) as sdk:
        yield sdk
