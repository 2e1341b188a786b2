"""FakePanel: the fake panel as a plain ASGI app, with its traffic log and misbehaviour."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, MutableMapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl

import anyio
import attrs
import httpx

from ._catalogue import DEFAULT_PRODUCTS, DEFAULT_SERVICES, FakeProduct, FakeService
from ._dialects import Dialect
from ._faults import Fault, FaultPlan, FaultRule, Reply, reply_for
from ._json import NUMBER_STYLES, NumberStyle, render
from ._panel import FakeOrder, FakeProductOrder, FakeRefill, Outcomes, PanelState

__all__ = ["DEFAULT_KEY", "DEFAULT_URL", "FakePanel", "PanelRequest"]

#: An https URL on a reserved name: nothing can ever answer it but the fake's transport.
DEFAULT_URL: Final = "https://fake-panel.invalid/api/v2"
#: The fake panel's API key unless told otherwise; obviously not a real one.
DEFAULT_KEY: Final = "fake-panel-key-for-tests-only"
#: What a recorded request shows instead of the key.
_MASK: Final = "***"
_FORM: Final = "application/x-www-form-urlencoded"

_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


@attrs.frozen
class PanelRequest:
    """One request the fake panel received, as it arrived (the key masked as ``"***"``).

    ``ids`` is how many IDs it asked about (``orders=1,2,3`` is 3, ``order=1`` is 1); ``time`` is
    the panel's clock then; ``fault`` the misbehaviour it got, if any.

    Example::

        [request] = panel.requests_for("balance")
        assert request.fields["key"] == "***" and request.fault is None
    """

    method: str
    path: str
    action: str | None
    fields: Mapping[str, str]
    ids: int
    time: float
    fault: Fault | None


def _count_ids(fields: Mapping[str, str]) -> int:
    for bulk in ("orders", "refills"):
        if bulk in fields:
            return len([token for token in fields[bulk].split(",") if token.strip()])
    return 1 if fields.get("order", fields.get("refill", "")).strip() else 0


class _Transport(httpx.ASGITransport):
    """An ASGITransport that honours the client's read timeout, as a network would."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        with anyio.move_on_after(timeout):
            return await super().handle_async_request(request)
        raise httpx.ReadTimeout("the fake panel did not answer in time", request=request)


class FakePanel:
    """A stateful fake SMM panel (API v2) to test your own code against, served as an ASGI app.

    It keeps an account like a real panel: a catalogue, a balance charged exactly, orders that
    move Pending → In progress → Completed (some Partial or Canceled, refunded) over a clock
    :meth:`advance` moves (and, with ``speed``, real time too), refills, cancels and product
    orders with stock. It answers in
    the real shapes, records every request (:attr:`requests`) and misbehaves when told
    (:meth:`misbehave`). It shares no code with the smmapi client.

    Args:
        services: The catalogue (default :data:`DEFAULT_SERVICES`).
        products: The products (default :data:`DEFAULT_PRODUCTS`).
        balance: The account's money at the start.
        key: The API key it accepts; any other is ``"Invalid API key"``.
        currency: The currency its answers name.
        seed: Seeds the outcomes of orders and refills, and faults given with a probability:
            the same seed and the same requests give the same answers.
        outcomes: How likely orders end Partial or Canceled, and refills Rejected.
        number_style: How answers write numbers (see :attr:`number_style`).
        url: The URL to point a client at; any path is answered.
        speed: Let the panel's clock follow real time, this many times as fast, so orders
            progress while a bot runs against it with nothing driving the clock (``speed=60``:
            a minute a second). ``None`` (the default): only :meth:`advance` moves it.
        timer: The real time ``speed`` follows, in seconds (``time.monotonic``); give your
            own to test without waiting.
        dialect: Which forms and actions it reads and the texts it answers with, as real
            panel software does (see :class:`Dialect`); the textbook API v2 by default.

    Example::

        panel = FakePanel(balance=Decimal("10"))
        async with smmapi.AsyncClient(panel.url, panel.key, transport=panel.transport()) as client:
            order = await client.add(service=101, link="https://instagram.com/p/1", quantity=1000)
            panel.advance(3600)
            assert (await client.status(order)).status.is_final
    """

    def __init__(
        self,
        *,
        services: Iterable[FakeService] = DEFAULT_SERVICES,
        products: Iterable[FakeProduct] = DEFAULT_PRODUCTS,
        balance: Decimal | str | int = Decimal("100"),
        key: str = DEFAULT_KEY,
        currency: str = "USD",
        seed: int = 0,
        outcomes: Outcomes | None = None,
        number_style: NumberStyle = "canonical",
        url: str = DEFAULT_URL,
        speed: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        dialect: Dialect | None = None,
    ) -> None:
        if isinstance(balance, float | bool):
            raise TypeError("balance must be a Decimal, str or int: a float is not exact")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._state = PanelState(
            services=services,
            products=products,
            balance=Decimal(balance),
            key=key,
            currency=currency,
            seed=seed,
            outcomes=Outcomes() if outcomes is None else outcomes,
            dialect=Dialect() if dialect is None else dialect,
        )
        self._faults = FaultPlan(seed)
        self._requests: list[PanelRequest] = []
        self.number_style = number_style
        self.url = url
        self._speed = speed
        self._timer = timer
        self._started = timer()
        self._followed = 0.0  # panel seconds real time has moved the clock so far

    def __repr__(self) -> str:
        return (
            f"<smmapi.testing.FakePanel url={self.url!r} time={self.now:g}s requests={len(self._requests)}>"
        )

    # -- the account -----------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The API key the panel accepts."""
        return self._state.key

    @property
    def currency(self) -> str:
        """The currency the panel's answers name."""
        return self._state.currency

    @property
    def balance(self) -> Decimal:
        """The account's balance now; set it to test "Not enough funds on balance"."""
        self._catch_up()
        return self._state.balance

    @balance.setter
    def balance(self, value: Decimal | str | int) -> None:
        if isinstance(value, float | bool):
            raise TypeError("balance must be a Decimal, str or int: a float is not exact")
        self._state.balance = Decimal(value)

    @property
    def number_style(self) -> NumberStyle:
        """How answers write numbers, for the whole panel; change it any time.

        ``"canonical"`` writes each field as the reference documentation prints it (a status's
        charge, start count and remains as strings, IDs as numbers, a product's rate as a
        number), ``"strings"`` quotes every number, ``"numbers"`` none.
        """
        return self._number_style

    @number_style.setter
    def number_style(self, value: NumberStyle) -> None:
        if value not in NUMBER_STYLES:
            raise ValueError(f"number_style must be one of {NUMBER_STYLES}, not {value!r}")
        self._number_style: NumberStyle = value

    @property
    def services(self) -> tuple[FakeService, ...]:
        """The catalogue."""
        return tuple(self._state.services.values())

    @property
    def products(self) -> tuple[FakeProduct, ...]:
        """The products (their ``inventory`` as given; see :attr:`stock` for what is left)."""
        return tuple(self._state.products.values())

    @property
    def stock(self) -> Mapping[int, int | None]:
        """Units left of each product, by product ID (``None``: never runs out)."""
        self._catch_up()
        return MappingProxyType(dict(self._state.stock))

    @property
    def orders(self) -> Mapping[int, FakeOrder]:
        """Every order placed, by ID, as the panel sees it now (a snapshot).

        Example::

            assert [o.status for o in panel.orders.values()] == ["Completed"]
        """
        self._catch_up()
        return self._state.orders()

    @property
    def refills(self) -> Mapping[int, FakeRefill]:
        """Every refill requested, by refill ID (a snapshot)."""
        self._catch_up()
        return self._state.refills()

    @property
    def product_orders(self) -> Mapping[int, FakeProductOrder]:
        """Every product order placed, by ID (a snapshot)."""
        self._catch_up()
        return self._state.product_orders()

    # -- the clock -------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The panel's clock in seconds; it starts at 0 and moves by :meth:`advance` (and ``speed``)."""
        self._catch_up()
        return self._state.now

    def _catch_up(self) -> None:
        """With ``speed``, move the clock on by the real time passed since last asked, sped up."""
        if self._speed is None:
            return
        followed = (self._timer() - self._started) * self._speed
        if followed > self._followed:  # a timer that steps back never moves the clock back
            self._state.advance(followed - self._followed)
            self._followed = followed

    def advance(self, seconds: float) -> None:
        """Move the panel's clock on by ``seconds``: orders progress, end and get refunds.

        No real time passes; with ``speed``, this adds to what real time moves. An order starts
        within a minute and is delivered within ten more (a drip-feed adds its runs times the
        interval); a refill takes as long.

        Example::

            panel.advance(60)    # most orders are In progress now
            panel.advance(600)   # and have ended
        """
        self._catch_up()
        self._state.advance(seconds)

    def settle(self) -> float:
        """Advance the clock until every order, product order and refill has ended.

        Returns:
            The seconds the clock moved.

        Example::

            panel.settle()
            assert all(o.status in ("Completed", "Partial", "Canceled") for o in panel.orders.values())
        """
        self._catch_up()
        return self._state.settle()

    # -- misbehaviour ----------------------------------------------------------------------

    def misbehave(
        self,
        fault: Fault,
        *,
        action: str | Collection[str] | None = None,
        times: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Apply ``fault`` to requests of ``action`` (any, if ``None``).

        ``times`` limits it to that many requests (the next ``times`` that match, if
        ``probability`` is ``None``); ``probability`` applies it to each matching request with
        those odds, drawn from a generator seeded by ``seed``. Rules are checked in the order
        given and a request gets at most one fault. Faults for bulk answers (missing or extra
        IDs, a lone refill) only match requests in the bulk form.

        Returns:
            The rule, to :meth:`FaultRule.cancel` or to read ``applied`` from.

        Example::

            panel.misbehave(Fault.status(503), action="status", times=2)
            panel.misbehave(Fault.latency(0.05), probability=0.2)
            panel.misbehave(Fault.status(502, when="after"), action="add", times=1)
        """
        return self._faults.add(fault, action=action, times=times, probability=probability)

    def clear_faults(self) -> None:
        """Cancel every :meth:`misbehave` rule: the panel behaves from now on."""
        self._faults.clear()

    # -- traffic ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[PanelRequest]:
        """Every request received so far, oldest first (a copy).

        Example::

            assert [r.action for r in panel.requests] == ["services", "add", "status"]
        """
        return list(self._requests)

    def requests_for(self, action: str) -> list[PanelRequest]:
        """The requests of one action, oldest first.

        Example::

            assert sorted(r.ids for r in panel.requests_for("status")) == [50, 100, 100]
        """
        return [request for request in self._requests if request.action == action]

    # -- serving ---------------------------------------------------------------------------

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that serves this panel in process, for ``AsyncClient(transport=...)``.

        It honours the client's read timeout (an in-process transport would otherwise wait
        forever), so :meth:`Fault.latency` can make a client time out.

        Example::

            client = smmapi.AsyncClient(panel.url, panel.key, transport=panel.transport())
        """
        return _Transport(app=self)

    async def __call__(self, scope: _Message, receive: _Receive, send: _Send) -> None:
        """Serve one ASGI connection: HTTP POST on any path, and the lifespan protocol."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the server closes the connection
        self._catch_up()
        body = await self._read_body(receive)
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        # As PHP panels do: only a form body fills the fields; a JSON body has no key.
        is_form = headers.get("content-type", "").split(";")[0].strip().lower() == _FORM
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) if is_form else {}
        method = scope["method"]
        action = fields.get("action")
        fault = self._faults.pick(action, fields) if method == "POST" else None
        masked = {name: _MASK if name == "key" else value for name, value in fields.items()}
        self._requests.append(
            PanelRequest(
                method=method,
                path=scope["path"],
                action=action,
                fields=MappingProxyType(masked),
                ids=_count_ids(fields),
                time=self.now,
                fault=fault,
            )
        )
        if method != "POST":
            await self._send(send, Reply(405, b'{"error": "Method not allowed"}'))
            return
        if fault is not None and fault.when == "before":
            if fault.kind != "latency":
                await self._send(send, reply_for(fault, None, fields, self.number_style))
                return
            await anyio.sleep(fault.seconds)
        answer = self._state.handle(fields)
        reply = Reply(answer.status, render(answer.body, self.number_style))
        if fault is not None and fault.when == "after":
            if fault.kind == "latency":
                await anyio.sleep(fault.seconds)
            else:
                reply = reply_for(fault, answer, fields, self.number_style)
        await self._send(send, reply)

    @staticmethod
    async def _read_body(receive: _Receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _send(send: _Send, reply: Reply) -> None:
        if reply.abort == "refused":
            raise httpx.ConnectError("the fake panel refused the connection")
        if reply.abort == "reset" and not reply.body:  # before the panel answered: nothing to start
            raise httpx.ReadError("the fake panel reset the connection")
        headers = [(name.encode(), value.encode()) for name, value in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.abort == "reset":
            await send(
                {"type": "http.response.body", "body": reply.body[: len(reply.body) // 2], "more_body": True}
            )
            raise httpx.ReadError("the fake panel reset the connection")
        await send({"type": "http.response.body", "body": reply.body})

    @staticmethod
    async def _lifespan(receive: _Receive, send: _Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
