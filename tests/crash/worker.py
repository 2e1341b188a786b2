"""A worker for the crash tests: places orders through a Tracker, then tracks them until final.

The test runs :func:`run` in processes forked from a forkserver that imported smmapi once (a
process start then costs milliseconds, so a run can afford many kills), and talks to each over
a pipe: the worker opens its tracker and says ``ready``; the test checks the journal as this
restart left it and says ``go``; the worker places one order per ref (``r0``, ``r1``...; the
link names the ref, so the panel's own record shows which ref each order came from), says
``placed``, waits until every placed order in the journal is final, and says ``done``. The test
kills it with SIGKILL at random moments and starts another.
"""

import functools
from multiprocessing.connection import Connection
from typing import Any

import anyio
import anyio.to_thread
import httpx
import smmapi
from smmapi.tracking import Tracker

SERVICE = 104  # cheap, no drip-feed: many orders, one balance
#: What the forkserver imports once, so that a worker starts in milliseconds.
PRELOAD = ["smmapi.tracking", "httpx", "trio", "anyio._backends._asyncio", "anyio._backends._trio"]


def link(ref: str) -> str:
    return f"https://t.me/crash/{ref}"


async def work(
    *, url: str, key: str, db: str, refs: list[str], interval: float, lease: float, pipe: Connection
) -> None:
    async with (
        # Plain http to loopback: no TLS, so no CA bundle to load (a fifth of a second a process).
        httpx.AsyncClient(verify=False) as http,  # noqa: S501
        smmapi.AsyncClient(url, key, batch_window=0, http_client=http) as client,
        Tracker(client, db, interval=interval, max_interval=interval * 2, lease=lease) as tracker,
    ):
        pipe.send("ready")
        await anyio.to_thread.run_sync(pipe.recv)  # go
        for ref in refs:
            await tracker.add(ref=ref, service=SERVICE, link=link(ref), quantity=100)
        pipe.send("placed")
        # Polled, not awaited: other workers' orders count too, and the journal is the truth.
        while [entry async for entry in tracker.orders(final=False, state="placed")]:  # noqa: ASYNC110
            await anyio.sleep(interval)
    pipe.send("done")


def run(*, backend: str, **options: Any) -> None:
    """The worker process's body: :func:`work` on ``backend``."""
    anyio.run(functools.partial(work, **options), backend=backend)
