"""Client: AsyncClient's methods, blocking, over one AsyncClient on an event loop thread it owns.

Nothing is implemented twice: each method of :class:`Client` is made from the AsyncClient method
of the same name by :func:`_blocking`, which keeps its exact signature for type checkers, and runs
it on the client's event loop through an anyio blocking portal. Lookups from many threads so
reach one coalescer, as lookups from many tasks do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import sys
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, Self, TypeVar, Unpack, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ._client import AsyncClient
from ._errors import ClientClosedError, SmmError
from ._forms import AddFields
from ._lookups import ActionDialect
from ._models import Balance, OrderStatus, Product, ProductOrderStatus, RefillStatus, Service
from ._stats import Stats
from ._watch import FailedUpdate, Update, Watch

#: Names that only the annotations Client's methods take from AsyncClient's use (see _mirror).
_ANNOTATED = (AddFields, Balance, OrderStatus, Product, ProductOrderStatus, RefillStatus, Service, Unpack)

__all__ = ["Client", "SyncWatch"]

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def _running_loop() -> str | None:
    """The event loop running in the calling thread, if any (a blocking call there would stall it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return "trio"
    return None


def _blocking_doc(doc: str | None) -> str:
    """An AsyncClient docstring, its examples written for the blocking client."""
    text = doc or ""
    for asynchronous, blocking in (("async with ", "with "), ("async for ", "for "), ("await ", "")):
        text = text.replace(asynchronous, blocking)
    return text.replace("aclose()", "close()").replace("AsyncClient", "Client")


def _options_of(
    init: Callable[Concatenate[AsyncClient, P], None],
) -> Callable[[Callable[Concatenate[S, ...], None]], Callable[Concatenate[S, P], None]]:
    """Give a constructor AsyncClient's options, for type checkers and for ``help()``."""

    def give(constructor: Callable[Concatenate[S, ...], None]) -> Callable[Concatenate[S, P], None]:
        constructor.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
        return constructor

    return give


def _mirror(call: Callable[..., Any], method: Callable[..., Any], *, watch: bool = False) -> None:
    """Give ``call`` the name, docstring and annotations of ``method`` (for help() and the docs).

    The annotations stay text, read in this module (which imports their names) when asked for:
    resolved now, their generic aliases would be cached before the package renames its classes.
    """
    annotations = dict(method.__annotations__)
    if watch:
        annotations["return"] = annotations["return"].replace("Watch[", "SyncWatch[")
    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__doc__ = _blocking_doc(method.__doc__)
    call.__annotations__ = annotations
    signature = inspect.signature(method).replace(return_annotation=annotations["return"])
    call.__signature__ = signature  # type: ignore[attr-defined]


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[T]],
) -> Callable[Concatenate[Client, P], T]:
    """The blocking twin of an AsyncClient method: same name, signature and docstring."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._call(functools.partial(method, self._client, *args, **kwargs))

    _mirror(call, method)
    return call


def _blocking_watch(
    method: Callable[Concatenate[AsyncClient, P], Watch[T]],
) -> Callable[Concatenate[Client, P], SyncWatch[T]]:
    """The blocking twin of a watch method: a :class:`SyncWatch` over the :class:`Watch` it makes."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> SyncWatch[T]:
        # Made on the client's loop: a watch reads the loop's clock.
        return SyncWatch(self, self._call(functools.partial(method, self._client, *args, **kwargs)))

    _mirror(call, method, watch=True)
    return call


class _ClosedByWith:
    """``with`` gives the object itself, and closes it at the end."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


async def _next(watch: Watch[T]) -> Update[T] | FailedUpdate | None:
    """The watch's next update, or ``None`` at its end: StopAsyncIteration cannot cross the portal."""
    try:
        return await watch.__anext__()
    except StopAsyncIteration:
        return None


class SyncWatch(_ClosedByWith, Generic[T], Iterator["Update[T] | FailedUpdate"]):
    """A :class:`Watch` for :class:`Client`: a plain iterator and context manager.

    Example::

        with client.watch([123, 456], interval=30) as watch:
            watch.add([client.add(service=1, link=link, quantity=100)])
            for update in watch:
                print(update.id, update.error or update.value.status)
    """

    def __init__(self, client: Client, watch: Watch[T]) -> None:
        self._client = client  # keeps the client, and its loop, alive while the watch is
        self._watch = watch

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Update[T] | FailedUpdate:
        update = self._client._call(functools.partial(_next, self._watch))  # noqa: SLF001
        if update is None:
            raise StopIteration
        return update

    def add(self, ids: Iterable[int]) -> None:
        """Follow these orders too; safe from any thread, also while another waits in the loop.

        Example::

            watch.add([client.add(service=1, link=link, quantity=100)])
        """
        self._client._call(functools.partial(self._watch.add, list(ids)))  # noqa: SLF001

    def remove(self, ids: Iterable[int]) -> None:
        """Stop following these orders.

        Example::

            watch.remove([123])
        """
        self._client._call(functools.partial(self._watch.remove, list(ids)))  # noqa: SLF001

    @property
    def following(self) -> int:
        """How many orders are followed."""
        return self._watch.following

    def close(self) -> None:
        """End the watch; iterating further ends at once. A closed client's watches are ended.

        Example::

            watch.close()
        """
        with contextlib.suppress(ClientClosedError):
            self._client._call(self._watch.aclose)  # noqa: SLF001


class _LoopThread:
    """An event loop in a thread of its own, started on first use, and the portal into it."""

    def __init__(self, backend: str, backend_options: Mapping[str, Any] | None) -> None:
        self._backend = backend
        self._backend_options = dict(backend_options or {})
        self._lock = threading.Lock()
        self._started: contextlib.AbstractContextManager[BlockingPortal] | None = None
        self.portal: BlockingPortal | None = None
        self.thread: int | None = None  # the loop thread's ident
        self.closed = False

    def get(self) -> BlockingPortal:
        with self._lock:
            if self.closed:
                raise ClientClosedError("this client is closed")
            if self.portal is None:
                started = start_blocking_portal(self._backend, self._backend_options, name="smmapi.Client")
                portal = started.__enter__()
                self.thread = portal.call(threading.get_ident)
                self.portal, self._started = portal, started
            return self.portal

    def close(self, client: AsyncClient) -> None:
        """Close ``client`` on the loop, then stop the loop and wait for its thread; idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            portal, started = self.portal, self._started
        if portal is None or started is None:
            return
        try:
            portal.call(client.aclose)
        finally:
            # What still waits on the loop (a watch between rounds) is cancelled, then the thread ends.
            portal.call(portal.stop, True)
            started.__exit__(None, None, None)


class Client(_ClosedByWith):
    """A blocking client for one SMM panel: :class:`AsyncClient`'s methods, options and types.

    It runs one :class:`AsyncClient` on an event loop in a background thread it starts on
    first use, so calls from many threads are coalesced into bulk requests exactly as calls
    from many tasks are. It is safe to use from any thread, but not from a thread running an
    event loop (an ``async def`` view, a bot's handler): there it raises
    :class:`~smmapi.ClientClosedError` at once; await :class:`AsyncClient` instead.

    Close it with ``with`` or :meth:`close`: that closes its connections and ends its thread.
    One left open is closed at interpreter exit, and warns (``ResourceWarning``) if it is
    garbage-collected first.

    Example::

        with smmapi.Client("https://panel.example/api/v2", key) as client:
            order = client.add(service=1, link="https://example.com/p/1", quantity=1000)
            status = client.status(order)
            for update in client.watch([order], interval=30):
                print(update.id, update.error or update.value.status)
    """

    #: The event loop the client runs on (anyio's ``backend`` and ``backend_options``).
    _backend: ClassVar[str] = "asyncio"
    _backend_options: ClassVar[Mapping[str, Any] | None] = None

    @_options_of(AsyncClient.__init__)
    def __init__(self, *args: Any, **options: Any) -> None:
        self._client = AsyncClient(*args, **options)
        self._loop = _LoopThread(self._backend, self._backend_options)
        # Closes the client at interpreter exit (and after __del__ warned) without keeping it alive.
        self._finalizer = weakref.finalize(self, _close_quietly, self._loop, self._client)

    def __repr__(self) -> str:
        return repr(self._client).replace("AsyncClient", "Client")

    def close(self) -> None:
        """Close the client, its connections and its thread; calling it again does nothing.

        What :meth:`AsyncClient.aclose` does happens first: queued lookups are sent, requests
        in flight are awaited (bounded), later calls raise :class:`~smmapi.ClientClosedError`.

        Example::

            client = smmapi.Client(url, key)
            try:
                print(client.balance())
            finally:
                client.close()
        """
        self._finalizer.detach()
        self._loop.close(self._client)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.portal is not None and not loop.closed:
            _warn(f"unclosed {self!r}; use 'with' or 'close()'", ResourceWarning, source=self)

    @overload
    def _call(self, function: Callable[[], Awaitable[T]]) -> T: ...
    @overload
    def _call(self, function: Callable[[], T]) -> T: ...
    def _call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the client's loop and return what it gives; raise what it raises."""
        running = _running_loop()
        if running is not None:
            raise ClientClosedError(
                f"smmapi.Client blocks, and this thread runs an {running} event loop that it would"
                " stall: use smmapi.AsyncClient and await its methods here"
            )
        portal = self._loop.get()
        try:
            return portal.call(function)
        except (RuntimeError, concurrent.futures.CancelledError) as error:
            # The loop stopped under this call: close() ran in another thread.
            if self._loop.closed and not isinstance(error, SmmError):
                raise ClientClosedError("this client was closed") from error
            raise

    # Every method of AsyncClient, blocking: one line each, their signatures and docs kept.
    balance = _blocking(AsyncClient.balance)
    services = _blocking(AsyncClient.services)
    products = _blocking(AsyncClient.products)
    add = _blocking(AsyncClient.add)
    add_product_order = _blocking(AsyncClient.add_product_order)
    status = _blocking(AsyncClient.status)
    statuses = _blocking(AsyncClient.statuses)
    refill = _blocking(AsyncClient.refill)
    refills = _blocking(AsyncClient.refills)
    refill_status = _blocking(AsyncClient.refill_status)
    refill_statuses = _blocking(AsyncClient.refill_statuses)
    cancel = _blocking(AsyncClient.cancel)
    cancels = _blocking(AsyncClient.cancels)
    product_order_status = _blocking(AsyncClient.product_order_status)
    product_order_statuses = _blocking(AsyncClient.product_order_statuses)
    watch = _blocking_watch(AsyncClient.watch)
    watch_product_orders = _blocking_watch(AsyncClient.watch_product_orders)
    watch_refills = _blocking_watch(AsyncClient.watch_refills)

    def stats(self) -> Stats:
        """A frozen snapshot of what this client has done (see :meth:`AsyncClient.stats`).

        Example::

            print(client.stats())
        """
        return self._call(self._client.stats)

    @property
    def dialect(self) -> Mapping[str, ActionDialect]:
        """What this client has learnt of how its panel reads each action (see :attr:`AsyncClient.dialect`).

        Example::

            print(client.dialect["status"].bulk)
        """
        return self._call(lambda: self._client.dialect)


def _close_quietly(loop: _LoopThread, client: AsyncClient) -> None:
    """Close a client nobody closed: at interpreter exit, or once it is garbage-collected."""
    if threading.get_ident() == loop.thread:
        return  # collected on its own loop's thread, which cannot wait for itself; it is a daemon
    loop.close(client)
