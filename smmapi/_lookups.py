"""The actions asked by ID, one spec each, and the one rule that gives every ID its outcome.

A lookup travels: ``AsyncClient.status(id)`` -> :meth:`Lookups.get` with the action's
:class:`Spec` -> the action's :class:`~smmapi._batcher.Batcher` -> :meth:`Lookups._send`, in the
single form for one ID and the bulk form for several (as far as the panel's dialect allows) ->
``Wire.post`` -> the spec's splitter -> :func:`outcome` -> the batcher resolves each waiter.

What a panel reads is learnt per action from evidence, and only reads are ever re-sent to learn
it. A write is sent once; whatever happens to it, :func:`outcome` says what its caller is told.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, NamedTuple

import anyio
import anyio.lowlevel
import attrs
import cattrs

from ._batcher import Batcher
from ._convert import (
    list_splitter,
    read_cancel,
    read_id,
    read_order_status,
    read_refill,
    read_refill_status,
    split_by_id,
    structure,
)
from ._errors import (
    ACCOUNT_ERRORS,
    RAISED_BY_BULK,
    ClientClosedError,
    ConnectError,
    OutcomeUnknownError,
    PanelError,
    SmmError,
    UnknownIdError,
    UnreadableAnswerError,
    ValidationError,
    shown,
)
from ._models import OrderStatus, ProductOrderStatus
from ._telemetry import Coalesced
from ._wire import Slot, Wire

__all__ = ["INTERRUPTED", "SPECS", "ActionDialect", "Lookups", "Spec", "bulk_limit", "outcome"]

log = logging.getLogger("smmapi")

Splitter = Callable[[Any, Sequence[int]], "dict[int, Any] | None"]
Reader = Callable[[cattrs.Converter, int, Any], Any]


@attrs.frozen
class Spec:
    """One action asked by ID, coalesced into bulk requests.

    Attributes:
        action: The API's action.
        single: The field of the single form (``order=ID``); ``None`` if the API defines only
            the bulk form for it.
        bulk: The field of the bulk form (``orders=1,2,3``).
        split: Splits an answer by asked ID into each ID's item or ``SmmError``; ``None`` if the
            answer is keyed by none of them (a panel that did not read the bulk form).
        read: Reads one ID's item into its value, or raises an ``SmmError``.
        write: Whether the action does something on the panel: it is sent once, runs shielded,
            and is never re-sent to learn the panel's dialect.
        noun: What its IDs name, for messages.
        creates: The field of the ID a write creates (``refill``): an answer holding it beside
            an error is not a refusal.
    """

    action: str
    single: str | None
    bulk: str
    split: Splitter
    read: Reader
    write: bool = False
    noun: str = "order"
    creates: str | None = None


def _read_status(converter: cattrs.Converter, key: int, item: Any) -> OrderStatus:
    return read_order_status(item, key) or structure(converter, item, OrderStatus, order=key)


def _read_product_status(converter: cattrs.Converter, key: int, item: Any) -> ProductOrderStatus:
    return structure(converter, item, ProductOrderStatus, order=key)


def _read_refill(_: cattrs.Converter, key: int, item: Any) -> int:
    return read_refill(key, item)


def _read_cancel(_: cattrs.Converter, key: int, item: Any) -> None:
    read_cancel(key, item)


STATUS: Final = Spec("status", "order", "orders", split_by_id, _read_status)
PRODUCT_ORDER_STATUS: Final = Spec(
    "product_order_status", "order", "orders", split_by_id, _read_product_status
)
REFILL_STATUS: Final = Spec(
    "refill_status", "refill", "refills", list_splitter("refill", "status"), read_refill_status, noun="refill"
)
REFILL: Final = Spec(
    "refill", "order", "orders", list_splitter("order", "refill"), _read_refill, write=True, creates="refill"
)
# API v2 defines cancel with the bulk field only: one ID goes as orders=ID.
CANCEL: Final = Spec("cancel", None, "orders", list_splitter("order", "cancel"), _read_cancel, write=True)
#: Every action asked by ID, by name.
SPECS: Final[Mapping[str, Spec]] = MappingProxyType(
    {spec.action: spec for spec in (STATUS, PRODUCT_ORDER_STATUS, REFILL_STATUS, REFILL, CANCEL)}
)

#: Errors about the whole account reach every caller as they are and teach nothing.
ACCOUNT_WIDE: Final = ACCOUNT_ERRORS
#: Errors that say a write was not carried out: refused, no connection made, or never sent.
_NOTHING_DONE: Final = (PanelError, ConnectError, ClientClosedError)


class _Split(NamedTuple):
    """An answer (masked if a write's) and its items by ID as :attr:`Spec.split` gives them, or its error."""

    answer: Any
    items: dict[int, Any] | UnreadableAnswerError | None
    #: The start of the answer, for the message of an answer that cannot be split.
    start: str = ""


#: Stands for a read's answer, which no outcome keeps.
_READ: Final = object()


class _Interrupted:
    def __repr__(self) -> str:
        return "INTERRUPTED"


#: What came back for a write that was sent and then cut off: its caller was cancelled or the
#: client closed before the answer.
INTERRUPTED: Final = _Interrupted()


def outcome(
    action: str,
    fields: Mapping[str, str],
    got: Any,
    *,
    write: bool,
    read: Callable[[Any], Any],
    answer: Any = None,
) -> Any:
    """The one rule: what the caller of one ID (or one write) is told, from what came back.

    ``got`` is what came back for it: its item in the answer, the ``SmmError`` (or
    ``TimeoutError``) its request failed with, or :data:`INTERRUPTED`. ``read`` turns an item
    into the value; ``answer`` is the whole answer, kept on an unknown outcome.

    - An item that reads is its value.
    - A read's error is that error.
    - A write refused by the panel (a :class:`PanelError`), never connected, or never sent is
      that error: nothing was done.
    - Anything else about a write (an unreadable answer or item, an ID that is not one, an ID
      beside an error, a timeout, a fault after connecting, an HTTP error or redirect, an
      interruption) is :class:`OutcomeUnknownError` naming the action and fields: it may have
      been carried out.
    """
    if got is INTERRUPTED:
        cause: BaseException | None = None
    elif isinstance(got, BaseException):
        cause = got
    else:
        try:
            return read(got)
        except SmmError as error:
            cause, answer = error, got if answer is None else answer
    if not write or isinstance(cause, _NOTHING_DONE):
        return cause
    reason = f"but {cause}" if cause is not None else "but the request was interrupted before its answer"
    unknown = OutcomeUnknownError(
        f"{action}: the panel may have carried it out, {reason}", action=action, fields=fields, answer=answer
    )
    unknown.__cause__ = cause
    return unknown


@attrs.frozen
class ActionDialect:
    """What a client knows of how its panel reads one action asked by ID.

    ``bulk`` is ``True`` once the panel answered a bulk request (``orders=1,2``) by ID,
    ``False`` if it does not read the bulk form (each ID then goes in a request of its own), and
    ``None`` while nothing is known; ``batch_size`` is the most IDs one request carries now;
    ``pinned`` says you set it with ``AsyncClient(bulk=...)``.

    Example::

        print(client.dialect["status"])   # ActionDialect(bulk=True, batch_size=100, pinned=False)
    """

    bulk: bool | None
    batch_size: int
    pinned: bool


@attrs.define
class _Dialect:
    bulk: bool | None
    pinned: bool
    size: int
    #: Held by the first bulk request of a read while nothing is known: the others wait for
    #: what it teaches, so an unreadable bulk form costs one request, not one per batch.
    probe: anyio.Lock | None = None


_LIMIT = re.compile(r"\b(too many|up to|at most|maximum|max|limit|no more than)\b")
_NUMBER = re.compile(r"\b(\d{1,3})\b")


def bulk_limit(text: str) -> int | None:
    """The most IDs a refusal such as "You can check up to 50 orders at once" allows: 0 if it names none."""
    lowered = text.lower()
    if not _LIMIT.search(lowered):
        return None
    number = _NUMBER.search(lowered)
    return int(number.group(1)) if number else 0


def _pins(bulk: bool | Mapping[str, bool] | None) -> dict[str, bool]:
    if bulk is None:
        return {}
    if isinstance(bulk, bool):
        return dict.fromkeys(SPECS, bulk)
    if not isinstance(bulk, Mapping):
        raise TypeError(f"bulk must be a bool or a mapping of action to bool, not {type(bulk).__name__}")
    for action, value in bulk.items():
        if action not in SPECS:
            raise ValidationError(
                f"bulk: {action!r} is not an action asked by ID; those are {', '.join(SPECS)}"
            )
        if not isinstance(value, bool):
            raise TypeError(f"bulk[{action!r}] must be a bool, not {type(value).__name__}")
    return dict(bulk)


class Lookups:
    """The coalescers of the actions asked by ID, the panel's dialect, and paid writes by ID.

    Args:
        wire: Sends requests.
        converter: Reads items into value objects.
        window: The batch window, in seconds.
        max_batch_size: The most IDs one request carries (the panel may teach fewer).
        write_bound: The most seconds a write may take, retries of a connect error included.
        bulk: Pins the dialect: ``True``/``False`` for every action, or per action.
    """

    def __init__(
        self,
        wire: Wire,
        converter: cattrs.Converter,
        *,
        window: float,
        max_batch_size: int,
        write_bound: float,
        bulk: bool | Mapping[str, bool] | None = None,
    ) -> None:
        pins = _pins(bulk)
        self._wire = wire
        self._telemetry = telemetry = wire.telemetry
        self._converter = converter
        self._write_bound = write_bound
        self._max_batch_size = max_batch_size
        self.counts: Counter[str] = Counter()
        self._dialects = {
            action: _Dialect(pins.get(action), action in pins, max_batch_size) for action in SPECS
        }
        self.batchers: dict[str, Batcher[int, Any, Slot]] = {}
        for spec in SPECS.values():
            self.batchers[spec.action] = Batcher(
                self._sender(spec),
                reserve=self._reserve,
                window=window,
                max_size=self._batch_size(spec),
                shield=spec.write,
                interrupted=self._interrupter(spec),
                describe=spec.action,
                lanes=wire.max_concurrency,
                capture=telemetry.caller if telemetry.on else None,
            )

    # -- asking ------------------------------------------------------------------------------

    def get(self, spec: Spec, key: int) -> Awaitable[Any]:
        """The value of one ID; its error is raised (without telemetry, the batcher's own coroutine)."""
        lookup = self.batchers[spec.action].get(key)
        if self._telemetry.on:
            return self._telemetry.counted(spec.action, 1, lookup)
        return lookup

    async def get_many(self, spec: Spec, keys: Sequence[int]) -> dict[int, Any]:
        """The value or error of each ID, in the order given (IDs unique).

        An error about the whole account (a refused key, no funds) is raised, not handed to
        each ID, whenever that hides no outcome: always for a read, and for a write only when
        every ID got it (so nothing was done).
        """
        lookups = self.batchers[spec.action].get_many(keys)
        if self._telemetry.on:
            results = await self._telemetry.counted(spec.action, len(keys), lookups)
        else:
            results = await lookups
        account = [result for result in results.values() if isinstance(result, RAISED_BY_BULK)]
        if account and (not spec.write or len(account) == len(results)):
            raise account[0]
        return results

    async def write_id(self, action: str, fields: Mapping[str, str], id_field: str = "order") -> int:
        """Send a paid write once and return the ID it created; its error is raised.

        Once a request slot is ours the write runs shielded, bounded by the write timeout: a
        caller who leaves cannot cut off an order the panel may be placing. However the caller
        leaves (a cancel scope, a deadline, or plain asyncio cancellation, which goes through
        anyio's shield), the outcome is logged at WARNING with the action and fields.
        """

        def read(answer: Any) -> int:
            return read_id(answer, id_field)

        with self._telemetry.write(action) as traced:
            try:
                slot = await self._reserve()
            except SmmError as error:  # the client closed: it was never sent
                traced.outcome(error)
                raise
            try:
                with anyio.CancelScope(shield=True):
                    result = await self._write_once(action, fields, slot, read, keep=id_field)
            except BaseException:
                result = outcome(action, fields, INTERRUPTED, write=True, read=read)
                traced.outcome(result)
                self._left(action, fields, result)
                raise
            traced.outcome(result)
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            self._left(action, fields, result)
            raise
        if isinstance(result, SmmError):
            raise result
        return result  # type: ignore[no-any-return]

    async def _write_once(
        self, action: str, fields: Mapping[str, str], slot: Slot, read: Callable[[Any], Any], keep: str
    ) -> Any:
        """The outcome of one write; the answer stays in this frame, never in the caller's traceback."""
        got = await self._request(
            action,
            fields,
            slot,
            write=True,
            keep=keep,
            then=lambda answer: (answer, self._wire.shown(answer)),
        )
        if isinstance(got, BaseException):
            return self._safe(outcome(action, fields, got, write=True, read=read))
        answer, kept = got
        return self._safe(outcome(action, fields, answer, write=True, read=read, answer=kept))

    def _safe(self, result: Any) -> Any:
        """An outcome to hand out: an error is scrubbed of the key (and of its tracebacks)."""
        return self._wire.scrub(result) if isinstance(result, BaseException) else result

    @staticmethod
    def _left(action: str, fields: Mapping[str, str], result: Any) -> None:
        log.warning("%s %s finished after its caller left: %r", action, dict(fields), result)

    # -- the dialect -------------------------------------------------------------------------

    @property
    def dialect(self) -> Mapping[str, ActionDialect]:
        """A snapshot of what is known of each action's dialect."""
        return MappingProxyType(
            {
                action: ActionDialect(
                    self._bulk(SPECS[action]), self._batch_size(SPECS[action]), state.pinned
                )
                for action, state in self._dialects.items()
            }
        )

    def _bulk(self, spec: Spec) -> bool | None:
        """Whether ``spec`` goes in the bulk form: known, pinned, or taught by the reads."""
        state = self._dialects[spec.action]
        if state.bulk is None and spec.write and not state.pinned:
            # A panel that ignores orders= for statuses is not trusted with it for writes.
            return False if self._dialects[STATUS.action].bulk is False else None
        return state.bulk

    def _batch_size(self, spec: Spec) -> int:
        return 1 if self._bulk(spec) is False else self._dialects[spec.action].size

    def _learn(self, spec: Spec, *, bulk: bool | None = None, size: int | None = None, why: str = "") -> None:
        state = self._dialects[spec.action]
        before = self.dialect
        if bulk is not None and not state.pinned:
            state.bulk = bulk
        if size is not None:
            state.size = max(1, min(state.size, size))
        for other in SPECS.values():
            self.batchers[other.action].max_size = self._batch_size(other)
        after = self.dialect
        for action, now in after.items():
            if now != before[action]:
                form = "in bulk" if now.bulk else "one ID per request"
                log.info(
                    "%s: %s; it goes %s from now on (at most %d IDs a request)",
                    action,
                    why,
                    form,
                    now.batch_size,
                )

    # -- sending -----------------------------------------------------------------------------

    async def _reserve(self) -> Slot:
        slot = self._wire.slot()
        await slot.acquire()
        return slot

    async def _request(
        self,
        action: str,
        fields: Mapping[str, str],
        slot: Slot | None,
        *,
        write: bool,
        keys: Sequence[int] = (),
        keep: str | None = None,
        then: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The answer (read by ``then``), or the error the request failed with (returned, not raised).

        ``keys``: the IDs of a coalesced request, whose callers its spans link to.
        """
        coalesced = None
        if self._telemetry.on and keys:
            coalesced = Coalesced(keys, self.batchers[action].callers(keys))
        posting = self._wire.post(
            action, fields, write=write, ids=len(keys), slot=slot, keep=keep, then=then, coalesced=coalesced
        )
        try:
            if not write:  # bounded per attempt by the wire; no scope to pay for
                return await posting
            with anyio.fail_after(self._write_bound):  # a write's whole time, retries included
                return await posting
        except (SmmError, TimeoutError) as error:
            if not isinstance(error, ClientClosedError):
                self.counts["request_failures"] += 1
            return self._wire.scrub(error)

    def _splitter(self, spec: Spec, keys: Sequence[int]) -> Callable[[Any], _Split]:
        """Reads an answer for ``keys``: in a worker thread when it is long, as splitting can take a while."""

        def split(answer: Any) -> _Split:
            # A write's answer may be kept in an OutcomeUnknownError: masked here, once. A read's
            # is not kept (it is freed where it was split, in the worker thread if long).
            kept = self._wire.shown(answer) if spec.write else _READ
            try:
                items = spec.split(answer, keys)
            except UnreadableAnswerError as error:
                return _Split(kept, error)
            return _Split(kept, items, shown(answer) if items is None else "")

        return split

    def _decide(self, spec: Spec, key: int, fields: Mapping[str, str], got: Any, answer: Any = None) -> Any:
        """:func:`outcome` for one ID of ``spec``, counted.

        An item that reads is its value, :func:`outcome`'s first case, taken here without making
        its reader: this runs for every ID of every answer, a hundred thousand in one statuses().
        """
        kept = answer
        if got is not INTERRUPTED and not isinstance(got, BaseException):
            try:
                return spec.read(self._converter, key, got)
            except SmmError as error:  # what outcome() makes of it, without reading it again
                got, kept = error, got if answer is None else answer
        result = outcome(
            spec.action,
            fields,
            got,
            write=spec.write,
            read=functools.partial(spec.read, self._converter, key),
            answer=kept,
        )
        if isinstance(result, PanelError) and answer is not None:  # an item's error, not the request's
            self.counts["item_errors"] += 1
        result = self._safe(result)
        if self._telemetry.on:
            self._telemetry.decided(spec.action, result, item=answer is not None)
        return result

    def _interrupter(self, spec: Spec) -> Callable[[int], SmmError]:
        def interrupted(key: int) -> SmmError:
            fields = {spec.bulk: str(key)}
            result: SmmError = outcome(spec.action, fields, INTERRUPTED, write=True, read=lambda item: item)
            if self._telemetry.on:
                self._telemetry.decided(spec.action, result, item=False)
            return result

        return interrupted

    def _sender(self, spec: Spec) -> Callable[[list[int], Slot], Any]:
        async def send(keys: list[int], slot: Slot) -> dict[int, Any]:
            if len(keys) == 1 and spec.single is not None:
                return {keys[0]: await self._one(spec, keys[0], slot)}
            if spec.write:
                return await self._bulk_write(spec, keys, slot)
            state = self._dialects[spec.action]
            if state.bulk is None and not state.pinned:
                if state.probe is None:
                    state.probe = anyio.Lock()
                if state.probe.locked():
                    slot.release()  # a request slot is not held while waiting for the probe
                async with state.probe:
                    if state.bulk is None:
                        return await self._ask(spec, keys, slot)
            return await self._ask(spec, keys, slot)

        return send

    async def _one(self, spec: Spec, key: int, slot: Slot | None = None) -> Any:
        """One ID in the single form (or, for an action without one, the bulk form of one ID)."""
        fields = {spec.single or spec.bulk: str(key)}
        got = await self._request(
            spec.action,
            fields,
            slot,
            write=spec.write,
            keys=[key],
            keep=spec.creates,
            then=self._splitter(spec, [key]),
        )
        if isinstance(got, BaseException):
            return self._decide(spec, key, fields, got)
        if isinstance(got.items, UnreadableAnswerError):
            return self._decide(spec, key, fields, got.items, got.answer)
        if got.items is None:
            stray = UnreadableAnswerError(
                f"{spec.action}: the answer is not about {spec.noun} {key}: {got.start}"
            )
            return self._decide(spec, key, fields, stray, got.answer)
        return self._decide(spec, key, fields, got.items[key], got.answer)

    async def _each(self, spec: Spec, keys: Sequence[int], slot: Slot | None = None) -> dict[int, Any]:
        """Each ID in a request of its own, concurrently, under the client's ``max_concurrency``."""
        results: dict[int, Any] = {}

        async def one(key: int, held: Slot | None) -> None:
            results[key] = await self._one(spec, key, held)

        async with anyio.create_task_group() as group:
            for index, key in enumerate(keys):
                group.start_soon(one, key, slot if index == 0 else None)
        return {key: results[key] for key in keys}

    async def _ask(self, spec: Spec, keys: Sequence[int], slot: Slot | None = None) -> dict[int, Any]:
        """Each ID's outcome for a read, re-asking as the panel's answers teach."""
        got = await self._bulk_once(spec, keys, slot)
        if isinstance(got, dict):
            return got
        return await self._refused(spec, keys, got)

    async def _bulk_once(
        self, spec: Spec, keys: Sequence[int], slot: Slot | None
    ) -> dict[int, Any] | PanelError:
        """One bulk request of a read: each ID's outcome, or the refusal of the request as a whole."""
        if len(keys) == 1 or self._bulk(spec) is False:
            return await self._each(spec, keys, slot)
        fields = {spec.bulk: ",".join(map(str, keys))}
        got = await self._request(
            spec.action, fields, slot, write=False, keys=keys, then=self._splitter(spec, keys)
        )
        if isinstance(got, PanelError) and not isinstance(got, ACCOUNT_WIDE):
            return got
        if isinstance(got, BaseException):
            return {key: self._decide(spec, key, fields, got) for key in keys}
        answer, items, _ = got
        if isinstance(items, UnreadableAnswerError):
            return {key: self._decide(spec, key, fields, items, answer) for key in keys}
        if items is None:
            self._learn(
                spec, bulk=False, why=f"the panel's answer to {spec.bulk}= is keyed by none of the IDs asked"
            )
            return await self._each(spec, keys)
        if self._dialects[spec.action].bulk is None:
            self._learn(spec, bulk=True, why=f"the panel answers {spec.bulk}= by ID")
        # A read's outcome never names its fields: the request's serve every ID.
        return {key: self._decide(spec, key, fields, items[key], answer) for key in keys}

    async def _refused(self, spec: Spec, keys: Sequence[int], refusal: PanelError) -> dict[int, Any]:
        """Each ID's outcome after a bulk read was refused as a whole, naming no ID.

        A refusal that names a limit shrinks the action's batches to it. Otherwise the batch is
        asked again in halves: a panel that checks the whole list refuses only the half holding
        a bad ID, which is split again; a panel that does not read the bulk form refuses both,
        and the action goes one ID per request from then on.
        """
        limit = bulk_limit(str(refusal))
        if limit is not None:
            size = limit if 0 < limit < len(keys) else max(1, len(keys) // 2)
            self._learn(spec, size=size, why=f"the panel refused {len(keys)} IDs in one request ({refusal})")
            return await self._in_parts(spec, [keys[i : i + size] for i in range(0, len(keys), size)])
        half = len(keys) // 2
        parts = (keys[:half], keys[half:])
        answers: list[dict[int, Any] | PanelError] = [{}, {}]

        async def ask(index: int) -> None:
            answers[index] = await self._bulk_once(spec, parts[index], None)

        async with anyio.create_task_group() as group:
            group.start_soon(ask, 0)
            group.start_soon(ask, 1)
        if all(isinstance(answer, PanelError) for answer in answers) and self._bulk(spec) is None:
            each = await self._each(spec, keys)
            # Only if the single form answers is the bulk form unread: a panel refusing
            # everything (an outage, every ID unknown) teaches nothing.
            if any(not isinstance(result, SmmError) for result in each.values()):
                self._learn(
                    spec,
                    bulk=False,
                    why=f"the panel refused {spec.bulk}= and both its halves ({refusal}), not {spec.single}=",
                )
            return each
        results: dict[int, Any] = {}
        for part, answer in zip(parts, answers, strict=True):
            results.update(answer if isinstance(answer, dict) else await self._refused(spec, part, answer))
        if self._bulk(spec) is None and not any(isinstance(result, SmmError) for result in results.values()):
            # Every ID it refused is known one by one: the list had no bad ID, it went unread.
            self._learn(
                spec, bulk=False, why=f"the panel refused {spec.bulk}= of IDs it knows one by one ({refusal})"
            )
        return results

    async def _in_parts(self, spec: Spec, parts: list[Sequence[int]]) -> dict[int, Any]:
        results: dict[int, Any] = {}

        async def ask(part: Sequence[int]) -> None:
            results.update(await self._ask(spec, part))

        async with anyio.create_task_group() as group:
            for part in parts:
                group.start_soon(ask, part)
        return results

    async def _bulk_write(self, spec: Spec, keys: list[int], slot: Slot) -> dict[int, Any]:
        """A bulk write, sent once: never re-sent to learn anything."""
        if self._bulk(spec) is False and spec.single is not None:
            return await self._each(spec, keys, slot)  # formed before the panel taught otherwise
        fields = {spec.bulk: ",".join(map(str, keys))}
        got = await self._request(
            spec.action, fields, slot, write=True, keys=keys, then=self._splitter(spec, keys)
        )
        if isinstance(got, UnknownIdError):
            # It names no ID: it is the refusal of the whole request, not every ID's "unknown".
            got = PanelError(
                f"{spec.action}: the panel refused the whole request: {got}",
                status_code=got.status_code,
                code=got.code,
            )
        if isinstance(got, BaseException):
            return {key: self._decide(spec, key, {spec.bulk: str(key)}, got) for key in keys}
        answer, items, start = got
        if isinstance(items, UnreadableAnswerError):
            return {key: self._decide(spec, key, {spec.bulk: str(key)}, items, answer) for key in keys}
        if items is None:
            self._learn(spec, bulk=False, why=f"one answer came for {len(keys)} {spec.noun}s")
            lone = UnreadableAnswerError(
                f"{spec.action}: one answer came for {len(keys)} {spec.noun}s and cannot be split"
                f" by {spec.noun}: {start}"
            )
            return {key: self._decide(spec, key, {spec.bulk: str(key)}, lone, answer) for key in keys}
        return {key: self._decide(spec, key, {spec.bulk: str(key)}, items[key], answer) for key in keys}

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new lookups; send what is queued at once."""
        for batcher in self.batchers.values():
            batcher.close()

    async def wait_idle(self) -> None:
        """Wait until every lookup asked has its outcome."""
        for batcher in self.batchers.values():
            await batcher.wait_idle()

    def fail_pending(self) -> None:
        """Settle what is still waiting: never sent is closed, a write in flight unknown."""
        for batcher in self.batchers.values():
            batcher.fail_pending()
