"""The longest the event loop stalls while the client reads a big catalogue.

A ticker task sleeps 5 ms in a loop and records the longest gap between two of its turns while
``services()`` reads a catalogue of N services from an in-memory transport::

    python bench/loop_stall.py --services 1000000

Run it with ``PYTHONPATH`` pointing at another checkout to compare (the option
``max_answer_bytes`` is passed only where the client has it).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import resource
import time

import anyio
import anyio.lowlevel
import httpx
import smmapi


def catalogue(count: int) -> bytes:
    """A catalogue of ``count`` services, each as small as a panel sends them."""
    item = {"service": 0, "name": "Likes", "rate": "0.9", "min": "10", "max": "1000"}
    return json.dumps([{**item, "service": number} for number in range(1, count + 1)]).encode()


#: Seconds the ticker sleeps between turns: a loop that is mostly idle, as a bot's is.
TICK = 0.005


async def stall(body: bytes, backend_options: dict) -> tuple[float, float, int]:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    longest = 0.0
    done = False

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await anyio.sleep(TICK)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    async with (
        smmapi.AsyncClient(
            "https://panel.test/api/v2", "bench-key", transport=transport, **backend_options
        ) as client,
        anyio.create_task_group() as group,
    ):
        group.start_soon(tick)
        started = time.perf_counter()
        services = await client.services()
        took = time.perf_counter() - started
        done = True
    return longest, took, len(services)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument(
        "--no-gc", action="store_true", help="turn the garbage collector off, to tell its pauses apart"
    )
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    body = catalogue(args.services)
    options = {}
    if "max_answer_bytes" in inspect.signature(smmapi.AsyncClient).parameters:
        options["max_answer_bytes"] = len(body) + 1
    longest, took, count = anyio.run(stall, body, options, backend=args.backend)
    print(
        json.dumps(
            {
                "smmapi": smmapi.__file__,
                "gc": not args.no_gc,
                "services": count,
                "bytes": len(body),
                "read_seconds": round(took, 3),
                "longest_stall_ms": round(longest * 1000, 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    main()
