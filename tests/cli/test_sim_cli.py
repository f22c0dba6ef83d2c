"""`otgate sim` as a user runs it: prints its endpoints, serves them, stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

from pymodbus.client import AsyncModbusTcpClient

from tests.conftest import ROOT


async def test_sim_prints_endpoints_serves_modbus_and_stops_on_ctrl_c():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "otgate",
        "sim",
        "--plant",
        "tank",
        "--modbus-port",
        "0",
        "--opcua-port",
        "0",
        "--speed",
        "10",
        "--seed",
        "2",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(3)]
    port = int(re.search(r"modbus tcp\s+127\.0\.0\.1:(\d+)", lines[1]).group(1))  # type: ignore[union-attr]
    assert re.search(r"opc ua\s+opc\.tcp://127\.0\.0\.1:\d+/otgate/tank", lines[2])
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    await client.connect()
    level = await client.read_input_registers(0, count=2, device_id=1)
    client.close()
    assert not level.isError()
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 10) == 0
