"""The write's DiagnosticInfo: which fields a client gets for which ReturnDiagnostics bits (Part 4, 7.29)."""

from __future__ import annotations

import pytest
from asyncua import ua

from otgate.opcua_northbound.diagnostics import REASON_NAMESPACE, Verdict, WriteDiagnostics

REFUSED = Verdict("OUT_OF_RANGE", "OUT_OF_RANGE: 999 above 800; MOVE_TOO_LARGE: 349 > 10", '{"id": "a"}')


def response(items: int) -> ua.WriteResponse:
    answer = ua.WriteResponse()
    answer.Results = [ua.StatusCode(ua.StatusCodes.BadOutOfRange) for _ in range(items)]
    return answer


def strings(answer: ua.WriteResponse, info: ua.DiagnosticInfo) -> tuple[str | None, ...]:
    table = answer.ResponseHeader.StringTable

    def at(index: int | None) -> str | None:
        return None if index is None else table[index]

    return at(info.SymbolicId), at(info.NamespaceURI), at(info.LocalizedText), at(info.Locale)


def test_write_diagnostics_all_operation_bits_fill_every_field():
    answer = response(1)
    collector = WriteDiagnostics(0xE0)
    collector.note(0, REFUSED)
    collector.fill(answer)
    (info,) = answer.DiagnosticInfos
    assert strings(answer, info) == ("OUT_OF_RANGE", REASON_NAMESPACE, REFUSED.text, "en")
    assert info.AdditionalInfo == '{"id": "a"}'


@pytest.mark.parametrize(
    ("bits", "symbol", "text", "extra"),
    [(0x20, True, False, False), (0x40, False, True, False), (0x80, False, False, True)],
)
def test_write_diagnostics_each_bit_alone_fills_only_its_field(
    bits: int, symbol: bool, text: bool, extra: bool
):
    answer = response(1)
    collector = WriteDiagnostics(bits)
    collector.note(0, REFUSED)
    collector.fill(answer)
    (info,) = answer.DiagnosticInfos
    assert (info.SymbolicId is not None, info.LocalizedText is not None) == (symbol, text)
    assert (info.AdditionalInfo is not None) == extra


@pytest.mark.parametrize("bits", [0, 0x01, 0x02, 0x04, 0x1F, 0x100])
def test_write_diagnostics_without_operation_level_bits_returns_none(bits: int):
    answer = response(2)
    collector = WriteDiagnostics(bits)
    collector.note(0, REFUSED)
    collector.fill(answer)
    assert answer.DiagnosticInfos == [] and answer.ResponseHeader.StringTable == []


def test_write_diagnostics_parallel_to_the_items_with_shared_strings():
    answer = response(3)
    collector = WriteDiagnostics(0x60)
    collector.note(0, REFUSED)
    collector.note(2, REFUSED)  # item 1 was refused by the address space before any decision
    collector.fill(answer)
    first, middle, last = answer.DiagnosticInfos
    assert middle == ua.DiagnosticInfo()
    assert strings(answer, first) == strings(answer, last)
    assert len(answer.ResponseHeader.StringTable) == 4  # code, namespace, text, locale: each once
