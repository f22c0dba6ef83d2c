"""systemd notify protocol: READY, watchdog pings only while scans progress, STOPPING; a restarted
gateway after a hang starts in fallback."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from otgate.config.loader import load_config_file
from otgate.core.modes import LoopMode, ModeEvent, PlcMode
from otgate.deploy.notify import READY, STOPPING, WATCHDOG, notify, service_manager, watchdog_period_s
from otgate.field.fake import FakeLink
from otgate.field.link import Reading
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC

PERIOD_USEC = 40_000  # a 40 ms watchdog: pings every 20 ms


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": str(PERIOD_USEC), "WATCHDOG_PID": str(os.getpid())}
    yield sock, env
    sock.close()


async def receive(sock: socket.socket) -> str:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(10):
        return (await loop.sock_recv(sock, 4096)).decode()


def drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_notify_without_socket_does_nothing():
    assert notify(READY, {}) is False
    assert watchdog_period_s({}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None  # not ours


def test_watchdog_period_is_half_the_timeout():
    assert watchdog_period_s({"WATCHDOG_USEC": "10000000"}) == 5.0


async def test_service_manager_pings_only_while_scans_progress(notify_socket):
    sock, env = notify_socket
    scans = [0]
    async with service_manager(lambda: scans[0], env):
        assert await receive(sock) == READY
        await asyncio.sleep(10 * PERIOD_USEC / 1e6)  # a hung scan loop: the counter stands still
        assert drain(sock) == []
        scans[0] += 1
        assert await receive(sock) == WATCHDOG
    assert STOPPING in drain(sock)


async def test_hung_gateway_stops_pinging_and_restarts_in_fallback(tmp_path: Path, notify_socket):
    sock, env = notify_socket
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    service = GatewayService(loaded, tmp_path, links={"plc1": fake}, api_port=0, hmi_port=0)
    async with service:
        await asyncio.sleep(0.2)  # a few scans so the PLC's state is known before engaging
        outcome = service.gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
        assert outcome == {"LIC-101": "ai"}
        async with service_manager(lambda: service.gateway.scans, env):
            assert await receive(sock) == READY
            assert await receive(sock) == WATCHDOG  # scanning: pinged
            hang = asyncio.Event()
            original = fake.read

            async def stuck(tags: Sequence[str]) -> Reading:
                await hang.wait()  # a PLC call that does not return (until the test ends the hang)
                return await original(tags)

            fake.read = stuck  # type: ignore[method-assign]
            await asyncio.sleep(4 * PERIOD_USEC / 1e6)
            drain(sock)  # a ping for the last scans before the hang may still be in flight
            await asyncio.sleep(10 * PERIOD_USEC / 1e6)
            assert drain(sock) == []  # systemd would now kill the process and restart the unit
            fake.read = original  # type: ignore[method-assign]
            hang.set()  # so this gateway stops quickly; the restart below is a fresh service
            fake.values["LIC-101.MODE"] = float(PlcMode.AUTO)  # the PLC confirms local control on stop
    restarted = GatewayService(
        loaded, tmp_path, links={"plc1": FakeLink(loaded.config.tags, REMOTE_PLC)}, api_port=0, hmi_port=0
    )
    async with restarted:
        assert {rt.state.mode for rt in restarted.gateway.loops.values()} == {LoopMode.FALLBACK}
