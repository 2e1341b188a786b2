"""Memory: 100,000 orders followed by watch(), and 100,000 IDs pending through statuses() or status().

    python bench/memory.py [--ids 100000]

Each is a tracemalloc peak above a baseline taken just before; the panel holds its answer until
every ID is queued, so the peak is what the client keeps per pending ID. Through ``status()``,
each ID has a task of its own: as many tasks that only wait for an event are measured beside it,
so the tasks' own cost can be told from the client's. The last line printed is one JSON object.
"""

import argparse
import contextlib
import json
import tracemalloc
from urllib.parse import parse_qsl

import anyio
import httpx
import smmapi

URL = "https://panel.bench/api/v2"
KEY = "bench-fake-key"


def gated_panel() -> tuple[anyio.Event, httpx.MockTransport]:
    """A panel that answers nothing until the event is set, then every ID but the first missing.

    The smallest answer keyed by an ID asked: one keyed by none (``{}``) would teach the client
    that the panel does not read the bulk form, and send every ID again in a request of its own.
    """
    gate = anyio.Event()

    async def panel(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        form = dict(parse_qsl(request.content.decode()))
        first = form.get("orders", form.get("order", "")).split(",")[0]
        return httpx.Response(200, json={first: {"error": "Incorrect order ID"}})

    return gate, httpx.MockTransport(panel)


async def status_tasks(ids: int) -> tuple[int, int]:
    """Peak bytes of ``ids`` tasks each in ``status()``, and of as many tasks that only wait."""
    gate, transport = gated_panel()
    async with smmapi.AsyncClient(URL, KEY, transport=transport, max_concurrency=10) as client:

        async def lookup(order: int) -> None:
            with contextlib.suppress(smmapi.SmmError):
                await client.status(order)

        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as group:
            for order in range(1, ids + 1):
                group.start_soon(lookup, order)
            await anyio.wait_all_tasks_blocked()
            ours = tracemalloc.get_traced_memory()[1] - before
            tracemalloc.stop()  # before the answers: tracing 100,000 resolutions takes long
            gate.set()

    release = anyio.Event()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    async with anyio.create_task_group() as group:
        for _ in range(ids):
            group.start_soon(release.wait)
        await anyio.wait_all_tasks_blocked()
        bare = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        release.set()
    return ours, bare


async def main(ids: int) -> dict[str, float]:
    gate, transport = gated_panel()
    async with smmapi.AsyncClient(URL, KEY, transport=transport, max_concurrency=10) as client:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        watch = client.watch(range(1, ids + 1))
        watch_mb = (tracemalloc.get_traced_memory()[0] - before) / 2**20
        await watch.aclose()
        del watch

        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as group:
            group.start_soon(client.statuses, range(1, ids + 1))
            await anyio.wait_all_tasks_blocked()
            pending_peak = tracemalloc.get_traced_memory()[1] - before
            gate.set()
        tracemalloc.stop()
    tasks_peak, bare_peak = await status_tasks(ids)
    figures = {
        "ids": ids,
        "watch_mb_followed": round(watch_mb, 1),
        "peak_mb_100k_pending": round(pending_peak / 2**20, 1),
        "bytes_per_pending_id": round(pending_peak / ids),
        "status_tasks_peak_mb": round(tasks_peak / 2**20, 1),
        "status_tasks_bytes_per_id": round(tasks_peak / ids),
        "bare_tasks_bytes_per_id": round(bare_peak / ids),
        "status_bytes_per_id_less_tasks": round((tasks_peak - bare_peak) / ids),
    }
    print(
        f"watch(): {figures['watch_mb_followed']} MB for {ids} followed orders; "
        f"statuses(): {figures['bytes_per_pending_id']} bytes per pending ID"
    )
    print(
        f"status() from {ids} tasks: {figures['status_tasks_bytes_per_id']} bytes per ID, of which the "
        f"tasks themselves take {figures['bare_tasks_bytes_per_id']} (tasks that only wait); "
        f"smmapi's share {figures['status_bytes_per_id_less_tasks']} bytes"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=100_000)
    print(json.dumps(anyio.run(main, parser.parse_args().ids)))
