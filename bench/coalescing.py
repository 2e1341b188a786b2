"""10,000 concurrent status lookups: smmapi's coalescing beside one request per lookup.

Both run in one process, side by side, against the same in-process panel (an httpx
MockTransport that waits ``--delay`` seconds per request, as a panel far away would), with the
same concurrency cap. A second pass with no delay measures CPU per lookup: the client's own is
the total less the panel's (it runs in this process too) and less what the callers' tasks cost
by themselves (as many tasks that each wait for an event). Each measurement starts with the
garbage of the ones before collected, so no run pays for another's cycles.

    python bench/coalescing.py [--lookups 10000] [--delay 0.05] [--concurrency 10]

The last line printed is one JSON object with the figures.
"""

import argparse
import gc
import json
import math
import time
from urllib.parse import parse_qsl

import anyio
import httpx
import smmapi

URL = "https://panel.bench/api/v2"
KEY = "bench-fake-key"
ITEM = {"charge": "0.27819", "start_count": "3572", "status": "In progress", "remains": "157"}


class Panel:
    """Answers status in both forms after ``delay`` seconds; counts requests and its own CPU."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self.cpu = 0.0
        self.transport = httpx.MockTransport(self.answer)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            await anyio.sleep(self.delay)
        started = time.process_time()
        form = dict(parse_qsl(request.content.decode()))
        if "orders" in form:
            response = httpx.Response(200, json=dict.fromkeys(form["orders"].split(","), ITEM))
        else:
            response = httpx.Response(200, json=ITEM)
        self.cpu += time.process_time() - started
        return response


async def bare_tasks(lookups: int) -> float:
    """CPU seconds that ``lookups`` tasks cost by themselves, each waiting for one event."""
    event = anyio.Event()

    async def wait() -> None:
        await event.wait()

    async def release() -> None:
        event.set()

    gc.collect()
    cpu = time.process_time()
    async with anyio.create_task_group() as group:
        for _ in range(lookups):
            group.start_soon(wait)
        group.start_soon(release)
    return time.process_time() - cpu


async def coalesced(lookups: int, delay: float, concurrency: int) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds (less the panel's) and requests for ``lookups`` tasks."""
    panel = Panel(delay)
    async with smmapi.AsyncClient(URL, KEY, transport=panel.transport, max_concurrency=concurrency) as client:

        async def one(order: int) -> None:
            await client.status(order)

        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as group:
            for order in range(1, lookups + 1):
                group.start_soon(one, order)
        cpu = time.process_time() - cpu - panel.cpu
        return time.perf_counter() - wall, cpu, panel.requests


async def bulk(lookups: int, concurrency: int) -> float:
    """Client CPU seconds (less the panel's) for one ``statuses()`` call of ``lookups`` IDs."""
    panel = Panel(0)
    async with smmapi.AsyncClient(URL, KEY, transport=panel.transport, max_concurrency=concurrency) as client:
        gc.collect()
        cpu = time.process_time()
        await client.statuses(range(1, lookups + 1))
        return time.process_time() - cpu - panel.cpu


async def httpx_bulk(lookups: int) -> float:
    """CPU seconds (less the panel's) of the same bulk requests through plain httpx, read as dicts.

    The floor under ``statuses()`` with this stack: HTTP and JSON alone, no types, no batching.
    """
    panel = Panel(0)
    async with httpx.AsyncClient(transport=panel.transport) as http:
        gc.collect()
        cpu = time.process_time()
        for start in range(1, lookups + 1, 100):
            orders = ",".join(map(str, range(start, min(start + 100, lookups + 1))))
            response = await http.post(URL, data={"key": KEY, "action": "status", "orders": orders})
            response.json()
        return time.process_time() - cpu - panel.cpu


async def per_lookup(lookups: int, delay: float, concurrency: int) -> tuple[float, float, int]:
    """What users run today: one POST per lookup, the JSON read as a dict."""
    panel = Panel(delay)
    limiter = anyio.CapacityLimiter(concurrency)
    async with httpx.AsyncClient(transport=panel.transport) as http:

        async def one(order: int) -> None:
            async with limiter:
                response = await http.post(URL, data={"key": KEY, "action": "status", "order": str(order)})
                response.json()

        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as group:
            for order in range(1, lookups + 1):
                group.start_soon(one, order)
        cpu = time.process_time() - cpu - panel.cpu
        return time.perf_counter() - wall, cpu, panel.requests


async def main(lookups: int, delay: float, concurrency: int) -> dict[str, float]:
    ours_s, _, ours_requests = await coalesced(lookups, delay, concurrency)
    base_s, _, base_requests = await per_lookup(lookups, delay, concurrency)
    # CPU: the best of three side-by-side rounds, since this machine is shared and noisy.
    rounds = [
        (
            (await coalesced(lookups, 0, concurrency))[1],
            await bare_tasks(lookups),
            (await per_lookup(lookups, 0, concurrency))[1],
            await bulk(lookups, concurrency),
            await httpx_bulk(lookups),
        )
        for _ in range(3)
    ]
    ours_cpu, tasks_cpu, base_cpu, bulk_cpu, floor_cpu = (min(column) for column in zip(*rounds, strict=True))
    per = 1e6 / lookups
    figures = {
        "lookups": lookups,
        "requests": ours_requests,
        "requests_target": math.ceil(lookups / 100),
        "baseline_requests": base_requests,
        "coalesced_s": round(ours_s, 3),
        "baseline_s": round(base_s, 3),
        "speedup": round(base_s / ours_s, 1),
        "cpu_us_per_lookup": round((ours_cpu - tasks_cpu) * per, 1),
        "tasks_cpu_us_per_lookup": round(tasks_cpu * per, 1),
        "bulk_cpu_us_per_lookup": round(bulk_cpu * per, 1),
        "httpx_bulk_cpu_us_per_lookup": round(floor_cpu * per, 1),
        "baseline_cpu_us_per_lookup": round((base_cpu - tasks_cpu) * per, 1),
    }
    print(f"smmapi:   {ours_requests:>6} requests, {ours_s:7.3f} s")
    print(f"baseline: {base_requests:>6} requests, {base_s:7.3f} s  (speed-up {figures['speedup']}x)")
    print(
        f"CPU per lookup: smmapi {figures['cpu_us_per_lookup']} us through status(), "
        f"{figures['bulk_cpu_us_per_lookup']} us through statuses() "
        f"(plain httpx bulk requests read as dicts: {figures['httpx_bulk_cpu_us_per_lookup']} us); "
        f"baseline {figures['baseline_cpu_us_per_lookup']} us; "
        f"the caller's task itself {figures['tasks_cpu_us_per_lookup']} us"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the panel takes per request")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(anyio.run(main, args.lookups, args.delay, args.concurrency)))
