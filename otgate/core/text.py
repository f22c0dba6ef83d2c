"""Engine-controlled text made visible: a look-alike tag must never look like the real one.

An engine chooses its tag names, ids and rationales. Wherever an operator or a log reader sees such
text (rejection details, alarm messages, the HMI, the exported trail), every character outside printable
ASCII is shown as an escape: `TIC‐101.RSP` (U+2010 hyphen) reads `TIC\\u2010101.RSP`, a zero-width space
or a right-to-left override shows up as `\\u200b` or `\\u202e` instead of hiding. A backslash is doubled,
so an engine cannot type an escape that passes for the real thing. The audit trail keeps the bytes as
received (evidence); only their presentation is escaped.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if 0x20 <= code < 0x7F:
        return char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, limit: int | None = None) -> str:
    """`text` (its first `limit` characters) with everything but printable ASCII escaped."""
    shown = text if limit is None else text[:limit]
    if shown.isascii() and shown.isprintable() and "\\" not in shown:
        return shown
    return "".join(_escape(char) for char in shown)
