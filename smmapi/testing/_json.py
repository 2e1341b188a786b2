"""JSON as panels write it: exact decimals, and numbers quoted or not by a panel-wide style."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Final, Literal

import attrs

__all__ = ["NUMBER_STYLES", "Num", "NumberStyle", "render"]

#: How the panel writes numbers: ``"canonical"`` as the reference documentation prints each
#: field (money and counts of a status as strings, IDs as numbers, ...), ``"strings"`` every
#: number quoted, ``"numbers"`` none quoted.
NumberStyle = Literal["canonical", "strings", "numbers"]
NUMBER_STYLES: Final = ("canonical", "strings", "numbers")


@attrs.frozen
class Num:
    """A number in an answer, with whether the canonical style quotes it."""

    value: int | Decimal
    quoted: bool


def _number(value: int | Decimal) -> str:
    # "f" never writes an exponent ("1E+2"), which some JSON readers refuse.
    return str(value) if isinstance(value, int) else format(value, "f")


def _encode(value: Any, style: NumberStyle, out: list[str]) -> None:
    # The common types told by identity first: a bulk answer of 100 statuses is ~1,000 values.
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is Num:
        text = _number(value.value)
        quoted = value.quoted if style == "canonical" else style == "strings"
        out.append(f'"{text}"' if quoted else text)
    elif kind is dict or isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(", " if index else "")
            out.append(_quote(str(key)))
            out.append(": ")
            _encode(item, style, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        out.append("[")
        for index, item in enumerate(value):
            out.append(", " if index else "")
            _encode(item, style, out)
        out.append("]")
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        out.append(_number(value))
    else:
        out.append(json.dumps(value))


def render(value: Any, style: NumberStyle) -> bytes:
    """``value`` as JSON bytes, each :class:`Num` written as ``style`` says."""
    out: list[str] = []
    _encode(value, style, out)
    return "".join(out).encode()
