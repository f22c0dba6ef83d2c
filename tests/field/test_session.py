"""The field session: every exception the protocol libraries define becomes LinkDown, and drops the link."""

from __future__ import annotations

import inspect
from types import ModuleType

import asyncua.crypto.uacrypto
import asyncua.ua.uaerrors
import pymodbus.exceptions
import pytest

from otgate.field import modbus, opcua
from otgate.field.link import LinkDown
from otgate.field.session import FieldSession


def exception_classes(*modules: ModuleType) -> list[type[BaseException]]:
    """Every exception class a library's exception module defines or re-exports (enumerated, not listed)."""
    found = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException)
    }
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


PYMODBUS = exception_classes(pymodbus.exceptions)
ASYNCUA = exception_classes(asyncua.ua.uaerrors, asyncua.crypto.uacrypto)


def instance(cls: type[BaseException]) -> BaseException:
    """An instance as the library would raise it: its constructor given a text for each required argument,
    or a status code, or a list of them (asyncua's status-code errors)."""
    required = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self"
        and p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    bad = 0x80020000  # BadInternalError
    for args in (["simulated failure"] * len(required), [bad], [[bad]]):
        try:
            error = cls(*args)
            str(error)  # an instance the library could not have built fails here
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
        return error
    raise AssertionError(f"cannot build a {cls.__qualname__} to raise")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def session(library_errors: tuple[type[BaseException], ...], drops: list[int], clock: Clock) -> FieldSession:
    return FieldSession(
        library_errors,
        lambda error: f"plc: {error}",
        lambda: drops.append(1),
        reconnect_delay_s=1.0,
        reconnect_delay_max_s=4.0,
        clock=clock,
    )


def test_library_exception_modules_enumerated_are_not_empty():
    assert len(PYMODBUS) >= 5 and len(ASYNCUA) >= 100  # the enumeration found the libraries' classes


@pytest.mark.parametrize(
    ("library_errors", "cls"),
    [(modbus.LIBRARY_ERRORS, cls) for cls in PYMODBUS] + [(opcua.LIBRARY_ERRORS, cls) for cls in ASYNCUA],
    ids=lambda item: getattr(item, "__qualname__", ""),
)
def test_session_request_any_library_exception_becomes_linkdown_and_drops(
    library_errors: tuple[type[BaseException], ...], cls: type[BaseException]
):
    drops: list[int] = []
    clock = Clock()
    link = session(library_errors, drops, clock)
    error = instance(cls)
    with pytest.raises(LinkDown), link.request():
        raise error
    assert drops == [1]
    with pytest.raises(LinkDown, match="back-off"):  # the failure counts: no reconnect before 1 s
        link.backoff.check()


@pytest.mark.parametrize("error", [ConnectionResetError(), TimeoutError(), OSError("unreachable")])
def test_session_request_socket_errors_become_linkdown(error: BaseException):
    drops: list[int] = []
    with pytest.raises(LinkDown, match=r"^plc: "), session((), drops, Clock()).request():
        raise error
    assert drops == [1]


def test_session_request_other_exception_is_not_taken_for_a_link_failure():
    drops: list[int] = []
    with pytest.raises(KeyError), session(modbus.LIBRARY_ERRORS, drops, Clock()).request():
        raise KeyError("a bug of ours")
    assert drops == []


def test_session_backoff_on_injected_clock_resets_only_when_answered():
    clock = Clock()
    link = session((), [], clock)
    link.fail("refused")
    link.fail("refused")  # second failure: 2 s
    clock.now += 1.5
    with pytest.raises(LinkDown, match="back-off"):
        link.backoff.check()
    clock.now += 0.6
    link.backoff.check()
    link.answered()
    link.fail("again")  # back to the first delay
    clock.now += 1.01
    link.backoff.check()
