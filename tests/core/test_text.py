"""Engine-controlled text shown visibly: look-alikes and invisible characters escaped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.text import visible


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("LIC-101.RSP", "LIC-101.RSP"),
        ("LIC\u2010101.RSP", "LIC\\u2010101.RSP"),  # hyphen U+2010
        ("L\u0406C-101.RSP", "L\\u0406C-101.RSP"),  # Cyrillic І
        ("LIC-101.R\u200bSP", "LIC-101.R\\u200bSP"),  # zero-width space
        ("\u202eLIC-101.RSP", "\\u202eLIC-101.RSP"),  # right-to-left override
        ("LIC-101.RSP\u0301", "LIC-101.RSP\\u0301"),  # combining accent
        ("\U0001d40bIC-101.RSP", "\\U0001d40bIC-101.RSP"),  # mathematical bold L
        ("a\nb\tc\x00", "a\\x0ab\\x09c\\x00"),
        ("caf\u00e9", "caf\\xe9"),
        ("LIC\\u2010101.RSP", "LIC\\\\u2010101.RSP"),  # typed escape: doubled, cannot pass for one
    ],
)
def test_visible_lookalike_escaped(text: str, shown: str):
    assert visible(text) == shown


def test_visible_limit_counts_the_received_characters():
    assert visible("\u2010" * 100, 3) == "\\u2010" * 3


@given(st.text())
def test_visible_always_printable_ascii_and_distinct_texts_stay_distinct(text: str):
    shown = visible(text)
    assert shown.isascii() and shown.isprintable()
    assert visible(text + "x") != visible(text + "\u0445")  # Latin x and Cyrillic х never look alike
