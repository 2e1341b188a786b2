"""smmapi.tracking on a real PostgreSQL server: many trackers sharing one database.

The server comes from SMMAPI_TEST_POSTGRES_DSN (`source .ci/postgres.sh` starts a throwaway
one; CI does); each test gets a database of its own. Without a server these tests skip locally
and fail in CI (SMMAPI_REQUIRE_POSTGRES=1). The crash test with three worker processes is in
test_tracking_crash.py.
"""

import time
from typing import Any

import anyio
import psycopg
import pytest
import smmapi
import smmapi.tracking
from smmapi.tracking import SchemaVersionError, Tracker

import tracking_support
from tracking_support import LIMIT, LINK, adds, final_changes, opened

pytestmark = pytest.mark.anyio

# The anyio_backend (asyncio and trio) and fake fixtures.
_anyio_backend, _fake = tracking_support.anyio_backend, tracking_support.fake


def sql(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


async def finals(tracker: Tracker, count: int) -> list[smmapi.tracking.Change]:
    return [change for change in await final_changes(tracker, count) if change.status.status.is_final]


async def test_the_journal_and_tracking_work_on_postgresql(fake, postgres_dsn):
    with anyio.fail_after(LIMIT):
        async with opened(fake, postgres_dsn) as tracker:
            placed = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
            again = await tracker.add(ref="r1", service=101, link=LINK, quantity=1000)
            with pytest.raises(smmapi.ValidationError, match="r1"):
                await tracker.add(ref="r1", service=101, link=LINK, quantity=2000)
            fake.settle()
            [change] = await finals(tracker, 1)
        async with opened(fake, postgres_dsn, track=False) as tracker:  # after a restart
            stored = [c async for c in tracker.changes(after=0, follow=False)]
            entry = await tracker.get("r1")
    assert placed.state == again.state == "placed"
    assert placed.order == again.order == change.order
    assert stored[-1] == change
    assert entry is not None
    assert entry.final
    assert entry.status is not None
    assert entry.status.status == "Completed"
    assert adds(fake) == 1
    assert sql(postgres_dsn, "SELECT version FROM smmapi_schema") == [(smmapi.tracking.SCHEMA_VERSION,)]


async def test_trackers_adding_the_same_refs_at_once_place_each_once(fake, postgres_dsn):
    refs = [f"r{number}" for number in range(20)]
    results: dict[int, list[smmapi.tracking.TrackedOrder]] = {0: [], 1: []}
    with anyio.fail_after(LIMIT):
        async with (
            opened(fake, postgres_dsn, track=False) as first,
            opened(fake, postgres_dsn, track=False) as second,
        ):

            async def place(number: int, tracker: Tracker) -> None:
                for ref in refs:
                    results[number].append(await tracker.add(ref=ref, service=101, link=LINK, quantity=1000))

            async with anyio.create_task_group() as group:
                group.start_soon(place, 0, first)
                group.start_soon(place, 1, second)
            stored = {ref: await first.get(ref) for ref in refs}
    assert adds(fake) == len(refs) == len(fake.orders)
    assert {entry.ref: entry.order for entry in stored.values() if entry} == {
        ref: order.order for ref, order in zip(refs, results[0], strict=True) if order.state == "placed"
    } | {ref: order.order for ref, order in zip(refs, results[1], strict=True) if order.state == "placed"}
    assert sorted(entry.order for entry in stored.values() if entry) == sorted(fake.orders)


async def test_a_write_left_sending_by_a_dead_worker_is_unknown_a_live_ones_is_not(fake, postgres_dsn):
    with anyio.fail_after(LIMIT):
        async with opened(fake, postgres_dsn, track=False):
            pass  # makes the tables
        for ref, owner in (("dead", 11), ("alive", 12)):
            sql(
                postgres_dsn,
                "INSERT INTO smmapi_journal (ref, action, fields, state, asked_at, owner)"
                " VALUES (%s, 'add', '{\"service\": 101}', 'sending', 1.0, %s)",
                (ref, owner),
            )
        with psycopg.connect(postgres_dsn, autocommit=True) as live_worker:
            live_worker.execute("SELECT pg_advisory_lock(12)")  # what a live tracker holds
            async with opened(fake, postgres_dsn) as tracker:
                unresolved = [entry.ref for entry in await tracker.unresolved()]
                alive = await tracker.get("alive")
    assert unresolved == ["dead"]
    assert alive is not None
    assert alive.state == "sending"
    assert adds(fake) == 0


async def test_a_dead_workers_leases_are_taken_over_when_they_expire(fake, postgres_dsn):
    with anyio.fail_after(LIMIT):
        async with opened(fake, postgres_dsn, track=False) as tracker:
            for number in range(3):
                await tracker.add(ref=f"r{number}", service=101, link=LINK, quantity=1000)
        fake.settle()
        expiry = time.time() + 0.5  # a worker took them for a round, then died
        sql(postgres_dsn, "UPDATE smmapi_journal SET leased_by = 99, lease_until = %s, due_at = 0", (expiry,))
        async with opened(fake, postgres_dsn) as tracker:
            seen = await finals(tracker, 3)
    assert all(change.seen_at.timestamp() >= expiry for change in seen)
    assert sorted(change.ref for change in seen) == ["r0", "r1", "r2"]


async def test_workers_share_the_polling_and_never_ask_one_order_twice_in_a_round(fake, postgres_dsn):
    count = 300
    with anyio.fail_after(LIMIT):
        async with opened(fake, postgres_dsn, track=False) as tracker:
            for number in range(count):
                await tracker.add(ref=f"r{number}", service=104, link=LINK, quantity=100)
        fake.settle()  # one poll each finds them final
        async with (
            opened(fake, postgres_dsn) as first,
            opened(fake, postgres_dsn),
            opened(fake, postgres_dsn),
        ):
            await finals(first, count)
    asked = [request.ids for request in fake.requests_for("status")]
    assert sum(asked) == count
    assert len(asked) <= 6  # batches of up to 100: 3, or a few more where workers split a round


async def test_a_newer_schema_is_refused_on_postgresql(fake, postgres_dsn):
    with anyio.fail_after(LIMIT):
        async with opened(fake, postgres_dsn, track=False):
            pass
        sql(postgres_dsn, "UPDATE smmapi_schema SET version = version + 1")
        with pytest.raises(SchemaVersionError, match="upgrade smmapi"):
            async with opened(fake, postgres_dsn, track=False):
                pass
