"""Frame-level link faults in simulated time: the decisions (seeded, per frame) and, over real sockets,
a Modbus write held for whole ticks, delivered late to the simulated PLC, and logged with when it was sent."""

from __future__ import annotations

import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from otgate_simulator.frame_faults import FrameFaults, FrameGate, split_frames
from otgate_simulator.proxy import FaultProxy
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation


def frame(tid: int, function: int, address: int, payload: bytes = b"\x00\x01") -> bytes:
    pdu = bytes([function]) + address.to_bytes(2, "big") + payload
    return tid.to_bytes(2, "big") + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + b"\x01" + pdu


def test_split_frames_keeps_an_incomplete_tail():
    buffer = bytearray(frame(1, 6, 3) + frame(2, 3, 0)[:5])
    assert split_frames(buffer) == [frame(1, 6, 3)]
    assert bytes(buffer) == frame(2, 3, 0)[:5]


def test_reads_pass_untouched_when_faults_touch_writes_only():
    gate = FrameGate(lambda: 0.0, faults=FrameFaults(latency_ticks=2))
    assert gate.decide(frame(1, 3, 0))[0] == "forward"
    assert gate.decide(frame(2, 16, 0))[0] == "hold"


def test_same_seed_same_decisions_and_every_kind_occurs():
    faults = FrameFaults(jitter_ticks=2, loss=0.3, reorder=0.3)
    runs = []
    for _ in range(2):
        gate = FrameGate(lambda: 0.0, seed=7, faults=faults)
        runs.append([gate.decide(frame(i, 6, 0))[0] for i in range(60)])
    assert runs[0] == runs[1]
    assert {"lose", "reorder", "hold"} <= set(runs[0])


def test_held_frame_is_due_after_latency_and_reordered_frame_after_a_later_one():
    now = [0.0]
    gate = FrameGate(lambda: now[0], faults=FrameFaults(latency_ticks=2))
    gate.decide(frame(1, 6, 0))
    now[0] = 1.0
    assert gate.due() == []
    now[0] = 2.0
    (held,) = gate.due()
    assert held.number == 1 and gate.deliveries[-1].sent_s == 0.0 and gate.deliveries[-1].delivered_s == 2.0
    gate.faults = FrameFaults(reorder=1.0)
    gate.decide(frame(2, 6, 0))
    assert gate.due() == []  # nothing has overtaken it yet
    gate.faults = FrameFaults()
    gate.decide(frame(3, 6, 0))
    assert [f.number for f in gate.due()] == [2]


def test_cut_targets_the_next_write_to_the_given_register():
    gate = FrameGate(lambda: 0.0, cut_next_write=True, cut_address=4)
    assert gate.decide(frame(1, 6, 3))[0] == "forward"
    assert gate.decide(frame(2, 16, 4))[0] == "cut"
    assert gate.decide(frame(3, 16, 4))[0] == "forward"


def test_frame_faults_refuse_nonsense():
    with pytest.raises(ValueError):
        FrameFaults(latency_ticks=-1)
    with pytest.raises(ValueError):
        FrameFaults(loss=1.5)


def _float32(value: float) -> list[int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


async def test_held_write_reaches_the_plc_ticks_later_and_is_logged_with_its_send_time():
    sim = Simulation("tank", seed=0)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        proxy = FaultProxy("127.0.0.1", runtime.endpoints.modbus_port)
        proxy.gate = FrameGate(lambda: sim.time_s, faults=FrameFaults(latency_ticks=2))
        async with proxy:
            client = AsyncModbusTcpClient("127.0.0.1", port=proxy.port, timeout=0.2, retries=0)
            await client.connect()
            sent_at = sim.time_s
            with pytest.raises(ModbusException):  # the gateway side gives up: no answer in time
                await client.write_registers(0, _float32(650.0), device_id=1)
            client.close()
            assert [w for w in sim.write_log if w.tag == "LIC-101.RSP"] == []
            await runtime.step()
            assert await proxy.deliver_due() == 0
            await runtime.step()
            assert await proxy.deliver_due() == 1
    (applied,) = [w for w in sim.write_log if w.tag == "LIC-101.RSP"]
    assert applied.value == 650.0 and applied.sim_time_s == sent_at + 2.0
    (delivery,) = proxy.gate.deliveries
    assert (delivery.sent_s, delivery.delivered_s, delivery.address) == (sent_at, sent_at + 2.0, 0)


async def test_write_cut_mid_frame_is_never_applied_and_closes_the_link():
    sim = Simulation("tank", seed=0)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        proxy = FaultProxy("127.0.0.1", runtime.endpoints.modbus_port)
        proxy.gate = FrameGate(lambda: sim.time_s, cut_next_write=True)
        async with proxy:
            client = AsyncModbusTcpClient("127.0.0.1", port=proxy.port, timeout=0.5, retries=0)
            await client.connect()
            with pytest.raises(ModbusException):
                await client.write_registers(0, _float32(650.0), device_id=1)
            client.close()
            await runtime.step()
    assert [w for w in sim.write_log if w.tag == "LIC-101.RSP"] == []
    assert proxy.stats.connections_dropped == 1
