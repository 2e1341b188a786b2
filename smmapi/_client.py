"""AsyncClient: one method per action of the SMM panel API v2."""

from __future__ import annotations

import enum
import warnings
from asyncio import _get_running_loop as _running_asyncio_loop
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, Unpack

import anyio
import anyio.lowlevel
import httpx

from . import _config
from ._cached import Cached
from ._convert import make_converter, read_catalogue, structure
from ._errors import ClientClosedError, SmmError, ValidationError
from ._forms import AddFields, add_form, fields_doc, positive_id, product_order_form, unique_ids
from ._lookups import (
    CANCEL,
    PRODUCT_ORDER_STATUS,
    REFILL,
    REFILL_STATUS,
    STATUS,
    ActionDialect,
    Lookups,
    Spec,
)
from ._models import Balance, OrderStatus, Product, ProductOrderStatus, RefillStatus, Service
from ._options import check_number, check_url, request_bound, request_headers, request_timeout
from ._probe import ActionProbe, probe
from ._secret import Secret
from ._stats import Stats
from ._telemetry import make_telemetry
from ._watch import Watch, order_signature, product_order_signature, refill_signature
from ._wire import Wire

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["AsyncClient"]

T = TypeVar("T")


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class AsyncClient:
    """An async client for one SMM panel that speaks API v2.

    Args:
        url: The panel's API endpoint, such as ``"https://panel.example/api/v2"``. Plain http
            is refused unless the host is loopback or ``allow_http=True``.
        key: Your API key. It is sent in the POST body only and never shown in a repr,
            an exception or a log line.
        timeout: Seconds each step of a request (waiting for a connection, connecting, sending,
            each read of the answer) may take, at most 10 of them to connect; or an
            :class:`httpx.Timeout` for finer control. With ``http_client=``, that client's own
            timeout applies instead.
        max_retries: Retries of a read after the first attempt; writes are never repeated once
            they may have reached the panel. ``0`` turns retries off.
        retry_backoff: Seconds of the first retry's backoff (doubled each time, with jitter);
            ``0`` retries at once, and ignores ``Retry-After``: for your tests.
        batch_window: Seconds the first single lookup waits for others to join its batch. The
            default, ``0``, adds no clock delay: a batch goes once it has been open for one turn
            of the event loop and a request slot is free, and keeps filling while it waits for
            one. A window of a few milliseconds makes fewer, fuller requests from callers that
            arrive a little apart, at that cost in latency.
        max_batch_size: The most IDs in one bulk request (1 to 100).
        max_concurrency: The most requests this client has in flight at once.
        rate_limit: The most requests per second, retries included, spaced evenly; ``None``
            (the default) sends as fast as ``max_concurrency`` allows.
        headers: Extra HTTP headers; a ``User-Agent`` here replaces smmapi's.
        catalogue_ttl: Seconds to keep :meth:`services` and :meth:`products` answers;
            ``None`` (the default) fetches them each time.
        allow_http: Allow plain http to a host that is not loopback.
        max_answer_bytes: The most bytes an answer may have, counted after decompression
            (32 MiB by default): a longer answer is an :class:`~smmapi.UnreadableAnswerError`
            (for a write, an :class:`~smmapi.OutcomeUnknownError`), read no further.
        trust_env: Let the environment choose how requests travel, as httpx does: the proxies
            in ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``, the certificates
            in ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, and credentials in ``~/.netrc`` (or
            ``NETRC``). Off by default: a proxy sees the key of plain-http requests, and a
            certificate file decides whom the key is sent to. With ``http_client=``, that
            client's own setting applies.
        bulk: Pins how the panel reads the actions asked by ID, instead of learning it:
            ``False`` sends one ID per request (``order=ID``), ``True`` always trusts the bulk
            form (``orders=1,2``); a mapping pins single actions, such as ``{"refill": False}``.
            See :attr:`dialect`.
        transport: An httpx async transport to send through (for example
            ``httpx.MockTransport`` or ``smmapi.testing.FakePanel().transport()``).
        http_client: An :class:`httpx.AsyncClient` to send through; you keep the duty to close it.
            Redirects are never followed, whatever it is configured to do.
        telemetry: OpenTelemetry spans and metrics (:doc:`/observability`): ``None`` (the
            default) emits them if ``opentelemetry-api`` is installed (``smmapi[otel]``), to
            the providers you configured; ``False`` never imports it; ``True`` requires it.
        tracer_provider: The OpenTelemetry ``TracerProvider`` to use instead of the global one.
        meter_provider: The OpenTelemetry ``MeterProvider`` to use instead of the global one.

    Example::

        async with smmapi.AsyncClient("https://panel.example/api/v2", key) as client:
            balance = await client.balance()
            order = await client.add(service=1, link="https://example.com/p/1", quantity=1000)
            status = await client.status(order)
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float | httpx.Timeout = _config.DEFAULT_TIMEOUT,
        max_retries: int = _config.DEFAULT_MAX_RETRIES,
        retry_backoff: float = _config.DEFAULT_RETRY_BASE_DELAY,
        batch_window: float = _config.DEFAULT_BATCH_WINDOW,
        max_batch_size: int = _config.MAX_BATCH_SIZE,
        max_concurrency: int = _config.DEFAULT_MAX_CONCURRENCY,
        rate_limit: float | None = None,
        headers: Mapping[str, str] | None = None,
        catalogue_ttl: float | None = None,
        allow_http: bool = False,
        max_answer_bytes: int = _config.DEFAULT_MAX_ANSWER_BYTES,
        trust_env: bool = False,
        bulk: bool | Mapping[str, bool] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        telemetry: bool | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("the API key must be a non-empty text")
        check_number("max_retries", max_retries, whole=True)
        check_number("retry_backoff", retry_backoff)
        check_number("batch_window", batch_window)
        check_number("max_batch_size", max_batch_size, allow_zero=False, whole=True)
        check_number("max_concurrency", max_concurrency, allow_zero=False, whole=True)
        check_number("max_answer_bytes", max_answer_bytes, allow_zero=False, whole=True)
        if max_batch_size > _config.MAX_BATCH_SIZE:
            raise ValidationError(
                f"max_batch_size may not exceed the API's {_config.MAX_BATCH_SIZE}, got {max_batch_size}"
            )
        if catalogue_ttl is not None:
            check_number("catalogue_ttl", catalogue_ttl)
        if rate_limit is not None:
            check_number("rate_limit", rate_limit, allow_zero=False)
        if transport is not None and http_client is not None:
            raise TypeError("pass transport= or http_client=, not both")
        self._url = check_url(url, allow_http=allow_http)
        emitter = make_telemetry(
            telemetry, url=url, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        timeout_config = request_timeout(timeout)
        self._owns_http = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                transport=transport,
                timeout=timeout_config,
                follow_redirects=False,
                trust_env=trust_env,
            )
        self._wire = Wire(
            url,
            Secret(key),
            http_client,
            headers=request_headers(headers),
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            max_concurrency=max_concurrency,
            attempt_bound=request_bound(http_client.timeout),
            rate_limit=rate_limit,
            max_answer_bytes=max_answer_bytes,
            telemetry=emitter,
        )
        self._converter = make_converter()
        self._loop_token: object | None = None
        #: The asyncio loop the client is bound to, if it is one: told without asking anyio.
        self._asyncio_loop: object | None = None
        self._services = Cached(self._fetch_services, catalogue_ttl)
        self._products = Cached(self._fetch_products, catalogue_ttl)
        self._lookups = Lookups(
            self._wire,
            self._converter,
            window=batch_window,
            max_batch_size=max_batch_size,
            write_bound=(
                request_bound(http_client.timeout) * (1 + max_retries) + _config.MAX_RETRY_DELAY * max_retries
            ),
            bulk=bulk,
        )
        self._close_grace = min(request_bound(http_client.timeout), _config.DEFAULT_TIMEOUT)
        self._state = _State.UNOPENED  # last: a client that failed to construct has nothing to close

    def __repr__(self) -> str:
        return f"<smmapi.AsyncClient url={self._url!r} state={self._state.name.lower()}>"

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the HTTP client it made; calling it again does nothing.

        Lookups still queued are sent at once, and requests in flight are awaited for up to one
        request's ``timeout``. Then nothing more is sent: a call that was never sent gets a
        :class:`~smmapi.ClientClosedError`, a write still in flight an
        :class:`~smmapi.OutcomeUnknownError` (its answer, if it still comes, is logged at
        WARNING). New calls raise ``ClientClosedError``. Called from another event loop than
        the client's, it closes the client all the same and raises ``ClientClosedError``.

        Example::

            client = smmapi.AsyncClient(url, key)
            try:
                await client.balance()
            finally:
                await client.aclose()
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._loop_token is not None and self._loop_token != anyio.lowlevel.current_token():
            # Nothing of its own loop may be touched from here: settle what waits, drop its
            # connections, and say so.
            self._wire.gate.closed = True
            self._lookups.fail_pending()
            self._wire.forget_key()
            if self._owns_http:
                self._wire.abandon()
            raise ClientClosedError(
                "aclose() was called from another event loop than the client's; it is closed"
                " now, but close each client in the event loop that used it"
            )
        self._lookups.close()
        try:
            with anyio.move_on_after(self._close_grace):
                await self._lookups.wait_idle()
                await self._wire.wait_idle()
        finally:
            self._wire.gate.close()  # nothing is sent from now on; whoever waits for a slot is let go
            self._lookups.fail_pending()
            self._wire.forget_key()
            if self._owns_http:
                with anyio.CancelScope(shield=True):
                    await self._wire.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Like httpx: a client that never sent anything holds no connection, so only a used one warns.
        if getattr(self, "_state", _State.CLOSED) is _State.OPENED:
            _warn(
                f"unclosed {self!r}; use 'async with' or 'await aclose()'",
                ResourceWarning,
                source=self,
            )

    def _enter(self) -> None:
        """Check the client may be used here, and bind it to the running event loop."""
        if self._state is _State.OPENED and self._asyncio_loop is _running_asyncio_loop() is not None:
            return  # its own asyncio loop, cheaply told: anyio's token costs more than a lookup
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client is closed")
        token = anyio.lowlevel.current_token()
        if self._loop_token is None:
            self._loop_token = token
            self._asyncio_loop = _running_asyncio_loop()
        elif self._loop_token != token:
            raise ClientClosedError(
                "this client belongs to another event loop; make one client per event loop"
            )
        self._state = _State.OPENED

    async def _post(self, action: str, fields: Mapping[str, str], **options: Any) -> Any:
        self._enter()
        return await self._wire.post(action, fields, **options)

    # -- catalogue and account -------------------------------------------------------------

    async def balance(self) -> Balance:
        """The account's balance.

        Example::

            balance = await client.balance()   # Balance(balance=Decimal("68.6868"), currency="USD")
        """
        balance: Balance = await self._post(
            "balance", {}, then=partial(structure, self._converter, cls=Balance)
        )
        return balance

    async def _fetch_services(self) -> list[Service]:
        services: list[Service] = await self._post(
            "services", {}, then=partial(read_catalogue, self._converter, cls=Service)
        )
        return services

    async def _fetch_products(self) -> list[Product]:
        products: list[Product] = await self._post(
            "products", {}, then=partial(read_catalogue, self._converter, cls=Product)
        )
        return products

    async def services(self, *, refresh: bool = False) -> list[Service]:
        """The panel's service catalogue.

        Concurrent calls share one request; with ``catalogue_ttl`` set, the answer is kept that
        long unless ``refresh=True``.

        Example::

            services = await client.services()
            views = [s for s in services if "views" in s.name.lower()]
        """
        self._enter()
        return list(await self._services.get(refresh=refresh))

    async def products(self, *, refresh: bool = False) -> list[Product]:
        """The panel's product catalogue (not every panel has one); cached like :meth:`services`.

        Example::

            products = await client.products()
        """
        self._enter()
        return list(await self._products.get(refresh=refresh))

    # -- orders ----------------------------------------------------------------------------

    async def add(self, *, service: int, **fields: Unpack[AddFields]) -> int:
        """Place an order and return its ID. A paid write: it is never sent twice.

                Every order type's fields are named keywords, so a typo is a ``TypeError`` and never a
                different order. Shapes are checked before anything is sent.

        Args:
                    service: The service ID from :meth:`services`.
                    fields: The order type's fields, each a keyword of :class:`AddFields`:
        {fields}

        Raises:
                    ValidationError: a value has the wrong shape; nothing was sent.
                    PanelError: the panel refused the order (``InsufficientFundsError`` and so on).
                    OutcomeUnknownError: the order may have been placed; reconcile before retrying.

                Example::

                    order = await client.add(service=1, link="https://example.com/p/1", quantity=1000)
                    drip = await client.add(service=1, link=link, quantity=100, runs=10, interval=30)
                    custom = await client.add(service=2, link=link, comments=["Nice!", "Great post"])
        """
        form = add_form(service, fields)
        self._enter()
        return await self._lookups.write_id("add", form)

    async def add_product_order(self, *, product: int, quantity: int, require: str | None = None) -> int:
        """Order a product and return the order's ID. A paid write: it is never sent twice.

        Args:
            product: The product ID from :meth:`products`.
            quantity: How many units.
            require: What the product needs from you (an account, an e-mail), if anything.

        Example::

            order = await client.add_product_order(product=1, quantity=1, require="me@example.com")
        """
        form = product_order_form(product=product, quantity=quantity, require=require)
        self._enter()
        return await self._lookups.write_id("add_product_order", form)

    # -- lookups by ID ---------------------------------------------------------------------

    def _get(self, spec: Spec, key: int) -> Awaitable[Any]:
        self._enter()
        return self._lookups.get(spec, key)

    async def _get_many(self, spec: Spec, ids: Iterable[int]) -> dict[int, Any]:
        wanted = unique_ids(ids)
        self._enter()
        if not wanted:
            return {}
        return await self._lookups.get_many(spec, wanted)

    async def _probe(
        self, *, order: int | None, refill: int | None, product_order: int | None
    ) -> list[ActionProbe]:
        """What forms the panel reads, asked with reads only (``smmapi probe``)."""
        self._enter()
        return await probe(self._wire, order=order, refill=refill, product_order=product_order)

    @property
    def dialect(self) -> Mapping[str, ActionDialect]:
        """What this client has learnt of how its panel reads each action asked by ID.

        A batch of one ID goes in the single form (``order=ID``), several in the bulk form
        (``orders=1,2``). Not every panel reads the bulk form, or 100 IDs in it: the client
        learns it from the answers to reads (re-asking those IDs one by one or in smaller
        batches; a write is never re-sent to learn), logs one INFO line when it learns
        something, and shows it here. Pin it with ``AsyncClient(bulk=...)``.

        Example::

            for action, known in client.dialect.items():
                print(action, known.bulk, known.batch_size)
        """
        return self._lookups.dialect

    async def status(self, order: int) -> OrderStatus:
        """Where one order stands. Concurrent calls are coalesced into bulk requests.

        Raises:
            UnknownIdError: the panel knows no such order.

        Example::

            status = await client.status(123)
            print(status.status, status.remains)   # Completed 0
        """
        result: OrderStatus = await self._get(STATUS, positive_id(order, "order"))
        return result

    async def statuses(self, orders: Iterable[int]) -> dict[int, OrderStatus | SmmError]:
        """Where many orders stand, in bulk requests of up to 100 IDs.

        The result is keyed by your IDs in input order; each value is the status or that ID's
        error. It raises only for bad input, a closed client, or an error about the whole
        account (:class:`AuthenticationError`, :class:`InsufficientFundsError`): see "Errors".

        Example::

            for order, status in (await client.statuses([123, 456])).items():
                if isinstance(status, smmapi.SmmError):
                    ...
        """
        return await self._get_many(STATUS, orders)

    async def refill(self, order: int) -> int:
        """Ask for a refill of an order and return the refill's ID. A write: never sent twice.

        Raises:
            PanelError: the panel refused (for example, the service has no refill).
            OutcomeUnknownError: the refill may have been requested; check before asking again.

        Example::

            refill = await client.refill(123)
        """
        refill: int = await self._get(REFILL, positive_id(order, "order"))
        return refill

    async def refills(self, orders: Iterable[int]) -> dict[int, int | SmmError]:
        """Ask for refills of many orders; each value is the refill ID or that order's error.

        Example::

            refills = await client.refills([123, 456])   # {123: 7, 456: UnknownIdError(...)}
        """
        return await self._get_many(REFILL, orders)

    async def refill_status(self, refill: int) -> RefillStatus:
        """Where one refill stands. Concurrent calls are coalesced into bulk requests.

        Example::

            status = await client.refill_status(7)
        """
        result: RefillStatus = await self._get(REFILL_STATUS, positive_id(refill, "refill"))
        return result

    async def refill_statuses(self, refills: Iterable[int]) -> dict[int, RefillStatus | SmmError]:
        """Where many refills stand; each value is the status or that refill's error.

        Example::

            statuses = await client.refill_statuses([7, 8])
        """
        return await self._get_many(REFILL_STATUS, refills)

    async def cancel(self, order: int) -> None:
        """Ask the panel to cancel an order. A write: never sent twice.

        Raises:
            PanelError: the panel refused.
            OutcomeUnknownError: the cancel may have been requested.

        Example::

            await client.cancel(123)
        """
        await self._get(CANCEL, positive_id(order, "order"))

    async def cancels(self, orders: Iterable[int]) -> dict[int, SmmError | None]:
        """Ask the panel to cancel many orders; each value is ``None`` (accepted) or the error.

        Example::

            refused = {o: e for o, e in (await client.cancels([123, 456])).items() if e}
        """
        return await self._get_many(CANCEL, orders)

    async def product_order_status(self, order: int) -> ProductOrderStatus:
        """Where one product order stands. Concurrent calls are coalesced into bulk requests.

        Example::

            status = await client.product_order_status(5)
        """
        result: ProductOrderStatus = await self._get(PRODUCT_ORDER_STATUS, positive_id(order, "order"))
        return result

    async def product_order_statuses(self, orders: Iterable[int]) -> dict[int, ProductOrderStatus | SmmError]:
        """Where many product orders stand; each value is the status or that order's error.

        Example::

            statuses = await client.product_order_statuses([5, 6])
        """
        return await self._get_many(PRODUCT_ORDER_STATUS, orders)

    @staticmethod
    def _watch(
        fetch: Callable[[list[int]], Awaitable[dict[int, Any]]],
        signature: Callable[[Any], Hashable],
        ids: Iterable[int],
        **options: Any,
    ) -> Watch[Any]:
        check_number("interval", options["interval"])
        check_number("max_interval", options["max_interval"])
        if options["timeout"] is not None:
            check_number("timeout", options["timeout"])
        return Watch(fetch, signature, ids, **options)

    def watch(
        self,
        orders: Iterable[int],
        *,
        interval: float = _config.DEFAULT_WATCH_INTERVAL,
        max_interval: float = _config.DEFAULT_WATCH_MAX_INTERVAL,
        until_done: bool = True,
        timeout: float | None = None,
    ) -> Watch[OrderStatus]:
        """Follow orders until they are final, yielding an :class:`Update` each time one changes.

        A change is a new ``status``, ``remains`` or ``start_count``; the first sighting counts.
        Each round is a coalesced :meth:`statuses` call for the orders due, so N orders cost at
        most ceil(N / 100) requests a round. An order that did not change is asked again after
        twice its last interval, up to ``max_interval`` seconds; a change brings it back to
        ``interval``. An unknown order yields an error update and is dropped; a round that failed
        as a whole yields one update with ``id=None`` and the watch goes on, except that a
        refused key raises :class:`AuthenticationError`: no later round can succeed. It ends when
        nothing is left to follow, unless ``until_done=False`` (then it waits for
        :meth:`Watch.add`). With ``timeout``, it gives up that many seconds after iterating
        starts: what is still followed then is raised as a :class:`WatchTimeoutError` listing
        their IDs (``unfinished``).

        Example::

            async with client.watch(orders, interval=30) as updates:
                async for update in updates:
                    if update.error is None and update.final:
                        print(update.id, "ended", update.value.status)
        """
        return self._watch(
            self.statuses,
            order_signature,
            orders,
            interval=interval,
            max_interval=max_interval,
            until_done=until_done,
            timeout=timeout,
        )

    def watch_product_orders(
        self,
        orders: Iterable[int],
        *,
        interval: float = _config.DEFAULT_WATCH_INTERVAL,
        max_interval: float = _config.DEFAULT_WATCH_MAX_INTERVAL,
        until_done: bool = True,
        timeout: float | None = None,
    ) -> Watch[ProductOrderStatus]:
        """Follow product orders until they are final, like :meth:`watch`.

        A change is a new ``status`` or ``result``.

        Example::

            async for update in client.watch_product_orders([70001]):
                ...
        """
        return self._watch(
            self.product_order_statuses,
            product_order_signature,
            orders,
            interval=interval,
            max_interval=max_interval,
            until_done=until_done,
            timeout=timeout,
        )

    def watch_refills(
        self,
        refills: Iterable[int],
        *,
        interval: float = _config.DEFAULT_WATCH_INTERVAL,
        max_interval: float = _config.DEFAULT_WATCH_MAX_INTERVAL,
        until_done: bool = True,
        timeout: float | None = None,
    ) -> Watch[RefillStatus]:
        """Follow refills until they are final, like :meth:`watch`; a change is a new ``status``.

        Example::

            async for update in client.watch_refills([await client.refill(order)]):
                ...
        """
        return self._watch(
            self.refill_statuses,
            refill_signature,
            refills,
            interval=interval,
            max_interval=max_interval,
            until_done=until_done,
            timeout=timeout,
        )

    def stats(self) -> Stats:
        """A frozen snapshot of what this client has done.

        Example::

            stats = client.stats()
            print(stats.lookups, stats.requests, stats.ids_per_request)
        """
        batchers = self._lookups.batchers.values()
        return Stats(
            lookups=sum(batcher.lookups for batcher in batchers),
            ids_sent=sum(batcher.keys_sent for batcher in batchers),
            requests=sum(self._wire.requests.values()),
            requests_by_action=self._wire.requests,
            bulk_requests=sum(batcher.batches_sent for batcher in batchers),
            item_errors=self._lookups.counts["item_errors"],
            request_failures=self._lookups.counts["request_failures"],
            retries=self._wire.retries,
        )


# add()'s fields are listed once, in AddFields; its docstring names them from there.
AsyncClient.add.__doc__ = (AsyncClient.add.__doc__ or "").replace("{fields}", fields_doc(indent=16))
