"""JSON as panels write it: exact decimals, and numbers quoted or not by a panel-wide style."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Final, Literal, NamedTuple

__all__ = ["NUMBER_STYLES", "Num", "NumberStyle", "render"]

#: How the panel writes numbers: ``"canonical"`` as the reference documentation prints each
#: field (money and counts of a status as strings, IDs as numbers, ...), ``"strings"`` every
#: number quoted, ``"numbers"`` none quoted.
NumberStyle = Literal["canonical", "strings", "numbers"]
NUMBER_STYLES: Final = ("canonical", "strings", "numbers")


class Num(NamedTuple):
    """A number in an answer, with whether the canonical style quotes it.

    A named tuple, not a frozen attrs class: a bulk answer makes hundreds, and a tuple is made
    in a third of the time. It is a sequence too: :func:`render` tells it apart before sequences.
    """

    value: int | Decimal
    quoted: bool


def _number(value: int | Decimal) -> str:
    # "f" never writes an exponent ("1E+2"), which some JSON readers refuse.
    return str(value) if isinstance(value, int) else format(value, "f")


def _num(value: Num, style: NumberStyle) -> str:
    text = _number(value.value)
    quoted = value.quoted if style == "canonical" else style == "strings"
    return f'"{text}"' if quoted else text


def _encode(value: Any, style: NumberStyle, out: list[str]) -> None:
    # The common types told by identity first, and an object's texts and numbers written in its
    # own loop: a bulk answer of 100 statuses is ~1,000 values.
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is Num:
        out.append(_num(value, style))
    elif kind is dict or isinstance(value, Mapping):
        out.append("{")
        separator = ""
        for key, item in value.items():
            out.append(f"{separator}{_quote(str(key))}: ")
            separator = ", "
            item_kind = type(item)
            if item_kind is str:
                out.append(_quote(item))
            elif item_kind is Num:
                out.append(_num(item, style))
            else:
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
