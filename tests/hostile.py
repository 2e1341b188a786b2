"""A hostile panel on loopback: a raw HTTP/1.1 server that answers with whatever bytes a case says.

Imported by ``test_hostile_panel.py``; run as a script, it plays one memory case against a
client in this process and prints what happened as JSON, with the peak memory of the process,
so that a test (under a memory cap) or ``bench/hostile.py`` can run each case in a process of
its own::

    python tests/hostile.py gzip-bomb --max-answer-bytes 33554432
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import resource
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc

#: Turns the raw request into the raw response, chunk by chunk.
Respond = Callable[[bytes], Iterator[bytes]]

KEY = "test-key-DO-NOT-LEAK-0123456789"
MIB = 1024 * 1024


async def _read_request(stream: anyio.abc.ByteStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += await stream.receive()
    return head + b"\r\n\r\n" + body


@asynccontextmanager
async def serve(
    respond: Respond, requests: list[bytes] | None = None, *, stall: bool = False
) -> AsyncIterator[str]:
    """Serve ``respond`` on a loopback port for the duration; yields the API URL.

    ``stall``: accept connections, then read nothing and answer nothing.
    """
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610  (anyio, not Django)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            if stall:
                await anyio.sleep_forever()
            try:
                request = await _read_request(stream)
                if requests is not None:
                    requests.append(request)
                for chunk in respond(request):
                    await stream.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
                pass  # the client stopped reading: that is the point

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield f"http://127.0.0.1:{port}/api/v2"
        finally:
            group.cancel_scope.cancel()


def head(status: int = 200, reason: str = "OK", **headers: str) -> bytes:
    """The status line and headers of a response (``Content_Type`` names ``Content-Type``)."""
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def body(data: bytes, status: int = 200, reason: str = "OK", **headers: str) -> Respond:
    """A whole answer with its Content-Length."""

    def respond(_: bytes) -> Iterator[bytes]:
        yield head(status, reason, Content_Length=str(len(data)), **headers) + data

    return respond


def _chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        if piece:
            yield b"%x\r\n%s\r\n" % (len(piece), piece)


@functools.cache
def _compressed_zeros(wbits: int) -> tuple[bytes, bytes]:
    """The start of a compressed stream of zeros, and a block of 4 MiB of zeros to repeat after it.

    Each block ends with a full flush, which resets the compressor: the same block follows again.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"0" * (4 * MIB)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)


def bomb(encoding: str) -> Respond:
    """An endless body of zeros, gzip- or deflate-compressed about 1,000 to 1 on the wire."""

    def respond(_: bytes) -> Iterator[bytes]:
        first, block = _compressed_zeros(31 if encoding == "gzip" else 15)
        yield head(Content_Type="application/json", Content_Encoding=encoding, Transfer_Encoding="chunked")
        yield from _chunked(itertools.chain([first], itertools.repeat(block)))

    return respond


def endless(piece: bytes = b"[" + b"0," * 32767) -> Respond:
    """A chunked body that never ends."""

    def respond(_: bytes) -> Iterator[bytes]:
        yield head(Content_Type="application/json", Transfer_Encoding="chunked")
        yield from _chunked(iter(lambda: piece, None))

    return respond


def sized(total: int) -> Respond:
    """A body of ``total`` bytes (a JSON list of zeros) with its Content-Length."""

    def respond(_: bytes) -> Iterator[bytes]:
        yield head(Content_Type="application/json", Content_Length=str(total))
        piece = b"0," * (MIB // 2)
        yield b"["
        sent = 1
        while sent + len(piece) < total - 2:
            yield piece
            sent += len(piece)
        yield b"0" * (total - sent - 1) + b"]"

    return respond


#: The memory cases, each run in a process of its own.
CASES: dict[str, Respond] = {
    "gzip-bomb": bomb("gzip"),
    "deflate-bomb": bomb("deflate"),
    "endless-chunked": endless(),
    "200-MB-body": sized(200 * MIB),
    "small": body(b'{"balance": "1.5", "currency": "USD"}', Content_Type="application/json"),
}


async def play(case: str, max_answer_bytes: int | None) -> str:
    """Ask the case's panel for the balance; the name of what came back."""
    import smmapi  # noqa: PLC0415  (after the memory cap is set)

    options = {} if max_answer_bytes is None else {"max_answer_bytes": max_answer_bytes}
    async with serve(CASES[case]) as url, smmapi.AsyncClient(url, KEY, max_retries=0, **options) as client:
        try:
            await client.balance()
        except smmapi.SmmError as error:
            return type(error).__name__
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--max-answer-bytes", type=int)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--cap-mib", type=int, help="the address space this process may have (RLIMIT_AS)")
    args = parser.parse_args()
    if args.cap_mib:
        cap = args.cap_mib * MIB
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    started = time.perf_counter()
    try:
        outcome = anyio.run(play, args.case, args.max_answer_bytes, backend=args.backend)
    except MemoryError:
        outcome = "MemoryError"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux gives KiB
    json.dump(
        {"case": args.case, "outcome": outcome, "peak_bytes": peak, "seconds": time.perf_counter() - started},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
