"""Check what callers pass before anything is sent, and turn it into form fields."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ._errors import ValidationError

__all__ = ["add_form", "positive_id", "product_order_form", "unique_ids"]

#: Fields the client sets itself or names: ``extra_fields`` may not carry them, so that no
#: check of ``add`` can be bypassed.
_RESERVED = frozenset(
    {
        "key", "action", "service", "link", "quantity", "runs", "interval", "comments", "usernames",
        "hashtags", "hashtag", "username", "media", "answer_number", "groups", "keywords", "min", "max",
        "posts", "old_posts", "delay", "expiry",
    }
)  # fmt: skip


def positive_id(value: Any, what: str = "ID") -> int:
    """A positive ``int`` ID; a ``bool`` or ``str`` is a :class:`TypeError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValidationError(f"{what} must be positive, got {value}")
    return value


def unique_ids(ids: Iterable[int]) -> list[int]:
    """The IDs of a bulk call in input order, duplicates collapsed, each checked."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise TypeError(f"IDs must be an iterable of int, not {type(ids).__name__}")
    return list(dict.fromkeys(positive_id(value) for value in ids))


def _count(name: str, value: Any, *, minimum: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValidationError(f"{name} must be at least {minimum}, got {value}")
    return str(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty text, not {value!r}")
    return value


def _lines(name: str, value: Any) -> str:
    """A list sent one item per line; a single text is sent as it is."""
    if isinstance(value, str):
        return _text(name, value)
    if not isinstance(value, Sequence) or not value:
        raise ValidationError(f"{name} must be a text or a non-empty list of texts, not {value!r}")
    for item in value:
        if "\n" in _text(name, item):
            raise ValidationError(f"an item of {name} may not contain a line break: {item!r}")
    return "\n".join(value)


def _expiry(value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return _text("expiry", value)


def _extra(fields: dict[str, str], extra_fields: Mapping[str, Any] | None) -> None:
    for name, value in (extra_fields or {}).items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"extra field names must be non-empty texts, not {name!r}")
        if name in _RESERVED or name in fields:
            raise ValidationError(f"extra field {name!r} would override a field the client sets")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValidationError(f"extra field {name!r} must be a text or a number, not {value!r}")
        fields[name] = str(value)


def add_form(
    *,
    service: Any,
    link: Any,
    quantity: Any,
    runs: Any,
    interval: Any,
    comments: Any,
    usernames: Any,
    hashtags: Any,
    hashtag: Any,
    username: Any,
    media: Any,
    answer_number: Any,
    groups: Any,
    keywords: Any,
    min_per_post: Any,
    max_per_post: Any,
    posts: Any,
    old_posts: Any,
    delay: Any,
    expiry: Any,
    extra_fields: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The form of an ``add`` call, every shape checked.

    Raises:
        ValidationError: a value has the wrong shape; nothing may be sent.
    """
    fields = {"service": _count("service", service)}
    if link is not None:
        fields["link"] = _text("link", link)
    elif username is None:
        raise ValidationError("an order needs a link (or, for subscriptions, a username)")
    if quantity is not None:
        fields["quantity"] = _count("quantity", quantity)
    if (runs is None) != (interval is None):
        raise ValidationError("drip-feed needs both runs and interval")
    if runs is not None:
        if quantity is None:
            raise ValidationError("drip-feed needs a quantity per run")
        fields["runs"] = _count("runs", runs)
        fields["interval"] = _count("interval", interval)
    if (min_per_post is None) != (max_per_post is None):
        raise ValidationError("subscriptions need both min_per_post and max_per_post")
    if min_per_post is not None:
        fields["min"] = _count("min_per_post", min_per_post)
        fields["max"] = _count("max_per_post", max_per_post)
        if min_per_post > max_per_post:
            raise ValidationError(f"min_per_post {min_per_post} exceeds max_per_post {max_per_post}")
    for name, value in (("comments", comments), ("usernames", usernames), ("hashtags", hashtags),
                        ("groups", groups), ("keywords", keywords)):  # fmt: skip
        if value is not None:
            fields[name] = _lines(name, value)
    for name, value in (("hashtag", hashtag), ("username", username), ("media", media)):
        if value is not None:
            fields[name] = _text(name, value)
    if answer_number is not None:
        fields["answer_number"] = _count("answer_number", answer_number)
    for name, value in (("posts", posts), ("old_posts", old_posts), ("delay", delay)):
        if value is not None:
            fields[name] = _count(name, value, minimum=0)
    if expiry is not None:
        fields["expiry"] = _expiry(expiry)
    _extra(fields, extra_fields)
    return fields


def product_order_form(*, product: Any, quantity: Any, require: Any) -> dict[str, str]:
    """The form of an ``add_product_order`` call, every shape checked."""
    fields = {"product": _count("product", product), "quantity": _count("quantity", quantity)}
    if require is not None:
        fields["require"] = _text("require", require)
    return fields
