"""The gateway under test in a child process, so that `gateway.kill` can be a real SIGKILL.

The parent (`ChildGateway`) and the child (`python -m otgate_hil.child ...`) exchange one JSON line per request
over the child's stdin/stdout, so the child stays in lock-step: each message carries the simulated wall
time and steady time. The child sets its `ManualClock` from them, does the work, and answers. The work is
posting a body to the AI API app, a scan, or an operator action.

Killing is `SIGKILL` on the child. Nothing in it runs after the signal. No mode release, no heartbeat, no
`gateway_stop` record. The kernel closes its sockets, and the audit store's SQLite file is left exactly as
the last committed transaction left it.

    child request                           child answer
    {"op": "post", "token", "body"}         {"status": 200, "body": "<the answer's JSON text>"}
    {"op": "scan"}                          {"modes": {loop: code}, "head": seq | null}
    {"op": "act", "action": {...}}          {"answer": "HTTP 200 ...", "modes": ..., "head": ...}
                                            (an operator action through the child's HMI app)
    every request also has "now" and "steady" (seconds)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from otgate.core.config import Protocol
from otgate.runtime.clock import ManualClock
from otgate_hil.hmi_operator import OperatorAction
from otgate_hil.subjects import SUBJECTS, Reply
from otgate_hil.wiring import pointed
from otgate_simulator.simulation import default_config

START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0


class ChildGateway:
    """`GatewayUnderTest` backed by a child process; create with `await ChildGateway.start(...)`."""

    def __init__(self, process: asyncio.subprocess.Process, loops: Sequence[str], clock: ManualClock) -> None:
        self._process = process
        self._clock = clock
        self._modes: dict[str, float] = dict.fromkeys(loops, 0.0)
        self._head: int | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def start(
        cls,
        subject: str,
        plant: str,
        protocol: Protocol,
        modbus_port: int,
        opcua_url: str | None,
        data_dir: Path,
        clock: ManualClock,
    ) -> ChildGateway:
        args = [
            subject,
            plant,
            protocol.value,
            str(modbus_port),
            opcua_url or "-",
            str(data_dir),
            repr(clock.now()),
        ]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "otgate_hil.child",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        gateway = cls(process, sorted(default_config(plant).loops), clock)
        try:
            await gateway._exchange({"op": "hello"}, START_TIMEOUT_S)
        except BaseException:
            await gateway.kill()
            raise
        return gateway

    async def _exchange(
        self, message: dict[str, Any], timeout_s: float = REQUEST_TIMEOUT_S
    ) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None:
            raise RuntimeError("child gateway has no pipes")
        async with self._lock:
            message = {**message, "now": self._clock.now(), "steady": self._clock.monotonic()}
            stdin.write((json.dumps(message) + "\n").encode())
            await stdin.drain()
            line = await asyncio.wait_for(stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"child gateway exited (code {self._process.returncode})")
        answer: dict[str, Any] = json.loads(line)
        if "modes" in answer:
            self._modes, self._head = answer["modes"], answer["head"]
        return answer

    async def post(self, token: str, body: bytes) -> Reply:
        answer = await self._exchange({"op": "post", "token": token, "body": body.decode()})
        return Reply(int(answer["status"]), str(answer.get("body", "")).encode())

    async def scan(self, now: float) -> None:
        await self._exchange({"op": "scan"})

    async def act(self, action: OperatorAction) -> str:
        answer = await self._exchange({"op": "act", "action": dataclasses.asdict(action)})
        return str(answer["answer"])

    def mode_code(self, loop: str) -> float:
        return float(self._modes.get(loop, 0.0))

    def audit_seq(self) -> int | None:
        return self._head

    async def kill(self) -> None:
        """SIGKILL, then reap."""
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
        await self._process.wait()


async def serve(argv: Sequence[str]) -> None:
    subject, plant, protocol, modbus_port, opcua_url, data_dir, start = argv
    config = pointed(
        default_config(plant), Protocol(protocol), int(modbus_port), None if opcua_url == "-" else opcua_url
    )
    clock = ManualClock(float(start))
    steady = [0.0]
    factory = SUBJECTS[subject]
    gateway = factory(config, Path(data_dir), clock, lambda: steady[0], f"plant_configs/{plant}.yaml")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    loops = sorted(config.loops)
    while line := await reader.readline():
        message = json.loads(line)
        clock.time, clock.steady = message["now"], message["steady"]
        steady[0] = message["steady"]
        answer: dict[str, Any] = {}
        op = message["op"]
        if op == "post":
            reply = await gateway.post(message["token"], message["body"].encode())
            answer["status"], answer["body"] = reply.status, reply.body.decode(errors="replace")
        elif op == "scan":
            await gateway.scan(clock.monotonic())
        elif op == "act":
            fields = message["action"]
            answer["answer"] = await gateway.act(
                OperatorAction(**{**fields, "loops": tuple(fields["loops"])})
            )
        answer["modes"] = {name: gateway.mode_code(name) for name in loops}
        answer["head"] = gateway.audit_seq()
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    await gateway.kill()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
