"""The floor of Python on this machine: bulk status lookups written by hand on asyncio streams.

No HTTP client, no types, no error handling: the request is written by hand on a keep-alive
stream, the answer read by its Content-Length and parsed into dicts by ``json``. What these
clients take is what the fake panel, the loopback and one event loop allow; a target a
hand-written client cannot reach in the same run is a limit of the machine and the panel, not of
smmapi.

- :func:`chunked`: the IDs cut into hundreds, sent over ``concurrency`` connections, each taking
  the next hundred when its answer is read (as ``statuses()`` does);
- :func:`tasks`: one task per lookup, started through an anyio task group as the bench starts
  ``status()`` tasks; the lookups of one loop tick are cut into hundreds and sent as above, and
  each task awaits its own answer (as 500 ``status()`` tasks do).

Both open their ``concurrency`` connections before the clock starts (smmapi's rows start with one
open, the threaded clients with none): a floor is the best case. Asyncio only.
"""

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio

Chunk = list[int]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Lanes:
    """Keep-alive connections to the panel: each lane takes an idle one, sends chunk after chunk."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        self.head += "Content-Type: application/x-www-form-urlencoded\r\n"
        self.key = key
        self.streams: list[Stream] = []
        self.idle: asyncio.Queue[Stream] = asyncio.Queue()

    async def open(self, concurrency: int) -> None:
        """Open the connections, before the clock starts: the floor is the best case."""
        for _ in range(concurrency):
            stream = await asyncio.open_connection(self.host, self.port)
            self.streams.append(stream)
            self.idle.put_nowait(stream)

    async def aclose(self) -> None:
        for _, writer in self.streams:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def message(self, chunk: Chunk) -> bytes:
        body = urlencode({"key": self.key, "action": "status", "orders": ",".join(map(str, chunk))})
        return f"{self.head}Content-Length: {len(body)}\r\n\r\n{body}".encode()

    async def run(self, chunks: deque[Chunk], answered: Callable[[Chunk, Any], None]) -> None:
        """Send every chunk, as many at once as there are connections; ``answered`` each answer."""

        async def lane() -> None:
            reader, writer = stream = await self.idle.get()
            try:
                while chunks:
                    chunk = chunks.popleft()
                    writer.write(self.message(chunk))
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    answered(chunk, json.loads(await reader.readexactly(length)))
            finally:
                self.idle.put_nowait(stream)

        async with asyncio.TaskGroup() as group:  # one lane's failure stops the others
            for _ in range(min(len(self.streams), len(chunks))):
                group.create_task(lane())


def _cut(orders: list[int]) -> deque[Chunk]:
    return deque(orders[start : start + 100] for start in range(0, len(orders), 100))


async def chunked(url: str, key: str, orders: list[int], concurrency: int, limit: float) -> dict[str, Any]:
    """Every order looked up in hundreds: wall seconds and lookups answered."""
    answers: dict[str, Any] = {}
    lanes = _Lanes(url, key)
    try:
        with anyio.fail_after(limit):
            await lanes.open(concurrency)
            started = time.perf_counter()
            await lanes.run(_cut(orders), lambda _, answer: answers.update(answer))
            seconds = time.perf_counter() - started
    finally:
        await lanes.aclose()
    return {"seconds": seconds, "answered": sum("status" in answers.get(str(o), ()) for o in orders)}


async def tasks(url: str, key: str, orders: list[int], concurrency: int, limit: float) -> dict[str, Any]:
    """Every order looked up from a task of its own, coalesced by loop tick: wall seconds, answered.

    The orders must be unique (one future per order).
    """
    loop = asyncio.get_running_loop()
    lanes = _Lanes(url, key)
    waiting: dict[int, asyncio.Future[Any]] = {}
    unsent: list[int] = []
    sending: set[asyncio.Task[None]] = set()
    answered = 0

    def settle(chunk: Chunk, answer: dict[str, Any]) -> None:
        for order in chunk:
            waiting.pop(order).set_result(answer.get(str(order)))

    async def send(batch: list[int]) -> None:
        try:
            await lanes.run(_cut(batch), settle)
        except Exception as exc:  # noqa: BLE001  (handed to every waiter of the batch)
            for order in batch:  # nobody is left waiting for an answer that will not come
                future = waiting.pop(order, None)
                if future is not None:
                    future.set_exception(exc)

    def flush() -> None:
        task = loop.create_task(send(unsent[:]))
        sending.add(task)
        task.add_done_callback(sending.discard)
        unsent.clear()

    async def one(order: int) -> None:
        nonlocal answered
        if not unsent:
            loop.call_soon(flush)
        unsent.append(order)
        future = waiting[order] = loop.create_future()
        answer = await future
        answered += "status" in (answer or ())

    if len(set(orders)) != len(orders):
        raise ValueError("the orders must be unique")
    try:
        with anyio.fail_after(limit):
            await lanes.open(concurrency)
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for order in orders:
                    group.start_soon(one, order)
            seconds = time.perf_counter() - started
    finally:
        await lanes.aclose()
    return {"seconds": seconds, "answered": answered}
