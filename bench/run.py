"""smmapi over real HTTP, side by side with what users run today.

    nox -s bench                     # or: python bench/run.py [options]
    python bench/run.py --plot       # also draws docs/_static/performance.png

The fake panel (``smmapi.testing.FakePanel``) is served by uvicorn on 127.0.0.1 in a process of
its own (bench/panel_server.py), every request held ``--delay`` seconds (50 ms: a panel far
away). Each scenario runs its contenders one after the other in the same run, against the same
server: this machine is shared and noisy, so the ratios are what we report.

1. ``--lookups`` status lookups from as many concurrent tasks: smmapi's ``status()`` beside one
   request per lookup through plain httpx (what users' snippets do), both capped at
   ``--concurrency`` requests in flight. Then, at ``--thirdparty-lookups`` lookups, the public
   SMM clients on PyPI (bench/thirdparty.py) beside smmapi and httpx at that same count;
   smmapi's rows are a client that has made one bulk read before (a running app's), and the
   "fresh client" rows one making its first (one round trip more while it learns the dialect).
2. One lookup at a time: the latency smmapi adds over a direct request.
3. Client CPU per lookup with no network: bench/coalescing.py, in process, zero delay.
4. Peak memory with ``--pending`` IDs pending: bench/memory.py.
5. ``watch()`` over ``--watch-orders`` orders until all are final, the panel's clock running
   ``--warp`` times as fast as real time so the orders end within seconds.
6. A steady trickle: ``--trickle-rate`` lookups a second from tasks of their own for
   ``--trickle-seconds``, with the default batching beside a fixed ``--fixed-window``.
7. Growth: one ``statuses()`` call of 100 to ``--growth-max`` IDs (a client that has made one
   bulk read before), beside the round-trip floor and one request per lookup.

Every loop is bounded in count, and every scenario in time (``--time-limit``); the server
process is stopped however the bench ends. The last line printed is one JSON object.
"""

import argparse
import atexit
import contextlib
import functools
import inspect
import io
import json
import math
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import coalescing
import handwritten
import httpx
import memory
import smmapi
import thirdparty
from smmapi.testing import DEFAULT_KEY

HERE = Path(__file__).parent
KEY = DEFAULT_KEY
DEFAULT_PLOT = HERE.parent / "docs" / "_static" / "performance.png"

#: One measured run of a contender: its figures (``seconds`` at least), or ``{"failed": why}``.
Run = Callable[[], dict[str, Any]]


class PanelServer:
    """The fake panel in its own process; :meth:`stop` (also run at exit) ends it."""

    def __init__(self, *, orders: int, delay: float, start_limit: float = 600.0) -> None:
        command = [sys.executable, str(HERE / "panel_server.py"), "--orders", str(orders)]
        command += ["--delay", str(delay)]
        # stdin stays open while we live: the server stops when it closes, even if we are killed.
        self.process = subprocess.Popen(  # noqa: S603  (our own script, by absolute path)
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        atexit.register(self.stop)
        try:
            ready = self._read_line(start_limit)
        except BaseException:
            self.stop()
            raise
        self.port: int = ready["port"]
        self.first_order: int = ready["first_order"]
        self.orders: int = ready["orders"]
        self.url = f"http://127.0.0.1:{self.port}/api/v2"
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/_bench", timeout=10)

    def _read_line(self, limit: float) -> dict[str, Any]:
        assert self.process.stdout is not None  # noqa: S101  (Popen was given stdout=PIPE)
        readable, _, _ = select.select([self.process.stdout], [], [], limit)
        line = self.process.stdout.readline() if readable else ""
        if not line:
            raise RuntimeError(f"the panel server did not start within {limit:g} s")
        return json.loads(line)  # type: ignore[no-any-return]

    def order_ids(self, count: int) -> list[int]:
        if count > self.orders:
            raise ValueError(f"the panel holds {self.orders} orders, not {count}")
        return list(range(self.first_order, self.first_order + count))

    def stats(self) -> dict[str, Any]:
        return self.control.get("/stats").json()  # type: ignore[no-any-return]

    def requests(self) -> int:
        return int(self.stats()["requests"])

    def set_delay(self, seconds: float) -> None:
        self.control.post("/delay", params={"seconds": seconds}).raise_for_status()

    def warp(self, speed: float) -> None:
        self.control.post("/warp", params={"speed": speed}).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # type: ignore[union-attr]
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        with contextlib.suppress(AttributeError):
            self.control.close()


def counted(server: PanelServer, run: Run) -> dict[str, Any]:
    """``run()``'s figures, with the requests the panel received meanwhile."""
    before = server.requests()
    figures = run()
    figures["requests"] = server.requests() - before
    return figures


# -- 1. many lookups at once -----------------------------------------------------------------


async def warm_up(client: smmapi.AsyncClient, orders: list[int]) -> None:
    """What a client in a running app has done already: a bulk read, which taught it the panel's dialect.

    A fresh client's first bulk read is one request while the others wait for what it teaches
    (issue 15: a panel that reads no bulk form costs N + 3 requests, not N + 10): one more
    round trip, once in a client's life. The rows marked "fresh client" keep that round trip.
    """
    await client.statuses(orders[:2])


async def smmapi_lookups(
    url: str, orders: list[int], concurrency: int, limit: float, warm: bool = False
) -> dict[str, Any]:
    """Every order looked up through ``status()`` from a task of its own."""
    answered = 0
    async with smmapi.AsyncClient(url, KEY, max_concurrency=concurrency) as client:
        if warm:
            await warm_up(client, orders)
        sent_before = client.stats().requests

        async def one(order: int) -> None:
            nonlocal answered
            status = await client.status(order)
            answered += status.order == order

        started = time.perf_counter()
        with anyio.fail_after(limit):
            async with anyio.create_task_group() as group:
                for order in orders:
                    group.start_soon(one, order)
        seconds = time.perf_counter() - started
        client_requests = client.stats().requests - sent_before
    return {"seconds": seconds, "answered": answered, "client_requests": client_requests}


async def smmapi_bulk(
    url: str, orders: list[int], concurrency: int, limit: float, warm: bool = False
) -> dict[str, Any]:
    """Every order looked up through one ``statuses()`` call."""
    async with smmapi.AsyncClient(url, KEY, max_concurrency=concurrency) as client:
        if warm:
            await warm_up(client, orders)
        sent_before = client.stats().requests
        started = time.perf_counter()
        with anyio.fail_after(limit):
            answers = await client.statuses(orders)
        seconds = time.perf_counter() - started
        client_requests = client.stats().requests - sent_before
    answered = sum(not isinstance(answer, smmapi.SmmError) for answer in answers.values())
    return {"seconds": seconds, "answered": answered, "client_requests": client_requests}


async def httpx_lookups(url: str, orders: list[int], concurrency: int, limit: float) -> dict[str, Any]:
    """What users run today: one POST per lookup through httpx, the same cap on requests in flight."""
    answered = 0
    limiter = anyio.CapacityLimiter(concurrency)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(order: int) -> None:
            nonlocal answered
            async with limiter:
                response = await http.post(url, data={"key": KEY, "action": "status", "order": str(order)})
            answered += "status" in response.json()

        started = time.perf_counter()
        with anyio.fail_after(limit):
            async with anyio.create_task_group() as group:
                for order in orders:
                    group.start_soon(one, order)
    return {"seconds": time.perf_counter() - started, "answered": answered}


def median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time among ``results``, with every run's seconds."""
    ordered = sorted(results, key=lambda result: result["seconds"])
    return {**ordered[len(ordered) // 2], "runs_s": [round(result["seconds"], 3) for result in ordered]}


def in_rotation(rounds: int, runs: dict[str, Run]) -> dict[str, list[dict[str, Any]]]:
    """Each of ``runs`` ``rounds`` times, taking turns, so that the machine's moods fall on all alike.

    A contender whose run failed is left out of the rounds after it.
    """
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            if not results[name] or "failed" not in results[name][-1]:
                results[name].append(run())
    return results


def many_lookups(server: PanelServer, args: argparse.Namespace) -> dict[str, Any]:
    orders = server.order_ids(args.lookups)
    ours_runs = [
        counted(
            server, lambda: anyio.run(smmapi_lookups, server.url, orders, args.concurrency, args.time_limit)
        )
        for _ in range(args.repeat)
    ]
    ours = median_run(ours_runs)
    base = counted(
        server, lambda: anyio.run(httpx_lookups, server.url, orders, args.concurrency, args.time_limit)
    )
    for name, run in (("smmapi", ours), ("httpx, one request per lookup", base)):
        requests, seconds, answered = run["requests"], run["seconds"], run["answered"]
        print(f"  {name:<32} {requests:>6} requests  {seconds:8.3f} s  ({answered} answered)")
    runs = ", ".join(f"{run['seconds']:.3f}" for run in ours_runs)
    print(f"  speed-up: {base['seconds'] / ours['seconds']:.1f}x (smmapi runs: {runs} s; the median is kept)")
    return {"smmapi": ours, "smmapi_runs_s": [round(run["seconds"], 3) for run in ours_runs], "httpx": base}


#: The floor of Python on this machine (bench/handwritten.py), beside the clients at 500 lookups.
HANDWRITTEN = {
    "hand-written, chunked": handwritten.chunked,
    "hand-written, a task per lookup": handwritten.tasks,
}


def third_party(server: PanelServer, args: argparse.Namespace) -> dict[str, Any]:
    """Every client at ``--thirdparty-lookups`` lookups: lookups per second, and smmapi's ratio to it.

    The contenders that take one round trip (smmapi's rows, the hand-written floors and the
    multi-status calls) run ``--repeat`` times each, in turns, the median kept; the per-ID rows,
    which take seconds, once.
    """
    orders = server.order_ids(args.thirdparty_lookups)

    def smmapi_run(run: Callable[..., Any], warm: bool) -> Run:
        def measured() -> dict[str, Any]:
            figures: dict[str, Any] = anyio.run(
                run, server.url, orders, args.concurrency, args.time_limit, warm
            )
            return {**figures, "requests": figures["client_requests"]}

        return measured

    def by_hand(run: Callable[..., Any]) -> Run:
        return lambda: counted(
            server, lambda: anyio.run(run, server.url, KEY, orders, args.concurrency, args.time_limit)
        )

    def third(spec: thirdparty.Client, mode: str) -> Run:
        def measured() -> dict[str, Any]:
            try:
                return counted(
                    server,
                    lambda: thirdparty.measure(
                        spec,
                        mode,
                        url=server.url,
                        key=KEY,
                        orders=orders,
                        concurrency=args.concurrency,
                        limit=args.time_limit,
                    ),
                )
            except Exception as exc:  # noqa: BLE001  (a third-party failure is a figure, not a crash)
                return {"failed": repr(exc)}

        return measured

    round_trips: dict[str, Run] = {
        "smmapi status()": smmapi_run(smmapi_lookups, warm=True),
        "smmapi statuses()": smmapi_run(smmapi_bulk, warm=True),
        "smmapi status(), fresh client": smmapi_run(smmapi_lookups, warm=False),
        "smmapi statuses(), fresh client": smmapi_run(smmapi_bulk, warm=False),
        **{name: by_hand(run) for name, run in HANDWRITTEN.items()},
    }
    slow: dict[str, Run] = {
        "httpx per-ID": lambda: counted(
            server, lambda: anyio.run(httpx_lookups, server.url, orders, args.concurrency, args.time_limit)
        )
    }
    skipped: dict[str, str] = {}
    for spec in thirdparty.CLIENTS:
        version, reason = thirdparty.available(spec)
        if version is None:
            skipped[spec.package] = reason or "unavailable"
            continue
        slow[f"{spec.package} {version} per-ID"] = third(spec, "per-ID")
        if spec.many is not None:
            round_trips[f"{spec.package} {version} multi"] = third(spec, "multi")
    results = in_rotation(args.repeat, round_trips) | in_rotation(1, slow)
    rows: dict[str, Any] = {}
    for name, runs in results.items():
        if "failed" in runs[-1]:
            skipped[name] = f"failed: {runs[-1]['failed']}"
        else:
            rows[name] = median_run(runs)
    ours = rows["smmapi status()"]["seconds"]
    for name, row in rows.items():
        row["lookups_per_s"] = round(len(orders) / row["seconds"], 1)
        row["smmapi_speedup"] = round(row["seconds"] / ours, 1)
        print(
            f"  {name:<32} {row['requests']:>5} requests  {row['seconds']:7.3f} s  "
            f"{row['lookups_per_s']:>8.0f} lookups/s  smmapi is {row['smmapi_speedup']:>5.1f}x as fast  "
            f"({row['answered']} answered)"
        )
    for name, reason in skipped.items():
        print(f"  {name:<30} not run: {reason}")
    return {"lookups": len(orders), "clients": rows, "not_run": skipped}


# -- 2. one lookup at a time -----------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` from 0 to 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


async def one_at_a_time(url: str, orders: list[int], samples: int, limit: float) -> dict[str, Any]:
    """Alternately a direct POST and a ``status()``, each awaited before the next: their latencies."""
    direct: list[float] = []
    ours: list[float] = []
    async with (
        smmapi.AsyncClient(url, KEY) as client,
        httpx.AsyncClient(timeout=30) as http,
    ):

        async def by_hand(order: int) -> float:
            started = time.perf_counter()
            response = await http.post(url, data={"key": KEY, "action": "status", "order": str(order)})
            response.json()
            return time.perf_counter() - started

        async def through_smmapi(order: int) -> float:
            started = time.perf_counter()
            await client.status(order)
            return time.perf_counter() - started

        with anyio.fail_after(limit):
            for order in orders[:5]:  # warm up: connections open, code paths hot
                await by_hand(order)
                await through_smmapi(order)
            for index in range(samples):
                order = orders[index % len(orders)]
                if index % 2:
                    direct.append(await by_hand(order))
                    ours.append(await through_smmapi(order))
                else:
                    ours.append(await through_smmapi(order))
                    direct.append(await by_hand(order))
    return {"direct": direct, "smmapi": ours}


def low_load(server: PanelServer, args: argparse.Namespace) -> dict[str, Any]:
    orders = server.order_ids(min(args.samples, server.orders))
    runs = anyio.run(one_at_a_time, server.url, orders, args.samples, args.time_limit)
    ms = {name: {p: percentile(values, p) * 1000 for p in (50, 99)} for name, values in runs.items()}
    window_ms = inspect.signature(smmapi.AsyncClient).parameters["batch_window"].default * 1000
    figures = {
        "samples": args.samples,
        "window_ms": window_ms,
        "direct_p50_ms": round(ms["direct"][50], 2),
        "direct_p99_ms": round(ms["direct"][99], 2),
        "smmapi_p50_ms": round(ms["smmapi"][50], 2),
        "smmapi_p99_ms": round(ms["smmapi"][99], 2),
        "added_p50_ms": round(ms["smmapi"][50] - ms["direct"][50], 2),
        "added_p99_ms": round(ms["smmapi"][99] - ms["direct"][99], 2),
        "added_median_of_pairs_ms": round(
            statistics.median(o - d for o, d in zip(runs["smmapi"], runs["direct"], strict=True)) * 1000, 2
        ),
    }
    print(
        f"  direct request  p50 {figures['direct_p50_ms']:7.2f} ms  p99 {figures['direct_p99_ms']:7.2f} ms\n"
        f"  smmapi status() p50 {figures['smmapi_p50_ms']:7.2f} ms  p99 {figures['smmapi_p99_ms']:7.2f} ms\n"
        f"  added by smmapi p50 {figures['added_p50_ms']:7.2f} ms  p99 {figures['added_p99_ms']:7.2f} ms"
        f"  (batch window: {window_ms:g} ms; {args.samples} lookups each)"
    )
    return figures


# -- 3. and 4. in process --------------------------------------------------------------------


def quietly(run: Run) -> dict[str, Any]:
    """``run()``, its printed lines indented under ours (its JSON line dropped)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        figures = run()
    for line in buffer.getvalue().splitlines():
        print(f"  {line}")
    return figures


async def bounded(limit: float, run: Callable[..., Any], *args: Any) -> Any:
    """``await run(*args)``, failing after ``limit`` seconds."""
    with anyio.fail_after(limit):
        return await run(*args)


def cpu(args: argparse.Namespace) -> dict[str, Any]:
    return quietly(
        lambda: anyio.run(bounded, args.time_limit, coalescing.main, args.cpu_lookups, 0.0, args.concurrency)
    )


def peak_memory(args: argparse.Namespace) -> dict[str, Any]:
    return quietly(lambda: anyio.run(bounded, args.time_limit, memory.main, args.pending))


# -- 5. watch() ------------------------------------------------------------------------------


async def watch_orders(
    url: str, orders: list[int], *, concurrency: int, interval: float, max_interval: float, limit: float
) -> dict[str, Any]:
    """Follow ``orders`` until every one is final; each round's IDs and requests."""
    rounds: list[tuple[int, int]] = []
    finals = updates = 0
    async with smmapi.AsyncClient(url, KEY, max_concurrency=concurrency) as client:
        statuses = client.statuses

        async def one_round(due: list[int]) -> dict[int, Any]:
            """The watch asks through ``client.statuses``: this counts what each round cost."""
            before = client.stats().requests
            answers = await statuses(due)
            rounds.append((len(due), client.stats().requests - before))
            return answers

        client.statuses = one_round  # type: ignore[method-assign]
        started = time.perf_counter()
        with anyio.fail_after(limit):
            async with client.watch(orders, interval=interval, max_interval=max_interval) as watch:
                async for update in watch:
                    updates += 1
                    finals += update.final
                    if updates > 1000 * len(orders):  # bounded even if the panel never settles
                        break
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rounds": rounds, "updates": updates, "finals": finals}


def watch(server: PanelServer, args: argparse.Namespace) -> dict[str, Any]:
    orders = server.order_ids(args.watch_orders)
    server.warp(args.warp)
    try:
        run = counted(
            server,
            lambda: anyio.run(
                functools.partial(
                    watch_orders,
                    server.url,
                    orders,
                    concurrency=args.concurrency,
                    interval=args.watch_interval,
                    max_interval=args.watch_interval * 8,
                    limit=args.time_limit,
                )
            ),
        )
    finally:
        server.warp(0)
    rounds = run.pop("rounds")
    asked = sum(due for due, _ in rounds)
    over = [(due, sent) for due, sent in rounds if sent > math.ceil(due / 100)]
    figures = {
        **run,
        "orders": len(orders),
        "warp": args.warp,
        "panel_minutes": round(server.stats()["now"] / 60, 1),
        "rounds": len(rounds),
        "ids_asked": asked,
        "requests_per_round": [sent for _, sent in rounds],
        "ids_per_round": [due for due, _ in rounds],
        "rounds_over_ceil_ids_100": len(over),
    }
    print(
        f"  {len(orders)} orders followed until final in {run['seconds']:.1f} s "
        f"({figures['panel_minutes']} minutes of panel time): {len(rounds)} rounds, "
        f"{run['requests']} requests, {asked} IDs asked ({run['finals']} final, {run['updates']} updates)\n"
        f"  requests per round: {figures['requests_per_round']}\n"
        f"  one request per ID asked would have sent {asked}: "
        f"{asked / max(1, run['requests']):.0f}x as many; rounds over ceil(IDs/100): {len(over)}"
    )
    return figures


# -- 6. a steady trickle ---------------------------------------------------------------------


async def trickle_lookups(
    url: str, orders: list[int], *, rate: float, window: float, concurrency: int, limit: float
) -> dict[str, Any]:
    """One ``status()`` per order from a task of its own, started ``rate`` times a second on schedule."""
    latencies: list[float] = []
    async with smmapi.AsyncClient(url, KEY, max_concurrency=concurrency, batch_window=window) as client:

        async def one(order: int) -> None:
            started = time.perf_counter()
            await client.status(order)
            latencies.append(time.perf_counter() - started)

        with anyio.fail_after(limit):
            async with anyio.create_task_group() as group:
                start = anyio.current_time()
                for index, order in enumerate(orders):
                    delay = start + index / rate - anyio.current_time()
                    if delay > 0:
                        await anyio.sleep(delay)
                    group.start_soon(one, order)
        seconds = anyio.current_time() - start
    return {"latencies": latencies, "seconds": seconds}


def trickle(server: PanelServer, args: argparse.Namespace) -> dict[str, Any]:
    orders = server.order_ids(round(args.trickle_rate * args.trickle_seconds))
    figures: dict[str, Any] = {"rate": args.trickle_rate, "lookups": len(orders)}
    for name, window in (("default", 0.0), ("fixed_window", args.fixed_window)):
        run = counted(
            server,
            lambda window=window: anyio.run(
                functools.partial(
                    trickle_lookups,
                    server.url,
                    orders,
                    rate=args.trickle_rate,
                    window=window,
                    concurrency=args.concurrency,
                    limit=args.time_limit,
                )
            ),
        )
        latencies = run.pop("latencies")
        figures[name] = {
            "window_ms": window * 1000,
            "requests": run["requests"],
            "ids_per_request": round(len(latencies) / max(1, run["requests"]), 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "seconds": round(run["seconds"], 2),
        }
        row = figures[name]
        label = "default batching" if window == 0 else f"fixed {window * 1000:g} ms window"
        print(
            f"  {label:<22} {row['requests']:>5} requests ({row['ids_per_request']} IDs each)  "
            f"latency p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms"
        )
    return figures


# -- 7. growth -------------------------------------------------------------------------------


async def bulk_cpu(url: str, orders: list[int], concurrency: int, limit: float) -> dict[str, Any]:
    """One ``statuses()`` call of a warmed-up client: wall seconds, the process's CPU seconds, requests."""
    async with smmapi.AsyncClient(url, KEY, max_concurrency=concurrency) as client:
        await warm_up(client, orders)
        sent_before = client.stats().requests
        cpu_started, started = time.process_time(), time.perf_counter()
        with anyio.fail_after(limit):
            answers = await client.statuses(orders)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        requests = client.stats().requests - sent_before
    answered = sum(not isinstance(answer, smmapi.SmmError) for answer in answers.values())
    return {"seconds": seconds, "cpu_s": cpu_s, "answered": answered, "requests": requests}


def growth_sizes(most: int) -> list[int]:
    return [size for size in (100, 1_000, 10_000, 100_000, 1_000_000) if size <= most]


def growth(server: PanelServer, args: argparse.Namespace, per_lookup_10k: float) -> dict[str, Any]:
    rows = []
    for size in growth_sizes(args.growth_max):
        orders = server.order_ids(size)
        # Up to 10,000 IDs, a run is a round trip or ten, and moves by 10% from run to run: each of
        # the two runs --repeat times, in turns, the median kept. Beyond, a run takes seconds.
        runs = in_rotation(
            args.repeat if size <= 10_000 else 1,
            {
                "smmapi": lambda orders=orders: anyio.run(
                    bulk_cpu, server.url, orders, args.concurrency, 600
                ),
                "by hand": lambda orders=orders: anyio.run(
                    handwritten.chunked, server.url, KEY, orders, args.concurrency, 600
                ),
            },
        )
        run, by_hand = median_run(runs["smmapi"]), median_run(runs["by hand"])
        floor = math.ceil(size / (100 * args.concurrency)) * args.delay
        if size <= 1_000:
            base = counted(
                server,
                lambda orders=orders: anyio.run(httpx_lookups, server.url, orders, args.concurrency, 600),
            )
            per_lookup_s, per_lookup_measured = base["seconds"], True
        elif size == 10_000 and per_lookup_10k:
            per_lookup_s, per_lookup_measured = per_lookup_10k, True  # scenario 1's run
        else:  # a minute or more: its floor, not run
            per_lookup_s, per_lookup_measured = size / args.concurrency * args.delay, False
        rows.append(
            {
                "lookups": size,
                "requests": run["requests"],
                "requests_target": math.ceil(size / 100),
                "seconds": round(run["seconds"], 3),
                "floor_s": floor,
                "over_floor": round(run["seconds"] / floor, 2),
                "handwritten_s": round(by_hand["seconds"], 3),
                "handwritten_over_floor": round(by_hand["seconds"] / floor, 2),
                "cpu_s": round(run["cpu_s"], 3),
                "cpu_us_per_lookup": round(run["cpu_s"] * 1e6 / size, 1),
                "answered": run["answered"],
                "per_lookup_s": round(per_lookup_s, 2),
                "per_lookup_measured": per_lookup_measured,
                "per_lookup_floor_s": size / args.concurrency * args.delay,
            }
        )
        row = rows[-1]
        print(
            f"  {size:>7} IDs: {row['requests']:>5} requests (ceil(N/100) = {row['requests_target']}), "
            f"{row['seconds']:7.3f} s = {row['over_floor']:.2f}x the round-trip floor ({floor:g} s; "
            f"hand-written asyncio {row['handwritten_over_floor']:.2f}x), "
            f"CPU {row['cpu_s']:.3f} s ({row['cpu_us_per_lookup']} us per lookup); one request per "
            f"lookup {'took' if per_lookup_measured else 'would take at least'} {per_lookup_s:.1f} s"
        )
    return {"rows": rows}


# -- the report ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(total_kb / 2**20, 1),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


#: Bar and line colours: smmapi, the hand-written floors, everyone else grey.
COLORS = {"smmapi": "#2a7ab0", "hand-written": "#6a9a5b"}


def plot_growth(grown: Any, rows: list[dict[str, Any]]) -> None:
    """Wall time by IDs asked: smmapi, the hand-written floor, one request per lookup, and the floors."""
    sizes = [row["lookups"] for row in rows]
    ours = COLORS["smmapi"]
    grown.plot(sizes, [row["seconds"] for row in rows], "o-", color=ours, label="smmapi statuses()")
    grown.plot(
        sizes,
        [row["handwritten_s"] for row in rows],
        "^-",
        color=COLORS["hand-written"],
        alpha=0.8,
        label="hand-written, chunked",
    )
    measured = [row for row in rows if row["per_lookup_measured"]]
    grown.plot(
        [row["lookups"] for row in measured],
        [row["per_lookup_s"] for row in measured],
        "s-",
        color="#808080",
        label="one request per lookup",
    )
    grown.plot(
        sizes,
        [row["per_lookup_floor_s"] for row in rows],
        ":",
        color="#808080",
        label="one request per lookup: its floor",
    )
    grown.plot(sizes, [row["floor_s"] for row in rows], "--", color=ours, alpha=0.6, label="round-trip floor")
    for row in rows:
        grown.annotate(
            f"{row['requests']} req.",
            (row["lookups"], row["seconds"]),
            textcoords="offset points",
            xytext=(0, -16),
            ha="center",
        )
    grown.set_xscale("log")
    grown.set_yscale("log")
    grown.set_xlabel("IDs looked up (log)")
    grown.set_ylabel("wall time, seconds (log)")
    grown.set_title("growth: one statuses() call, ceil(N/100) requests")
    grown.margins(x=0.12)
    grown.legend(loc="upper left")


def plot(path: Path, report: dict[str, Any]) -> None:
    """Four panels, one above the other: 10,000 lookups, each client's rate, latency, growth.

    Drawn for the docs' column (about 740 px): 7.4 inches at 200 dpi shown at half size, so that a
    13-point label reads at the body text's size.
    """
    import matplotlib as mpl  # noqa: PLC0415  (only --plot needs it)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.rcParams.update({"font.size": 13, "axes.titlesize": 14, "legend.fontsize": 12})
    figures = report["figures"]
    fig, (left, middle, right, grown) = plt.subplots(
        4, 1, figsize=(7.4, 20.5), gridspec_kw={"height_ratios": [1, 2.1, 1, 1.3]}
    )
    many = report["scenarios"]["many_lookups"]
    names = ["smmapi\nstatus()", "httpx\nper lookup"]
    seconds = [many["smmapi"]["seconds"], many["httpx"]["seconds"]]
    bars = left.bar(names, seconds, color=[COLORS["smmapi"], "#b0b0b0"])
    for bar, run in zip(bars, (many["smmapi"], many["httpx"]), strict=True):
        left.annotate(
            f"{run['seconds']:.2f} s\n{run['requests']} req.",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
        )
    left.set_yscale("log")
    left.set_ylabel("wall time, seconds (log)")
    left.set_title(f"{figures['lookups']:,} lookups: {figures['speedup']}x faster")
    left.margins(y=0.3)

    tp = report["scenarios"]["third_party"]
    rows = sorted(tp["clients"].items(), key=lambda item: item[1]["lookups_per_s"])
    labels = [name.replace(", ", "\n") for name, _ in rows]
    rates = [row["lookups_per_s"] for _, row in rows]
    colors = [COLORS.get(name.split(" ")[0].rstrip(","), "#b0b0b0") for name, _ in rows]
    middle.barh(labels, rates, color=colors)
    for y, (_, row) in enumerate(rows):
        middle.annotate(
            f" {row['lookups_per_s']:.0f}/s, {row['requests']} req.",
            (row["lookups_per_s"], y),
            va="center",
        )
    middle.set_xscale("log")
    middle.set_xlabel("lookups per second (log)")
    middle.set_title(f"{tp['lookups']} lookups with each client")
    middle.margins(x=0.6)

    low = report["scenarios"]["low_load"]
    groups = ["p50", "p99"]
    direct = [low["direct_p50_ms"], low["direct_p99_ms"]]
    ours = [low["smmapi_p50_ms"], low["smmapi_p99_ms"]]
    xs = range(len(groups))
    right.bar([x - 0.2 for x in xs], direct, width=0.4, label="direct request", color="#b0b0b0")
    right.bar([x + 0.2 for x in xs], ours, width=0.4, label="smmapi status()", color=COLORS["smmapi"])
    right.set_xticks(list(xs), groups)
    right.set_ylabel("latency, ms")
    right.set_title(f"one at a time: +{low['added_p50_ms']:.1f} ms p50 (window {low['window_ms']:g} ms)")
    right.set_ylim(0, max(ours) * 1.35)
    right.legend(loc="upper left")

    plot_growth(grown, report["scenarios"]["growth"]["rows"])

    fig.suptitle(
        f"smmapi over HTTP, panel {report['config']['delay'] * 1000:g} ms away,\n"
        f"{report['config']['concurrency']} requests in flight at most",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200, bbox_inches="tight")  # long client names and labels stay inside
    plt.close(fig)
    print(f"chart: {path}")


def targets(figures: dict[str, Any]) -> dict[str, bool]:
    growth_rows = figures["growth"]
    return {
        "requests <= ceil(lookups/100)": figures["requests"] <= math.ceil(figures["lookups"] / 100),
        "speedup >= 20": figures["speedup"] >= 20,
        "added latency p50 <= 1 ms": figures["added_latency_p50_ms"] <= 1,
        "added latency p99 <= 2 ms": figures["added_latency_p99_ms"] <= 2,
        "statuses() of 500 >= 1.0x the best hand-chunked multi-status client": (
            figures["statuses_vs_best_multi"] >= 1.0
        ),
        "500 status() tasks >= 0.9x the best hand-chunked multi-status client": (
            figures["status_vs_best_multi"] >= 0.9
        ),
        "statuses() of 10,000 within 1.2x the round-trip floor": figures["bulk_10k_over_floor"] <= 1.2,
        "growth: requests == ceil(N/100) at every N": all(
            row["requests"] == row["requests_target"] for row in growth_rows
        ),
        "cpu <= 10 us per lookup through status() (less the caller's task)": figures["cpu_us_per_lookup"]
        <= 10,
        "cpu <= 5 us per lookup through statuses()": figures["bulk_cpu_us_per_lookup"] <= 5,
        "memory <= 312 bytes per pending ID (statuses())": figures["bytes_per_pending_id"] <= 312,
    }


def floor_of(target: str, figures: dict[str, Any]) -> str:
    """What bench/handwritten.py reached for a throughput target, or nothing for another target."""
    column = {
        "statuses() of 500": "handwritten_chunked_vs_best_multi",
        "500 status() tasks": "handwritten_tasks_vs_best_multi",
        "statuses() of 10,000": "handwritten_10k_over_floor",
    }
    for start, name in column.items():
        if target.startswith(start):
            return f" (hand-written: {figures[name]}x)"
    return ""


def at_10k(rows: list[dict[str, Any]], column: str) -> float:
    """``column`` of the growth row of 10,000 IDs (infinite if the growth stopped short of it)."""
    return next((row[column] for row in rows if row["lookups"] == 10_000), math.inf)


def best_multi(clients: dict[str, Any]) -> float:
    """The fastest hand-chunked multi-status client's seconds (infinite if none ran)."""
    return min((row["seconds"] for name, row in clients.items() if name.endswith(" multi")), default=math.inf)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the panel holds each request")
    parser.add_argument("--concurrency", type=int, default=10, help="requests in flight, for every client")
    parser.add_argument("--lookups", type=int, default=10_000, help="scenario 1: concurrent lookups")
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs of each round-trip contender, in turns (the median is kept)",
    )
    parser.add_argument(
        "--thirdparty-lookups", type=int, default=500, help="scenario 1: lookups for each third-party client"
    )
    parser.add_argument("--samples", type=int, default=500, help="scenario 2: sequential lookups each")
    parser.add_argument("--cpu-lookups", type=int, default=10_000, help="scenario 3: lookups")
    parser.add_argument("--pending", type=int, default=100_000, help="scenario 4: pending IDs")
    parser.add_argument("--watch-orders", type=int, default=10_000, help="scenario 5: orders followed")
    parser.add_argument("--watch-interval", type=float, default=1.0, help="scenario 5: watch interval, s")
    parser.add_argument("--warp", type=float, default=120.0, help="scenario 5: panel seconds per real second")
    parser.add_argument("--trickle-rate", type=float, default=1000.0, help="scenario 6: lookups a second")
    parser.add_argument("--trickle-seconds", type=float, default=5.0, help="scenario 6: seconds")
    parser.add_argument(
        "--fixed-window", type=float, default=0.005, help="scenario 6: the fixed window compared, s"
    )
    parser.add_argument("--growth-max", type=int, default=100_000, help="scenario 7: the most IDs")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds any one run may take")
    parser.add_argument(
        "--plot", type=Path, nargs="?", const=DEFAULT_PLOT, help=f"draw a PNG (default {DEFAULT_PLOT})"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = {key: value for key, value in vars(args).items() if key != "plot"}
    info = machine()
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB, Python {info['python']}")
    started = time.perf_counter()
    scenarios: dict[str, Any] = {}
    trickled = round(args.trickle_rate * args.trickle_seconds)
    orders = max(args.lookups, args.thirdparty_lookups, args.watch_orders, args.samples, trickled)
    orders = max(orders, *growth_sizes(args.growth_max))
    print(f"starting the panel server ({orders} orders, {args.delay * 1000:g} ms per request) ...")
    server = PanelServer(orders=orders, delay=args.delay)
    try:
        print(f"1. {args.lookups} status lookups from {args.lookups} tasks, {args.concurrency} in flight")
        scenarios["many_lookups"] = many_lookups(server, args)
        print(f"1b. {args.thirdparty_lookups} lookups with each client, {args.concurrency} in flight")
        scenarios["third_party"] = third_party(server, args)
        print("2. one lookup at a time")
        scenarios["low_load"] = low_load(server, args)
        print(f"6. a steady trickle: {args.trickle_rate:g} lookups a second for {args.trickle_seconds:g} s")
        scenarios["trickle"] = trickle(server, args)
        print(f"7. growth: one statuses() call of 100 to {args.growth_max} IDs")
        scenarios["growth"] = growth(server, args, scenarios["many_lookups"]["httpx"]["seconds"])
        print(f"5. watch() over {args.watch_orders} orders until final (panel clock x{args.warp:g})")
        scenarios["watch"] = watch(server, args)
    finally:
        server.stop()
    print(f"3. client CPU per lookup, in process, no delay ({args.cpu_lookups} lookups; bench/coalescing.py)")
    scenarios["cpu"] = cpu(args)
    print(f"4. peak memory, {args.pending} IDs pending (bench/memory.py)")
    scenarios["memory"] = peak_memory(args)

    clients = scenarios["third_party"]["clients"]
    many, low, cpu_run, mem = (
        scenarios["many_lookups"],
        scenarios["low_load"],
        scenarios["cpu"],
        scenarios["memory"],
    )
    figures = {
        "lookups": args.lookups,
        "requests": many["smmapi"]["requests"],
        "baseline_requests": many["httpx"]["requests"],
        "coalesced_s": round(many["smmapi"]["seconds"], 3),
        "baseline_s": round(many["httpx"]["seconds"], 3),
        "speedup": round(many["httpx"]["seconds"] / many["smmapi"]["seconds"], 1),
        "window_ms": low["window_ms"],
        "added_latency_p50_ms": low["added_p50_ms"],
        "added_latency_p99_ms": low["added_p99_ms"],
        "cpu_us_per_lookup": cpu_run["cpu_us_per_lookup"],
        "bulk_cpu_us_per_lookup": cpu_run["bulk_cpu_us_per_lookup"],
        "baseline_cpu_us_per_lookup": cpu_run["baseline_cpu_us_per_lookup"],
        "peak_mb_100k_pending": mem["peak_mb_100k_pending"],
        "bytes_per_pending_id": mem["bytes_per_pending_id"],
        "status_tasks_bytes_per_id": mem["status_tasks_bytes_per_id"],
        "bare_tasks_bytes_per_id": mem["bare_tasks_bytes_per_id"],
        "watch_requests": scenarios["watch"]["requests"],
        "watch_rounds": scenarios["watch"]["rounds"],
        "watch_ids_asked": scenarios["watch"]["ids_asked"],
        "thirdparty_lookups": scenarios["third_party"]["lookups"],
        "thirdparty_speedup": {
            name: row["smmapi_speedup"] for name, row in scenarios["third_party"]["clients"].items()
        },
        "thirdparty_not_run": scenarios["third_party"]["not_run"],
        "statuses_vs_best_multi": round(best_multi(clients) / clients["smmapi statuses()"]["seconds"], 2),
        "status_vs_best_multi": round(best_multi(clients) / clients["smmapi status()"]["seconds"], 2),
        "handwritten_chunked_vs_best_multi": round(
            best_multi(clients) / clients["hand-written, chunked"]["seconds"], 2
        ),
        "handwritten_tasks_vs_best_multi": round(
            best_multi(clients) / clients["hand-written, a task per lookup"]["seconds"], 2
        ),
        "trickle": {name: scenarios["trickle"][name] for name in ("default", "fixed_window")},
        "growth": scenarios["growth"]["rows"],
        "bulk_10k_over_floor": at_10k(scenarios["growth"]["rows"], "over_floor"),
        "handwritten_10k_over_floor": at_10k(scenarios["growth"]["rows"], "handwritten_over_floor"),
    }
    met = targets(figures)
    print("targets (and what hand-written asyncio code reached in the same run):")
    for name, ok in met.items():
        print(f"  {'met ' if ok else 'MISS'} {name}{floor_of(name, figures)}")
    report = {
        "figures": figures,
        "targets": met,
        "config": config,
        "machine": info,
        "scenarios": scenarios,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.plot is not None:
        plot(args.plot, report)
    print(
        json.dumps({**figures, "targets_met": met, "machine": info, "config": config, "scenarios": scenarios})
    )


if __name__ == "__main__":
    main()
