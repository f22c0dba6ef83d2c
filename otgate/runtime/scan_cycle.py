"""One scan: read every PLC, supervise, beat the watchdog, reconcile modes, apply pending writes."""

from __future__ import annotations

import contextlib
import hashlib
import logging

from otgate.config.loader import LoadedConfig
from otgate.core.audit_chain import AuditKind
from otgate.core.envelope_guard import check_envelope
from otgate.core.loop_response import check_loop_response
from otgate.core.model_mismatch import check_model_mismatch
from otgate.core.modes import LoopMode
from otgate.core.monitors import Anomaly, AnomalyCode
from otgate.core.proposal import Snapshot
from otgate.core.supervision import (
    ScanView,
    on_scan,
)
from otgate.field.link import FieldError
from otgate.runtime.plc_handshake import PlcHandshake
from otgate.runtime.state import GATEWAY, REMOTE_MODES

log = logging.getLogger(__name__)
CONFIG_CHECK_INTERVAL_S = 10.0  # how often the config file's hash is compared with the loaded one


class ScanCycle(PlcHandshake):
    """The scan, and what it watches: PLC links, the config file on disk, the process envelope."""

    async def scan(self, now: float) -> None:
        """One cycle at monotonic time `now`. Never raises: a failure in the cycle is itself a reason to
        fall back. Every duration the gateway keeps runs on this time base; records and alarms are
        stamped with the wall clock, which a step (NTP, an operator's date change) cannot pause."""
        self.scans += 1
        self._forget_old_ids(now)
        try:
            await self._read(now)
            self._supervise_scan(now)
            await self._beat(now)
            await self._reconcile_modes(now)
            await self._apply_pending(now)
        except Exception as error:  # fail safe: unknown state means conventional control
            log.exception("scan failed")
            self.raise_alarm("SCAN_FAILURE", f"scan failed: {type(error).__name__}", "high")
            self.fall_back(self._remote_loops(), "scan failure", now)

    def _supervise_scan(self, now: float) -> None:
        up = {p for p, link in self.links.items() if link.is_connected}
        engaged = {n: r.engaged_at for n, r in self.loops.items() if r.engaged_at is not None}
        ai = {n for n, r in self.loops.items() if r.state.mode is LoopMode.AI and r.remote_confirmed}
        view = ScanView(self.current_snapshot(), engaged, ai, up, wall=self.clock.now(), monotonic=now)
        snapshot = self.snapshot
        envelope = check_envelope(
            self.plant, self.outside_envelope, snapshot.values, snapshot.bad_quality, snapshot.forecast, now
        )
        judged = sorted(ai) if self.plant.config.prediction.loop_response else []
        response = check_loop_response(self.plant, self.memory.samples, judged, now)
        anomalies = on_scan(self.plant, self.monitors, view) + self._config_file_anomalies(now) + envelope
        anomalies += response
        if self.plant.config.prediction.model_mismatch:
            anomalies += check_model_mismatch(
                self.plant.models, self.memory.samples, self.plant.horizon_s, self.mismatch_since, now
            )
        if any(a.code is AnomalyCode.CLOCK_JUMP for a in anomalies):
            # The gateway's own wall clock stepped: every engine's measured offset is against the old
            # time, and a STALE/FUTURE refusal says nothing about an engine until clocks agree again.
            self.wall_suspect = True
            self.engine_clocks.clear()
        self.act_on(anomalies, now)
        current = {f"{a.code.value}:{a.subject}" for a in anomalies}
        for code in (
            self._scan_alarms - current
        ):  # the condition is gone: the alarm clears (the fallback stays)
            self.clear_alarm(code)
        self._scan_alarms = current

    def watch_config_file(self, loaded: LoadedConfig) -> None:
        """Check the file this config came from; a change on disk without a reload is an anomaly."""
        self.config_file = loaded
        self.config_changed = None

    def _config_file_anomalies(self, now: float) -> list[Anomaly]:
        if self.config_file is None:
            return []
        if self.config_changed is None and now - self.config_checked_at >= CONFIG_CHECK_INTERVAL_S:
            self.config_checked_at = now
            try:
                digest = hashlib.sha256(self.config_file.path.read_bytes()).hexdigest()
            except OSError as error:
                digest = f"unreadable ({error.strerror})"
            if digest != self.config_file.sha256:
                self.config_changed = (
                    f"{self.config_file.path} changed on disk without a reload ({digest[:16]})"
                )
        if self.config_changed is None:
            return []
        return [Anomaly(AnomalyCode.CONFIG_CHANGED, "config", self.config_changed)]

    async def _read(self, now: float) -> None:
        values: dict[str, float] = {}
        bad: set[str] = set()
        up = False
        for plc_name, link in self.links.items():
            names = [n for n, t in self.plant.config.tags.items() if t.plc == plc_name]
            try:
                if not link.is_connected:
                    await link.connect()
                reading = await link.read(names)
            except FieldError as error:
                bad.update(names)
                self._link_lost(plc_name, str(error), now)
                continue
            up = True
            values.update(reading.values)
            bad.update(reading.bad)
            self.clear_alarm(f"PLC_LINK_LOST:{plc_name}")
        self.memory.observe(values, bad, now)
        forecast = self.memory.forecast(values, bad, now)
        self.snapshot = Snapshot(
            now, values, frozenset(bad), up, self.loop_modes(), forecast, stamped_at=self.clock.now()
        )

    def _link_lost(self, plc_name: str, detail: str, now: float) -> None:
        code = f"PLC_LINK_LOST:{plc_name}"
        if code not in self.alarms or not self.alarms[code].active:
            self._audit(
                AuditKind.ANOMALY, GATEWAY, {"anomaly": "plc_link_lost", "plc": plc_name, "detail": detail}
            )
        self.raise_alarm(code, f"PLC {plc_name} unreachable: {detail}", "high")
        tags = self.plant.config.tags
        loops = [
            n
            for n, loop in self.plant.config.loops.items()
            if plc_name in {tags[t].plc for t in (loop.sp, loop.working_sp, loop.mode, loop.mode_request)}
        ]
        self.fall_back([n for n in loops if self.loops[n].state.mode in REMOTE_MODES], "PLC link lost", now)

    async def _beat(self, now: float) -> None:
        """Beat the PLC watchdog every `heartbeat_period_s` (at most once per scan)."""
        if now - self.last_beat_at < self.plant.config.gateway.heartbeat_period_s - 1e-6:
            return
        self.last_beat_at = now
        self.heartbeat = (self.heartbeat + 1) % 65536
        for plc_name, plc in self.plant.config.plcs.items():
            link = self.links[plc_name]
            if link.is_connected:
                with contextlib.suppress(FieldError):  # a missed beat is the PLC watchdog's business
                    await link.write(plc.heartbeat_tag, float(self.heartbeat))

    def _forget_old_ids(self, now: float) -> None:
        """Ids older than the replay window are refused as STALE anyway; forgetting them bounds memory."""
        horizon = now - self.plant.config.gateway.replay_window_s
        while self.seen_ids:
            oldest_id, seen_at = next(iter(self.seen_ids.items()))
            if seen_at >= horizon:
                break
            del self.seen_ids[oldest_id]
