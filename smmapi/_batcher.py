"""Coalesce concurrent lookups of keys into bulk calls of at most ``max_size`` keys.

It knows nothing of SMM panels: keys go in, one ``send(keys, reservation)`` call per batch goes
out, and each key gets back its own value or its own error.

There are no background tasks. The caller that opens a batch leads it: it lets the event loop
run once, so that callers already scheduled join (or, if a window is set, waits for it or until
the batch is full), reserves a request slot (the batch keeps filling meanwhile), closes the
batch, sends it and resolves every waiter. With no window there is no clock delay: alone, a key
goes as soon as a slot is free; in a crowd, batches fill while they wait for slots.

A leader cancelled before sending hands the batch to another of its waiters; a read cut off
mid-flight is sent again by the next leader; a write, once sent, runs shielded to the end. A key
asked while it is queued or in flight joins it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, Final, Generic, Protocol, TypeVar

import anyio
import anyio.lowlevel

from ._errors import ClientClosedError, SmmError

__all__ = ["Batcher"]

log = logging.getLogger("smmapi")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R", bound="Reservation")


class Reservation(Protocol):
    """A request slot held for a batch; ``send`` may release it early, releasing twice is harmless."""

    def release(self) -> None: ...


#: The outcome of an entry not resolved yet.
_PENDING: Final = object()


class _Entry:
    """One key in a batch, shared by every caller that asked for it.

    Four slots, no more: a hundred thousand IDs may be pending at once.
    """

    __slots__ = ("batch", "key", "outcome", "waiters")

    def __init__(self, key: Any, batch: _Batch) -> None:
        self.key = key
        self.batch = batch
        self.waiters = 0
        self.outcome: Any = _PENDING


class _CapturedEntry(_Entry):
    """An entry of a batcher that captures something of each caller (see ``Batcher(capture=)``)."""

    __slots__ = ("callers",)

    def __init__(self, key: Any, batch: _Batch) -> None:
        super().__init__(key, batch)
        self.callers: list[Any] = []


class _Batch:
    __slots__ = ("deadline", "entries", "full", "leader", "sent", "wake")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.entries: dict[Any, _Entry] = {}
        self.full = anyio.Event()
        #: Set when the batch is resolved, or (then replaced) when it lost its leader before sending.
        self.wake = anyio.Event()
        #: The entry list of the caller leading this batch, if any.
        self.leader: list[_Entry] | None = None
        self.sent = False

    def live_keys(self) -> list[Any]:
        return [key for key, entry in self.entries.items() if entry.waiters > 0 and entry.outcome is _PENDING]


def _by_batch(entries: list[_Entry]) -> dict[_Batch, list[_Entry]]:
    """``entries`` by the batch each is in, in order."""
    groups: dict[_Batch, list[_Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.batch, []).append(entry)
    return groups


class Batcher(Generic[K, V, R]):
    """Turns many ``await get(key)`` into few ``send(keys)``.

    Args:
        send: Sends one batch. Returns a value or an exception per key (a missing key gets an
            ``SmmError``); an ``SmmError`` it raises is every key's outcome.
        reserve: Waits for a request slot before a batch is closed.
        window: Seconds the first key of a batch waits for others (0: one turn of the loop).
        max_size: The most keys in one batch; may be changed at any time.
        shield: Whether a sent batch must finish even if every caller left (writes); ``send``
            bounds its own time.
        interrupted: The error of a key whose shielded batch was interrupted all the same (plain
            asyncio ``Task.cancel()`` goes through anyio's shields).
        describe: Names a batch in the WARNING logged when no caller is left for its outcome.
        lanes: How many batches of one ``get_many`` call are led at once (the request slots): each
            lane takes the call's next batch when its last is done. ``None``: a lane per batch.
        capture: Called once per ``get`` or ``get_many`` call, as it asks; what it returns (unless
            ``None``) is listed by :meth:`callers` for each of the call's keys while the key is
            pending (for tracing: the caller's span).
    """

    def __init__(
        self,
        send: Callable[[list[K], R], Awaitable[Mapping[K, V | SmmError]]],
        *,
        reserve: Callable[[], Awaitable[R]],
        window: float,
        max_size: int,
        shield: bool = False,
        interrupted: Callable[[K], SmmError] | None = None,
        describe: str = "batch",
        lanes: int | None = None,
        capture: Callable[[], Any] | None = None,
    ) -> None:
        self._send = send
        self._reserve = reserve
        self._window = window
        self.max_size = max_size
        self._shield = shield
        self._interrupted = interrupted
        self._describe = describe
        self._lanes = lanes
        self._capture = capture
        self._entry_class = _Entry if capture is None else _CapturedEntry
        self._entries: dict[K, _Entry] = {}
        self._open: _Batch | None = None
        self._closed = False
        self._idle: anyio.Event | None = None
        #: Keys asked (joins included), keys sent, and batches sent.
        self.lookups = 0
        self.keys_sent = 0
        self.batches_sent = 0

    # -- asking ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this client is closed")

    def _enqueue(self, keys: Iterable[K]) -> list[_Entry]:
        """Join the entry of each key, or add it to the open batch (opening batches as they fill)."""
        pending = self._entries
        make, size = self._entry_class, self.max_size
        batch = self._open
        members = batch.entries if batch is not None else {}
        caller = None if self._capture is None else self._capture()
        entries = []
        try:
            for key in keys:
                entry = pending.get(key)
                if entry is None:
                    if batch is None:
                        batch = _Batch(anyio.current_time() + self._window)
                        members = batch.entries
                    entry = pending[key] = members[key] = make(key, batch)
                    if len(members) >= size:
                        batch.full.set()
                        batch = None
                entry.waiters += 1
                if caller is not None:
                    entry.callers.append(caller)  # type: ignore[attr-defined]
                entries.append(entry)
        finally:
            self._open = batch  # the batch left open, even if iterating the keys failed part way
            self.lookups += len(entries)
        return entries

    def callers(self, keys: Iterable[K]) -> list[Any]:
        """What ``capture`` gave for the callers of ``keys`` still pending."""
        return [
            caller
            for key in keys
            if isinstance(entry := self._entries.get(key), _CapturedEntry)
            for caller in entry.callers
        ]

    async def get(self, key: K) -> V:
        """The value for ``key``; its error is raised."""
        self._check_open()
        mine = self._enqueue((key,))
        await self._take_part(mine)
        entry = mine[0]
        outcome = entry.outcome
        if isinstance(outcome, BaseException):
            # Callers of one key share its error: raise it without the others' traceback frames.
            raise outcome.with_traceback(None)
        return outcome  # type: ignore[no-any-return]

    async def get_many(self, keys: Iterable[K]) -> dict[K, V | SmmError]:
        """The value or error of each key, in the order given (keys must be unique)."""
        self._check_open()
        entries = self._enqueue(keys)
        by_batch = _by_batch(entries)
        if len(by_batch) == 1:
            await self._take_part(entries)
        else:
            # A few lanes (one per request slot) take the batches in turn: beyond the slots, a task
            # per batch would only wait for one, and starting it costs more than the batch's own
            # bookkeeping. A slow batch holds up its own lane only.
            waiting = deque(by_batch.values())
            lanes = len(waiting) if self._lanes is None else min(len(waiting), max(1, self._lanes))

            async def lane() -> None:
                while waiting:
                    await self._take_part(waiting.popleft())

            try:
                async with anyio.create_task_group() as group:
                    for _ in range(lanes):
                        group.start_soon(lane)
            except BaseException:
                for mine in waiting:  # the batches no lane took yet: left as a lane leaves its own
                    self._leave_all(mine)
                raise
        return {entry.key: entry.outcome for entry in entries}

    async def _take_part(self, mine: list[_Entry]) -> None:
        """Wait until every entry of ``mine`` is resolved.

        A batch that is not sent and has no leader is led by the first of its callers to get
        here: the one that opened it, or, if its leader left, whoever wakes first. An entry may
        move to a new batch before it is sent (when ``max_size`` shrank): each turn follows the
        batch of the first entry still pending. ``mine`` is this caller's own list: its identity
        marks the batch's leader.
        """
        try:
            while True:
                for pending in mine:  # the first entry still pending
                    if pending.outcome is _PENDING:
                        break
                else:
                    return
                batch = pending.batch
                if batch.leader is None and not batch.sent:
                    batch.leader = mine
                if batch.leader is mine:
                    await self._lead(batch)
                else:
                    await batch.wake.wait()
        except BaseException:
            self._leave_all(mine)
            raise

    def _leave_all(self, mine: list[_Entry]) -> None:
        """A caller gave up on ``mine``: leave each batch its entries are in."""
        for batch, entries in _by_batch(mine).items():
            self._leave(batch, mine, entries)

    def _leave(self, batch: _Batch, mine: list[_Entry], entries: list[_Entry]) -> None:
        """A caller gave up: drop its unsent keys no one else waits on; find the batch a leader."""
        orphaned = []
        for entry in entries:
            entry.waiters -= 1
            if entry.waiters > 0:
                continue
            if entry.outcome is not _PENDING:
                orphaned.append(entry)
            elif not batch.sent:
                del batch.entries[entry.key]
                del self._entries[entry.key]
        self._log_orphans(orphaned)
        if batch.leader is mine:
            batch.leader = None
        if batch.sent or batch.leader is not None:
            self._maybe_idle()
            return
        if not batch.live_keys():
            # Nobody is left to lead it: close it, or later callers would join a batch never sent.
            self._prune(batch)
            if self._open is batch:
                self._open = None
            return
        self._wake_all(batch)

    @staticmethod
    def _wake_all(batch: _Batch) -> None:
        """Wake the batch's waiters: the first to run takes it over if it has no leader."""
        wake, batch.wake = batch.wake, anyio.Event()
        wake.set()

    def _prune(self, batch: _Batch) -> None:
        """Drop the unsent entries no caller waits for any more (left behind by a cut-off read)."""
        for key, entry in list(batch.entries.items()):
            if entry.waiters <= 0 and entry.outcome is _PENDING:
                del batch.entries[key]
                if self._entries.get(key) is entry:
                    del self._entries[key]
        self._maybe_idle()

    def _log_orphans(self, entries: list[_Entry]) -> None:
        if entries and self._shield:
            log.warning(
                "%s finished after every caller left: %s",
                self._describe,
                ", ".join(f"{entry.key}: {entry.outcome!r}" for entry in entries),
            )

    def _split_off(self, batch: _Batch, keys: list[K]) -> None:
        """Move ``keys`` (not sent) out of ``batch`` into new batches of ``max_size``, sent at once."""
        size = max(1, self.max_size)
        for start in range(0, len(keys), size):
            moved = _Batch(anyio.current_time())
            moved.full.set()
            for key in keys[start : start + size]:
                entry = batch.entries.pop(key)
                entry.batch = moved
                moved.entries[key] = entry
        self._wake_all(batch)

    # -- leading -----------------------------------------------------------------------------

    async def _lead(self, batch: _Batch) -> None:
        if not batch.full.is_set():
            delay = batch.deadline - anyio.current_time()
            if delay > 0:
                with anyio.move_on_after(delay):
                    await batch.full.wait()
            else:
                await anyio.lowlevel.checkpoint()
        try:
            reservation = await self._reserve()
        except SmmError as error:
            # No slot will come (the client closed): nothing was sent, and every waiter is told.
            if self._open is batch:
                self._open = None
            self._resolve(batch, batch.live_keys(), dict.fromkeys(batch.live_keys(), error))
            return
        try:
            if self._open is batch:
                self._open = None
            self._prune(batch)
            keys = batch.live_keys()
            if len(keys) > self.max_size:
                # The batch formed before max_size shrank: the rest go in batches of the new size.
                self._split_off(batch, keys[self.max_size :])
                keys = keys[: self.max_size]
            if not keys:
                return
            batch.sent = True
            try:
                if self._shield:
                    outcomes = await self._send_shielded(keys, reservation)
                else:
                    outcomes = await self._send_once(keys, reservation)
            except anyio.get_cancelled_exc_class():
                if not self._shield:
                    # Cut off mid-flight: the batch goes back to its waiters, one of whom resends it.
                    batch.sent = False
                    raise
                self._resolve(batch, keys, {key: self._interruption(key) for key in keys})
                raise
            except BaseException as exc:
                # Not an SmmError, so a bug: every waiter sees it, and none is left hanging.
                self._resolve(batch, keys, dict.fromkeys(keys, exc))
                raise
        finally:
            reservation.release()
        self._resolve(batch, keys, outcomes)

    async def _send_once(self, keys: list[K], reservation: R) -> Mapping[K, Any]:
        self.batches_sent += 1
        self.keys_sent += len(keys)
        try:
            return await self._send(keys, reservation)
        except SmmError as error:
            return dict.fromkeys(keys, error)

    async def _send_shielded(self, keys: list[K], reservation: R) -> Mapping[K, Any]:
        with anyio.CancelScope(shield=True):
            outcomes = await self._send_once(keys, reservation)
        return outcomes  # noqa: RET504  (returning inside the shield hides the return from mypy)

    def _interruption(self, key: K) -> SmmError:
        if self._interrupted is not None:
            return self._interrupted(key)
        return SmmError(f"{self._describe} of {key!r}: interrupted after it was sent; the outcome is unknown")

    def _resolve(self, batch: _Batch, keys: list[K], outcomes: Mapping[K, Any]) -> None:
        orphaned = []
        late = []
        for key in keys:
            entry = batch.entries[key]
            outcome = outcomes.get(key)
            if key not in outcomes:
                outcome = SmmError(f"{self._describe}: no outcome for {key!r}")
            if entry.outcome is not _PENDING:
                if self._shield and batch.sent:
                    late.append(f"{key}: {outcome!r}")
                continue
            entry.outcome = outcome
            if self._entries.get(key) is entry:
                del self._entries[key]
            if entry.waiters <= 0:
                orphaned.append(entry)
        self._log_orphans(orphaned)
        if late:
            log.warning("%s answered after the client closed: %s", self._describe, ", ".join(late))
        batch.wake.set()
        self._maybe_idle()

    # -- closing -----------------------------------------------------------------------------

    def _maybe_idle(self) -> None:
        if self._idle is not None and not self._entries:
            self._idle.set()

    def close(self) -> None:
        """Refuse new keys and send what is queued at once, without waiting for the window."""
        self._closed = True
        for entry in self._entries.values():
            entry.batch.full.set()
        self._open = None

    async def wait_idle(self) -> None:
        """Wait until every key asked has its outcome."""
        if self._entries:
            self._idle = anyio.Event()
            await self._idle.wait()

    def fail_pending(self) -> None:
        """Settle every key still waiting: nothing of it may be sent any more.

        A key never sent gets :class:`~smmapi.ClientClosedError`; a key of a shielded batch in
        flight gets the ``interrupted`` error (its outcome is unknown), logged at WARNING, and its
        answer, if it still comes, is logged too.
        """
        unsent = ClientClosedError("the client was closed before this was sent")
        unanswered = ClientClosedError("the client was closed before an answer arrived")
        interrupted = []
        for entry in list(self._entries.values()):
            if not entry.batch.sent:
                outcome: Any = unsent
            elif self._shield:
                outcome = self._interruption(entry.key)
                interrupted.append(f"{entry.key}: {outcome!r}")
            else:
                outcome = unanswered
            entry.outcome = outcome
            entry.batch.wake.set()
        self._entries.clear()
        if interrupted:
            log.warning(
                "%s still in flight when the client closed: %s", self._describe, ", ".join(interrupted)
            )

    async def aclose(self, grace: float) -> None:
        """:meth:`close`, wait up to ``grace`` seconds for what is in flight, then settle the rest."""
        self.close()
        try:
            with anyio.move_on_after(grace):
                await self.wait_idle()
        finally:
            self.fail_pending()
