"""CPU per request of the HTTP layer alone, over a loopback socket: what no change to smmapi can save.

    python bench/http_stack.py [--requests 300] [--ids 100]

Each client sends the same bulk status request (``--ids`` IDs, as smmapi sends it) to the
bench's panel server (bench/panel_server.py, no delay) ``--requests`` times, one after another
on one keep-alive connection, and parses the answer with ``json``. The figure is the client
process's CPU per request (user and system, from ``os.times()``), measured in turns so that the
machine's moods fall on every client alike:

- ``httpx``: ``httpx.AsyncClient().post()``, as smmapi sends (one client, connection pooled);
- ``httpcore``: the connection pool under httpx, without httpx's client layer;
- ``aiohttp``: ``aiohttp.ClientSession().post()`` (skipped if aiohttp is not installed);
- ``asyncio streams``: the same request written by hand on an ``asyncio`` stream and the answer
  read by its Content-Length: the floor of an HTTP/1.1 exchange in Python, not a client;
- ``smmapi statuses()``: the same IDs through ``statuses()`` (on httpx), typed results and all:
  less the ``httpx`` row, smmapi's own share of a request.

The last line printed is one JSON object.
"""

import argparse
import asyncio
import json
import os
import statistics
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import httpcore
import httpx
import smmapi
from run import KEY, PanelServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

Exchange = Callable[[], Awaitable[Any]]


def _form(orders: list[int]) -> bytes:
    """The bulk status request's body, as smmapi sends it."""
    return urlencode({"key": KEY, "action": "status", "orders": ",".join(map(str, orders))}).encode()


async def _timed(exchange: Exchange, requests: int) -> float:
    """CPU seconds per request of ``requests`` exchanges, after one to open the connection."""
    await exchange()
    before = os.times()
    for _ in range(requests):
        await exchange()
    after = os.times()
    return (after.user - before.user + after.system - before.system) / requests


async def with_httpx(url: str, orders: list[int], requests: int) -> float:
    body = _form(orders)
    async with httpx.AsyncClient() as client:

        async def exchange() -> Any:
            return json.loads((await client.post(url, content=body, headers=FORM)).content)

        return await _timed(exchange, requests)


async def with_httpcore(url: str, orders: list[int], requests: int) -> float:
    body = _form(orders)
    async with httpcore.AsyncConnectionPool() as pool:

        async def exchange() -> Any:
            return json.loads((await pool.request("POST", url, content=body, headers=FORM)).content)

        return await _timed(exchange, requests)


async def with_aiohttp(url: str, orders: list[int], requests: int) -> float:
    body = _form(orders)
    import aiohttp  # noqa: PLC0415  (optional: the bench extra installs it for optsmm)

    async with aiohttp.ClientSession() as session:

        async def exchange() -> Any:
            async with session.post(url, data=body, headers=FORM) as response:
                return json.loads(await response.read())

        return await _timed(exchange, requests)


async def with_streams(url: str, orders: list[int], requests: int) -> float:
    body = _form(orders)
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: {FORM['Content-Type']}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    message = head.encode() + body

    async def exchange() -> Any:
        writer.write(message)
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        length = next(
            int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")
        )
        return json.loads(await reader.readexactly(length))

    try:
        return await _timed(exchange, requests)
    finally:
        writer.close()


async def with_smmapi(url: str, orders: list[int], requests: int) -> float:
    async with smmapi.AsyncClient(url, KEY) as client:
        await client.statuses(orders[:2])  # the panel's dialect learned, as a running app's client has

        async def exchange() -> Any:
            return await client.statuses(orders)

        return await _timed(exchange, requests)


CLIENTS: dict[str, Callable[[str, list[int], int], Awaitable[float]]] = {
    "httpx": with_httpx,
    "httpcore": with_httpcore,
    "aiohttp": with_aiohttp,
    "asyncio streams": with_streams,
    "smmapi statuses()": with_smmapi,
}


def main(requests: int, ids: int, rounds: int) -> dict[str, Any]:
    server = PanelServer(orders=ids, delay=0.0)
    try:
        orders = server.order_ids(ids)
        runs: dict[str, list[float]] = {name: [] for name in CLIENTS}
        skipped: dict[str, str] = {}
        for _ in range(rounds):
            for name, client in CLIENTS.items():
                if name in skipped:
                    continue
                try:
                    runs[name].append(anyio.run(client, server.url, orders, requests))
                except ImportError as exc:
                    skipped[name] = repr(exc)
    finally:
        server.stop()
    per_request = {name: statistics.median(values) * 1000 for name, values in runs.items() if values}
    for name, ms in per_request.items():
        ratio = ms / per_request["httpx"]
        print(f"  {name:<18} {ms:6.3f} ms CPU per request  ({ratio:.2f}x httpx's)")
    for name, reason in skipped.items():
        print(f"  {name:<18} not run: {reason}")
    return {
        "requests": requests,
        "ids": ids,
        "rounds": rounds,
        "cpu_ms_per_request": {name: round(ms, 3) for name, ms in per_request.items()},
        "not_run": skipped,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per client and round")
    parser.add_argument("--ids", type=int, default=100, help="IDs in each bulk request")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every client (the median is kept)")
    args = parser.parse_args()
    print(json.dumps(main(args.requests, args.ids, args.rounds)))
