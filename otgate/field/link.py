"""The gateway's one interface to a PLC: read tags, write one tag and read it back.

Every adapter (Modbus TCP, OPC UA, the in-memory fake) implements `FieldLink` and maps its library's
exceptions to the three below at its own seam, so the gateway never sees a pymodbus or asyncua type.

Contract, checked for every adapter by `tests/field/test_contract.py`:

- `read(tags)` returns engineering values (scale and offset applied). A tag the PLC could not deliver
  (Bad status, non-finite float, unknown tag, no address) is listed in `bad` and absent from `values`, so
  one broken tag does not blind the gateway to the others. A failed link raises `LinkDown`.
- `write(tag, value)` sends ONE write attempt and is never retried: a retried write can be applied twice
  (a slow PLC answers late, the retry lands as a second write). It then reads the same register or node
  back and returns the value read. The caller compares it with the value it asked for (the codec's
  `readback_tolerance`); a PLC that accepts a write and silently ignores it shows up there.
- Errors of `write`:
    `WriteRefused`  nothing was applied: refused by the adapter before sending (tag unknown or not
                    writable, no address, value not representable) or answered with an error by the PLC.
    `LinkDown`      the link failed; the write may or may not have been applied (unknown outcome).
    `FieldError`    the write was answered as accepted but its read-back failed: unconfirmed.
  Any error means "not confirmed": the gateway must never assume the value is in force.
- Time is left to the caller: it stamps a `Reading` with its own clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from otgate.core.config import Access, Tag


class FieldError(Exception):
    """A field-side operation did not complete as asked (base of every adapter error)."""


class LinkDown(FieldError):
    """The link to the PLC is not usable: not connected, refused, closed, or no answer within the timeout."""


class WriteRefused(FieldError):
    """The write was not applied: refused before sending, or the PLC answered with an error."""


@dataclass(frozen=True)
class Reading:
    """Engineering values of the tags read; `bad` lists requested tags that have no usable value."""

    values: dict[str, float]
    bad: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class FieldLink(Protocol):
    async def connect(self) -> None:
        """Open the link within the configured timeout; raises LinkDown."""

    async def close(self) -> None:
        """Close the link; never raises for a link that is already down."""

    @property
    def is_connected(self) -> bool: ...

    async def read(self, tags: Sequence[str]) -> Reading:
        """Read `tags` (connecting first if needed); raises LinkDown when the link fails."""

    async def write(self, tag: str, value: float) -> float:
        """One write attempt, then the read-back value; raises WriteRefused, LinkDown or FieldError."""


def writable_tag(tags: Mapping[str, Tag], name: str) -> Tag:
    """The configured tag `name` if the gateway may write it; WriteRefused otherwise (nothing is sent)."""
    tag = tags.get(name)
    if tag is None:
        raise WriteRefused(f"{name}: not a configured tag of this PLC")
    if tag.access is not Access.WRITE:
        raise WriteRefused(f"{name}: read-only tag ({tag.kind})")
    return tag
