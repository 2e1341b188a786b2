"""CPU per coalesced lookup with OpenTelemetry off, on without an SDK, and on with the SDK.

Side by side in one process, in interleaved rounds (the median of each is kept): ``--lookups``
``status()`` calls, each from a task of its own inside a span of the app's (an SDK tracer of its
own, the same in every variant), against an in-process panel with no delay. The variants:

- ``off``: ``AsyncClient(telemetry=False)``: nothing of OpenTelemetry is called.
- ``api``: telemetry on, to OpenTelemetry's no-op providers (the API installed, no SDK set up).
- ``sdk``: telemetry on, to an SDK ``TracerProvider`` whose processor hands every span to an
  exporter that drops it, and an SDK ``MeterProvider`` (its instruments aggregate every point).

Before the rounds, one traced run of 1,000 lookups checks the span links with an in-memory
exporter: 10 request spans, linked to the 1,000 callers' spans.

    python bench/telemetry.py [--lookups 10000] [--rounds 5]

The last line printed is one JSON object with the figures.
"""

import argparse
import gc
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import smmapi
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

URL = "https://panel.bench/api/v2"
KEY = "bench-fake-key"
ITEM = {"charge": "0.27819", "start_count": "3572", "status": "In progress", "remains": "157"}


def answer(request: httpx.Request) -> httpx.Response:
    form = dict(parse_qsl(request.content.decode()))
    if "orders" in form:
        return httpx.Response(200, json=dict.fromkeys(form["orders"].split(","), ITEM))
    return httpx.Response(200, json=ITEM)


class Dropped(SpanExporter):
    """Exports nothing: what the SDK costs without the cost of shipping spans."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:  # noqa: ARG002
        return SpanExportResult.SUCCESS


def sdk_tracer(exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


VARIANTS: dict[str, dict[str, Any]] = {
    "off": {"telemetry": False},
    "api": {"tracer_provider": trace.NoOpTracerProvider(), "meter_provider": metrics.NoOpMeterProvider()},
    "sdk": {
        "tracer_provider": sdk_tracer(Dropped()),
        "meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
    },
}
#: The app's own spans around each lookup: the same in every variant.
APP = sdk_tracer(Dropped()).get_tracer("the-app")


async def lookups(count: int, **options: Any) -> float:
    """CPU seconds for ``count`` concurrent lookups, each in a span of the app's."""

    async def ask(order: int) -> None:
        with APP.start_as_current_span("handler"):
            await client.status(order)

    client = smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(answer), batch_window=0, **options)
    gc.collect()
    started = time.process_time()
    async with client, anyio.create_task_group() as group:
        for order in range(1, count + 1):
            group.start_soon(ask, order)
    return time.process_time() - started


async def check_links(count: int) -> dict[str, int]:
    """A traced run of ``count`` lookups: its request spans, and the callers' spans they link to."""
    exporter = InMemorySpanExporter()
    tracer = sdk_tracer(exporter)
    app = tracer.get_tracer("the-app")
    callers: set[int] = set()

    async def ask(order: int) -> None:
        with app.start_as_current_span("handler") as span:
            callers.add(span.get_span_context().span_id)
            await client.status(order)

    client = smmapi.AsyncClient(
        URL, KEY, transport=httpx.MockTransport(answer), batch_window=0, tracer_provider=tracer
    )
    async with client, anyio.create_task_group() as group:
        for order in range(1, count + 1):
            group.start_soon(ask, order)
    requests = [span for span in exporter.get_finished_spans() if span.kind is trace.SpanKind.CLIENT]
    linked = {link.context.span_id for span in requests for link in span.links}
    if linked != callers:
        raise SystemExit(f"{len(callers - linked)} callers' spans are not linked")
    return {"lookups": count, "request_spans": len(requests), "linked_caller_spans": len(linked)}


async def main(count: int, rounds: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"links": await check_links(1000)}
    print(
        f"traced run: {figures['links']['request_spans']} request spans linked to"
        f" {figures['links']['linked_caller_spans']} caller spans, for 1000 lookups"
    )
    await lookups(1000)  # warm up: imports, caches
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, options in VARIANTS.items():
            cpu[name].append(await lookups(count, **options))
    per_lookup = {name: statistics.median(times) / count * 1e6 for name, times in cpu.items()}
    base = per_lookup["off"]
    print(f"{count} lookups, median of {rounds} rounds, CPU per lookup (the app's caller span included):")
    for name, micros in per_lookup.items():
        print(f"  {name:4} {micros:7.1f} µs  x{micros / base:.2f}  (+{micros - base:.1f} µs)")
    figures.update(lookups=count, rounds=rounds, cpu_us_per_lookup=per_lookup)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(anyio.run(main, args.lookups, args.rounds)))
