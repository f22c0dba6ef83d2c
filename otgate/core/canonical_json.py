"""The one canonical JSON text of an audit record's data (the bytes the audit chain hashes).

Rules, so that one value has exactly one encoding:
- object keys are strings, sorted by code point; separators are "," and ":" with no spaces;
- strings: `"` `\\` and control characters U+0000–U+001F are escaped as `json.dumps` does; other characters
  are written as UTF-8, except lone surrogates (an engine can send `"\\ud800"` in JSON), which are written
  as `\\udXXX` escapes so the encoding is valid UTF-8 and still round-trips;
- numbers: integers in decimal; floats as Python's shortest round-trip `repr` (`12.5`, `1e-07`);
  NaN and ±Infinity, which JSON cannot carry, are recorded as the strings "NaN", "Infinity", "-Infinity"
  (the trail must record the non-finite value an engine sent, not refuse to record it);
- tuples are lists; booleans and null as in JSON. Anything else is a bug in the caller: TypeError.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_ESCAPE = re.compile(r'[\x00-\x1f\\"\ud800-\udfff]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _normal_str(text: str) -> str:
    # Two lone surrogates that form a pair would decode as one astral character after a JSON round trip,
    # so join them now; what is left are truly lone surrogates, which round-trip as \udXXX escapes.
    if _SURROGATE.search(text) is None:
        return str(text)
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def non_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _normal_items(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"audit data keys must be strings, not {type(key).__name__}: {key!r}")
        items[_normal_str(key)] = item
    if len(items) != len(mapping):
        raise ValueError("audit data has two keys that are the same text once surrogates are joined")
    return items


def normalize(value: Any) -> Any:
    """The plain JSON value `value` stands for: dict/list/str/int/float/bool/None, a fresh copy."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else non_finite(value)
    if isinstance(value, str):
        return _normal_str(value)
    if isinstance(value, Mapping):
        return {key: normalize(item) for key, item in _normal_items(value).items()}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    raise TypeError(f"audit data must be JSON-able; got {type(value).__name__}")


def encode_str(text: str) -> str:
    if _ESCAPE.search(text) is None:  # the common case: nothing to escape, no surrogates
        return '"' + text + '"'
    return '"' + _ESCAPE.sub(_escape_char, _normal_str(text)) + '"'


def canonical_json(value: Any) -> str:
    """The one canonical JSON text of `value` (rules in the module docstring); equals that of `normalize(value)`."""
    # One pass that applies `normalize`'s rules as it goes: this runs for every record at every verify.
    if isinstance(value, str):
        return encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else encode_str(non_finite(value))
    if isinstance(value, Mapping):
        members = sorted(_normal_items(value).items())
        return "{" + ",".join(encode_str(key) + ":" + canonical_json(item) for key, item in members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    raise TypeError(f"audit data must be JSON-able; got {type(value).__name__}")


# On a normalised value the C encoder writes exactly the canonical text (sorted keys, no spaces, json's
# escapes, `repr` numbers) but would leave a lone surrogate raw: such a text goes the Python way.
_C_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def normal_text(normalised: Any) -> str:
    """`canonical_json` of a value already `normalize`d, through the C encoder where that gives the same."""
    text = _C_ENCODER.encode(normalised)
    return canonical_json(normalised) if _SURROGATE.search(text) else text
