"""How the fake panel reads requests: the dialects of real panel software.

Modelled on the exchanges recorded off SmartPanel and a BoostedSMM-family script (the
repository's tests/data/panel-dialects.json): which forms a panel reads, which actions it has,
and the texts it answers with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final

import attrs

__all__ = ["BULK_FIELDS", "MAX_IDS", "Dialect", "Refusal"]

#: The most IDs one bulk request may carry unless a dialect says fewer; more is the panel's error.
MAX_IDS: Final = 100

#: The bulk field of each action asked by ID; the single form is ``order=`` (``refill=``).
BULK_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "status": "orders",
        "product_order_status": "orders",
        "refill": "orders",
        "cancel": "orders",
        "refill_status": "refills",
    }
)

_NOT_FOUND: Final = {"error": "Order not found.", "status": "104"}


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


def _read_only(answers: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(answers))


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive int, not {value!r}")


@attrs.frozen
class Dialect:
    """How a :class:`~smmapi.testing.FakePanel` reads requests, as real panel software does.

    The default is the textbook API v2: both forms of every action. Two presets answer as those
    programs were recorded answering: ``Dialect.SMARTPANEL`` reads both forms of ``status``, has
    no refill, refill_status, cancel or products ("This action is Invalid") and its own bad-key
    text; ``Dialect.BOOSTEDSMM`` (the "SMM Panel Script" family) reads ``order=``/``refill=``
    only, answers the bulk fields with a top-level "Order not found." (``{"refill": "0"}`` for
    refills), has no cancel or products (``null``) and says "API key invalid".

    Attributes:
        bulk: Whether the bulk fields (``orders=1,2``, ``refills=``) are read. ``False``
            answers them with :attr:`unread_bulk` for the action, whatever the IDs.
        bulk_limit: The most IDs one bulk request may carry; more is refused as a whole
            ("Too many IDs: at most N per request").
        whole_list: Whether one unknown ID in a bulk lookup refuses the whole request
            (``{"error": "Incorrect order ID"}``) instead of being that ID's error.
        missing: Actions the panel does not have: each is answered :attr:`no_action`.
        no_action: The answer to an action the panel does not have (JSON; ``None`` is ``null``).
        bad_key: The answer to a wrong key.
        unread_bulk: The answer to the bulk form of each action, when ``bulk`` is ``False``.

    Example::

        panel = FakePanel(dialect=Dialect.BOOSTEDSMM)   # reads order= only
        panel = FakePanel(dialect=Dialect(bulk_limit=50, whole_list=True))
    """

    bulk: bool = True
    bulk_limit: int = attrs.field(default=MAX_IDS, validator=_positive)
    whole_list: bool = False
    missing: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    no_action: Any = attrs.Factory(lambda: {"error": "Invalid action"})
    bad_key: Any = attrs.Factory(lambda: {"error": "Invalid API key"})
    unread_bulk: Mapping[str, Any] = attrs.field(
        default=MappingProxyType(
            {
                "status": _NOT_FOUND,
                "product_order_status": _NOT_FOUND,
                "refill": {"refill": "0"},
                "cancel": _NOT_FOUND,
                "refill_status": {"error": "Refill not found"},
            }
        ),
        converter=_read_only,
    )

    SMARTPANEL: ClassVar[Dialect]
    BOOSTEDSMM: ClassVar[Dialect]

    def refusal(self, action: str, fields: Mapping[str, str], known: Collection[int]) -> Refusal | None:
        """The answer that refuses this request as a whole before the panel's rules run, or ``None``.

        ``known`` holds the IDs the panel knows for the action (``whole_list`` reads it).
        """
        if action in self.missing:
            return Refusal(self.no_action)
        bulk = BULK_FIELDS.get(action)
        if bulk is None or bulk not in fields:
            return None
        if not self.bulk:
            return Refusal(self.unread_bulk.get(action, _NOT_FOUND))
        tokens = list(dict.fromkeys(token.strip() for token in fields[bulk].split(",") if token.strip()))
        if len(tokens) > self.bulk_limit:
            return Refusal({"error": f"Too many IDs: at most {self.bulk_limit} per request"})
        if self.whole_list and not all(_known(token, known) for token in tokens):
            return Refusal({"error": "Incorrect order ID"})
        return None


@attrs.frozen
class Refusal:
    """A dialect's answer (which may itself be ``None``, JSON's ``null``)."""

    body: Any


def _known(token: str, known: Collection[int]) -> bool:
    return token.isascii() and token.isdigit() and int(token) in known


_NO_SUCH_ACTION_SMARTPANEL: Final = {"error": "This action is Invalid"}
Dialect.SMARTPANEL = Dialect(
    missing=frozenset(
        {"refill", "refill_status", "cancel", "products", "add_product_order", "product_order_status"}
    ),
    no_action=_NO_SUCH_ACTION_SMARTPANEL,
    bad_key={"error": "API is Disable for this user or User Not Found! Contact the Support"},
)
Dialect.BOOSTEDSMM = Dialect(
    bulk=False,
    missing={"cancel", "products", "add_product_order", "product_order_status"},
    no_action=None,
    bad_key={"error": "API key invalid", "status": "102"},
)
