"""systemd's notify protocol for `Type=notify` with `WatchdogSec=` (sd_notify(3)).

The protocol is one datagram of `KEY=VALUE` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a
leading `@` is the abstract namespace). Written here in a dozen lines on the standard library rather than
taking a dependency: the small PyPI wrappers add nothing to it and some are unmaintained.

Watchdog pings are tied to scan progress, not to a timer: the pinger sends `WATCHDOG=1` only when the scan
counter moved since the last ping. A gateway whose scan loop hangs (a stuck PLC call, a deadlock) stops
pinging, systemd kills and restarts it, and the restarted gateway starts like every start: all loops in
fallback (docs/FALLBACK.md). Outside systemd (`$NOTIFY_SOCKET` unset) everything here does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping

READY = "READY=1"
STOPPING = "STOPPING=1"
WATCHDOG = "WATCHDOG=1"


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send one notification; False when not under a service manager or the socket is gone."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(message.encode(), target)
        except OSError:
            return False
    return True


def watchdog_period_s(environ: Mapping[str, str] = os.environ) -> float | None:
    """How often to ping: half the watchdog timeout systemd set for this process, or None for none."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


async def ping_while_scanning(
    scans: Callable[[], int], period_s: float, environ: Mapping[str, str] = os.environ
) -> None:
    """Every period, ping the watchdog if at least one scan completed since the last ping."""
    last = scans()
    while True:
        await asyncio.sleep(period_s)
        now = scans()
        if now != last:
            notify(WATCHDOG, environ)
            last = now


@contextlib.asynccontextmanager
async def service_manager(
    scans: Callable[[], int], environ: Mapping[str, str] = os.environ
) -> AsyncIterator[None]:
    """READY=1 on entry (the listeners are up), watchdog pings while inside, STOPPING=1 on exit."""
    notify(READY, environ)
    period = watchdog_period_s(environ)
    pinger = asyncio.create_task(ping_while_scanning(scans, period, environ)) if period else None
    try:
        yield
    finally:
        notify(STOPPING, environ)
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
