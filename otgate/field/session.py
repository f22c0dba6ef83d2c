"""What every protocol link does around its requests, in one place for Modbus and OPC UA alike.

- One request at a time per link (`lock`): a PLC answers in order, and a late answer must never be taken
  for the next request's.
- Reconnects paced by `Backoff` on an injected clock, reset only when a request was answered.
- A failed request drops the connection and counts for the back-off.
- The single mapping of library exceptions to `LinkDown`: each adapter names its library's exception base
  classes (`library_errors`, declared in the adapter, the only module that imports that library), and
  `request()` turns those, socket errors and timeouts into `LinkDown` with the adapter's wording. What a
  PLC *answers* (an exception response, a Bad status) is the adapter's to judge: that is not a link
  failure. `tests/field/test_session.py` enumerates every exception class of the installed libraries'
  exception modules and checks each one is mapped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from otgate.field.backoff import Backoff
from otgate.field.link import LinkDown

# Raised by the socket layer under every library, whatever it wraps itself (ConnectionError is an OSError).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError)


class FieldSession:
    def __init__(
        self,
        library_errors: tuple[type[BaseException], ...],
        describe: Callable[[BaseException | str], str],
        drop: Callable[[], None],
        *,
        reconnect_delay_s: float,
        reconnect_delay_max_s: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.errors: tuple[type[BaseException], ...] = TRANSPORT_ERRORS + library_errors
        self.lock = asyncio.Lock()
        # No clock given: the back-off's own default (the system's monotonic clock, read in one place).
        self.backoff = (
            Backoff(reconnect_delay_s, reconnect_delay_max_s)
            if clock is None
            else Backoff(reconnect_delay_s, reconnect_delay_max_s, clock)
        )
        self._describe = describe
        self._drop = drop

    def is_link_error(self, error: BaseException) -> bool:
        return isinstance(error, self.errors)

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Around one request: a library, socket or timeout failure becomes LinkDown (link dropped)."""
        try:
            yield
        except self.errors as error:
            raise self.fail(error) from error

    def answered(self) -> None:
        """A request was answered: the link works, the back-off starts over."""
        self.backoff.succeeded()

    def fail(self, error: BaseException | str) -> LinkDown:
        """Drop the link, count a failure for the back-off, and return the LinkDown to raise."""
        self.failed()
        return LinkDown(self._describe(error))

    def failed(self) -> None:
        self._drop()
        self.backoff.failed()
