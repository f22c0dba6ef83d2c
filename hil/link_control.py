"""The PLC link of a run: the fault proxy between gateway and simulated PLC, and what scenarios do to it.

    link.down / link.up      the proxy stops listening and cuts every connection, so the PLC refuses
                             connections (a pulled cable with the switch still up) / a new proxy on the
                             same port
    link.faults              what the frame gate does to the Modbus frames that follow: latency and
                             jitter in whole ticks, loss, reordering, writes only or all frames
    link.cut_write           the next write (of `tag`) is cut in the middle of its frame, then the link
    link.clear               back to a healthy link

The proxy is there only when the scenario has a link action; the frame gate only when it has a frame
action (Modbus only). Frames the gate held back are delivered once a tick, on simulated time.
"""

from __future__ import annotations

from collections.abc import Callable

from otgate.core.config import PlantConfig
from otgate_hil.scenario import Injection
from otgate_simulator.frame_faults import FrameFaults, FrameGate
from otgate_simulator.proxy import FaultProxy

FRAME_ACTIONS = {"link.faults", "link.cut_write", "link.clear"}


class LinkControl:
    def __init__(self, target_port: int, seed: int, now_s: Callable[[], float], frames: bool) -> None:
        self.target_port = target_port
        self.seed = seed
        self.proxy = FaultProxy("127.0.0.1", target_port, seed=seed)
        self.gate = FrameGate(now_s, seed=seed) if frames else None
        self.proxy.gate = self.gate
        self.up = False
        self.port = 0

    async def start(self) -> None:
        await self.proxy.start()
        self.port, self.up = self.proxy.port, True

    async def stop(self) -> None:
        if self.up:
            await self.proxy.stop()
            self.up = False

    async def deliver_due(self) -> bool:
        """Deliver the held frames that are due now; True when any reached the PLC."""
        return self.up and await self.proxy.deliver_due() > 0

    async def act(self, item: Injection, config: PlantConfig) -> None:
        if item.do in FRAME_ACTIONS and self.gate is not None:
            self._frame_action(item, config)
        elif item.do == "link.down":
            await self.stop()
        elif item.do == "link.up" and not self.up:
            self.proxy = FaultProxy("127.0.0.1", self.target_port, port=self.port, seed=self.seed)
            self.proxy.gate = self.gate
            await self.proxy.start()
            self.up = True

    def _frame_action(self, item: Injection, config: PlantConfig) -> None:
        assert self.gate is not None
        if item.do == "link.faults":
            self.gate.faults = FrameFaults(
                latency_ticks=_ticks(item.latency),
                jitter_ticks=_ticks(item.jitter),
                loss=item.loss or 0.0,
                reorder=item.reorder or 0.0,
                writes_only=item.frames != "all",
            )
        elif item.do == "link.cut_write":
            tag = config.tags.get(item.tag) if item.tag is not None else None
            self.gate.cut_next_write = True
            self.gate.cut_address = tag.modbus.address if tag is not None and tag.modbus is not None else None
        else:
            self.gate.faults, self.gate.cut_next_write = FrameFaults(), False


def _ticks(duration_s: float | None) -> int:
    return 0 if duration_s is None else round(duration_s)
