"""From panels' loose JSON to value objects, and bulk answers split by ID."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from ._errors import PanelError, UnreadableAnswerError, error_text, panel_error, shown, snippet
from ._forms import ID_BOUND, MOST_ID_DIGITS
from ._models import (
    Balance,
    OrderState,
    OrderStatus,
    Product,
    ProductOrderStatus,
    RefillState,
    RefillStatus,
    Service,
    read_only,
)

__all__ = [
    "answer_id",
    "item_error",
    "list_splitter",
    "make_converter",
    "read_cancel",
    "read_catalogue",
    "read_id",
    "read_order_status",
    "read_refill",
    "read_refill_status",
    "split_by_id",
    "split_list",
    "structure",
]

log = logging.getLogger("smmapi")

T = TypeVar("T")

_TRUE: Final = frozenset({"1", "true", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "off", ""})
#: The most digits a count or an ID may have.
_MOST_DIGITS: Final = MOST_ID_DIGITS
#: Money has at most this many digits before the point, and at most this many after it:
#: anything else is no amount a panel means, and would overflow in the caller's arithmetic.
_MOST_MONEY_DIGITS: Final = 18
_MOST_MONEY_PLACES: Final = 18
_LEAST_MONEY: Final = Decimal(1).scaleb(-_MOST_MONEY_PLACES)
_MONEY: Final = Context(prec=_MOST_MONEY_DIGITS + _MOST_MONEY_PLACES)
#: Texts panels put where a count is not known yet; they read as None.
_NOT_A_COUNT: Final = frozenset({"", "unknown", "n/a", "na", "-", "none", "null", "nan"})


class _LooseValueError(ValueError):
    """A JSON value that no rule of the converter can read."""


#: A text this short, in plain notation, has at most 18 decimal places: only its digits before
#: the point and its finiteness are left to check.
_PLAIN_MONEY_LENGTH: Final = _MOST_MONEY_PLACES + 1


def _decimal(value: Any, _: Any = None) -> Decimal:
    if type(value) is str and 0 < len(value) <= _PLAIN_MONEY_LENGTH and "e" not in value and "E" not in value:
        # The common case, an amount as short plain text, told without rounding it to compare.
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _LooseValueError(f"{shown(value)} is not an amount") from None
        if not number.is_finite() or number.adjusted() >= _MOST_MONEY_DIGITS:
            raise _LooseValueError(f"{shown(value)} is not an amount")
        return number
    if isinstance(value, bool):
        raise _LooseValueError(f"{shown(value)} is not an amount")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str | float):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _LooseValueError(f"{shown(value)} is not an amount") from None
    else:
        raise _LooseValueError(f"{shown(value)} is not an amount")
    if not number.is_finite() or number.adjusted() >= _MOST_MONEY_DIGITS:
        raise _LooseValueError(f"{shown(value)} is not an amount")
    try:
        exact = number.quantize(_LEAST_MONEY, context=_MONEY) == number
    except InvalidOperation:
        exact = False
    if not exact:
        raise _LooseValueError(f"{shown(value)} has more than {_MOST_MONEY_PLACES} decimal places")
    return number


def _int(value: Any, _: Any = None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if -ID_BOUND < value < ID_BOUND:
            return value
        raise _LooseValueError(f"{shown(value)} has more than {_MOST_DIGITS} digits")
    if isinstance(value, str):
        text = value.strip()
        digits = text.lstrip("+-")
        if digits.isascii() and digits.isdigit() and len(digits) <= _MOST_DIGITS:
            return int(text)
    number = _decimal(value)
    # No count has this many digits; int() of "1e1000000" would stall the event loop.
    if number.adjusted() >= _MOST_DIGITS or number != number.to_integral_value():
        raise _LooseValueError(f"{shown(value)} is not a whole number")
    return int(number)


def _optional_count(value: Any, _: Any = None) -> int | None:
    if type(value) is str and value.isdigit() and value.isascii() and len(value) <= _MOST_DIGITS:
        return int(value)  # the common case, plain digits, told at once
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOT_A_COUNT):
        return None
    return _int(value)


def _optional_decimal(value: Any, _: Any = None) -> Decimal | None:
    if value is None or value == "":
        return None
    return _decimal(value)


def _bool(value: Any, _: Any = None) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _LooseValueError(f"{shown(value)} is not a yes or no")


def _str(value: Any, _: Any = None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _LooseValueError(f"{shown(value)} is not a text")


def _optional_str(value: Any, _: Any = None) -> str | None:
    return None if value is None else _str(value)


@functools.lru_cache(maxsize=1024)
def _key(raw: object) -> str:
    """A field name as we match it: lower case, without a trailing "[note]" some docs add.

    Cached: every item of an answer repeats the same few names.
    """
    return str(raw).split("[", 1)[0].strip().lower()


def _lower_keys(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {_key(k): v for k, v in value.items()}


@attrs.frozen
class _Shape:
    """How one model's fields stand on the wire."""

    renames: Mapping[str, str] = attrs.field(factory=dict)
    state: type[OrderState] | type[RefillState] | None = None


_SHAPES: Final[Mapping[type, _Shape]] = {
    Balance: _Shape(),
    Service: _Shape(renames={"service": "id"}),
    Product: _Shape(renames={"product": "id"}),
    OrderStatus: _Shape(state=OrderState),
    ProductOrderStatus: _Shape(state=OrderState),
    RefillStatus: _Shape(state=RefillState),
}


def _model_hook(converter: cattrs.Converter, cls: type, shape: _Shape) -> Callable[[Any, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter)
    names = {field.name for field in attrs.fields(cls)} - {"extra", "status_text"}
    if shape.renames:
        names = (names - set(shape.renames.values())) | set(shape.renames)

    def structure_model(value: Any, _: Any, **filled: int) -> Any:
        if not isinstance(value, Mapping):
            raise _LooseValueError(f"expected an object, got {type(value).__name__}")
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for raw, item in value.items():
            key = _key(raw)
            if key in names and key not in known:
                known[shape.renames.get(key, key)] = item
            else:
                extra[str(raw)] = item
        if shape.state is not None:
            text = known.get("status")
            if not isinstance(text, str):
                raise _LooseValueError(f"status {text!r} is not a text")
            known["status"] = shape.state.parse(text)
            known["status_text"] = text
        currency = known.get("currency")
        if isinstance(currency, str):
            known["currency"] = currency.strip() or None
        known["extra"] = extra
        known.update(filled)
        return inner(known, cls)

    return structure_model


def make_converter() -> cattrs.Converter:
    """Make the converter that turns panels' loose JSON into smmapi's value objects.

    Its rules, each learnt from real panels:

    - Money (``Decimal``) comes from strings (``"0.27819"``), integers and JSON numbers, which must
      be parsed with ``parse_float=Decimal`` so that nothing passes through a float.
    - Counts (``int``) come from ``10``, ``"10"``, ``10.0`` or ``"10.0"``; ``"10.5"`` is refused.
      An optional count (``remains``, ``start_count``) that the panel does not know (``null``,
      ``"Unknown"``, ``""``) is ``None``; negative counts are kept.
    - Flags (``bool``) come from ``true``/``false``, ``1``/``0``, ``"1"``/``"0"``,
      ``"true"``/``"false"``, ``"yes"``/``"no"``; a missing or ``null`` flag is ``False``.
    - Texts may arrive as numbers and are kept as text.
    - Field names are matched without case and without a trailing ``[note]``; ``service`` and
      ``product`` become ``id``; ``currency`` is stripped.
    - A ``status`` text becomes the state enum (spellings folded, aliases understood, an unknown
      spelling kept as ``UNKNOWN``), and the panel's text is kept in ``status_text``.
    - Fields no model names are kept in ``extra``.
    - Anything else is refused; :func:`structure` turns that into an ``UnreadableAnswerError``.

    Each call makes a new converter: cattrs' global converter is never touched.
    """
    converter = cattrs.Converter(detailed_validation=False)
    converter.register_structure_hook(Decimal, _decimal)
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(str, _str)
    converter.register_structure_hook(int | None, _optional_count)
    converter.register_structure_hook(Decimal | None, _optional_decimal)
    converter.register_structure_hook(str | None, _optional_str)
    converter.register_structure_hook_func(lambda cls: cls == Mapping[str, Any], lambda value, _: value)
    for enum in (OrderState, RefillState):
        converter.register_structure_hook(enum, lambda value, _: value)
    for cls, shape in _SHAPES.items():
        converter.register_structure_hook(cls, _model_hook(converter, cls, shape))
    return converter


def structure(converter: cattrs.Converter, answer: Any, cls: type[T], **filled: int) -> T:
    """Read one answer as ``cls``, with ID fields the client fills in (``order=123``).

    Raises:
        UnreadableAnswerError: the answer does not fit ``cls``.
    """
    try:
        hook = converter.get_structure_hook(cls)
        return hook(answer, cls, **filled) if filled else hook(answer, cls)  # type: ignore[no-any-return]
    except (_LooseValueError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        reason = snippet(f"missing field {exc}" if isinstance(exc, KeyError) else str(exc))
        raise UnreadableAnswerError(
            f"cannot read {cls.__name__} ({reason}) from the answer: {shown(answer)}"
        ) from exc


def answer_id(value: Any) -> int | None:
    """An ID as panels send it, or ``None``: a positive whole number of at most 18 digits, or its text.

    Read exactly: no sign, exponent, fraction or ``bool`` (a JSON ``10.0`` is 10).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if (
            not isinstance(exponent, int)
            or exponent > 0
            or value.adjusted() >= _MOST_DIGITS
            or value != value.to_integral_value()
        ):
            return None
        value = int(value)
    if isinstance(value, int):
        return value if 0 < value < ID_BOUND else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MOST_DIGITS and int(text) > 0:
            return int(text)
    return None


def _only(answer: Mapping[Any, Any], field: str) -> Any:
    """The value of the one field named ``field`` (any case); ``None`` if it is absent or named twice."""
    names = [raw for raw in answer if _key(raw) == field]
    return answer[names[0]] if len(names) == 1 else None


def read_id(answer: Any, field: str) -> int:
    """The ID in an answer such as ``{"order": 99999}`` or ``{"refill": "1"}``.

    Raises:
        UnreadableAnswerError: no such field, the field twice (``"order"`` and ``"ORDER"``), a
            value that is not an ID (``0``, ``-5``, ``"5e3"``), or an error beside the ID.
    """
    if isinstance(answer, Mapping) and error_text(answer) is None:
        found = answer_id(_only(answer, field))
        if found is not None:
            return found
    raise UnreadableAnswerError(f"no {field} ID in the answer: {shown(answer)}")


def read_catalogue(converter: cattrs.Converter, answer: Any, cls: type[T]) -> list[T]:
    """Read a services or products answer: a list, or an ``{"data": ...}`` envelope.

    Some panels answer an empty catalogue with ``{"status": "success", "data": "Empty Data"}``.
    """
    if isinstance(answer, Mapping) and "data" in (lowered := _lower_keys(answer)):
        answer = lowered["data"]
        if isinstance(answer, str):
            return []
    if not isinstance(answer, list):
        raise UnreadableAnswerError(f"expected a list of {cls.__name__}: {shown(answer)}")
    return [structure(converter, item, cls) for item in answer]


def item_error(value: Any) -> PanelError | None:
    """The per-item error in a bulk answer: ``{"error": "..."}`` (any case) or ``None``."""
    text = error_text(value)
    return None if text is None else panel_error(text)


def _missing(key: int) -> UnreadableAnswerError:
    return UnreadableAnswerError(f"the panel's answer has nothing for ID {key}")


def split_by_id(answer: Any, ids: Iterable[int]) -> dict[int, Any] | None:
    """Split ``{"1": {...}, "2": {"error": ...}, "3": "Incorrect order ID"}`` by asked ID.

    Each asked ID gets its item, its :class:`PanelError` (an ``{"error"}`` object or a bare
    string), or an :class:`UnreadableAnswerError` if the answer has nothing for it.
    IDs the panel sent but nobody asked are dropped. An answer for several IDs that is keyed by
    none of them (a panel that did not read the bulk form) is ``None``.

    Raises:
        UnreadableAnswerError: the answer is not an object.
    """
    wanted = list(ids)
    if not isinstance(answer, Mapping):
        raise UnreadableAnswerError(f"expected an object keyed by ID: {shown(answer)}")
    plain = _split_plain(answer, wanted)
    if plain is not None:
        return plain
    by_id: dict[int, Any] = {}
    for raw, item in answer.items():
        key = answer_id(raw)
        if key is None:
            continue
        by_id[key] = item
    if len(wanted) == 1 and not by_id and "status" in _lower_keys(answer):
        # An answer in the single form, to the single form or to a bulk form of one ID.
        by_id[wanted[0]] = answer
    asked = set(wanted)
    if wanted and not by_id.keys() & asked:
        return None
    unasked = by_id.keys() - asked
    if unasked:
        log.debug("ignoring %d IDs the panel sent but nobody asked", len(unasked))
    return {key: _item_outcome(by_id[key]) if key in by_id else _missing(key) for key in wanted}


_ABSENT: Final = object()


def _split_plain(answer: Mapping[str, Any], wanted: list[int]) -> dict[int, Any] | None:
    """:func:`split_by_id` of an answer keyed by exactly the asked IDs, as plain digits; else ``None``.

    Nearly every bulk answer is one: each ID is found by its own text, with no key to read.
    """
    if len(answer) != len(wanted) or not wanted or min(wanted) <= 0 or max(wanted) >= ID_BOUND:
        return None  # (an ID no panel could send is never found, as answer_id reads keys)
    result: dict[int, Any] = {}
    for key in wanted:
        item = answer.get(str(key), _ABSENT)
        if item is _ABSENT:
            return None
        result[key] = _item_outcome(item)
    return result if len(result) == len(answer) else None  # (an ID asked twice: the full reading)


def _item_outcome(item: Any) -> Any:
    """An item of a bulk answer, or the :class:`PanelError` it is."""
    if type(item) is dict and _STATUS_FIELDS.issuperset(item):
        return item  # the common shape of a status item has no room for an error
    if isinstance(item, str):
        return panel_error(item)
    return item_error(item) or item


def split_list(answer: Any, ids: Iterable[int], *, id_field: str, value_field: str) -> dict[int, Any] | None:
    """Split ``[{"order": 1, "refill": 1}, {"order": 2, "refill": {"error": ...}}]`` by asked ID.

    Each asked ID gets its item (keys lower-cased), the :class:`PanelError` nested in its
    ``value_field``, or an :class:`UnreadableAnswerError` if the answer has nothing for it.
    A lone object answers for a lone ID; for several IDs it cannot be split, and neither can a
    list naming none of them: both are ``None``.

    Raises:
        UnreadableAnswerError: the answer is neither a list nor an object.
    """
    wanted = list(ids)
    if isinstance(answer, Mapping):
        if len(wanted) != 1:
            return None if wanted else {}
        answer = [{**answer, id_field: wanted[0]}]
    if not isinstance(answer, list):
        raise UnreadableAnswerError(f"expected a list of items: {shown(answer)}")
    by_id: dict[int, dict[str, Any]] = {}
    for item in answer:
        if not isinstance(item, Mapping):
            continue
        lowered = _lower_keys(item)
        key = answer_id(lowered.get(id_field))
        if key is not None:
            by_id[key] = lowered
    if wanted and not by_id.keys() & set(wanted):
        return None
    result: dict[int, Any] = {}
    for key in wanted:
        found = by_id.get(key)
        if found is None:
            result[key] = _missing(key)
            continue
        result[key] = item_error(found.get(value_field)) or item_error(found) or found
    return result


def list_splitter(id_field: str, value_field: str) -> Callable[[Any, Sequence[int]], dict[int, Any] | None]:
    """:func:`split_list` for one action's answer, such as ``[{"order": 1, "refill": 7}, ...]``."""

    def split(answer: Any, ids: Sequence[int]) -> dict[int, Any] | None:
        return split_list(answer, ids, id_field=id_field, value_field=value_field)

    return split


def _bare_error(value: Any) -> None:
    """Raise the panel's error if ``value`` is an error text where a number or flag belongs.

    A text is taken for an error when it is a known one or has words ("Incorrect order ID");
    a single token ("ref_01HG9X") is more likely an ID we cannot read, so it is left unread.
    """
    if not isinstance(value, str):
        return
    error = panel_error(value.strip())
    if type(error) is not PanelError or len(value.split()) > 1:
        raise error


def read_refill(_: int, item: Mapping[str, Any]) -> int:
    """The refill ID in a bulk refill item; a bare text in its place is the panel's error."""
    if isinstance(item, Mapping):
        _bare_error(_only(item, "refill"))
    return read_id(item, "refill")


def read_cancel(key: int, item: Mapping[str, Any]) -> None:
    """Nothing if a bulk cancel item says the cancel was accepted; else the error.

    Accepted is ``1``, ``true`` or ``"ok"`` under ``cancel`` (or ``ok``, which one panel uses).
    """
    accepted = item.get("cancel", item.get("ok"))
    if accepted is None or isinstance(accepted, Mapping | list):
        raise UnreadableAnswerError(f"no cancel answer for order {key}: {shown(item)}")
    _bare_error(accepted)
    if isinstance(accepted, str) and accepted.strip().lower() == "ok":
        return
    try:
        ok = _bool(accepted)
    except _LooseValueError:
        raise UnreadableAnswerError(f"cannot read the cancel answer for order {key}: {shown(item)}") from None
    if not ok:
        raise PanelError(f"the panel did not accept the cancel of order {key}: {accepted!r}")


def read_refill_status(converter: cattrs.Converter, key: int, item: Mapping[str, Any]) -> RefillStatus:
    """A bulk refill_status item; a status text that is a known error ("Refill not found") raises it."""
    text = item.get("status") if isinstance(item, Mapping) else None
    if isinstance(text, str):
        error = panel_error(text)
        if type(error) is not PanelError:
            raise error
    return structure(converter, item, RefillStatus, refill=key)


# -- the fast path of a status item ------------------------------------------------------------

#: The fields of a status item as nearly every panel spells them.
_STATUS_FIELDS: Final = frozenset({"status", "charge", "start_count", "remains", "currency"})


#: :meth:`OrderState.parse`, remembered: a panel uses a handful of spellings.
_order_state: Final = functools.lru_cache(maxsize=256)(OrderState.parse)


# The slots of OrderStatus, set one by one: what its __init__ does after handling keywords,
# defaults and the converter of ``extra``, which cost more than reading the item.
(
    _set_order,
    _set_status,
    _set_status_text,
    _set_charge,
    _set_start_count,
    _set_remains,
    _set_currency,
    _set_extra,
) = (getattr(OrderStatus, field.name).__set__ for field in attrs.fields(OrderStatus))
_NO_EXTRA: Final = read_only({})


def _new_order_status(  # noqa: PLR0917  (the fields of OrderStatus, in order)
    order: int,
    status: OrderState,
    status_text: str,
    charge: Decimal | None,
    start_count: int | None,
    remains: int | None,
    currency: str | None,
) -> OrderStatus:
    """``OrderStatus(...)`` with no ``extra``, for values the rules have read."""
    made: OrderStatus = object.__new__(OrderStatus)
    _set_order(made, order)
    _set_status(made, status)
    _set_status_text(made, status_text)
    _set_charge(made, charge)
    _set_start_count(made, start_count)
    _set_remains(made, remains)
    _set_currency(made, currency)
    _set_extra(made, _NO_EXTRA)
    return made


def read_order_status(item: Any, order: int) -> OrderStatus | None:
    """The :class:`OrderStatus` of an item of the common shape, or ``None``: read it with the rules.

    The common shape is what nearly every panel sends for each order: a JSON object with a
    ``status`` text and any of ``charge``, ``start_count``, ``remains`` and ``currency``, spelled
    so, and nothing else. It reads exactly as :func:`structure` would (a test compares the two on
    generated items) in a fraction of the time, skipping the matching of names without case and
    the converter's generic machinery. Any other item, or a value no rule reads, is ``None``.
    """
    if type(item) is not dict or not _STATUS_FIELDS.issuperset(item):
        return None
    status = item.get("status")
    currency = item.get("currency")
    if type(status) is not str or (currency is not None and type(currency) is not str):
        return None
    try:
        return _new_order_status(
            order,
            _order_state(status),
            status,
            _optional_decimal(item.get("charge")),
            _optional_count(item.get("start_count")),
            _optional_count(item.get("remains")),
            None if currency is None else (currency.strip() or None),
        )
    except _LooseValueError:
        return None
