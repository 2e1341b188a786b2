"""The fake panel's state and rules: accounts, orders, refills and product orders over a test clock.

Nothing here speaks HTTP: :meth:`PanelState.handle` takes a form and returns an :class:`Answer`.
"""

from __future__ import annotations

import datetime
import decimal
import random
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

import attrs

from ._catalogue import ORDER_TYPES, FakeProduct, FakeService
from ._dialects import Dialect
from ._json import Num

__all__ = [
    "Answer",
    "FakeOrder",
    "FakeProductOrder",
    "FakeRefill",
    "Outcomes",
    "PanelState",
]

_FIRST_ORDER_ID: Final = 10_001
_FIRST_REFILL_ID: Final = 501
_FIRST_PRODUCT_ORDER_ID: Final = 70_001
#: Minutes a Subscriptions order may wait after a post, as panels list them.
_DELAYS: Final = frozenset({0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360,
                            420, 480, 540, 600})  # fmt: skip
#: Subscriptions without ``posts`` are charged for this many posts up front.
_DEFAULT_POSTS: Final = 1

# Prices must stay exact: an amount that would need rounding is a bug in the fake, not a result.
_EXACT = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])


class _Refusal(Exception):  # noqa: N818  (a control-flow signal, not an error of ours)
    """The panel refuses the request with this text."""


@attrs.frozen
class Answer:
    """What the panel answers: a JSON value (numbers as :class:`Num`) and an HTTP status."""

    body: Any
    status: int = 200


def _error(text: str) -> dict[str, str]:
    return {"error": text}


def _odds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, float | int) or not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be odds between 0 and 1, not {value!r}")


@attrs.frozen
class Outcomes:
    """How likely orders and refills end badly; draws come from the panel's seeded generator.

    ``partial`` and ``canceled`` are the odds that an order ends Partial (part delivered, the
    rest refunded) or Canceled (nothing delivered, all refunded); ``refill_rejected`` the odds
    that a refill ends Rejected. ``Outcomes(0, 0, 0)`` makes every order and refill complete.

    Example::

        panel = FakePanel(outcomes=Outcomes(partial=0, canceled=0, refill_rejected=0))
    """

    partial: float = attrs.field(default=0.1, validator=_odds)
    canceled: float = attrs.field(default=0.05, validator=_odds)
    refill_rejected: float = attrs.field(default=0.1, validator=_odds)

    def __attrs_post_init__(self) -> None:
        if self.partial + self.canceled > 1:
            raise ValueError(f"partial + canceled must be at most 1, got {self.partial + self.canceled}")


@attrs.frozen
class FakeOrder:
    """A snapshot of one order on the fake panel, as the panel itself sees it.

    ``charge`` is what the order costs now (refunds taken off); ``fields`` is the ``add`` form
    without the key. ``remains`` falls while the order is In progress.

    Example::

        order = panel.orders[order_id]
        assert order.status == "Completed" and order.remains == 0
    """

    id: int
    service: int
    status: str
    charge: Decimal
    quantity: int
    start_count: int
    remains: int
    placed_at: float
    fields: Mapping[str, str]


@attrs.frozen
class FakeRefill:
    """A snapshot of one refill on the fake panel.

    Example::

        assert panel.refills[refill_id].status in ("Pending", "In progress", "Completed", "Rejected")
    """

    id: int
    order: int
    status: str
    requested_at: float


@attrs.frozen
class FakeProductOrder:
    """A snapshot of one product order on the fake panel.

    ``result`` is the delivered credentials, one per line (``None`` until delivered); ``refund``
    what came back for units that were out of stock.

    Example::

        assert panel.product_orders[order_id].result is not None
    """

    id: int
    product: int
    quantity: int
    status: str
    charge: Decimal
    refund: Decimal
    result: str | None
    note: str | None
    require: str | None
    placed_at: float


@attrs.define
class _Order:
    id: int
    service: FakeService
    fields: Mapping[str, str]
    quantity: int
    unit_price: Decimal
    placed_at: float
    starts_at: float
    ends_at: float
    #: The status the order will end with, and how many units it will have delivered then.
    outcome: str
    delivers: int
    start_count: int
    final: str | None = None
    refund: Decimal = Decimal(0)

    @property
    def cost(self) -> Decimal:
        return _EXACT.multiply(self.unit_price, self.quantity)

    def status(self, now: float) -> str:
        if self.final is not None:
            return self.final
        return "Pending" if now < self.starts_at else "In progress"

    def delivered(self, now: float) -> int:
        if self.final is not None:
            return self.delivers
        if now < self.starts_at:
            return 0
        share = (now - self.starts_at) / (self.ends_at - self.starts_at)
        return min(self.delivers, int(self.delivers * share))

    def remains(self, now: float) -> int:
        return self.quantity - self.delivered(now)

    def finish(self, status: str, delivered: int) -> Decimal:
        """End the order; the refund for what was not delivered."""
        self.final, self.delivers = status, delivered
        self.refund = _EXACT.multiply(self.unit_price, self.quantity - delivered)
        return self.refund

    def charge(self) -> Decimal:
        """What the order costs now, refunds taken off."""
        return _EXACT.subtract(self.cost, self.refund)

    def counted_from(self, status: str) -> int:
        """The start count shown in ``status``: none before delivery starts (nor ever, if canceled then)."""
        return 0 if status in ("Pending", "Canceled") else self.start_count

    def snapshot(self, now: float) -> FakeOrder:
        status = self.status(now)
        return FakeOrder(
            id=self.id,
            service=self.service.id,
            status=status,
            charge=self.charge(),
            quantity=self.quantity,
            start_count=self.counted_from(status),
            remains=self.remains(now),
            placed_at=self.placed_at,
            fields=self.fields,
        )


@attrs.define
class _Refill:
    id: int
    order: int
    requested_at: float
    starts_at: float
    ends_at: float
    outcome: str

    def status(self, now: float) -> str:
        if now >= self.ends_at:
            return self.outcome
        return "Pending" if now < self.starts_at else "In progress"


@attrs.define
class _ProductOrder:
    id: int
    product: FakeProduct
    quantity: int
    reserved: int
    require: str | None
    placed_at: float
    starts_at: float
    ends_at: float
    credentials: tuple[str, ...]
    final: bool = False

    @property
    def cost(self) -> Decimal:
        return _EXACT.multiply(self.product.rate, self.quantity)

    @property
    def refund(self) -> Decimal:
        if not self.final:
            return Decimal(0)
        return _EXACT.multiply(self.product.rate, self.quantity - self.reserved)

    def status(self, now: float) -> str:
        if self.final:
            if self.reserved == self.quantity:
                return "Completed"
            return "Partial" if self.reserved else "Canceled"
        return "Pending" if now < self.starts_at else "In progress"

    def note(self) -> str | None:
        if not self.final or self.reserved == self.quantity:
            return None
        return f"Only {self.reserved} in stock" if self.reserved else "Out of stock"

    def snapshot(self, now: float) -> FakeProductOrder:
        delivered = self.final and self.reserved > 0
        return FakeProductOrder(
            id=self.id,
            product=self.product.id,
            quantity=self.quantity,
            status=self.status(now),
            charge=_EXACT.subtract(self.cost, self.refund),
            refund=self.refund,
            result="\n".join(self.credentials) if delivered else None,
            note=self.note(),
            require=self.require,
            placed_at=self.placed_at,
        )


def _whole(text: str | None) -> int | None:
    """A form value as a whole number, or ``None`` if it is not one (as PHP's ctype_digit)."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _money(value: Decimal) -> Num:
    """Money as panels print it: at least four decimals ("68.6868", "0.9000")."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -4:
        value = value.quantize(Decimal("0.0001"))
    return Num(value, quoted=True)


class PanelState:
    """One account on a fake SMM panel: catalogue, balance, orders, refills, and the test clock.

    Every rule lives here; :class:`~smmapi.testing.FakePanel` wraps it in HTTP. Time moves only
    by :meth:`advance`; random outcomes come from ``random.Random(seed)``, drawn when an order is
    placed, so the same seed and the same requests give the same outcomes.
    """

    def __init__(
        self,
        *,
        services: Iterable[FakeService],
        products: Iterable[FakeProduct],
        balance: Decimal,
        key: str,
        currency: str,
        seed: int,
        outcomes: Outcomes,
        dialect: Dialect,
    ) -> None:
        self.services = {service.id: service for service in services}
        self.products = {product.id: product for product in products}
        self.stock = {p.id: p.inventory for p in self.products.values()}
        self.balance = balance
        self.key = key
        self.currency = currency
        self.outcomes = outcomes
        self.dialect = dialect
        self.now = 0.0
        self._random = random.Random(seed)  # noqa: S311  (a fake's outcomes, not secrets)
        self._orders: dict[int, _Order] = {}
        self._refills: dict[int, _Refill] = {}
        self._product_orders: dict[int, _ProductOrder] = {}
        # What has yet to end, keyed apart since orders and product orders number separately.
        self._pending: dict[tuple[str, int], _Order | _ProductOrder] = {}
        self._next_order = _FIRST_ORDER_ID
        self._next_refill = _FIRST_REFILL_ID
        self._next_product_order = _FIRST_PRODUCT_ORDER_ID
        self._actions: Mapping[str, Callable[[Mapping[str, str]], Any]] = {
            "services": self._services,
            "products": self._products,
            "balance": self._balance,
            "add": self._add,
            "status": self._status,
            "refill": self._refill,
            "refill_status": self._refill_status,
            "cancel": self._cancel,
            "add_product_order": self._add_product_order,
            "product_order_status": self._product_order_status,
        }

    # -- the clock -------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock on; orders that end by then are finished and their refunds credited."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, not by {seconds}")
        self.now += seconds
        for key, item in list(self._pending.items()):
            if item.ends_at <= self.now:
                del self._pending[key]
                self._finish(item)

    def settle(self) -> float:
        """Advance until every order and refill has ended; the seconds that took."""
        ends = [item.ends_at for item in (*self._pending.values(), *self._refills.values())]
        seconds = max([end - self.now for end in ends if end > self.now], default=0.0)
        self.advance(seconds)
        return seconds

    def _finish(self, item: _Order | _ProductOrder) -> None:
        if isinstance(item, _ProductOrder):
            item.final = True
            self.balance = _EXACT.add(self.balance, item.refund)
        else:
            self.balance = _EXACT.add(self.balance, item.finish(item.outcome, item.delivers))

    # -- snapshots -------------------------------------------------------------------------

    def orders(self) -> Mapping[int, FakeOrder]:
        return MappingProxyType({i: order.snapshot(self.now) for i, order in self._orders.items()})

    def refills(self) -> Mapping[int, FakeRefill]:
        return MappingProxyType(
            {
                i: FakeRefill(id=i, order=r.order, status=r.status(self.now), requested_at=r.requested_at)
                for i, r in self._refills.items()
            }
        )

    def product_orders(self) -> Mapping[int, FakeProductOrder]:
        return MappingProxyType({i: o.snapshot(self.now) for i, o in self._product_orders.items()})

    # -- requests --------------------------------------------------------------------------

    def handle(self, fields: Mapping[str, str]) -> Answer:
        """The panel's answer to one request's form (``key``, ``action`` and the action's fields)."""
        if fields.get("key") != self.key:
            return Answer(self.dialect.bad_key)
        name = fields.get("action", "")
        action = self._actions.get(name)
        if action is None:
            return Answer(self.dialect.no_action)
        refusal = self.dialect.refusal(name, fields, self._known(name))
        if refusal is not None:
            return Answer(refusal.body)
        try:
            return Answer(action(fields))
        except _Refusal as refusal:
            return Answer(_error(str(refusal)))

    def _known(self, action: str) -> Collection[int]:
        """The IDs an action asked by ID can name."""
        if action == "refill_status":
            return self._refills.keys()
        if action == "product_order_status":
            return self._product_orders.keys()
        return self._orders.keys()

    def _services(self, _: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "service": Num(s.id, quoted=False),
                "name": s.name,
                "type": s.type,
                "category": s.category,
                "rate": Num(s.rate, quoted=True),
                "min": Num(s.min, quoted=True),
                "max": Num(s.max, quoted=True),
                "refill": s.refill,
                "cancel": s.cancel,
                "dripfeed": s.dripfeed,
            }
            for s in self.services.values()
        ]

    def _products(self, _: Mapping[str, str]) -> list[dict[str, Any]]:
        answer = []
        for p in self.products.values():
            item: dict[str, Any] = {
                "product": Num(p.id, quoted=False),
                "name": p.name,
                "rate": Num(p.rate, quoted=False),
                "min": Num(p.min, quoted=False),
                "max": Num(p.max, quoted=False),
                "category": p.category,
            }
            if p.require is not None:
                item["require"] = p.require
            stock = self.stock[p.id]
            item["status"] = "Out of stock" if stock == 0 else "In stock"
            if stock is not None:
                item["inventory"] = Num(stock, quoted=False)
            item["type"] = p.type
            answer.append(item)
        return answer

    def _balance(self, _: Mapping[str, str]) -> dict[str, Any]:
        return {"balance": _money(self.balance), "currency": self.currency}

    def _charge(self, cost: Decimal) -> None:
        if cost > self.balance:
            raise _Refusal("Not enough funds on balance")
        self.balance = _EXACT.subtract(self.balance, cost)

    # -- add -------------------------------------------------------------------------------

    @staticmethod
    def _required(fields: Mapping[str, str], name: str) -> str:
        value = fields.get(name, "")
        if not value.strip():
            raise _Refusal(f"The {name} field is required")
        return value

    @classmethod
    def _count(cls, fields: Mapping[str, str], name: str) -> int:
        value = _whole(cls._required(fields, name))
        if value is None or value < 1:
            raise _Refusal(f"Incorrect {name}")
        return value

    @staticmethod
    def _within(quantity: int, low: int, high: int) -> None:
        if quantity < low:
            raise _Refusal(f"Quantity less than minimal {low}")
        if quantity > high:
            raise _Refusal(f"Quantity more than maximal {high}")

    def _add(self, fields: Mapping[str, str]) -> dict[str, Any]:
        service = self.services.get(_whole(fields.get("service")) or 0)
        if service is None:
            raise _Refusal("Incorrect service ID")
        for name in ORDER_TYPES[service.type]:
            self._required(fields, name)
        runs = 1
        interval = 0
        if service.type == "Subscriptions":
            quantity, unit_price = self._subscription(service, fields)
        elif service.type in ("Package", "Custom Comments Package"):
            quantity, unit_price = 1, service.rate
        else:
            if service.type == "Custom Comments":
                quantity = len(_lines(fields["comments"]))
            elif service.type == "Mentions Custom List":
                quantity = len(_lines(fields["usernames"]))
            else:
                quantity = self._count(fields, "quantity")
            self._within(quantity, service.min, service.max)
            if "runs" in fields or "interval" in fields:
                if not service.dripfeed:
                    raise _Refusal("Drip-feed is disabled for this service")
                runs, interval = self._count(fields, "runs"), self._count(fields, "interval")
            quantity *= runs
            unit_price = _EXACT.divide(service.rate, 1000)
        if service.type == "Poll":
            self._count(fields, "answer_number")
        self._charge(_EXACT.multiply(unit_price, quantity))
        order = self._place(service, fields, quantity, unit_price, drip_seconds=(runs - 1) * interval * 60)
        return {"order": Num(order.id, quoted=False)}

    def _subscription(self, service: FakeService, fields: Mapping[str, str]) -> tuple[int, Decimal]:
        low, high = self._count(fields, "min"), self._count(fields, "max")
        self._within(low, service.min, service.max)
        self._within(high, service.min, service.max)
        if low > high:
            raise _Refusal("Min quantity is more than max quantity")
        delay = _whole(fields.get("delay"))
        if delay not in _DELAYS:
            raise _Refusal("Incorrect delay")
        posts = _DEFAULT_POSTS
        if fields.get("posts", "").strip():
            posts = self._count(fields, "posts")
        if fields.get("old_posts", "").strip() and _whole(fields["old_posts"]) is None:
            raise _Refusal("Incorrect old_posts")
        if fields.get("expiry", "").strip():
            try:
                datetime.datetime.strptime(fields["expiry"].strip(), "%d/%m/%Y")  # noqa: DTZ007
            except ValueError:
                raise _Refusal("Incorrect expiry") from None
        return high * posts, _EXACT.divide(service.rate, 1000)

    def _place(
        self,
        service: FakeService,
        fields: Mapping[str, str],
        quantity: int,
        unit_price: Decimal,
        *,
        drip_seconds: float,
    ) -> _Order:
        # Draw every number whatever the outcome, so one order's outcome never shifts the next's.
        rng = self._random
        start_delay, work = rng.uniform(5, 60), rng.uniform(60, 600)
        roll, share, start_count = rng.random(), rng.uniform(0.3, 0.95), rng.randint(0, 5000)
        starts_at = self.now + start_delay
        outcome, delivers = "Completed", quantity
        if roll < self.outcomes.canceled:
            outcome, delivers = "Canceled", 0
        elif roll < self.outcomes.canceled + self.outcomes.partial and quantity > 1:
            outcome, delivers = "Partial", max(1, min(quantity - 1, int(quantity * share)))
        ends_at = starts_at if outcome == "Canceled" else starts_at + drip_seconds + work
        order = _Order(
            id=self._next_order,
            service=service,
            fields=MappingProxyType({k: v for k, v in fields.items() if k not in ("key", "action")}),
            quantity=quantity,
            unit_price=unit_price,
            placed_at=self.now,
            starts_at=starts_at,
            ends_at=ends_at,
            outcome=outcome,
            delivers=delivers,
            start_count=start_count,
        )
        self._next_order += 1
        self._orders[order.id] = self._pending["order", order.id] = order
        return order

    # -- lookups and bulk forms ------------------------------------------------------------

    @staticmethod
    def _ids(fields: Mapping[str, str], single: str, bulk: str) -> tuple[list[str], bool]:
        """The IDs asked (as sent, duplicates dropped), and whether the bulk form was used."""
        if bulk in fields:
            ids = list(dict.fromkeys(t.strip() for t in fields[bulk].split(",") if t.strip()))
            if not ids:
                raise _Refusal("Incorrect request")
            return ids, True
        if single in fields and fields[single].strip():
            return [fields[single].strip()], False
        raise _Refusal("Incorrect request")

    @staticmethod
    def _echo(token: str) -> Num | str:
        """An asked ID as the answer repeats it: a number if it is one."""
        number = _whole(token)
        return token if number is None else Num(number, quoted=False)

    def _status_item(self, token: str) -> dict[str, Any]:
        order = self._orders.get(_whole(token) or 0)
        if order is None:
            return _error("Incorrect order ID")
        now = self.now
        status = order.status(now)
        return {
            "charge": _money(order.charge()),
            "start_count": Num(order.counted_from(status), quoted=True),
            "status": status,
            "remains": Num(order.remains(now), quoted=True),
            "currency": self.currency,
        }

    def _status(self, fields: Mapping[str, str]) -> Any:
        ids, bulk = self._ids(fields, "order", "orders")
        if bulk:
            return {token: self._status_item(token) for token in ids}
        return self._status_item(ids[0])

    def _product_status_item(self, token: str) -> dict[str, Any]:
        order = self._product_orders.get(_whole(token) or 0)
        if order is None:
            return _error("Incorrect order ID")
        snap = order.snapshot(self.now)
        item: dict[str, Any] = {"charge": Num(snap.charge, quoted=False), "status": snap.status}
        if snap.result is not None:
            item["result"] = snap.result
        if snap.note is not None:
            item["note"] = snap.note
        if snap.refund:
            item["refund"] = Num(snap.refund, quoted=False)
        return item

    def _product_order_status(self, fields: Mapping[str, str]) -> Any:
        ids, bulk = self._ids(fields, "order", "orders")
        if bulk:
            return {token: self._product_status_item(token) for token in ids}
        return self._product_status_item(ids[0])

    def _refill_one(self, token: str) -> int:
        """Request a refill of one order; its ID, or a refusal."""
        order = self._orders.get(_whole(token) or 0)
        if order is None:
            raise _Refusal("Incorrect order ID")
        if not order.service.refill:
            raise _Refusal("Refill is disabled for this service")
        if order.status(self.now) not in ("Completed", "Partial"):
            raise _Refusal("The order is not completed")
        if any(r.order == order.id and r.status(self.now) in ("Pending", "In progress")
               for r in self._refills.values()):  # fmt: skip
            raise _Refusal("The refill task is not completed for this order")
        rng = self._random
        start_delay, work, roll = rng.uniform(5, 60), rng.uniform(60, 600), rng.random()
        refill = _Refill(
            id=self._next_refill,
            order=order.id,
            requested_at=self.now,
            starts_at=self.now + start_delay,
            ends_at=self.now + start_delay + work,
            outcome="Rejected" if roll < self.outcomes.refill_rejected else "Completed",
        )
        self._next_refill += 1
        self._refills[refill.id] = refill
        return refill.id

    def _refill(self, fields: Mapping[str, str]) -> Any:
        ids, bulk = self._ids(fields, "order", "orders")
        if not bulk:
            return {"refill": Num(self._refill_one(ids[0]), quoted=True)}
        answer = []
        for token in ids:
            try:
                value: Any = Num(self._refill_one(token), quoted=False)
            except _Refusal as refusal:
                value = _error(str(refusal))
            answer.append({"order": self._echo(token), "refill": value})
        return answer

    def _refill_status_item(self, token: str) -> Any:
        refill = self._refills.get(_whole(token) or 0)
        return _error("Incorrect refill ID") if refill is None else refill.status(self.now)

    def _refill_status(self, fields: Mapping[str, str]) -> Any:
        ids, bulk = self._ids(fields, "refill", "refills")
        if not bulk:
            status = self._refill_status_item(ids[0])
            return status if isinstance(status, dict) else {"status": status}
        return [{"refill": self._echo(token), "status": self._refill_status_item(token)} for token in ids]

    def _cancel_one(self, token: str) -> None:
        order = self._orders.get(_whole(token) or 0)
        if order is None:
            raise _Refusal("Incorrect order ID")
        if not order.service.cancel:
            raise _Refusal("Cancel is disabled for this service")
        status = order.status(self.now)
        if status not in ("Pending", "In progress"):
            raise _Refusal("The order cannot be canceled")
        del self._pending["order", order.id]
        if status == "Pending":
            refund = order.finish("Canceled", 0)
        else:
            refund = order.finish("Partial", order.delivered(self.now))
        self.balance = _EXACT.add(self.balance, refund)

    def _cancel(self, fields: Mapping[str, str]) -> Any:
        if "orders" not in fields:
            raise _Refusal("Incorrect request")
        ids, _ = self._ids(fields, "order", "orders")
        answer = []
        for token in ids:
            try:
                self._cancel_one(token)
                value: Any = Num(1, quoted=False)
            except _Refusal as refusal:
                value = _error(str(refusal))
            answer.append({"order": self._echo(token), "cancel": value})
        return answer

    # -- products --------------------------------------------------------------------------

    def _add_product_order(self, fields: Mapping[str, str]) -> dict[str, Any]:
        product = self.products.get(_whole(fields.get("product")) or 0)
        if product is None:
            raise _Refusal("Incorrect product ID")
        quantity = self._count(fields, "quantity")
        self._within(quantity, product.min, product.max)
        require = fields.get("require")
        if product.require is not None:
            require = self._required(fields, "require")
        self._charge(_EXACT.multiply(product.rate, quantity))
        stock = self.stock[product.id]
        reserved = quantity if stock is None else min(stock, quantity)
        if stock is not None:
            self.stock[product.id] = stock - reserved
        rng = self._random
        start_delay, work = rng.uniform(5, 60), rng.uniform(60, 600)
        if product.type == "Auto":  # delivered by a script at once; others by hand, over a while
            work = 0.0
        slug = "".join(ch for ch in product.category.lower() if ch.isalnum()) or "item"
        credentials = tuple(
            f"{slug}:{uuid.UUID(int=rng.getrandbits(128), version=4)}" for _ in range(reserved)
        )
        order = _ProductOrder(
            id=self._next_product_order,
            product=product,
            quantity=quantity,
            reserved=reserved,
            require=require,
            placed_at=self.now,
            starts_at=self.now + start_delay,
            ends_at=self.now + start_delay + work,
            credentials=credentials,
        )
        self._next_product_order += 1
        self._product_orders[order.id] = order
        self._pending["product", order.id] = order
        return {"order": Num(order.id, quoted=False)}
