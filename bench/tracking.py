"""Tracking 100,000 orders with smmapi.tracking: requests per round, store writes, database size.

    python bench/tracking.py [--orders 100000] [--postgres DSN]

For each store (a SQLite file; and PostgreSQL when a DSN is given, or SMMAPI_TEST_POSTGRES_DSN is
set) it journals ``--orders`` placed orders, then opens a Tracker on them and measures two passes,
each until every order has been asked once:

- **first look**: every order is due and Pending; its first status is a change.
- **ending**: the panel has ended every order (``settle()``); each is asked again, found final,
  and no longer tracked.

Per pass: status requests sent, IDs per request, requests per round (a round takes up to 1,000
due orders), rows the store wrote per second, and seconds. Then the database's size per order.
The panel is the fake, in process (no network): what is measured is the tracker and its store.
Setup places the orders on the fake panel and inserts the journal's rows directly, as 100,000
real ``add`` requests would take minutes and are not what this measures.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import smmapi
from smmapi.testing import FakePanel
from smmapi.tracking import Tracker
from smmapi.tracking._tracker import ROUND_SIZE

SERVICE = 104
LINK = "https://t.me/bench/{}"


def place_on_the_panel(panel: FakePanel, count: int) -> list[int]:
    """Orders placed on the fake panel directly, without HTTP (setup, not measured)."""
    state = panel._state  # noqa: SLF001  (setup: the panel's own rules, minus HTTP)
    ids = []
    for number in range(count):
        form = {"key": panel.key, "action": "add", "service": str(SERVICE), "link": LINK.format(number)}
        answer = state.handle({**form, "quantity": "100"})
        ids.append(int(answer.body["order"].value))
    return ids


def journal_rows(ids: list[int], now: float) -> list[tuple[Any, ...]]:
    return [
        (f"b{n}", "add", json.dumps({"link": LINK.format(n), "quantity": 100, "service": SERVICE}), "placed",
         order, now, now, now, 3600.0)
        for n, order in enumerate(ids)
    ]  # fmt: skip


async def until_all_seen(tracker: Tracker, since: float, count: int) -> None:
    store = tracker._store  # noqa: SLF001  (the bench reads the store's counters)
    while True:
        rows = await tracker._call(  # noqa: SLF001
            store._execute,  # noqa: SLF001
            "SELECT COUNT(*) AS n FROM smmapi_journal WHERE seen_at >= ?",
            (since,),
        )
        if rows[0]["n"] >= count:
            return
        await anyio.sleep(0.2)


async def measure(db: str, orders: int) -> dict[str, Any]:
    panel = FakePanel(balance="100000000", seed=1)
    ids = place_on_the_panel(panel, orders)
    result: dict[str, Any] = {
        "store": "PostgreSQL" if db.startswith("postgresql") else "SQLite",
        "orders": orders,
    }
    async with smmapi.AsyncClient(
        panel.url, panel.key, transport=panel.transport(), batch_window=0
    ) as client:
        async with Tracker(client, db, track=False) as journal:
            store = journal._store  # noqa: SLF001
            rows = journal_rows(ids, time.time())
            with store._transaction():  # noqa: SLF001  (setup: one transaction, not 100,000)
                store._execute_many(  # noqa: SLF001
                    "INSERT INTO smmapi_journal (ref, action, fields, state, order_id, asked_at, answered_at,"
                    " due_at, poll_interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        for name, prepare in (("first look", None), ("ending", panel.settle)):
            if prepare is not None:
                prepare()
            async with Tracker(client, db, interval=3600, max_interval=3600) as tracker:
                store = tracker._store  # noqa: SLF001
                if prepare is not None:  # due now again
                    await tracker._call(store._execute, "UPDATE smmapi_journal SET due_at = 0")  # noqa: SLF001
                before_requests = client.stats().requests_by_action.get("status", 0)
                before_rows = store.rows_written
                started = time.perf_counter()
                since = tracker._now()  # noqa: SLF001
                await until_all_seen(tracker, since, orders)
                seconds = time.perf_counter() - started
                requests = client.stats().requests_by_action.get("status", 0) - before_requests
                written = store.rows_written - before_rows
            result[name] = {
                "status requests": requests,
                "IDs per request": round(orders / requests, 1),
                "requests per round": round(requests / -(-orders // ROUND_SIZE), 1),
                "rows written": written,
                "rows written per second": round(written / seconds),
                "seconds": round(seconds, 1),
            }
        result["bytes per order"] = round(database_bytes(db) / orders)
    return result


def database_bytes(db: str) -> int:
    if db.startswith("postgresql"):
        import psycopg  # noqa: PLC0415

        with psycopg.connect(db) as connection:
            row = connection.execute(
                "SELECT pg_total_relation_size('smmapi_journal') + pg_total_relation_size('smmapi_changes')"
            ).fetchone()
            return int(row[0]) if row else 0
    return sum(path.stat().st_size for path in Path(db).parent.glob(Path(db).name + "*") if path.is_file())


def fresh_postgres(dsn: str) -> str:
    """A new database beside the DSN's, for one run."""
    from urllib.parse import urlsplit, urlunsplit  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    name = f"smmapi_bench_{os.getpid()}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="DSN", default=os.environ.get("SMMAPI_TEST_POSTGRES_DSN"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(anyio.run(measure, str(Path(folder) / "orders.db"), args.orders)))
    if args.postgres:
        print(json.dumps(anyio.run(measure, fresh_postgres(args.postgres), args.orders)))


if __name__ == "__main__":
    main()
