"""Tracker: the journal of writes, and the task that follows placed orders to their end."""

from __future__ import annotations

import collections
import datetime
import enum
import functools
import json
import math
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self, TypeVar, Unpack

import anyio
import anyio.abc
import anyio.to_thread

import smmapi
from smmapi import _config
from smmapi._forms import ID_BOUND, MOST_ID_DIGITS
from smmapi._watch import next_interval, order_signature, refill_signature

from ._models import (
    Action,
    Change,
    TrackedOrder,
    change,
    error_to_json,
    row_status,
    status_to_json,
    tracked,
)
from ._postgres import PostgresStore
from ._sqlite import SQLiteStore
from ._store import PAGE_SIZE, Row, Store

__all__ = ["Tracker", "open_store"]

T = TypeVar("T")

#: The most orders one round takes: ten full bulk requests.
ROUND_SIZE: Final = 10 * _config.MAX_BATCH_SIZE
#: Seconds between two looks at a shared store for what other workers did (new orders, changes).
SHARED_POLL: Final = 1.0


def open_store(db: str | os.PathLike[str]) -> Store:
    """The store a ``db`` names: a ``postgresql://`` DSN, else a SQLite path (or ``":memory:"``)."""
    text = os.fspath(db)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresStore(text)
    return SQLiteStore(text)


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


def _plain(value: Any) -> Any:
    """How a keyword's value is journaled: as the JSON of what it means."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"cannot journal a value of type {type(value).__name__}")


def _asked(fields: Mapping[str, Any]) -> str:
    """What a write asks, as JSON text that compares equal when the write is the same."""
    return json.dumps(
        {name: value for name, value in fields.items() if value is not None}, default=_plain, sort_keys=True
    )


class Tracker:
    """A journal of your writes and a worker that tracks the orders they placed, durably.

    Every :meth:`add` (and :meth:`refill`, :meth:`cancel`) is stored under your own ``ref``
    before it is sent and its answer after: a ref is placed at most once, ever, across crashes
    and processes. While the tracker is open, a task of its own polls every placed order that
    is not final through the client's coalescer (one bulk request per 100 due orders, backing
    off like :meth:`~smmapi.AsyncClient.watch`) and stores each change, which
    :meth:`changes` reads back with a cursor.

    Args:
        client: The :class:`~smmapi.AsyncClient` to send through; you keep the duty to close it.
        store: A SQLite file's path (``":memory:"`` for tests) or a ``postgresql://`` DSN, whose
            database many trackers may share (the ``smmapi[postgres]`` extra).
        interval: Seconds between two polls of an order that changed ...
        max_interval: ... doubling while it does not, up to this.
        lease: Seconds this tracker holds the orders it polls in a round; a worker that died
            loses them after this long, and others take them over.
        track: ``False`` journals writes without polling (for example in a web process, with
            ``smmapi track`` polling elsewhere).

    Example::

        async with smmapi.AsyncClient(url, key) as client, Tracker(client, "orders.db") as tracker:
            placed = await tracker.add(ref="chat42:msg7", service=1, link=link, quantity=1000)
            async for change in tracker.changes(after=0):
                print(change.ref, change.status.status)
    """

    def __init__(
        self,
        client: smmapi.AsyncClient,
        store: str | os.PathLike[str],
        *,
        interval: float = _config.DEFAULT_WATCH_INTERVAL,
        max_interval: float = _config.DEFAULT_WATCH_MAX_INTERVAL,
        lease: float = _config.DEFAULT_TRACKING_LEASE,
        track: bool = True,
    ) -> None:
        for name, value in (("interval", interval), ("max_interval", max_interval), ("lease", lease)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise smmapi.ValidationError(f"{name} must be a number of seconds, at least 0, not {value!r}")
        self._client = client
        self._store = open_store(store)
        self._interval = float(interval)
        self._max_interval = max(float(interval), float(max_interval))
        self._lease = float(lease)
        self._track = track
        self._owner = secrets.randbits(62) + 1  # this tracker's name in the store, never 0
        self._limiter = anyio.CapacityLimiter(1)  # one store call at a time: one connection
        self._group: anyio.abc.TaskGroup | None = None
        self._state = _State.UNOPENED
        self._wake = anyio.Event()  # set when an order is placed: the tracking task looks again
        self._changed = anyio.Event()  # set when changes are stored: followers read again
        self._orphans_checked = 0.0
        self._epoch = 0.0  # wall-clock seconds at the event loop's time zero, set on opening

    def __repr__(self) -> str:
        return (
            f"<smmapi.tracking.Tracker store={type(self._store).__name__} state={self._state.name.lower()}>"
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state is not _State.UNOPENED:
            raise smmapi.ClientClosedError("a tracker can be opened once")
        self._state = _State.OPENED
        self._epoch = time.time() - anyio.current_time()
        self._wake = anyio.Event()
        self._changed = anyio.Event()
        try:
            await self._call(self._store.open, self._owner, tracking=True)
        except BaseException:
            self._state = _State.CLOSED
            await self._call(self._store.close)
            raise
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        if self._track:
            self._group.start_soon(self._tracking)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._close(exc_type, exc, tb)

    async def _close(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if self._state is not _State.OPENED:
            self._state = _State.CLOSED
            return None
        self._state = _State.CLOSED
        self._changed.set()
        group, self._group = self._group, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                # The group hears of a cancellation (its own scope's, after the tracking task
                # failed, or an outer one); the body's own exceptions pass through unwrapped.
                if not isinstance(exc, anyio.get_cancelled_exc_class()):
                    await group.__aexit__(None, None, None)
                    return None
                return await group.__aexit__(exc_type, exc, tb)
            return None
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._call(self._store.release_leases, self._owner)
                finally:
                    await self._call(self._store.close)

    def _now(self) -> float:
        """Wall-clock seconds (as stored), moving with the event loop's clock (as slept).

        The two agree, so a test's virtual clock (trio's MockClock) moves the tracker's time too.
        """
        return self._epoch + anyio.current_time()

    def _check_open(self) -> None:
        if self._state is not _State.OPENED:
            raise smmapi.ClientClosedError("this tracker is not open; use 'async with Tracker(...)'")

    async def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call in a worker thread (it completes even if the caller is cancelled)."""
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=self._limiter)

    # -- the journal -----------------------------------------------------------------------

    async def add(self, *, ref: str, service: int, **fields: Unpack[smmapi.AddFields]) -> TrackedOrder:
        """Place an order at most once for ``ref``, ever; the journal's entry for it.

        The intent (``ref`` and the fields, never the key) is committed before the request is
        sent, and the answer after. The same ``ref`` again returns what is stored and sends
        nothing, whatever its state; with other fields it raises. The panel's answer is the
        state: ``"placed"``, ``"refused"`` (with ``.error``) or ``"unknown"`` (the order may
        exist: reconcile it, then :meth:`resolve` or :meth:`abandon`).

        Args:
            ref: Your own unique name for this order, such as ``"chat42:msg7"``.
            service: The service ID.
            fields: The keywords of :meth:`smmapi.AsyncClient.add`.

        Raises:
            ValidationError: bad input (nothing is stored or sent), or ``ref`` was used for
                another order.
            ClientClosedError: the tracker or the client is closed.
            ConnectError: no connection could be made; nothing was sent or stored.

        Example::

            placed = await tracker.add(ref="chat42:msg7", service=1, link=link, quantity=1000)
            if placed.state == "unknown":
                alert(placed.ref, placed.fields)
        """
        self._check_ref(ref)
        asked = _asked({"service": service, **fields})
        return await self._write(ref, "add", asked, None, lambda: self._client.add(service=service, **fields))

    async def refill(self, ref: str) -> TrackedOrder:
        """Ask once, ever, for a refill of the order placed as ``ref``; the refill's journal entry.

        Its status is tracked like an order's (``action="refill"``, ``.refill`` its ID).

        Raises:
            ValidationError: ``ref`` has no placed order.

        Example::

            refill = await tracker.refill("chat42:msg7")
        """
        order = await self._placed_order(ref)
        return await self._write(
            ref, "refill", _asked({"order": order}), order, lambda: self._client.refill(order)
        )

    async def cancel(self, ref: str) -> TrackedOrder:
        """Ask once, ever, for the order placed as ``ref`` to be cancelled; the cancel's journal entry.

        ``"placed"`` means the panel accepted it; the order's own status says when it is done.

        Raises:
            ValidationError: ``ref`` has no placed order.

        Example::

            cancel = await tracker.cancel("chat42:msg7")
        """
        order = await self._placed_order(ref)
        return await self._write(
            ref, "cancel", _asked({"order": order}), order, lambda: self._client.cancel(order)
        )

    @staticmethod
    def _check_ref(ref: Any) -> None:
        if not isinstance(ref, str) or not ref:
            raise smmapi.ValidationError(f"ref must be a non-empty text, not {ref!r}")

    async def _placed_order(self, ref: str) -> int:
        self._check_ref(ref)
        placed = await self.get(ref)
        if placed is None or placed.state != "placed" or placed.order is None:
            state = "not in the journal" if placed is None else placed.state
            raise smmapi.ValidationError(f"ref {ref!r} has no placed order ({state})")
        return placed.order

    async def _write(
        self, ref: str, action: Action, asked: str, order: int | None, send: Callable[[], Awaitable[Any]]
    ) -> TrackedOrder:
        self._check_open()
        row, new = await self._call(
            self._store.insert_intent, ref, action, asked, order_id=order, now=self._now(), owner=self._owner
        )
        if not new:
            if row["fields"] != asked:
                raise smmapi.ValidationError(
                    f"ref {ref!r} was used for another {action}: {row['fields']} (now {asked})"
                )
            return tracked(row)
        answer: dict[str, Any] = {"state": "unknown"}
        try:
            result = await send()
        except (TypeError, smmapi.ValidationError, smmapi.ClientClosedError, smmapi.ConnectError):
            with anyio.CancelScope(shield=True):  # nothing was sent: the ref is free again
                await self._call(self._store.forget_intent, ref, action, self._owner)
            raise
        except smmapi.PanelError as error:
            answer = {"state": "refused", "error": error_to_json(error)}
        except smmapi.SmmError as error:  # OutcomeUnknownError, or anything else a write may end in
            answer["error"] = error_to_json(error)
        except BaseException:  # cancelled: the request may be on its way
            with anyio.CancelScope(shield=True):
                await self._answer(ref, action, answer)
            raise
        else:
            answer = {"state": "placed"}
            if action != "cancel":
                answer |= {"due_at": self._now() + self._interval, "poll_interval": self._interval}
                answer["order_id" if action == "add" else "refill_id"] = result
        with anyio.CancelScope(shield=True):
            entry = await self._answer(ref, action, answer)
        return entry  # noqa: RET504  (mypy counts a return inside the shielded block as maybe skipped)

    async def _answer(self, ref: str, action: str, answer: dict[str, Any]) -> TrackedOrder:
        row = await self._call(self._store.record_answer, ref, action, self._owner, now=self._now(), **answer)
        if answer.get("due_at") is not None:
            self._wake.set()
        return tracked(row)

    async def resolve(
        self, ref: str, order: int | None = None, *, refill: int | None = None, action: Action = "add"
    ) -> TrackedOrder:
        """Record that an ``unknown`` write did reach the panel, as you found by reconciling.

        An order needs its ``order`` ID and a refill its ``refill`` ID; both are then tracked.

        Raises:
            ValidationError: the write is not ``unknown``, or an ID is missing.

        Example::

            for lost in await tracker.unresolved():
                found = find_in_panel_order_list(lost.fields)
                if found:
                    await tracker.resolve(lost.ref, order=found)
                else:
                    await tracker.abandon(lost.ref)
        """
        self._check_open()
        if action != "cancel":
            found = order if action == "add" else refill
            if isinstance(found, bool) or not isinstance(found, int) or not 0 < found < ID_BOUND:
                raise smmapi.ValidationError(
                    f"resolving an unknown {action} needs its ID, a positive int of at most"
                    f" {MOST_ID_DIGITS} digits"
                )
        tracked_too = {"due_at": self._now(), "poll_interval": self._interval} if action != "cancel" else {}
        return await self._settle(ref, action, "placed", order_id=order, refill_id=refill, **tracked_too)

    async def abandon(self, ref: str, *, action: Action = "add") -> TrackedOrder:
        """Record that an ``unknown`` write did not reach the panel: it stays in the journal as ``abandoned``.

        Raises:
            ValidationError: the write is not ``unknown``.

        Example::

            await tracker.abandon("chat42:msg7")
        """
        self._check_open()
        return await self._settle(ref, action, "abandoned")

    async def _settle(self, ref: str, action: str, state: str, **found: Any) -> TrackedOrder:
        row = await self._call(self._store.settle, ref, action, state=state, now=self._now(), **found)
        if row is None:
            current = await self.get(ref, action=action)  # type: ignore[arg-type]
            now = "not in the journal" if current is None else current.state
            raise smmapi.ValidationError(f"the {action} of ref {ref!r} is not unknown: it is {now}")
        self._wake.set()
        return tracked(row)

    async def get(self, ref: str, *, action: Action = "add") -> TrackedOrder | None:
        """The journal's entry for ``ref`` (its order, or with ``action=`` its refill or cancel).

        Example::

            placed = await tracker.get("chat42:msg7")
            print(placed.state, placed.status)
        """
        self._check_open()
        row = await self._call(self._store.get, ref, action)
        return None if row is None else tracked(row)

    def orders(
        self,
        *,
        final: bool | None = None,
        since: datetime.datetime | None = None,
        state: str | None = None,
        action: Action | None = "add",
    ) -> AsyncIterator[TrackedOrder]:
        """The journal's entries in the order they were asked, read page by page.

        Args:
            final: Only those whose status is final (``True``) or not (``False``).
            since: Only those asked at or after this time.
            state: Only those in this state (``"placed"``, ``"unknown"``...).
            action: ``"add"`` (orders, the default), ``"refill"``, ``"cancel"``, or ``None`` for all.

        Example::

            async for order in tracker.orders(final=False):
                print(order.ref, order.status)
        """
        self._check_open()
        after_time = None if since is None else since.timestamp()
        return _Pages(
            self,
            lambda after: self._store.rows(
                after_id=after, limit=PAGE_SIZE, final=final, state=state, action=action, since=after_time
            ),
        )

    async def unresolved(self) -> list[TrackedOrder]:
        """Every write whose outcome is ``unknown``: settle each with :meth:`resolve` or :meth:`abandon`.

        Example::

            for lost in await tracker.unresolved():
                print(lost.ref, lost.action, lost.fields)
        """
        return [entry async for entry in self.orders(state="unknown", action=None)]

    def changes(self, *, after: int = 0, follow: bool = True) -> AsyncIterator[Change]:
        """The stored changes after the cursor ``after``, in order; at least once each, across restarts.

        With ``follow=True`` it waits for new changes while the tracker is open, and ends when
        it closes; with ``follow=False`` it ends at the last one stored.

        Example::

            async for change in tracker.changes(after=load_cursor()):
                await notify(change.ref, change.status)
                save_cursor(change.cursor)
        """
        self._check_open()
        return _ChangeFeed(self, after, follow=follow)

    # -- tracking -------------------------------------------------------------------------

    async def _tracking(self) -> None:
        """Poll what is due, store what changed; sleep until the next order is due or one is placed."""
        while True:
            self._wake = anyio.Event()
            now = self._now()
            if self._store.shared and now - self._orphans_checked >= SHARED_POLL:
                self._orphans_checked = now
                await self._call(self._store.release_orphans)
            due = await self._call(
                self._store.lease_due,
                now=now,
                worker=self._owner,
                lease_until=now + self._lease,
                limit=ROUND_SIZE,
            )
            if due:
                await self._poll(due)
                continue
            next_due = await self._call(self._store.next_due)
            delay = math.inf if next_due is None else next_due - self._now()
            if self._store.shared:
                delay = min(delay, SHARED_POLL)
            with anyio.move_on_after(delay):
                await self._wake.wait()

    async def _poll(self, due: list[Row]) -> None:
        """One round: ask the panel about ``due`` and store the news."""
        by_action: dict[str, dict[int, list[Row]]] = collections.defaultdict(
            lambda: collections.defaultdict(list)
        )
        for row in due:
            by_action[row["action"]][row["order_id" if row["action"] == "add" else "refill_id"]].append(row)
        results: dict[str, Mapping[int, Any]] = {}
        if by_action["add"]:
            results["add"] = await self._client.statuses(by_action["add"])
        if by_action["refill"]:
            results["refill"] = await self._client.refill_statuses(by_action["refill"])
        now = self._now()
        polled: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        for action, answers in results.items():
            signature = order_signature if action == "add" else refill_signature
            for key, result in answers.items():
                if isinstance(result, smmapi.AuthenticationError):  # no later round can do better
                    raise result
                polled.extend(
                    self._news(row, result, now, signature, changes) for row in by_action[action][key]
                )
        await self._call(self._store.write_back, self._owner, polled, changes)
        if changes:
            self._changed.set()
            self._changed = anyio.Event()

    def _news(
        self,
        row: Row,
        result: Any,
        now: float,
        signature: Callable[[Any], Hashable],
        changes: list[tuple[Any, ...]],
    ) -> tuple[Any, ...]:
        """The row's update after a poll (and its change, if it changed)."""
        previous = row["poll_interval"] or 0.0
        if isinstance(result, smmapi.UnknownIdError):  # the panel does not know it: stop asking
            return (None, error_to_json(result), 1, None, None, previous, row["id"])
        if isinstance(result, smmapi.SmmError):  # a failed request, a rate limit: later
            interval = next_interval(
                previous, changed=False, interval=self._interval, max_interval=self._max_interval
            )
            return (None, None, 0, None, now + interval, interval, row["id"])
        old = row_status(row)
        changed = old is None or signature(old) != signature(result)
        status = status_to_json(result)
        if changed:
            changes.append((row["ref"], row["action"], row["order_id"], row["refill_id"], status, now))
        final = bool(result.status.is_final)
        interval = next_interval(
            previous, changed=changed, interval=self._interval, max_interval=self._max_interval
        )
        return (status, None, int(final), now, None if final else now + interval, interval, row["id"])


class _Pages(AsyncIterator[TrackedOrder]):
    """Journal entries read from the store a page at a time."""

    def __init__(self, tracker: Tracker, page: Callable[[int], list[Row]]) -> None:
        self._tracker = tracker
        self._page = page
        self._after = 0
        self._buffer: collections.deque[Row] = collections.deque()
        self._done = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> TrackedOrder:
        if not self._buffer and not self._done:
            self._tracker._check_open()  # noqa: SLF001  (the tracker's own helper)
            rows = await self._tracker._call(self._page, self._after)  # noqa: SLF001
            self._buffer.extend(rows)
            self._done = len(rows) < PAGE_SIZE
        if not self._buffer:
            raise StopAsyncIteration
        row = self._buffer.popleft()
        self._after = row["id"]
        return tracked(row)


class _ChangeFeed(AsyncIterator[Change]):
    """Stored changes after a cursor, waiting for new ones while the tracker is open (``follow``)."""

    def __init__(self, tracker: Tracker, after: int, *, follow: bool) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise smmapi.ValidationError(f"after must be a cursor (an int, at least 0), not {after!r}")
        self._tracker = tracker
        self._after = after
        self._follow = follow
        self._buffer: collections.deque[Change] = collections.deque()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Change:
        tracker = self._tracker
        while not self._buffer:
            if tracker._state is not _State.OPENED:  # noqa: SLF001  (the tracker's own state)
                raise StopAsyncIteration
            changed = tracker._changed  # noqa: SLF001  (taken before reading: no change slips between)
            try:
                rows = await tracker._call(tracker._store.changes, after=self._after, limit=PAGE_SIZE)  # noqa: SLF001
            except smmapi.ClientClosedError:  # the tracker closed while this waited for the store
                raise StopAsyncIteration from None
            self._buffer.extend(change(row) for row in rows)
            if rows:
                break
            if not self._follow:
                raise StopAsyncIteration
            with anyio.move_on_after(SHARED_POLL if tracker._store.shared else math.inf):  # noqa: SLF001
                await changed.wait()
        item = self._buffer.popleft()
        self._after = item.cursor
        return item
