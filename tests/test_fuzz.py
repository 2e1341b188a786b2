"""Fault injection: random fault schedules on FakePanel against random mixes of concurrent calls.

Each example draws a fault schedule for the fake panel (5xx, 429 with and without Retry-After,
spam protection, HTML, truncated JSON, a lone refill, missing and extra IDs, redirects, resets,
refused connections, latency 0; before or after the panel processed the request; a number of
times or with a probability from the panel's seed), a client (retries, batch size, concurrency)
and a mix of concurrent calls over overlapping IDs, some of whose callers are cancelled, with
aclose() at a drawn moment. Then it checks what the client promises whatever the panel does:

1. every call resolves: its value, an SmmError (a bulk call: a value or an SmmError per ID
   asked, in the order asked), or its cancellation if its caller was cancelled; nothing else
   escapes, and no value is another ID's or made up;
2. nothing hangs: each example runs under fail_after;
3. each write reaches the panel at most once, is sent again only after a refused connection,
   and is never reported refused when the panel did it (unless the panel said so itself);
4. no action is sent more often than the retry policy allows (1 + max_retries per send);
5. after aclose() every caller has finished and no request slot is held; a call made once
   aclose() has begun, or after, raises ClientClosedError.

Requests pass a gate that holds every request from a drawn one on, so "mid-flight" is a point
the test reaches by waiting until every task is blocked (anyio.wait_all_tasks_blocked() on trio,
the same test without its 0.1 s polls on asyncio): cancellations and aclose() come then, or at
once. Nothing sleeps: the retry backoff is 0 or a microsecond and every Retry-After is 0 or
beyond the client's cap. SMMAPI_HYPOTHESIS_PROFILE=fuzz (``nox -s fuzz``) runs it longer; the
run ends with a summary line (schedules tried, calls made, hangs, lost, duplicate writes).
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import anyio
import attrs
import httpx
import pytest
import smmapi
from hypothesis import event, given
from hypothesis import strategies as st
from smmapi._lookups import SPECS
from smmapi.testing import FakeOrder, FakePanel, FakeProductOrder, FakeRefill, Fault, PanelRequest

pytestmark = pytest.mark.anyio

LIMIT = 10  # seconds one example may take: far more than it needs, even on a busy machine
#: Requests one read ID may cost before retries: its batch asked whole, then in halves while the
#: client learns the panel's dialect (at most 2k - 1 bulk requests for k IDs), then one by one.
LEARNING = 3

#: IDs the calls ask about: the four orders and two product orders the setup places, the refills
#: it makes if the orders allow (501, 502; later ones come from the calls), and IDs never made.
ORDERS = (10_001, 10_002, 10_003, 10_004, 19_999)
PRODUCT_ORDERS = (70_001, 70_002, 79_999)
REFILLS = (501, 502, 503)
#: What the setup orders: refill and cancel, refill only, cancel only, refill and cancel.
SETUP_SERVICES = (101, 103, 102, 101)

#: Each method that takes IDs: the action it sends, the IDs it asks about, and whether it is bulk.
BY_ID: dict[str, tuple[str, tuple[int, ...], bool]] = {
    "status": ("status", ORDERS, False),
    "statuses": ("status", ORDERS, True),
    "product_order_status": ("product_order_status", PRODUCT_ORDERS, False),
    "product_order_statuses": ("product_order_status", PRODUCT_ORDERS, True),
    "refill_status": ("refill_status", REFILLS, False),
    "refill_statuses": ("refill_status", REFILLS, True),
    "refill": ("refill", ORDERS, False),
    "refills": ("refill", ORDERS, True),
    "cancel": ("cancel", ORDERS, False),
    "cancels": ("cancel", ORDERS, True),
}
#: The others, each one request per call (and its retries).
PLAIN = ("add", "add_product_order", "balance", "services")
ACTIONS = (*sorted({action for action, _, _ in BY_ID.values()}), *PLAIN)
WRITES = frozenset({"add", "add_product_order"} | {spec.action for spec in SPECS.values() if spec.write})
#: Faults after which the panel says "no" although it did the request: the client cannot know.
LIES = frozenset({"rate_limited", "spam_protection", "redirect"})
UNDONE = ("Pending", "In progress")
CANCELED = ("Canceled", "Partial")


def link(index: int) -> str:
    """The link of the ``add`` of call ``index``: unique, so its orders can be counted."""
    return f"https://instagram.com/p/fuzz-{index}"


def require(index: int) -> str:
    """The ``require`` of the ``add_product_order`` of call ``index``: unique likewise."""
    return f"fuzz-{index}@example.com"


# -- what an example draws -----------------------------------------------------------------------


@attrs.frozen
class Rule:
    """One misbehave() rule: a fault, for an action (any if None), some times or with odds."""

    fault: Fault
    action: str | None
    times: int | None
    probability: float | None


@attrs.frozen
class Call:
    """One caller: a method, its argument (an ID, IDs, a service or a product), and whether it leaves."""

    method: str
    arg: Any = None
    cancel: bool = False

    @property
    def action(self) -> str:
        return BY_ID[self.method][0] if self.method in BY_ID else self.method

    @property
    def bulk(self) -> bool:
        return self.method in BY_ID and BY_ID[self.method][2]

    def ids(self) -> list[int]:
        """The IDs asked, once each, in order."""
        if self.method not in BY_ID:
            return []
        return list(dict.fromkeys(self.arg)) if self.bulk else [self.arg]


@attrs.frozen
class Scenario:
    seed: int
    advance: tuple[float, float]
    max_retries: int
    retry_backoff: float
    max_batch_size: int
    max_concurrency: int
    rules: tuple[Rule, ...]
    calls: tuple[Call, ...]
    #: Requests before the gate holds the rest; more than are sent: the gate never holds.
    hold_from: int
    #: When the drawn callers are cancelled: as they start, or once the gate holds requests.
    cancel_at: Literal["start", "hold"]
    #: When aclose() comes: before any call, as they start, while the gate holds, after all.
    close_at: Literal["before", "start", "hold", "after"]


WHEN = st.sampled_from(["before", "after"])
#: 0, a date in the past (0 too), or beyond the client's 30 s cap (no retry): nothing waits.
RETRY_AFTER = st.sampled_from(
    [None, 0, 3600, "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"]
)
FAULTS = st.one_of(
    st.builds(Fault.status, st.sampled_from([500, 502, 503, 504]), when=WHEN),
    st.builds(Fault.rate_limited, RETRY_AFTER, when=WHEN),
    st.builds(Fault.spam_protection, st.sampled_from([0, 3600]), when=WHEN),
    st.builds(Fault.html, st.sampled_from([200, 503]), when=WHEN),
    st.just(Fault.truncated()),
    st.just(Fault.lone_refill()),
    st.builds(Fault.missing_ids, st.none() | st.lists(st.sampled_from(ORDERS + REFILLS), min_size=1)),
    # Never an ID a call asks: an "extra" item for an asked ID would replace its real one, and
    # the client could not tell the panel's lie from the truth.
    st.builds(Fault.extra_ids, st.none() | st.just([88_888])),
    st.builds(Fault.redirect, when=WHEN),
    st.builds(Fault.reset, when=WHEN),
    st.just(Fault.refused()),
    st.builds(Fault.latency, st.just(0), when=WHEN),
)


@st.composite
def _rules(draw: st.DrawFn) -> Rule:
    fault = draw(FAULTS)
    action = draw(st.none() | st.sampled_from(ACTIONS))
    if draw(st.booleans()):
        return Rule(fault, action, times=draw(st.integers(1, 3)), probability=None)
    return Rule(fault, action, times=None, probability=draw(st.sampled_from([0.2, 0.5, 1.0])))


@st.composite
def _calls(draw: st.DrawFn) -> Call:
    method = draw(st.sampled_from([*BY_ID, *PLAIN]))
    arg: Any = None
    if method in BY_ID:
        _, pool, bulk = BY_ID[method]
        ids = st.sampled_from(pool)
        arg = tuple(draw(st.lists(ids, max_size=4))) if bulk else draw(ids)
    elif method == "add":
        arg = draw(st.sampled_from([101, 102, 103]))
    elif method == "add_product_order":
        arg = draw(st.sampled_from([4, 3, 1]))
    return Call(method, arg, cancel=draw(st.sampled_from([False, False, True])))


RULES = _rules()
CALLS = _calls()


def scenarios(*, calls: tuple[int, int], rules: int, hold: int) -> st.SearchStrategy[Scenario]:
    """Scenarios of ``calls`` (fewest, most) callers, up to ``rules`` rules, a gate from 0 to ``hold``."""
    return st.builds(
        Scenario,
        seed=st.integers(0, 2**16),
        advance=st.tuples(st.sampled_from([0, 45, 300, 1000]), st.sampled_from([0, 60, 1000])),
        max_retries=st.integers(0, 2),
        retry_backoff=st.sampled_from([0, 1e-6]),
        max_batch_size=st.sampled_from([100, 1, 2, 3]),
        max_concurrency=st.sampled_from([10, 1, 2]),
        rules=st.lists(RULES, min_size=1, max_size=rules).map(tuple),
        calls=st.lists(CALLS, min_size=calls[0], max_size=calls[1]).map(tuple),
        hold_from=st.integers(0, hold),
        cancel_at=st.sampled_from(["hold", "start"]),
        close_at=st.sampled_from(["after", "after", "hold", "start", "before"]),
    )


# -- playing an example --------------------------------------------------------------------------


class Gate(httpx.AsyncBaseTransport):
    """The panel's transport, holding every request after the first ``hold_from`` until opened."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hold_from: int) -> None:
        self._inner = inner
        self._hold_from = hold_from
        self._seen = 0
        self.opened = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._seen += 1
        if self._seen > self._hold_from:
            await self.opened.wait()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@attrs.frozen
class Returned:
    value: Any


@attrs.frozen
class Raised:
    error: smmapi.SmmError


@attrs.frozen
class Escaped:
    error: BaseException


@attrs.frozen
class Cancelled:
    pass


Outcome = Returned | Raised | Escaped | Cancelled


@attrs.define
class Record:
    """What happened in one example, for the checks."""

    requests: list[PanelRequest]  # those of the fuzzed phase only
    orders_before: dict[int, FakeOrder]
    refills_before: frozenset[int]
    outcomes: list[Outcome | None]
    #: Whether each call began after aclose() had: it must raise ClientClosedError.
    late: list[bool]
    closing: bool = False
    hung: bool = False
    closed_refuses: bool = False
    slots_held: int = 0
    orders: dict[int, FakeOrder] = attrs.Factory(dict)
    refills: dict[int, FakeRefill] = attrs.Factory(dict)
    product_orders: dict[int, FakeProductOrder] = attrs.Factory(dict)


async def all_blocked(backend: str) -> None:
    """anyio.wait_all_tasks_blocked(), without its 0.1 s real-time polls on asyncio.

    Every task here waits on other tasks or on the gate, never on a network, so looking at each
    turn of the loop (as anyio does, at ``Task._fut_waiter``) keeps hundreds of examples fast.
    """
    if backend != "asyncio":
        await anyio.wait_all_tasks_blocked()
        return
    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        waiters = [task._fut_waiter for task in asyncio.all_tasks() if task is not this]
        if all(waiter is not None and not waiter.done() for waiter in waiters):
            return


async def open_account(panel: FakePanel, advance: tuple[float, float]) -> None:
    """Place the orders the calls ask about, with plain httpx and no faults yet."""
    async with httpx.AsyncClient(transport=panel.transport(), base_url=panel.url) as http:

        async def post(**fields: Any) -> None:
            response = await http.post("", data={"key": panel.key, **fields})
            response.raise_for_status()

        for service in SETUP_SERVICES:
            await post(
                action="add", service=service, link=f"https://instagram.com/p/s{service}", quantity=200
            )
        await post(action="add_product_order", product=4, quantity=1)
        await post(action="add_product_order", product=1, quantity=1, require="setup@example.com")
        panel.advance(advance[0])
        await post(action="refill", orders=f"{ORDERS[0]},{ORDERS[1]}")  # refills 501, 502 if they can
        panel.advance(advance[1])


async def invoke(client: smmapi.AsyncClient, call: Call, index: int) -> Any:
    if call.method == "add":
        return await client.add(service=call.arg, link=link(index), quantity=200)
    if call.method == "add_product_order":
        return await client.add_product_order(product=call.arg, quantity=1, require=require(index))
    method = getattr(client, call.method)
    if call.method in BY_ID:
        return await method(list(call.arg) if call.bulk else call.arg)
    return await method()


async def close(client: smmapi.AsyncClient, record: Record) -> None:
    record.closing = True
    await client.aclose()


async def run_call(
    client: smmapi.AsyncClient, call: Call, index: int, scope: anyio.CancelScope, record: Record
) -> None:
    record.late[index] = record.closing
    outcome: Outcome = Cancelled()  # stays so only if this scope's cancellation ended the call
    with scope:
        try:
            outcome = Returned(await invoke(client, call, index))
        except smmapi.SmmError as error:
            outcome = Raised(error)
        except (anyio.get_cancelled_exc_class(), KeyboardInterrupt):
            raise
        except BaseException as error:  # noqa: BLE001  (anything else escaping is what we look for)
            outcome = Escaped(error)
    record.outcomes[index] = outcome


async def drive(
    scenario: Scenario,
    backend: str,
    client: smmapi.AsyncClient,
    gate: Gate,
    record: Record,
) -> None:
    scopes = [anyio.CancelScope() for _ in scenario.calls]

    def cancel_callers() -> None:
        for call, scope in zip(scenario.calls, scopes, strict=True):
            if call.cancel:
                scope.cancel()

    if scenario.close_at == "before":
        await close(client, record)
    async with anyio.create_task_group() as group:
        for index, call in enumerate(scenario.calls):
            group.start_soon(run_call, client, call, index, scopes[index], record)
        if scenario.cancel_at == "start":
            cancel_callers()
        if scenario.close_at == "start":
            group.start_soon(close, client, record)  # on trio, it may run before some callers start
        await all_blocked(backend)  # every request from the gate's on is held; the rest are done
        if scenario.cancel_at == "hold":
            cancel_callers()
        if scenario.close_at == "hold":
            group.start_soon(close, client, record)
            await all_blocked(backend)
        gate.opened.set()
    await client.aclose()  # "after", and a second close for the others: it must do nothing


async def play(scenario: Scenario, backend: str) -> Record:
    panel = FakePanel(seed=scenario.seed)
    await open_account(panel, scenario.advance)
    start = len(panel.requests)
    record = Record(
        requests=[],
        orders_before=dict(panel.orders),
        refills_before=frozenset(panel.refills),
        outcomes=[None] * len(scenario.calls),
        late=[False] * len(scenario.calls),
    )
    for rule in scenario.rules:
        panel.misbehave(rule.fault, action=rule.action, times=rule.times, probability=rule.probability)
    gate = Gate(panel.transport(), scenario.hold_from)
    client = smmapi.AsyncClient(
        panel.url,
        panel.key,
        transport=gate,
        batch_window=0,
        retry_backoff=scenario.retry_backoff,
        max_retries=scenario.max_retries,
        max_batch_size=scenario.max_batch_size,
        max_concurrency=scenario.max_concurrency,
    )
    try:
        with anyio.fail_after(LIMIT):
            await drive(scenario, backend, client, gate, record)
    except TimeoutError:
        record.hung = True
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            gate.opened.set()
            await client.aclose()
    try:
        await client.statuses([ORDERS[0]])
    except smmapi.ClientClosedError:
        record.closed_refuses = True
    record.slots_held = client._wire._limiter.borrowed_tokens  # a leaked slot starves later calls
    record.requests = panel.requests[start:]
    record.orders = dict(panel.orders)
    record.refills = dict(panel.refills)
    record.product_orders = dict(panel.product_orders)
    return record


# -- the checks ----------------------------------------------------------------------------------

Problem = tuple[str, str]  # (kind, what went wrong)


def processed(request: PanelRequest) -> bool:
    """Whether the panel acted on the request: no fault, a fault after it, or mere latency."""
    fault = request.fault
    return fault is None or fault.when == "after" or fault.kind == "latency"


def asked(request: PanelRequest) -> set[int]:
    fields = request.fields
    text = fields.get("orders") or fields.get("refills") or fields.get("order") or fields.get("refill") or ""
    return {int(token) for token in text.split(",") if token.strip().isdigit()}


def cancel_targets(scenario: Scenario) -> set[int]:
    return {key for call in scenario.calls if call.action == "cancel" for key in call.ids()}


def judge_item(scenario: Scenario, record: Record, action: str, key: int, value: Any) -> str | None:
    """What is wrong with ``value`` as the answer for ``key``, if anything: the panel is the truth."""
    truth: Any
    if action == "status":
        truth = record.orders.get(key)
        ok = (
            isinstance(value, smmapi.OrderStatus)
            and truth is not None
            and value.order == key
            # Time stands still in the fuzzed phase: only a cancel changes an order.
            and (
                key in cancel_targets(scenario)
                or (value.status, value.remains) == (truth.status, truth.remains)
            )
        )
    elif action == "product_order_status":
        truth = record.product_orders.get(key)
        ok = (
            isinstance(value, smmapi.ProductOrderStatus)
            and truth is not None
            and (value.order, value.status) == (key, truth.status)
        )
    elif action == "refill_status":
        truth = record.refills.get(key)
        ok = (
            isinstance(value, smmapi.RefillStatus)
            and truth is not None
            and (value.refill, value.status) == (key, truth.status)
        )
    elif action == "refill":
        truth = record.refills.get(value) if isinstance(value, int) else None
        ok = truth is not None and truth.order == key and value not in record.refills_before
    else:  # an accepted cancel: the panel moved the order from under way to cancelled
        truth = (record.orders_before.get(key), record.orders.get(key))
        ok = value is None and done_on_panel(record, "cancel", key)
    return None if ok else f"{action} {key} answered {value!r}, but the panel has {truth!r}"


def judge(scenario: Scenario, record: Record, index: int, value: Any) -> list[Problem]:
    """Whether a returned value is the right kind and the panel's truth (invariant 1)."""
    call = scenario.calls[index]
    where = f"call {index} {call}"
    if call.bulk:
        if not isinstance(value, dict) or list(value) != call.ids():
            return [("wrong", f"{where} returned {value!r}, not a dict keyed by {call.ids()} in that order")]
        problems = []
        for key, item in value.items():
            if isinstance(item, smmapi.SmmError):
                continue
            if (wrong := judge_item(scenario, record, call.action, key, item)) is not None:
                problems.append(("wrong", f"{where}: {wrong}"))
        return problems
    if call.method in BY_ID:
        wrong = judge_item(scenario, record, call.action, call.arg, value)
    elif call.method == "add":
        order = record.orders.get(value) if isinstance(value, int) else None
        ok = order is not None and order.fields.get("link") == link(index)
        wrong = None if ok else f"returned {value!r}, but the panel's order is {order!r}"
    elif call.method == "add_product_order":
        product_order = record.product_orders.get(value) if isinstance(value, int) else None
        ok = product_order is not None and product_order.require == require(index)
        wrong = None if ok else f"returned {value!r}, but the panel's product order is {product_order!r}"
    elif call.method == "balance":
        wrong = None if isinstance(value, smmapi.Balance) else f"returned {value!r}"
    else:
        ok = isinstance(value, list) and all(isinstance(s, smmapi.Service) for s in value)
        wrong = None if ok else f"returned {value!r}"
    return [] if wrong is None else [("wrong", f"{where}: {wrong}")]


def check_resolved(scenario: Scenario, record: Record) -> list[Problem]:
    """Invariant 1: a value, an SmmError, or the caller's own cancellation; nothing else."""
    problems: list[Problem] = []
    for index, (call, outcome) in enumerate(zip(scenario.calls, record.outcomes, strict=True)):
        where = f"call {index} {call}"
        late = record.late[index]
        if outcome is None:
            problems.append(("lost", f"{where} never resolved"))
        elif isinstance(outcome, Escaped):
            problems.append(("escaped", f"{where} raised {outcome.error!r}, which is no SmmError"))
        elif isinstance(outcome, Cancelled):
            if not call.cancel:
                problems.append(("lost", f"{where} was cancelled, but nobody cancelled its caller"))
        elif isinstance(outcome, Raised):
            closed = isinstance(outcome.error, smmapi.ClientClosedError)
            if late and not closed:
                problems.append(("closed", f"{where}, made after aclose(), raised {outcome.error!r}"))
            elif call.bulk and not closed:
                problems.append(
                    ("escaped", f"{where} raised {outcome.error!r}: bulk calls map errors to IDs")
                )
        elif late:
            problems.append(("closed", f"{where}, made after aclose(), returned {outcome.value!r}"))
        else:
            problems.extend(judge(scenario, record, index, outcome.value))
    return problems


def writes(scenario: Scenario) -> dict[tuple[str, str | int], list[int]]:
    """Each write asked: (action, link / require / order ID) -> the calls that asked it."""
    asked_by: dict[tuple[str, str | int], list[int]] = {}
    for index, call in enumerate(scenario.calls):
        if call.method == "add":
            asked_by.setdefault(("add", link(index)), []).append(index)
        elif call.method == "add_product_order":
            asked_by.setdefault(("add_product_order", require(index)), []).append(index)
        elif call.action in WRITES:
            for key in call.ids():
                asked_by.setdefault((call.action, key), []).append(index)
    return asked_by


def carries(request: PanelRequest, action: str, what: str | int) -> bool:
    if request.action != action:
        return False
    if action == "add":
        return request.fields.get("link") == what
    if action == "add_product_order":
        return request.fields.get("require") == what
    return what in asked(request)


def done_on_panel(record: Record, action: str, what: str | int) -> bool:
    """Whether the panel did this write during the fuzzed phase."""
    if action == "add":
        return any(order.fields.get("link") == what for order in record.orders.values())
    if action == "add_product_order":
        return any(order.require == what for order in record.product_orders.values())
    if action == "refill":
        return any(r.order == what and r.id not in record.refills_before for r in record.refills.values())
    before, now = record.orders_before.get(what), record.orders.get(what)
    return before is not None and now is not None and before.status in UNDONE and now.status in CANCELED


def refusal(outcome: Outcome | None, call: Call, what: str | int) -> smmapi.SmmError | None:
    """The error a call reported for a write, if it said the write was not done."""
    error: Any = None
    if isinstance(outcome, Raised):
        error = outcome.error
    elif isinstance(outcome, Returned) and call.bulk and isinstance(outcome.value, dict):
        error = outcome.value.get(what)
    if isinstance(error, smmapi.SmmError) and not isinstance(error, smmapi.OutcomeUnknownError):
        return error
    return None


def check_writes(scenario: Scenario, record: Record) -> list[Problem]:
    """Invariant 3: each write reached the panel at most once, and was reported truthfully.

    Every caller starts at once, so callers of one order ID join one write: the panel must
    act on it at most once, whichever of them asked.
    """
    problems: list[Problem] = []
    attempts = 1 + scenario.max_retries
    for (action, what), indexes in writes(scenario).items():
        sent = [r for r in record.requests if carries(r, action, what)]
        faults = [r.fault for r in sent]
        if len([r for r in sent if processed(r)]) > 1:
            problems.append(
                ("duplicate", f"{action} {what!r} (calls {indexes}) was processed twice: {faults}")
            )
        if any(fault is None or fault.kind != "refused" for fault in faults[:-1]):
            problems.append(("resent", f"{action} {what!r} was sent again after {faults[:-1]}"))
        if len(sent) > attempts:
            problems.append(("retries", f"{action} {what!r} was sent {len(sent)} times, at most {attempts}"))
        if not done_on_panel(record, action, what) or any(f is not None and f.kind in LIES for f in faults):
            continue
        for index in indexes:
            call = scenario.calls[index]
            error = refusal(record.outcomes[index], call, what)
            if record.late[index] and isinstance(error, smmapi.ClientClosedError):
                continue  # refused at the door: another caller's write is what the panel did
            if error is not None:
                problems.append(
                    ("misreported", f"call {index} {call} got {error!r}, but the panel did {action} {what!r}")
                )
    return problems


def check_retries(scenario: Scenario, record: Record) -> list[Problem]:
    """Invariant 4: per action, at most 1 + max_retries requests per send the calls allow.

    A write's send carries at least one ID asked; a read's ID may cost LEARNING sends while the
    client learns the dialect, and a read cut off by a cancelled caller is sent again, once per
    ID that caller asked at most.
    """
    sends: Counter[str] = Counter()
    for call in scenario.calls:
        if call.method in BY_ID:
            read = call.action not in WRITES
            sends[call.action] += (
                len(call.ids()) * (LEARNING if read else 1) * (2 if read and call.cancel else 1)
            )
        else:
            sends[call.action] += 1
    attempts = 1 + scenario.max_retries
    sent = Counter(request.action for request in record.requests)
    return [
        ("retries", f"{count} {action} requests, but the calls allow {attempts} x {sends[action]}")
        for action, count in sent.items()
        if action is None or count > attempts * sends[action]
    ]


def check_closed(record: Record) -> list[Problem]:
    """Invariant 5: everything finished (or we would not be here), no slot held, calls refused."""
    problems: list[Problem] = []
    if not record.closed_refuses:
        problems.append(("closed", "statuses() after aclose() did not raise ClientClosedError"))
    if record.slots_held:
        problems.append(("leak", f"{record.slots_held} request slots still held after aclose()"))
    return problems


def check(scenario: Scenario, record: Record) -> list[Problem]:
    if record.hung:
        return [("hang", f"the example did not finish within {LIMIT} s")]
    return [
        *check_resolved(scenario, record),
        *check_writes(scenario, record),
        *check_retries(scenario, record),
        *check_closed(record),
    ]


# -- the summary -----------------------------------------------------------------------------------


@attrs.define
class Tally:
    schedules: int = 0
    calls: int = 0
    requests: int = 0
    faulted: int = 0
    cancelled: int = 0
    errors: int = 0
    problems: Counter[str] = attrs.Factory(Counter)

    def count(self, scenario: Scenario, record: Record, problems: Sequence[Problem]) -> None:
        self.schedules += 1
        self.calls += len(scenario.calls)
        self.requests += len(record.requests)
        self.faulted += sum(request.fault is not None for request in record.requests)
        self.cancelled += sum(isinstance(outcome, Cancelled) for outcome in record.outcomes)
        self.errors += sum(isinstance(outcome, Raised) for outcome in record.outcomes)
        self.problems.update(kind for kind, _ in problems)

    def line(self) -> str:
        others = Counter({k: n for k, n in self.problems.items() if k not in ("hang", "lost", "duplicate")})
        return (
            f"{self.schedules} schedules tried, {self.calls} calls made ({self.errors} SmmErrors,"
            f" {self.cancelled} cancelled), {self.requests} requests ({self.faulted} with a fault);"
            f" hangs {self.problems['hang']}, lost {self.problems['lost']},"
            f" duplicate writes {self.problems['duplicate']}, other violations {others.total()}"
            + (f" ({', '.join(f'{kind} {n}' for kind, n in sorted(others.items()))})" if others else "")
        )


TALLY = Tally()


class _Summary:
    """Prints the tally when the run ends (a plugin registered by the fixture below)."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter: Any) -> None:
        if TALLY.schedules:
            terminalreporter.write_sep("-", "fault-injection summary")
            terminalreporter.write_line(TALLY.line())


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("smmapi-fuzz-summary"):
        manager.register(_Summary(), "smmapi-fuzz-summary")


@pytest.fixture(name="anyio_backend", scope="module", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


# -- the tests -------------------------------------------------------------------------------------


async def play_and_check(scenario: Scenario, backend: str) -> None:
    record = await play(scenario, backend)
    event(f"aclose {scenario.close_at}")
    event(f"{len(record.requests) // 5 * 5}+ requests")
    for request in record.requests:
        if request.fault is not None:
            event(f"fault {request.fault.kind} {request.fault.when}")
    problems = check(scenario, record)
    TALLY.count(scenario, record, problems)
    assert not problems, "\n".join(f"{kind}: {text}" for kind, text in problems)


@given(scenario=scenarios(calls=(2, 12), rules=4, hold=12))
async def test_any_fault_schedule_keeps_every_promise(anyio_backend, scenario):
    await play_and_check(scenario, anyio_backend)


@given(scenario=scenarios(calls=(12, 40), rules=6, hold=40))
async def test_a_crowd_of_callers_under_faults_keeps_every_promise(anyio_backend, scenario):
    await play_and_check(scenario, anyio_backend)
