"""Frozen value objects for what panels answer, and the status enums.

Money is :class:`~decimal.Decimal`, counts are ``int``, missing optional fields are ``None``,
missing flags are ``False``. Fields a model does not name are kept in ``extra``, a read-only
mapping that takes no part in equality.
"""

import enum
import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Self

import attrs

__all__ = [
    "Balance",
    "OrderState",
    "OrderStatus",
    "Product",
    "ProductOrderStatus",
    "RefillState",
    "RefillStatus",
    "Service",
]

_FOLD = re.compile(r"[\s_\-]+")


@functools.lru_cache(maxsize=256)
def _fold(text: str) -> str:
    """A status spelling without case, spaces, ``_`` or ``-``; cached, as panels use a handful."""
    return _FOLD.sub("", text.lower())


_NOTHING_EXTRA: Mapping[str, Any] = MappingProxyType({})


def read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``value`` (the same empty one for every empty mapping)."""
    return MappingProxyType(dict(value)) if value else _NOTHING_EXTRA


def mapping_repr(value: Mapping[str, Any]) -> str:
    """A read-only mapping shown as the dict it copies, not as ``mappingproxy({...})``."""
    return repr(dict(value))


def _extra() -> Any:
    return attrs.field(factory=dict, converter=read_only, eq=False, kw_only=True, repr=mapping_repr)


class _State(enum.StrEnum):
    """A status that compares equal to its canonical spelling and knows whether it is final."""

    @classmethod
    def parse(cls, text: str) -> Self:
        """The state a panel's spelling stands for; an unknown spelling is ``UNKNOWN``.

        Case, spaces, ``_`` and ``-`` are ignored, and common aliases are understood::

            >>> OrderState.parse("in_progress")
            <OrderState.IN_PROGRESS: 'In progress'>
        """
        state: Self | None = cls._spellings().get(_fold(text))
        return cls("Unknown") if state is None else state

    @classmethod
    def _spellings(cls) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def is_final(self) -> bool:
        """Whether the panel will change this state no more."""
        raise NotImplementedError


class OrderState(_State):
    """The state of an order or a product order.

    Example::

        status = await client.status(123)
        if status.status == "Completed":   # or: status.status is smmapi.OrderState.COMPLETED
            ...
    """

    PENDING = "Pending"
    PROCESSING = "Processing"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"
    REFUNDED = "Refunded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @classmethod
    def _spellings(cls) -> dict[str, Any]:
        return _ORDER_SPELLINGS

    @property
    def is_final(self) -> bool:
        """Whether the order will change no more (Completed, Partial, Canceled, Refunded, Failed)."""
        return self in _FINAL_ORDER_STATES


class RefillState(_State):
    """The state of a refill.

    Example::

        refill = await client.refill_status(7)
        if refill.status.is_final:
            ...
    """

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    CANCELED = "Canceled"
    UNKNOWN = "Unknown"

    @classmethod
    def _spellings(cls) -> dict[str, Any]:
        return _REFILL_SPELLINGS

    @property
    def is_final(self) -> bool:
        """Whether the refill will change no more (Completed, Rejected, Canceled)."""
        return self in _FINAL_REFILL_STATES


_CANCELED_ALIASES = {
    "cancelled": "Canceled",
    "ordercancelled": "Canceled",
    "ordercanceled": "Canceled",
}
_ORDER_SPELLINGS: dict[str, OrderState] = {
    _fold(state.value): state for state in OrderState if state is not OrderState.UNKNOWN
} | {
    alias: OrderState(value)
    for alias, value in {
        **_CANCELED_ALIASES,
        "complete": "Completed",
        "fail": "Failed",
        "error": "Failed",
        "refund": "Refunded",
    }.items()
}
_REFILL_SPELLINGS: dict[str, RefillState] = {
    _fold(state.value): state for state in RefillState if state is not RefillState.UNKNOWN
} | {
    alias: RefillState(value)
    for alias, value in {
        **_CANCELED_ALIASES,
        "complete": "Completed",
        "processing": "In progress",
    }.items()
}
_FINAL_ORDER_STATES = frozenset(
    {
        OrderState.COMPLETED,
        OrderState.PARTIAL,
        OrderState.CANCELED,
        OrderState.REFUNDED,
        OrderState.FAILED,
    }
)
_FINAL_REFILL_STATES = frozenset({RefillState.COMPLETED, RefillState.REJECTED, RefillState.CANCELED})


@attrs.frozen
class Balance:
    """The account's balance: ``Balance(balance=Decimal("68.6868"), currency="USD")``.

    Example::

        balance = await client.balance()
        if balance.balance < Decimal("10"):
            ...
    """

    balance: Decimal
    currency: str | None = None
    extra: Mapping[str, Any] = _extra()


@attrs.frozen
class Service:
    """One entry of the panel's service catalogue.

    ``rate`` is the price per 1,000. ``refill``, ``cancel`` and ``dripfeed`` say what the service
    allows (``False`` when the panel does not say).

    Example::

        services = await client.services()
        cheapest = min((s for s in services if s.category == "Instagram"), key=lambda s: s.rate)
    """

    id: int
    name: str
    rate: Decimal
    min: int
    max: int
    type: str | None = None
    category: str | None = None
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    extra: Mapping[str, Any] = _extra()


@attrs.frozen
class Product:
    """One entry of the panel's product catalogue (accounts, subscriptions, keys).

    ``rate`` is the price per unit.

    Example::

        products = await client.products()
        in_stock = [p for p in products if p.inventory]
    """

    id: int
    name: str
    rate: Decimal
    min: int
    max: int
    require: str | None = None
    category: str | None = None
    status: str | None = None
    inventory: int | None = None
    type: str | None = None
    extra: Mapping[str, Any] = _extra()


@attrs.frozen
class OrderStatus:
    """Where an order stands.

    ``order`` is the ID that was asked; ``status_text`` is the panel's own spelling of ``status``.
    ``remains`` may be negative (over-delivery) and is ``None`` when the panel does not know.

    Example::

        status = await client.status(123)
        print(status.status, status.remains, status.charge)
    """

    order: int
    status: OrderState
    status_text: str
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    extra: Mapping[str, Any] = _extra()


@attrs.frozen
class RefillStatus:
    """Where a refill stands; ``refill`` is the refill ID that was asked.

    Example::

        refill = await client.refill_status(7)
        print(refill.status)
    """

    refill: int
    status: RefillState
    status_text: str
    extra: Mapping[str, Any] = _extra()


@attrs.frozen
class ProductOrderStatus:
    """Where a product order stands; ``result`` is what was delivered, once completed.

    Example::

        status = await client.product_order_status(5)
        if status.status == "Completed":
            deliver(status.result)
    """

    order: int
    status: OrderState
    status_text: str
    charge: Decimal | None = None
    result: str | None = None
    note: str | None = None
    refund: Decimal | None = None
    extra: Mapping[str, Any] = _extra()
