"""Memory: 100,000 orders followed by watch(), and 100,000 IDs pending through statuses().

    python bench/memory.py [--ids 100000]

Both are tracemalloc peaks above a baseline taken just before; the panel holds its answer until
every ID is queued, so the peak is what the client keeps per pending ID. The last line printed
is one JSON object.
"""

import argparse
import json
import tracemalloc

import anyio
import httpx
import smmapi

URL = "https://panel.bench/api/v2"
KEY = "bench-fake-key"


async def main(ids: int) -> dict[str, float]:
    gate = anyio.Event()

    async def panel(_: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200, json={})  # every ID missing: the smallest answer

    transport = httpx.MockTransport(panel)
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
    figures = {
        "ids": ids,
        "watch_mb_followed": round(watch_mb, 1),
        "peak_mb_100k_pending": round(pending_peak / 2**20, 1),
        "bytes_per_pending_id": round(pending_peak / ids),
    }
    print(
        f"watch(): {figures['watch_mb_followed']} MB for {ids} followed orders; "
        f"statuses(): {figures['bytes_per_pending_id']} bytes per pending ID"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=100_000)
    print(json.dumps(anyio.run(main, parser.parse_args().ids)))
