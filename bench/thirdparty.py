"""The public SMM clients on PyPI, driven the way their READMEs show, against the bench's panel.

Each is installed by the ``bench`` extra (pinned: these are the versions measured); one that is
missing is reported as skipped, with the reason, and the bench goes on. Synchronous clients run
in a thread pool as large as the concurrency cap; ``optsmm`` (async) runs under a semaphore of
that size. Per-ID lookups use each client's one-order call; "multi" uses its own multi-status
call where it has one, with the IDs cut into chunks of 100 (the API's limit) by hand, as a user
of it must.
"""

import asyncio
import importlib
import importlib.metadata
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

CHUNK = 100


@dataclass(frozen=True)
class Client:
    """How to drive one third-party client."""

    package: str  # the name on PyPI
    module: str  # what it installs
    make: Callable[[Any, str, str], Any]  # (module, url, key) -> client
    one: Callable[[Any, int], Any]  # (client, order) -> answer (a coroutine for async clients)
    many: Callable[[Any, list[int]], Any] | None  # (client, orders) -> answer by ID
    is_async: bool = False
    note: str = ""


def _optsmm(module: Any, url: str, key: str) -> Any:
    client = module.OptSMM(key)
    client.base_url = url  # the only way to point it elsewhere: it is fixed to optsmm.ru
    return client


CLIENTS = (
    Client(
        "babismm",
        "smm",
        make=lambda m, url, key: m.SMM(api_url=url, api_key=key),
        one=lambda c, order: c.get_status(order),
        many=lambda c, orders: c.get_multi_status(orders),
        note="requests.Session shared by the threads (keep-alive)",
    ),
    Client(
        "safesmm",
        "safesmm",
        make=lambda m, url, key: m.SafeSMM(key, api_url=url),
        one=lambda c, order: c.status(order),
        many=lambda c, orders: c.multi_status(orders),
        note="urllib: a new connection per request",
    ),
    Client(
        "smmpy",
        "smmpy",
        make=lambda m, url, key: m.smm(url, key),
        one=lambda c, order: c.get_status(order),
        many=lambda c, orders: c.get_multi_status(orders),
        note="requests.post: a new connection per request, no timeout",
    ),
    Client(
        "optsmm",
        "optsmm",
        make=_optsmm,
        one=lambda c, order: c.order_status(order),
        many=None,
        is_async=True,
        note=(
            "async (aiohttp): a new session per call; sends GET with the key in the URL "
            "(the bench server turns it into a form POST); no multi-status call"
        ),
    ),
)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _answered(answer: Any, orders: Iterable[int]) -> int:
    """How many of ``orders`` have a status in ``answer`` (one order's, or a bulk answer)."""
    orders = list(orders)
    if not isinstance(answer, dict):
        return 0
    if len(orders) == 1 and "status" in answer:
        return 1
    return sum(
        1 for order in orders if isinstance(answer.get(str(order)), dict) and "status" in answer[str(order)]
    )


def _run_threads(calls: list[tuple[Callable[[], Any], list[int]]], concurrency: int, limit: float) -> int:
    """Run ``calls`` in ``concurrency`` threads; the lookups answered. Bounded by ``limit`` seconds."""
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        futures = {pool.submit(call): orders for call, orders in calls}
        done, pending = wait(futures, timeout=limit, return_when=FIRST_EXCEPTION)
        if pending:
            first_error = next((f.exception() for f in done if f.exception() is not None), None)
            if first_error is not None:
                raise first_error
            raise TimeoutError(f"{len(pending)} of {len(futures)} calls unfinished after {limit:g} s")
        return sum(_answered(future.result(), futures[future]) for future in done)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def _run_tasks(calls: list[tuple[Callable[[], Any], list[int]]], concurrency: int, limit: float) -> int:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Any], orders: list[int]) -> int:
        async with semaphore:
            return _answered(await call(), orders)

    async with asyncio.timeout(limit):
        return sum(await asyncio.gather(*(one(call, orders) for call, orders in calls)))


def measure(
    spec: Client, mode: str, *, url: str, key: str, orders: list[int], concurrency: int, limit: float
) -> dict[str, Any]:
    """Look ``orders`` up with one client: ``mode`` is "per-ID" or "multi". Wall seconds, answers."""
    module = importlib.import_module(spec.module)
    client = spec.make(module, url, key)
    if mode == "per-ID":
        calls = [((lambda o=order: spec.one(client, o)), [order]) for order in orders]
    elif spec.many is not None:
        many = spec.many
        calls = [((lambda c=chunk: many(client, c)), chunk) for chunk in _chunks(orders)]
    else:
        raise ValueError(f"{spec.package} has no multi-status call")
    started = time.perf_counter()
    try:
        if spec.is_async:
            answered = asyncio.run(_run_tasks(calls, concurrency, limit))
        else:
            answered = _run_threads(calls, concurrency, limit)
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    return {"seconds": time.perf_counter() - started, "answered": answered}


def available(spec: Client) -> tuple[str | None, str | None]:
    """The installed version, or ``None`` and why it cannot run."""
    try:
        version = importlib.metadata.version(spec.package)
        importlib.import_module(spec.module)
    except (ImportError, importlib.metadata.PackageNotFoundError) as exc:
        return None, f"not installed or not importable: {exc!r}"
    return version, None
