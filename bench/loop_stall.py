"""The longest the event loop stalls while the client reads a big catalogue.

A ticker task sleeps 0 in a loop and records the longest gap between two of its turns while
``services()`` reads a catalogue of N services from an in-memory transport::

    python bench/loop_stall.py --services 1000000

Run it with ``PYTHONPATH`` pointing at another checkout to compare (the option
``max_answer_bytes`` is passed only where the client has it).
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

import anyio
import anyio.lowlevel
import httpx
import smmapi


def catalogue(count: int) -> bytes:
    item = {
        "service": 0,
        "name": "Instagram Likes [HQ]",
        "type": "Default",
        "category": "Instagram",
        "rate": "0.90",
        "min": "10",
        "max": "10000",
        "refill": True,
        "cancel": False,
    }
    return json.dumps([{**item, "service": i + 1} for i in range(count)]).encode()


async def stall(body: bytes, backend_options: dict) -> tuple[float, float, int]:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    longest = 0.0
    done = False

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await anyio.lowlevel.checkpoint()
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
    args = parser.parse_args()
    body = catalogue(args.services)
    options = {}
    if "max_answer_bytes" in inspect.signature(smmapi.AsyncClient).parameters:
        options["max_answer_bytes"] = len(body) + 1
    longest, took, count = anyio.run(stall, body, options, backend=args.backend)
    print(
        json.dumps(
            {
                "smmapi": smmapi.__file__,
                "services": count,
                "bytes": len(body),
                "read_seconds": round(took, 3),
                "longest_stall_ms": round(longest * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
