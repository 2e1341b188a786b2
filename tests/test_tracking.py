"""smmapi.tracking on SQLite: the journal of writes and the tracking of what they placed.

Every test runs on asyncio and trio against the fake panel in process, bounded by fail_after;
tracking runs with interval=0, so what it waits for is the panel's clock (settle), not time.
The crash tests that kill real processes are in test_tracking_crash.py.
"""

import contextlib
import datetime
import inspect
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import smmapi
import smmapi.tracking
import trio.testing
from smmapi import _config
from smmapi.testing import FakePanel, Fault
from smmapi.tracking import SchemaVersionError, TrackedOrder, Tracker, TrackerLockedError, _models
from smmapi.tracking._tracker import open_store

import tracking_support
from tracking_support import LINK, adds, final_changes, opened

pytestmark = pytest.mark.anyio

# The anyio_backend (asyncio and trio) and fake fixtures.
_anyio_backend, _fake = tracking_support.anyio_backend, tracking_support.fake


@pytest.fixture(name="db")
def _db(tmp_path: Path) -> Path:
    return tmp_path / "orders.db"


def journal(db: Path) -> list[dict[str, Any]]:
    """The journal's rows as another process would read them."""
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:  # closed, committed
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM smmapi_journal ORDER BY id")]


# -- the journal ------------------------------------------------------------------------------


async def test_add_places_the_order_and_journals_it(fake, db):
    async with opened(fake, db, track=False) as tracker:
        placed = await tracker.add(ref="chat42:msg7", service=101, link=LINK, quantity=1000)
    assert isinstance(placed, TrackedOrder)
    assert (placed.ref, placed.action, placed.state) == ("chat42:msg7", "add", "placed")
    assert placed.order in fake.orders
    assert placed.fields == {"service": 101, "link": LINK, "quantity": 1000}
    assert placed.asked_at is not None
    assert placed.answered_at is not None
    assert placed.asked_at <= placed.answered_at
    assert placed.error is None
    assert placed.status is None


async def test_the_same_ref_again_sends_nothing_and_returns_the_stored_order(fake, db):
    async with opened(fake, db, track=False) as tracker:
        first = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        again = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    async with opened(fake, db, track=False) as tracker:  # and after a restart
        later = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    assert adds(fake) == 1
    assert first.order == again.order == later.order


async def test_the_same_ref_with_other_fields_is_a_value_error(fake, db):
    async with opened(fake, db, track=False) as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        with pytest.raises(smmapi.ValidationError, match="r1") as caught:
            await tracker.add(ref="r1", service=101, link=LINK, quantity=2000)
    assert isinstance(caught.value, ValueError)
    assert adds(fake) == 1


async def test_the_intent_is_committed_before_the_request_and_never_holds_the_key(fake, db):
    seen: list[list[dict[str, Any]]] = []
    inner = fake.transport()

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"action=add" in request.content:
                seen.append(journal(db))  # what a crash at this moment would leave
            return await inner.handle_async_request(request)

    async with opened(fake, db, transport=Spy(), track=False) as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000, comments=None)
    [[row]] = seen
    assert (row["ref"], row["action"], row["state"]) == ("r1", "add", "sending")
    assert json.loads(row["fields"]) == {"service": 101, "link": LINK, "quantity": 1000}
    for path in db.parent.iterdir():
        assert fake.key.encode() not in path.read_bytes()


async def test_a_refusal_is_stored_and_never_sent_again(fake, db):
    fake.balance = "0"
    async with opened(fake, db, track=False) as tracker:
        refused = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        again = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    assert refused.state == again.state == "refused"
    assert isinstance(again.error, smmapi.InsufficientFundsError)
    assert str(again.error) == str(refused.error)
    assert adds(fake) == 1


async def test_an_unknown_outcome_is_stored_listed_and_never_resent(fake, db):
    fake.misbehave(Fault.status(502, when="after"), action="add", times=1)
    async with opened(fake, db, track=False) as tracker:
        lost = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        again = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        unresolved = await tracker.unresolved()
    assert lost.state == again.state == "unknown"
    assert isinstance(again.error, smmapi.OutcomeUnknownError)
    assert [entry.ref for entry in unresolved] == ["r1"]
    assert adds(fake) == 1
    assert len(fake.orders) == 1  # the panel did place it: the user reconciles


async def test_resolve_records_the_order_found_and_tracks_it(fake, db):
    fake.misbehave(Fault.status(502, when="after"), action="add", times=1)
    async with opened(fake, db) as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        [found] = fake.orders
        fake.settle()
        resolved = await tracker.resolve("r1", order=found)
        assert (resolved.state, resolved.order) == ("placed", found)
        change = await anext(tracker.changes(after=0))
        assert (change.ref, change.order, change.status.status) == ("r1", found, "Completed")
        assert await tracker.unresolved() == []
        with pytest.raises(smmapi.ValidationError, match="placed"):
            await tracker.abandon("r1")


async def test_abandon_records_that_nothing_was_placed(fake, db):
    fake.misbehave(Fault.status(502), action="add", times=1)  # never processed
    async with opened(fake, db, track=False) as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        abandoned = await tracker.abandon("r1")
        again = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    assert abandoned.state == again.state == "abandoned"
    assert adds(fake) == 1
    assert not fake.orders


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"link": ""}, id="empty-link"),
        pytest.param({"quantity": -1}, id="negative-quantity"),
        pytest.param({"qantity": 5}, id="typo"),
    ],
)
async def test_bad_input_raises_and_leaves_the_ref_free(fake, db, bad):
    async with opened(fake, db, track=False) as tracker:
        with pytest.raises((smmapi.ValidationError, TypeError)):
            await tracker.add(ref="r1", **{"service": 101, "link": LINK, "quantity": 1000, **bad})
        placed = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    assert placed.state == "placed"
    assert adds(fake) == 1


async def test_no_connection_raises_and_leaves_the_ref_free(fake, db):
    rule = fake.misbehave(Fault.refused(), action="add")
    async with opened(fake, db, track=False) as tracker:
        with pytest.raises(smmapi.ConnectError):
            await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        assert await tracker.get("r1") is None
        rule.cancel()
        placed = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
    assert placed.state == "placed"


async def test_a_write_left_sending_by_a_dead_tracker_is_unknown_on_the_next_start(fake, db):
    async with opened(fake, db, track=False) as tracker:
        await tracker.add(ref="done", service=101, link=LINK, quantity=1000)
    # What a process killed between commit and answer leaves: an intent, no answer.
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:  # closed, committed
        connection.execute(
            "INSERT INTO smmapi_journal (ref, action, fields, state, asked_at, owner)"
            " VALUES ('lost', 'add', '{\"service\": 101}', 'sending', 1.0, 7)"
        )
    async with opened(fake, db, track=False) as tracker:
        [lost] = await tracker.unresolved()
        again = await tracker.add(ref="lost", service=101)
    assert (lost.ref, lost.state, lost.fields) == ("lost", "unknown", {"service": 101})
    assert isinstance(lost.error, smmapi.OutcomeUnknownError)
    assert lost.error.fields == {"service": "101"}
    assert again.state == "unknown"
    assert adds(fake) == 1


async def test_an_error_in_the_body_passes_through_the_tracker(fake, db):
    with pytest.raises(KeyError, match="mine"):
        async with opened(fake, db):
            raise KeyError("mine")


async def test_a_closed_tracker_raises(fake, db):
    async with opened(fake, db, track=False) as tracker:
        pass
    with pytest.raises(smmapi.ClientClosedError):
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)


async def test_one_tracker_at_a_time_per_sqlite_file(fake, db):
    async with opened(fake, db, track=False):
        with pytest.raises(TrackerLockedError, match="PostgreSQL"):
            async with opened(fake, db, track=False):
                pass
    async with opened(fake, db, track=False):  # released on close
        pass


async def test_a_newer_schema_is_refused(fake, db):
    async with opened(fake, db, track=False):
        pass
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:  # closed, committed
        connection.execute("UPDATE smmapi_schema SET version = ?", (smmapi.tracking.SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaVersionError, match="upgrade smmapi"):
        async with opened(fake, db, track=False):
            pass


async def test_the_store_records_its_schema_version(fake, db):
    async with opened(fake, db, track=False):
        pass
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:  # closed, committed
        assert connection.execute("SELECT version FROM smmapi_schema").fetchall() == [(1,)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_refill_and_cancel_are_journaled_once_each(fake, db):
    async with opened(fake, db) as tracker:
        placed = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        fake.settle()
        refill = await tracker.refill("r1")
        assert (await tracker.refill("r1")).refill == refill.refill
        assert (refill.action, refill.state, refill.order) == ("refill", "placed", placed.order)
        assert refill.refill in fake.refills
        fake.settle()
        changes = tracker.changes(after=0)
        while True:
            change = await anext(changes)
            if change.action == "refill" and change.status.status.is_final:
                break
        assert change.ref == "r1"
        assert change.status.refill == refill.refill
        cancel = await tracker.cancel("r1")
        assert await tracker.cancel("r1") == cancel
        assert (cancel.action, cancel.state) == ("cancel", "refused")  # a completed order
        assert isinstance(cancel.error, smmapi.PanelError)
    assert len(fake.requests_for("refill")) == 1
    assert len(fake.requests_for("cancel")) == 1


async def test_refill_of_a_ref_with_no_placed_order_raises(fake, db):
    async with opened(fake, db, track=False) as tracker:
        with pytest.raises(smmapi.ValidationError, match="no placed order"):
            await tracker.refill("nothing")
    assert not fake.requests


# -- tracking ---------------------------------------------------------------------------------


async def test_tracking_follows_placed_orders_to_their_final_status(fake, db):
    async with opened(fake, db) as tracker:
        for number in range(3):
            await tracker.add(ref=f"r{number}", service=101, link=LINK, quantity=1000)
        fake.settle()
        seen = await final_changes(tracker, 3)
        entry = await tracker.get("r0")
    finals = [c for c in seen if c.status.status.is_final]
    assert sorted(c.ref for c in finals) == ["r0", "r1", "r2"]
    assert all(c.order == fake.orders[c.order].id for c in finals)
    assert [c.cursor for c in seen] == sorted(c.cursor for c in seen)
    assert entry is not None
    assert entry.final
    assert entry.status.status == "Completed"
    assert entry.seen_at is not None


async def test_a_round_asks_one_bulk_request_per_100_due_orders(fake, db):
    async with opened(fake, db, track=False) as tracker:
        for number in range(250):
            await tracker.add(ref=f"r{number}", service=104, link=LINK, quantity=100)
    fake.settle()
    async with opened(fake, db) as tracker:  # tracking resumes after a restart
        await final_changes(tracker, 250)
    assert sorted(request.ids for request in fake.requests_for("status")) == [50, 100, 100]


async def test_changes_without_follow_end_at_the_last_stored_and_resume_from_a_cursor(fake, db):
    async with opened(fake, db) as tracker:
        for number in range(2):
            await tracker.add(ref=f"r{number}", service=101, link=LINK, quantity=1000)
        fake.settle()
        seen = await final_changes(tracker, 2)
    async with opened(fake, db, track=False) as tracker:
        stored = [change async for change in tracker.changes(after=0, follow=False)]
        rest = [change async for change in tracker.changes(after=seen[0].cursor, follow=False)]
    assert stored == seen
    assert rest == seen[1:]


async def test_following_changes_ends_when_the_tracker_closes(fake, db):
    seen: list[Any] = []
    async with anyio.create_task_group() as group, opened(fake, db, track=False) as tracker:

        async def read() -> None:
            seen.extend([change async for change in tracker.changes(after=0)])
            seen.append("ended")

        group.start_soon(read)
        await anyio.wait_all_tasks_blocked()
        assert seen == []
    assert seen == ["ended"]


async def test_orders_filters_by_final_state_and_time(fake, db):
    fake.misbehave(Fault.status(502, when="after"), action="add", times=1)
    async with opened(fake, db) as tracker:
        await tracker.add(ref="lost", service=101, link=LINK, quantity=1000)
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        fake.settle()
        await final_changes(tracker, 1)
        middle = datetime.datetime.now(datetime.UTC)
        await tracker.add(ref="r2", service=101, link=LINK, quantity=1000)
        everything = [o.ref async for o in tracker.orders()]
        final = [o.ref async for o in tracker.orders(final=True)]
        unknown = [o.ref async for o in tracker.orders(state="unknown")]
        recent = [o.ref async for o in tracker.orders(since=middle)]
    assert everything == ["lost", "r1", "r2"]
    assert final == ["r1"]
    assert unknown == ["lost"]
    assert recent == ["r2"]


async def test_the_tracker_reads_its_store_through_memory_too(fake):
    async with opened(fake, ":memory:") as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        fake.settle()
        [change] = await final_changes(tracker, 1)
    assert change.status.status == "Completed"


@pytest.mark.parametrize("option", ["interval", "max_interval", "lease"])
@pytest.mark.parametrize("value", [-1, "1", None], ids=["negative", "text", "none"])
def test_durations_are_checked(option: str, value: Any, fake: FakePanel) -> None:
    client = smmapi.AsyncClient(fake.url, fake.key, transport=fake.transport())
    with pytest.raises(smmapi.ValidationError, match=option):
        Tracker(client, ":memory:", **{option: value})


def test_defaults_are_the_watch_defaults_and_a_lease_of_minutes() -> None:
    parameters = inspect.signature(Tracker).parameters
    assert parameters["interval"].default == _config.DEFAULT_WATCH_INTERVAL
    assert parameters["max_interval"].default == _config.DEFAULT_WATCH_MAX_INTERVAL
    assert 60 <= parameters["lease"].default <= 600


@pytest.mark.parametrize(
    "anyio_backend",
    # The clock jumps once every task has waited 50 ms of real time: never while the store's
    # thread works (a jump then would skip the tracker's own deadlines).
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0.05)}), id="trio-mockclock")],
)
async def test_an_order_that_does_not_change_is_asked_twice_as_late_each_time_up_to_max_interval(fake):
    asked: list[float] = []
    enough = anyio.Event()
    inner = fake.transport()  # the panel's clock stands still: the order stays Pending

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"action=status" in request.content:
                asked.append(anyio.current_time())
                if len(asked) == 5:
                    enough.set()
            return await inner.handle_async_request(request)

    with anyio.fail_after(1000):  # virtual seconds
        async with (
            smmapi.AsyncClient(fake.url, fake.key, transport=Spy()) as client,
            Tracker(client, ":memory:", interval=10, max_interval=40) as tracker,
        ):
            placed = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
            start = anyio.current_time()
            await enough.wait()
    gaps = [round(later - earlier) for earlier, later in zip([start, *asked], asked, strict=False)]
    assert placed.state == "placed"
    assert gaps == [10, 10, 20, 40, 40]  # the first sighting is a change; then nothing changes


@pytest.mark.parametrize(
    "order",
    [None, 0, -5, True, "10001", 10**18],
    ids=["none", "zero", "negative", "bool", "text", "19 digits"],
)
async def test_resolve_needs_the_orders_id(fake, db, order):
    fake.misbehave(Fault.status(502, when="after"), action="add", times=1)
    async with opened(fake, db, track=False) as tracker:
        await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
        with pytest.raises(smmapi.ValidationError, match="positive int"):
            await tracker.resolve("r1", order=order)
        assert (await tracker.get("r1")).state == "unknown"


STATUSES = [
    smmapi.OrderStatus(
        10001, smmapi.OrderState.PARTIAL, "partial", Decimal("0.1234"), 5, -3, "USD", extra={"x": 1}
    ),
    smmapi.OrderStatus(10002, smmapi.OrderState.UNKNOWN, "Wird bearbeitet", None, None, None, None),
    smmapi.RefillStatus(501, smmapi.RefillState.COMPLETED, "Completed"),
]


@pytest.mark.parametrize("status", STATUSES, ids=["order", "unknown-spelling", "refill"])
def test_a_status_is_stored_and_read_back_unchanged(status):
    action = "refill" if isinstance(status, smmapi.RefillStatus) else "add"
    text = _models.status_to_json(status)
    back = _models.status_from_json(
        text, action=action, order=getattr(status, "order", None), refill=getattr(status, "refill", None)
    )
    assert back == status
    assert back.extra == status.extra
    assert back.status_text == status.status_text


ERRORS = [
    smmapi.InsufficientFundsError("Not enough funds", status_code=200, code="104"),
    smmapi.RateLimitedError("Slow down", status_code=429, retry_after=5.0),
    smmapi.OutcomeUnknownError("lost", action="add", fields={"service": "1", "link": LINK}),
    smmapi.UnreadableAnswerError("add: the answer is not JSON: <html>"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_an_error_is_stored_and_read_back_with_its_kind_and_attributes(error):
    back = _models.error_from_json(_models.error_to_json(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def _descriptors_on(path: Path) -> int:
    """How many file descriptors this process holds open on ``path`` (Linux's /proc)."""
    held = 0
    for descriptor in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            held += descriptor.readlink() == path.resolve()
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc")
@pytest.mark.parametrize("tracking", [False, True], ids=["reading", "tracking"])
def test_a_store_that_cannot_open_holds_nothing_open(tmp_path, tracking):
    db = tmp_path / "garbage.db"
    db.write_text("not a database\n")
    store = open_store(db)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        store.open(1, tracking=tracking)
    assert _descriptors_on(db) == 0
    assert _descriptors_on(tmp_path / "garbage.db.lock") == 0
