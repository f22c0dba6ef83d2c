"""The site acceptance self-test (`otgate selftest`) against a live PLC or the simulator.

Steps, in order; each is a `StepResult` and a failed step never stops the report (later steps that need
it are skipped and say why):

    reachability      every PLC answers and every configured tag reads back
    plausibility      the values read make sense (`plausibility.py`)
    mode_handshake    REMOTE requested and confirmed, AUTO requested and confirmed, on one loop
    write_readback    one write of the declared test tag with the value it already holds, and its read-back
    heartbeat_shed    with the loop in REMOTE the heartbeat stops; the PLC must shed the loop to AUTO within
                      its watchdog timeout (+ a margin); then the heartbeat resumes and the loop must stay
                      in AUTO (no automatic return)

The last three need `allow_plant_actions`: without it the self-test writes nothing at all, not even the
heartbeat (beating it could keep a dead gateway's loops in REMOTE). With it, nothing moves the process:
the loop must start in AUTO, REMOTE is entered with the remote setpoint tracking the working setpoint,
the remote setpoint is never changed, and whatever happens the loop is handed back to AUTO before the end.

Durations are measured on the event loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from otgate.assurance.plausibility import plausibility_problems
from otgate.core.codec import readback_tolerance
from otgate.core.config import Loop, PlantConfig, TagKind
from otgate.field.link import FieldError, FieldLink

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
_ModeTest = Callable[[float], bool]
AUTO, REMOTE = 1.0, 2.0
# What each step backs beyond R-56 (the self-test itself); only where the step really checks the requirement.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "reachability": (),
    "plausibility": (),
    "mode_handshake": (),
    "write_readback": ("R-11",),
    "heartbeat_shed": ("R-13", "R-18"),
}


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str
    detail: str

    @property
    def requirements(self) -> tuple[str, ...]:
        return REQUIREMENTS[self.name]


@dataclass(frozen=True)
class SelftestPlan:
    loop: str
    test_tag: str
    allow_plant_actions: bool
    handshake_timeout_s: float = 10.0
    shed_timeout_s: float = 10.0  # used when the PLC does not publish its own (`*SHED_TIMEOUT`)
    shed_margin_s: float | None = None  # default: two heartbeat periods + 1 s for scans and polling
    poll_s: float = 0.05
    steady_s: float = 1.0  # at least this long watching the working setpoint before a mode change


def default_plan(config: PlantConfig, loop: str | None, test_tag: str | None, allow: bool) -> SelftestPlan:
    """The plan for `loop` (default: the first configured) and its remote setpoint as the test tag."""
    name = loop or next(iter(sorted(config.loops)), "")
    if name not in config.loops:
        raise ValueError(
            f"no loop {name!r} in the config (loops: {', '.join(sorted(config.loops)) or 'none'})"
        )
    tag = test_tag or config.loops[name].sp
    spec = config.tags.get(tag)
    if spec is None or spec.access.value != "write" or spec.kind in (TagKind.MODE, TagKind.HEARTBEAT):
        raise ValueError(f"test tag {tag!r} must be a configured writable tag other than a mode or heartbeat")
    return SelftestPlan(name, tag, allow)


class Heartbeat:
    """Beats a PLC's heartbeat counter every period in a task, like the gateway does."""

    def __init__(self, link: FieldLink, tag: str, period_s: float) -> None:
        self._link, self._tag, self._period_s = link, tag, period_s
        self._task: asyncio.Task[None] | None = None
        self.last_beat_s = 0.0
        self.error: str | None = None

    async def start(self) -> None:
        reading = await self._link.read([self._tag])
        self._count = int(reading.values.get(self._tag, 0.0))
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._count = (self._count + 1) % 65536
            try:
                await self._link.write(self._tag, float(self._count))
            except FieldError as error:
                self.error = str(error)
            self.last_beat_s = loop.time()
            await asyncio.sleep(self._period_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


_Step = Callable[[Heartbeat], Awaitable["StepResult"]]


class Selftest:
    def __init__(self, config: PlantConfig, links: Mapping[str, FieldLink], plan: SelftestPlan) -> None:
        self.config, self.links, self.plan = config, links, plan
        self.loop: Loop = config.loops[plan.loop]
        self.link = links[config.tags[self.loop.mode].plc]
        self.values: dict[str, float] = {}
        self._engaged = False  # this self-test requested REMOTE: it must hand the loop back

    async def run(self) -> list[StepResult]:
        results = [await self.reachability()]
        results.append(
            self.plausibility() if results[0].status == PASS else _skip("plausibility", "nothing read")
        )
        plant_steps = (
            ("mode_handshake", self.mode_handshake),
            ("write_readback", self.write_readback),
            ("heartbeat_shed", self.heartbeat_shed),
        )
        for name, step in plant_steps:
            if not self.plan.allow_plant_actions:
                results.append(
                    _skip(name, "moves the plant: needs --allow-plant-actions and a named operator")
                )
            elif results[0].status != PASS:
                results.append(_skip(name, "the PLC is not reachable"))
            else:
                results.append(await self._guarded(name, step))
        return results

    async def reachability(self) -> StepResult:
        problems = []
        for name, link in sorted(self.links.items()):
            tags = [t for t, spec in self.config.tags.items() if spec.plc == name]
            try:
                reading = await link.read(tags)
            except FieldError as error:
                problems.append(f"PLC {name}: {error}")
                continue
            self.values.update(reading.values)
            if reading.bad:
                problems.append(f"PLC {name}: no usable value for {', '.join(sorted(reading.bad))}")
        if problems:
            return StepResult("reachability", FAIL, "; ".join(problems))
        return StepResult(
            "reachability", PASS, f"{len(self.links)} PLC(s), {len(self.values)} tags read back"
        )

    def plausibility(self) -> StepResult:
        problems = plausibility_problems(self.config, self.values)
        if problems:
            return StepResult("plausibility", FAIL, "; ".join(problems))
        return StepResult("plausibility", PASS, f"{len(self.values)} values plausible")

    async def _guarded(self, name: str, step: _Step) -> StepResult:
        heartbeat = self._heartbeat()
        try:
            return await step(heartbeat)
        except FieldError as error:
            return StepResult(name, FAIL, f"field error: {error}")
        finally:
            await self._hand_back(heartbeat)

    def _heartbeat(self) -> Heartbeat:
        tag = self.config.plcs[self.config.tags[self.loop.mode].plc].heartbeat_tag
        return Heartbeat(self.link, tag, self.config.gateway.heartbeat_period_s)

    async def _hand_back(self, heartbeat: Heartbeat) -> None:
        """Whatever happened, leave a loop this test engaged in local control, and stop beating.

        A loop found in REMOTE at the start belongs to someone else (a running gateway): never touched.
        """
        with contextlib.suppress(FieldError):
            if self._engaged and await self._mode() == REMOTE:
                await heartbeat.start()
                await self.link.write(self.loop.mode_request, AUTO)
                await self._wait_mode(lambda m: m != REMOTE, self.plan.handshake_timeout_s)
        await heartbeat.stop()
        self._engaged = False

    async def _mode(self) -> float:
        reading = await self.link.read([self.loop.mode])
        if self.loop.mode not in reading.values:
            raise FieldError(f"{self.loop.mode} has no usable value")
        return reading.values[self.loop.mode]

    async def _wait_mode(self, accept: _ModeTest, timeout_s: float) -> tuple[float, float | None]:
        """Poll the loop mode until `accept(mode)`; (mode, seconds waited) or (mode, None) at the timeout."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            mode = await self._mode()
            if accept(mode):
                return mode, loop.time() - start
            if loop.time() - start > timeout_s:
                return mode, None
            await asyncio.sleep(self.plan.poll_s)

    async def _precondition(self, name: str, *, changes_mode: bool = True) -> StepResult | None:
        mode = await self._mode()
        if mode != AUTO:
            why = (
                "REMOTE: another gateway may be in control; stop it first"
                if mode == REMOTE
                else f"mode {mode:g}"
            )
            return StepResult(name, FAIL, f"loop {self.plan.loop} must be in AUTO to start, it is in {why}")
        if not changes_mode:
            return None
        # A mode change makes the PLC take the working setpoint as the local one: on a loop still ramping
        # to a new local setpoint that would cut the ramp short, i.e. move the plant's target. Watched for
        # long enough to span several PLC scans.
        before = await self._working_sp()
        await asyncio.sleep(max(2 * self.config.gateway.heartbeat_period_s, self.plan.steady_s))
        after = await self._working_sp()
        if before != after:
            return StepResult(
                name,
                FAIL,
                f"{self.loop.working_sp} is moving ({before:g} -> {after:g}): wait until the loop is steady",
            )
        return None

    async def _working_sp(self) -> float:
        reading = await self.link.read([self.loop.working_sp])
        if self.loop.working_sp not in reading.values:
            raise FieldError(f"{self.loop.working_sp} has no usable value")
        return reading.values[self.loop.working_sp]

    async def _engage(self, heartbeat: Heartbeat) -> float | None:
        await heartbeat.start()
        self._engaged = True
        await self.link.write(self.loop.mode_request, REMOTE)
        _, waited = await self._wait_mode(lambda m: m == REMOTE, self.plan.handshake_timeout_s)
        return waited

    async def mode_handshake(self, heartbeat: Heartbeat) -> StepResult:
        refused = await self._precondition("mode_handshake")
        if refused is not None:
            return refused
        engaged = await self._engage(heartbeat)
        if engaged is None:
            return StepResult(
                "mode_handshake", FAIL,
                f"the PLC did not confirm REMOTE within {self.plan.handshake_timeout_s:g} s "
                "(does the heartbeat reach it? is a trip active?)",
            )  # fmt: skip
        await self.link.write(self.loop.mode_request, AUTO)
        mode, released = await self._wait_mode(lambda m: m == AUTO, self.plan.handshake_timeout_s)
        if released is None:
            return StepResult(
                "mode_handshake", FAIL, f"REMOTE confirmed but release to AUTO not (mode {mode:g})"
            )
        return StepResult(
            "mode_handshake",
            PASS,
            f"{self.plan.loop}: REMOTE confirmed in {engaged:.2f} s, AUTO in {released:.2f} s",
        )

    async def write_readback(self, heartbeat: Heartbeat) -> StepResult:
        # In AUTO the PLC neither uses the remote setpoint nor keeps it (it tracks the working one): the
        # write of the value it holds changes nothing, even on a loop that is ramping.
        refused = await self._precondition("write_readback", changes_mode=False)
        if refused is not None:
            return refused
        tag = self.plan.test_tag
        link = self.links[self.config.tags[tag].plc]
        reading = await link.read([tag])
        if tag not in reading.values:
            return StepResult("write_readback", FAIL, f"{tag} has no usable value to write back")
        value = reading.values[tag]
        # The value it already holds: with the loop in AUTO the PLC does not act on it, and it stays put.
        readback = await link.write(tag, value)
        spec = self.config.tags[tag]
        tolerance = readback_tolerance(value, spec.type, spec.scale)
        if abs(readback - value) > tolerance:
            return StepResult("write_readback", FAIL, f"{tag}: wrote {value:g}, read back {readback:g}")
        return StepResult("write_readback", PASS, f"{tag}: wrote {value:g}, read back {readback:g}")

    def _shed_timeout_s(self) -> float:
        plc = self.config.tags[self.loop.mode].plc
        published = [
            v for t, v in self.values.items() if t.endswith("SHED_TIMEOUT") and self.config.tags[t].plc == plc
        ]
        return published[0] if published else self.plan.shed_timeout_s

    async def heartbeat_shed(self, heartbeat: Heartbeat) -> StepResult:
        refused = await self._precondition("heartbeat_shed")
        if refused is not None:
            return refused
        if await self._engage(heartbeat) is None:
            return StepResult("heartbeat_shed", FAIL, "could not put the loop in REMOTE to test the shed")
        timeout_s = self._shed_timeout_s()
        margin_s = self.plan.shed_margin_s
        if margin_s is None:
            margin_s = 2 * self.config.gateway.heartbeat_period_s + 1.0
        await heartbeat.stop()
        loop = asyncio.get_running_loop()
        mode, _ = await self._wait_mode(lambda m: m != REMOTE, timeout_s + margin_s)
        after_s = loop.time() - heartbeat.last_beat_s
        if mode == REMOTE:
            return StepResult(
                "heartbeat_shed", FAIL,
                f"{self.plan.loop} still in REMOTE {after_s:.1f} s after the heartbeat stopped (PLC watchdog "
                f"timeout {timeout_s:g} s + {margin_s:g} s margin): the PLC watchdog does not shed; do not "
                "commission AI control on this PLC",
            )  # fmt: skip
        await heartbeat.start()
        mode, returned = await self._wait_mode(
            lambda m: m == REMOTE, 3 * self.config.gateway.heartbeat_period_s
        )
        if returned is not None:
            return StepResult("heartbeat_shed", FAIL, "the loop returned to REMOTE by itself after the shed")
        return StepResult(
            "heartbeat_shed", PASS,
            f"{self.plan.loop} shed to mode {mode:g} {after_s:.2f} s after the last heartbeat (PLC timeout "
            f"{timeout_s:g} s); stayed out of REMOTE when the heartbeat resumed",
        )  # fmt: skip


def _skip(name: str, why: str) -> StepResult:
    return StepResult(name, SKIPPED, why)
