"""Check what callers pass before anything is sent, and turn it into form fields.

:class:`AddFields` is the one list of ``add``'s order-type fields: the client's signature, the
form builder, the reserved names of ``extra_fields`` and the CLI's options all come from it.
"""

from __future__ import annotations

import datetime
import typing
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Final, TypedDict

import attrs

from ._errors import ValidationError

__all__ = [
    "ADD_FIELDS",
    "ID_BOUND",
    "MOST_ID_DIGITS",
    "AddFields",
    "Field",
    "add_form",
    "fields_doc",
    "positive_id",
    "product_order_form",
    "unique_ids",
]

#: The most digits an order, refill or service ID may have, asked or answered.
MOST_ID_DIGITS: Final = 18
#: Every ID is below this (and a store keeps it as a signed 64-bit integer).
ID_BOUND: Final = 10**MOST_ID_DIGITS


@attrs.frozen
class Field:
    """How one keyword of ``add`` goes on the wire, and what it is for (its help text)."""

    help: str
    #: The form field's name, where it is not the keyword's own (``min_per_post`` is ``min``).
    wire: str | None = None
    #: The least a count may be.
    minimum: int = 1


class AddFields(TypedDict, total=False):
    """The order-type keywords of :meth:`smmapi.AsyncClient.add`, each optional.

    Each standard field of every order type is named here; lists are sent one item per line.

    Example::

        fields: smmapi.AddFields = {"link": "https://example.com/p/1", "quantity": 1000}
        order = await client.add(service=1, **fields)
    """

    link: Annotated[str, Field("The page, post or profile to deliver to.")]
    quantity: Annotated[int, Field("How many; not for package and custom-comment services.")]
    runs: Annotated[int, Field("Drip-feed: deliver the quantity this many times ...")]
    interval: Annotated[int, Field("... this many minutes apart.")]
    comments: Annotated[str | Sequence[str], Field("Custom comments: one text per comment.")]
    usernames: Annotated[str | Sequence[str], Field("Mentions: the usernames to mention.")]
    hashtags: Annotated[str | Sequence[str], Field("Mentions with hashtags: the hashtags.")]
    hashtag: Annotated[str, Field("Mentions: the hashtag to take usernames from.")]
    username: Annotated[
        str,
        Field(
            "Mentions: the user whose followers to mention; comment likes: the comment's owner;"
            " subscriptions: the account to follow."
        ),
    ]
    media: Annotated[str, Field("Mentions: the media whose likers to mention.")]
    answer_number: Annotated[int, Field("Poll: the answer to vote for.")]
    groups: Annotated[str | Sequence[str], Field("Invites from groups: the source groups.")]
    keywords: Annotated[str | Sequence[str], Field("SEO: the search keywords.")]
    min_per_post: Annotated[int, Field("Subscriptions: the least quantity per new post ...", wire="min")]
    max_per_post: Annotated[int, Field("... and the most.", wire="max")]
    posts: Annotated[int, Field("Subscriptions: how many new posts to serve.", minimum=0)]
    old_posts: Annotated[int, Field("Subscriptions: how many existing posts to serve.", minimum=0)]
    delay: Annotated[int, Field("Subscriptions: minutes to wait after a post.", minimum=0)]
    expiry: Annotated[str | datetime.date, Field("Subscriptions: the end date (a datetime.date or 'd/m/Y').")]
    extra_fields: Annotated[
        Mapping[str, str | int | Decimal], Field("Fields of your panel's own that smmapi does not name.")
    ]


@attrs.frozen
class _AddField:
    name: str
    kind: str  # "count", "text", "lines", "date" or "extra"
    field: Field

    @property
    def wire(self) -> str:
        return self.field.wire or self.name


def _kind(hint: Any) -> str:
    if hint is int:
        return "count"
    if hint is str:
        return "text"
    if typing.get_origin(hint) is Mapping:
        return "extra"
    args = typing.get_args(hint)
    if datetime.date in args:
        return "date"
    return "lines"


def _add_fields() -> tuple[_AddField, ...]:
    hints = typing.get_type_hints(AddFields, include_extras=True)
    return tuple(
        _AddField(name, _kind(typing.get_args(hint)[0]), typing.get_args(hint)[1])
        for name, hint in hints.items()
    )


#: ``add``'s keywords, in the order above, with their kind and wire name.
ADD_FIELDS: Final = _add_fields()
_BY_NAME: Final = {field.name: field for field in ADD_FIELDS}


def as_php_reads(name: str) -> str:
    """The variable a PHP panel's ``parse_str`` makes of a form field's name, in lower case.

    PHP drops leading spaces, reads ``quantity[]`` or ``quantity[x]`` as ``quantity``, and turns
    spaces and dots into underscores; a panel may ignore case. (Control characters, at which
    PHP may cut a name short, are refused before this.)
    """
    return name.lstrip(" ").split("[", 1)[0].replace(" ", "_").replace(".", "_").lower()


#: Fields the client sets itself or names, as a panel reads them: ``extra_fields`` may not
#: carry them, so that no check of ``add`` can be bypassed.
_RESERVED: Final = frozenset(
    as_php_reads(name)
    for name in {"key", "action", "service"} | {f.wire for f in ADD_FIELDS if f.kind != "extra"}
)


def fields_doc(indent: int) -> str:
    """The lines of a docstring that name each field of :class:`AddFields`."""
    pad = " " * indent
    return "\n".join(f"{pad}``{field.name}``: {field.field.help}" for field in ADD_FIELDS)


def _whole(value: int) -> int:
    """The number an ``int`` (or an ``int`` subclass) holds, never read through its own methods."""
    return int.__index__(value)


def positive_id(value: Any, what: str = "ID") -> int:
    """A positive ``int`` ID of at most 18 digits, taken by value; a ``bool`` or ``str`` is a ``TypeError``.

    An ``int`` subclass is read as the number it holds, never through its ``__str__``.
    """
    if type(value) is int and 0 < value < ID_BOUND:
        return value  # the common case, told at once
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    number = _whole(value)
    if number <= 0:
        raise ValidationError(f"{what} must be positive, got {_short(number)}")
    if number >= ID_BOUND:
        raise ValidationError(f"{what} may have at most {MOST_ID_DIGITS} digits")
    return number


def _short(number: int) -> str:
    """A number for a message: one of thousands of digits cannot even be printed."""
    return str(number) if -ID_BOUND < number < ID_BOUND else "a number of more than 18 digits"


def unique_ids(ids: Iterable[int]) -> list[int]:
    """The IDs of a bulk call in input order, duplicates collapsed, each checked."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise TypeError(f"IDs must be an iterable of int, not {type(ids).__name__}")
    return list(dict.fromkeys(positive_id(value) for value in ids))


def _count(name: str, value: Any, *, minimum: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number, not {value!r}")
    number = _whole(value)
    if number < minimum:
        raise ValidationError(f"{name} must be at least {minimum}, got {_short(number)}")
    if number >= ID_BOUND:
        raise ValidationError(f"{name} may have at most {MOST_ID_DIGITS} digits")
    return str(number)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty text, not {value!r}")
    return str.__str__(value)  # a str subclass's own __str__ never reaches the wire


def _lines(name: str, value: Any) -> str:
    """A list sent one item per line; a single text is sent as it is."""
    if isinstance(value, str):
        return _text(name, value)
    if not isinstance(value, Sequence) or not value:
        raise ValidationError(f"{name} must be a text or a non-empty list of texts, not {value!r}")
    items = [_text(name, item) for item in value]
    for item in items:
        if "\n" in item:
            raise ValidationError(f"an item of {name} may not contain a line break: {item!r}")
    return "\n".join(items)


def _date(name: str, value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return _text(name, value)


_CHECKS: Final = {"text": _text, "lines": _lines, "date": _date}


def _extra(fields: dict[str, str], extra_fields: Any) -> None:
    if extra_fields is None:
        return
    if not isinstance(extra_fields, Mapping):
        raise ValidationError(f"extra_fields must be a mapping, not {type(extra_fields).__name__}")
    taken = _RESERVED | {as_php_reads(field) for field in fields}
    for name, value in extra_fields.items():
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"extra field names must be non-empty texts, not {name!r}")
        if any(char < " " or char == "\x7f" for char in name):
            raise ValidationError(f"extra field {name!r} holds a control character")
        if as_php_reads(name) in taken:
            raise ValidationError(f"extra field {name!r} would override a field the client sets")
        fields[str.__str__(name)] = _extra_value(name, value)


def _extra_value(name: str, value: Any) -> str:
    """An extra field's value, taken by value: a subclass's own ``__str__`` never reaches the wire."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(_whole(value))
    if isinstance(value, Decimal):
        return Decimal.__str__(value)
    raise ValidationError(f"extra field {name!r} must be a text or a number, not {value!r}")


def add_form(service: Any, given: Mapping[str, Any]) -> dict[str, str]:
    """The form of an ``add`` call from its keywords, every shape checked.

    Raises:
        TypeError: a keyword ``add`` does not name (a typo must never place a different order).
        ValidationError: a value has the wrong shape; nothing may be sent.
    """
    unknown = [name for name in given if name not in _BY_NAME]
    if unknown:
        raise TypeError(f"add() got an unexpected keyword argument {unknown[0]!r}")
    values = {name: value for name, value in given.items() if value is not None}
    fields = {"service": _count("service", service)}
    if "link" not in values and "username" not in values:
        raise ValidationError("an order needs a link (or, for subscriptions, a username)")
    if ("runs" in values) != ("interval" in values):
        raise ValidationError("drip-feed needs both runs and interval")
    if "runs" in values and "quantity" not in values:
        raise ValidationError("drip-feed needs a quantity per run")
    if ("min_per_post" in values) != ("max_per_post" in values):
        raise ValidationError("subscriptions need both min_per_post and max_per_post")
    for spec in ADD_FIELDS:
        value = values.get(spec.name)
        if value is None or spec.kind == "extra":
            continue
        if spec.kind == "count":
            fields[spec.wire] = _count(spec.name, value, minimum=spec.field.minimum)
        else:
            fields[spec.wire] = _CHECKS[spec.kind](spec.name, value)
    if "min" in fields and int(fields["min"]) > int(fields["max"]):
        raise ValidationError(f"min_per_post {fields['min']} exceeds max_per_post {fields['max']}")
    _extra(fields, values.get("extra_fields"))
    return fields


def product_order_form(*, product: Any, quantity: Any, require: Any) -> dict[str, str]:
    """The form of an ``add_product_order`` call, every shape checked."""
    fields = {"product": _count("product", product), "quantity": _count("quantity", quantity)}
    if require is not None:
        fields["require"] = _text("require", require)
    return fields
