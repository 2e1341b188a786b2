"""Crash safety for real: tracker workers in their own processes, killed with SIGKILL at random moments.

The fake panel runs in another process (tests/crash/panel.py, uvicorn on a loopback port, its
clock warped so orders end while they are followed), and its own record of the orders it
created is the truth the journal is checked against after every kill: no ref placed twice; every
order the panel created is in the journal, placed (with its ID) or unknown (with its intent); at
the end every placed order is followed to its final status. SMMAPI_CRASH_KILLS sets the number
of kills (`nox -s crash` runs many more than CI's fast profile).
"""

import contextlib
import json
import multiprocessing
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from smmapi.testing import DEFAULT_KEY

HERE = Path(__file__).parent / "crash"
sys.path.insert(0, str(HERE))
import worker as crash_worker  # noqa: E402  (tests/crash is no package; its path is set just above)

#: Worker processes fork from a server that imported smmapi once: a start costs milliseconds.
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(crash_worker.PRELOAD)
KILLS = int(os.environ.get("SMMAPI_CRASH_KILLS", "50"))
SEED = int(os.environ.get("SMMAPI_CRASH_SEED", "20"))
#: Seconds any one process step may take before the test fails rather than hangs.
STEP = 30.0

pytestmark = pytest.mark.timeout(120 + 2 * KILLS)


class Process:
    """A child process whose stdout lines are read by a thread, so waiting for one can time out."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen(  # noqa: S603  (this interpreter, our own script)
            [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for(self, expected: str, timeout: float = STEP) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"the process ended (code {self.popen.wait()}) before {expected!r}")
            if expected in line:
                return line

    def stop(self) -> None:
        """Close its standard input (the panel then stops) and wait; kill it if it lingers."""
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
        self.reader.join()
        assert self.popen.stdout is not None
        self.popen.stdout.close()


class Worker:
    """A tracker worker in a process forked from the forkserver, told what to do over a pipe."""

    def __init__(
        self, url: str, db: str, refs: list[str], *, interval: float, lease: float, backend: str
    ) -> None:
        self.pipe, theirs = FORKS.Pipe()
        self.process = FORKS.Process(
            target=crash_worker.run,
            kwargs={
                "url": url,
                "key": DEFAULT_KEY,
                "db": db,
                "refs": refs,
                "interval": interval,
                "lease": lease,
                "backend": backend,
                "pipe": theirs,
            },
        )
        self.process.start()
        theirs.close()

    def wait_for(self, expected: str, timeout: float = STEP) -> None:
        deadline = time.monotonic() + timeout
        while self.pipe.poll(max(0.0, deadline - time.monotonic())):
            if self.pipe.recv() == expected:
                return
        raise AssertionError(f"the worker did not say {expected!r} (exit code {self.process.exitcode})")

    def go(self) -> None:
        self.pipe.send("go")

    def kill(self) -> None:
        self.process.kill()  # SIGKILL
        self.close()

    def close(self) -> None:
        self.process.join(timeout=STEP)
        self.process.close()
        self.pipe.close()


@pytest.fixture(name="start_panel")
def _start_panel() -> Iterator[Any]:
    panels: list[Process] = []

    def start(speed: float = 600.0, add_latency: float = 0.0) -> str:
        panel = Process(str(HERE / "panel.py"), "--speed", str(speed), "--add-latency", str(add_latency))
        panels.append(panel)
        port = json.loads(panel.wait_for("port"))["port"]
        return f"http://127.0.0.1:{port}/api/v2"

    yield start
    for panel in panels:
        panel.stop()


def refs(first: int, last: int, *, shared: int = 0) -> list[str]:
    return [f"r{number}" for number in range(first, last)] + [f"shared{number}" for number in range(shared)]


def control(url: str, name: str) -> Any:
    """What one of the panel's controls answers (plain http to loopback: no CA bundle to load)."""
    return httpx.get(url.replace("/api/v2", f"/_crash/{name}"), verify=False).json()  # noqa: S501


def panel_orders(url: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = control(url, "orders")
    return orders


def status_requests(url: str) -> int:
    counts: dict[str, int] = control(url, "requests")
    return counts.get("status", 0)


def journal(db: str) -> dict[str, dict[str, Any]]:
    """The journal's add rows by ref, read as another process would."""
    query = "SELECT * FROM smmapi_journal WHERE action = 'add'"
    if db.startswith("postgresql://"):
        with psycopg.connect(db, row_factory=dict_row) as connection:
            rows = connection.execute(query).fetchall()
    else:
        with contextlib.closing(sqlite3.connect(db)) as connection:  # `with` alone never closes it
            connection.row_factory = sqlite3.Row
            rows = [dict(row) for row in connection.execute(query)]
    return {row["ref"]: row for row in rows}


def check_journal(
    url: str, db: str, *, crashed: bool = False
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """No ref placed twice; every order the panel created is in the journal, placed or unknown.

    Right after a kill (``crashed``), before a restart, an unanswered intent is still ``sending``.
    """
    orders = panel_orders(url)
    rows = journal(db)
    twice = [link for link, count in Counter(order["link"] for order in orders).items() if count > 1]
    assert twice == [], "refs placed twice"
    for order in orders:
        row = rows.get(order["link"].rsplit("/", 1)[1])
        assert row is not None, f"order {order['order']} is not in the journal"
        if row["state"] == "placed":
            assert row["order_id"] == order["order"]
        else:
            assert row["state"] in (("unknown", "sending") if crashed else ("unknown",)), row
            assert json.loads(row["fields"])["link"] == order["link"]
    return orders, rows


def check_followed_to_the_end(orders: list[dict[str, Any]], rows: dict[str, dict[str, Any]]) -> None:
    """Every placed order in the journal is final, with the panel's own final status."""
    by_id = {order["order"]: order for order in orders}
    placed = [row for row in rows.values() if row["state"] == "placed"]
    assert placed
    for row in placed:
        assert row["final"] == 1, row
        assert json.loads(row["status"])["status"] == by_id[row["order_id"]]["status"]


def test_a_sqlite_worker_killed_at_random_moments_never_places_a_ref_twice_nor_loses_one(
    tmp_path, start_panel
):
    url = start_panel(add_latency=0.01)
    db = str(tmp_path / "orders.db")
    wanted = refs(0, 8 * KILLS)
    chance = random.Random(SEED)  # noqa: S311  (kill moments, not secrets)
    states: Counter[str] = Counter()  # the journal's states right after each kill, summed
    for _ in range(KILLS):
        process = Worker(url, db, wanted, interval=0.1, lease=2, backend=chance.choice(["asyncio", "trio"]))
        process.wait_for("ready")
        check_journal(url, db)  # as the restart left it: what a crash left is unknown now
        process.go()
        time.sleep(chance.uniform(0, 0.2))  # the random moment of the kill, which is what is tested
        process.kill()
        _, rows = check_journal(url, db, crashed=True)
        states.update(row["state"] for row in rows.values())
    last = Worker(url, db, wanted, interval=0.1, lease=2, backend="asyncio")
    last.wait_for("ready")
    check_journal(url, db)
    last.go()
    last.wait_for("done", timeout=60)
    last.close()
    orders, rows = check_journal(url, db)
    check_followed_to_the_end(orders, rows)
    final_states = dict(Counter(row["state"] for row in rows.values()))
    print(  # noqa: T201  (the figures for the report, shown with -s)
        f"{KILLS} kills; after kills (summed) {dict(states)}; at the end {final_states};"
        f" panel orders {len(orders)}"
    )


def test_three_postgresql_workers_one_killed_follow_every_order_with_the_requests_of_one(
    postgres_dsn, start_panel
):
    count, shared = 150, 5
    options: dict[str, Any] = {"interval": 0.2, "lease": 1.0, "backend": "asyncio"}
    # What one worker needs: it places and follows the same number of orders on a panel of its own.
    alone_url = start_panel(speed=1200)
    alone = Worker(alone_url, postgres_dsn, refs(0, count + shared), **options)
    alone.wait_for("ready")
    alone.go()
    alone.wait_for("done", timeout=60)
    alone.close()
    one_worker = status_requests(alone_url)

    url = start_panel(speed=1200)
    third = count // 3
    workers = [
        Worker(url, postgres_dsn, refs(1000 + n * third, 1000 + (n + 1) * third, shared=shared), **options)
        for n in range(3)
    ]
    for process in workers:
        process.wait_for("ready")
    # The shared refs are in every worker's list, so each of them is asked by three at once.
    for process in workers:
        process.go()
    workers[0].wait_for("placed")
    time.sleep(random.Random(SEED).uniform(0, 0.3))  # noqa: S311  (mid-run, holding leases)
    workers[0].kill()
    for process in workers[1:]:
        process.wait_for("done", timeout=60)
        process.close()
    orders, rows = check_journal(url, postgres_dsn)
    check_followed_to_the_end(
        orders, {ref: row for ref, row in rows.items() if ref not in refs(0, count + shared)}
    )
    three_workers = status_requests(url)
    print(f"status requests: one worker {one_worker}, three (one killed) {three_workers}")  # noqa: T201
    assert three_workers <= 1.2 * one_worker
