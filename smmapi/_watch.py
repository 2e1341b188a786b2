"""Follow many orders until they are final, polling each only as often as it changes."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import anyio
import attrs

from ._errors import SmmError, UnknownIdError, WatchTimeoutError
from ._forms import unique_ids

__all__ = ["FailedUpdate", "Update", "Watch"]

T = TypeVar("T")


@attrs.frozen
class Update(Generic[T]):
    """One change seen by a watch: ``id`` is the order (or refill) that changed, ``value`` what it is now.

    A watch yields ``Update[T] | FailedUpdate``; both have ``id``, ``value``, ``error`` and
    ``final``, and ``error`` tells them apart: type checkers narrow on ``update.error is None``,
    so ``update.value`` is then the status, with no ``assert``.

    Example::

        async with client.watch(orders) as updates:
            async for update in updates:
                if update.error is None:
                    print(update.id, update.value.status)
    """

    id: int
    value: T
    #: Always ``None`` here; a :class:`FailedUpdate` has the error.
    error: None = None

    @property
    def final(self) -> bool:
        """Whether this order is no longer followed, its status being final."""
        return bool(getattr(getattr(self.value, "status", None), "is_final", False))


@attrs.frozen
class FailedUpdate:
    """What a watch could not see: ``error`` says why, and ``value`` is always ``None``.

    With an ``id``, it is that order's own error: an :class:`~smmapi.UnknownIdError` ends its
    watch (``final``), any other (the panel's answer for that order alone) leaves it followed
    and asked again later. With ``id=None``, a round's request failed as a whole (after the
    client's retries): the watch goes on and asks those orders again later.

    Example::

        async for update in client.watch(orders):
            if isinstance(update, smmapi.FailedUpdate) and update.id is not None:
                print(update.id, "is gone:", update.error)
    """

    id: int | None
    error: SmmError
    #: Always ``None`` here; an :class:`Update` has the value.
    value: None = None

    @property
    def final(self) -> bool:
        """Whether the watch stopped following this order, the panel no longer knowing it."""
        return self.id is not None and isinstance(self.error, UnknownIdError)


@attrs.define
class _Followed:
    """What a watch remembers of one order: what it last saw, and when to look again."""

    seen: Hashable = None
    interval: float = 0.0
    due: float = 0.0


class Watch(Generic[T], AsyncIterator["Update[T] | FailedUpdate"]):
    """An async iterator of :class:`Update` and :class:`FailedUpdate`; also an async context manager.

    Each round asks every order that is due through the client's coalescer, so N orders cost at
    most ceil(N / 100) requests a round. An order whose answer did not change is asked again
    after twice its last interval, up to ``max_interval``; a change brings it back to
    ``interval``. Orders can be added and removed while the watch runs.

    :meth:`~smmapi.AsyncClient.watch`, :meth:`~smmapi.AsyncClient.watch_product_orders` and
    :meth:`~smmapi.AsyncClient.watch_refills` make one.

    Example::

        async with client.watch([123, 456]) as watch:
            watch.add([await client.add(service=1, link=link, quantity=100)])
            async for update in watch:
                print(update.id, update.error or update.value.status)
    """

    def __init__(
        self,
        fetch: Callable[[list[int]], Awaitable[dict[int, T | SmmError]]],
        signature: Callable[[T], Hashable],
        ids: Iterable[int],
        *,
        interval: float,
        max_interval: float,
        until_done: bool,
        timeout: float | None = None,
    ) -> None:
        self._fetch = fetch
        self._timeout = timeout
        self._deadline = math.inf  # set when iterating starts: a watch may be made outside a loop
        self._signature = signature
        self._interval = interval
        self._max_interval = max(interval, max_interval)
        self._until_done = until_done
        self._followed: dict[int, _Followed] = {}
        self._due: list[tuple[float, int]] = []  # a heap of (due time, ID); stale rows are skipped
        self._ready: list[Update[T] | FailedUpdate] = []
        self._changed: anyio.Event | None = None  # set to wake a round waiting for its orders
        self._closed = False
        self.add(ids)

    def add(self, ids: Iterable[int]) -> None:
        """Follow these orders too, from the next round on.

        Example::

            watch.add([await client.add(service=1, link=link, quantity=100)])
        """
        now = _now_or_zero()
        for order in unique_ids(ids):
            if order not in self._followed:
                self._followed[order] = _Followed(interval=self._interval, due=now)
                heapq.heappush(self._due, (now, order))
        self._wake()

    def remove(self, ids: Iterable[int]) -> None:
        """Stop following these orders.

        Example::

            await client.cancel(123)
            watch.remove([123])
        """
        for order in unique_ids(ids):
            self._followed.pop(order, None)
        self._wake()

    @property
    def following(self) -> int:
        """How many orders are followed."""
        return len(self._followed)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the watch; iterating further ends at once."""
        self._closed = True
        self._followed.clear()
        self._due.clear()
        self._ready.clear()
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _ended(self) -> bool:
        return self._closed or (not self._followed and self._until_done)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Update[T] | FailedUpdate:
        if self._timeout is not None and self._deadline == math.inf:
            self._deadline = anyio.current_time() + self._timeout
        while not self._ready:
            if self._ended():
                raise StopAsyncIteration
            # A round cut off here has only read: its orders are not asked again, the watch ends.
            with anyio.move_on_at(self._deadline):
                await self._round()
            if not self._ready and anyio.current_time() >= self._deadline:
                self._time_out()
        return self._ready.pop(0)

    def _time_out(self) -> None:
        unfinished = tuple(self._followed)
        self._closed = True
        self._followed.clear()
        self._due.clear()
        if not unfinished:
            raise StopAsyncIteration
        shown = ", ".join(map(str, unfinished[:10])) + (", ..." if len(unfinished) > 10 else "")
        raise WatchTimeoutError(
            f"{len(unfinished)} not final after the watch's timeout of {self._timeout:g} seconds: {shown}",
            unfinished=unfinished,
        )

    async def _wait_until_due(self) -> list[int]:
        """Sleep until some orders are due; return them, or none if the watch ended meanwhile."""
        while not self._ended():
            while self._due and self._due[0][1] not in self._followed:
                heapq.heappop(self._due)
            now = anyio.current_time()
            if self._due and self._due[0][0] <= now:
                # Orders due a little later come along: rounds take time, and without this the
                # orders would drift into many small rounds instead of few full requests.
                horizon = now + self._interval / 2
                due = []
                while self._due and self._due[0][0] <= horizon:
                    _, order = heapq.heappop(self._due)
                    followed = self._followed.get(order)
                    if followed is not None and followed.due <= horizon and order not in due:
                        due.append(order)
                if due:
                    return due
                continue
            self._changed = anyio.Event()
            with anyio.move_on_after(self._due[0][0] - now if self._due else math.inf):
                await self._changed.wait()
            self._changed = None
        return []

    async def _round(self) -> None:
        due = await self._wait_until_due()
        if not due:
            return
        try:
            results = await self._fetch(due)
        except BaseException:
            # The consumer was cancelled or the key refused mid-round: the round's orders are
            # off the heap, so put them back, or a later round would never ask them again.
            self._requeue(due)
            raise
        now = anyio.current_time()
        # A request's failure is one error object shared by its IDs: yielded once, without an ID.
        shared = Counter(id(result) for result in results.values() if isinstance(result, SmmError))
        failures: dict[int, SmmError] = {}
        for order, result in results.items():
            followed = self._followed.get(order)
            if followed is None:  # removed while the round was in flight
                continue
            if isinstance(result, UnknownIdError):
                del self._followed[order]
                self._ready.append(FailedUpdate(order, result))
                continue
            if isinstance(result, SmmError):  # a failed request, a rate limit: try again later
                if shared[id(result)] > 1:
                    failures.setdefault(id(result), result)
                else:
                    self._ready.append(FailedUpdate(order, result))
                self._schedule(order, followed, now, changed=False)
                continue
            seen = self._signature(result)
            changed = seen != followed.seen
            followed.seen = seen
            update = Update(order, value=result)
            if changed:
                self._ready.append(update)
            if update.final:
                del self._followed[order]
            else:
                self._schedule(order, followed, now, changed=changed)
        self._ready.extend(FailedUpdate(None, error) for error in failures.values())

    def _requeue(self, orders: list[int]) -> None:
        """Make orders taken off the heap for a round that did not finish due again at once."""
        for order in orders:
            followed = self._followed.get(order)
            if followed is not None:
                heapq.heappush(self._due, (followed.due, order))

    def _schedule(self, order: int, followed: _Followed, now: float, *, changed: bool) -> None:
        followed.interval = next_interval(
            followed.interval, changed=changed, interval=self._interval, max_interval=self._max_interval
        )
        followed.due = now + followed.interval
        heapq.heappush(self._due, (followed.due, order))


def next_interval(previous: float, *, changed: bool, interval: float, max_interval: float) -> float:
    """Seconds until the next look at an order: ``interval`` after a change, else twice as long, capped.

    Watches and :class:`smmapi.tracking.Tracker` share this one rule.
    """
    return interval if changed else min(max(interval, max_interval), previous * 2 or 0)


def _now_or_zero() -> float:
    """The event loop's clock, or 0 before any loop runs (a watch may be made outside one)."""
    try:
        return anyio.current_time()
    except RuntimeError:
        return 0.0


def order_signature(status: Any) -> Hashable:
    """What counts as a change of an order: its status, remains or start count."""
    return (status.status, status.remains, status.start_count)


def product_order_signature(status: Any) -> Hashable:
    """What counts as a change of a product order: its status or result."""
    return (status.status, status.result)


def refill_signature(status: Any) -> Hashable:
    """What counts as a change of a refill: its status."""
    state: Hashable = status.status
    return state
