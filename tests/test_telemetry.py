"""OpenTelemetry: the spans and metrics a client emits, read back through the SDK's in-memory exporters.

Without OpenTelemetry (not installed, or ``telemetry=False``) nothing of it is imported; those
checks run in a subprocess, whose ``sys.modules`` is its own.
"""

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import attrs
import httpx
import pytest
import smmapi
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conftest import KEY, URL
from test_key_never_leaks import ANSWERS, every_method

pytestmark = pytest.mark.anyio

LIMIT = 10  # seconds any test may take
STATUS = {"charge": "0.5", "start_count": "10", "status": "In progress", "remains": "5"}


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(LIMIT):
        yield


@attrs.define
class Collected:
    """Spans and metrics a client emitted, kept in memory."""

    exporter: InMemorySpanExporter = attrs.Factory(InMemorySpanExporter)
    reader: InMemoryMetricReader = attrs.Factory(InMemoryMetricReader)
    tracer_provider: TracerProvider = attrs.Factory(TracerProvider)
    meter_provider: MeterProvider = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def options(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self, kind: SpanKind | None = None) -> list[ReadableSpan]:
        return [span for span in self.exporter.get_finished_spans() if kind in (None, span.kind)]

    def requests(self) -> list[ReadableSpan]:
        return self.spans(SpanKind.CLIENT)

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name``."""
        data = self.reader.get_metrics_data()
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of metric ``name`` over the points whose attributes include ``attributes``."""
        return sum(
            point.value if hasattr(point, "value") else point.sum
            for point in self.points(name)
            if attributes.items() <= dict(point.attributes).items()
        )

    def as_json(self) -> str:
        spans = [span.to_json() for span in self.exporter.get_finished_spans()]
        return "\n".join([*spans, self.reader.get_metrics_data().to_json()])


@pytest.fixture(name="otel")
def _otel() -> Collected:
    return Collected()


def status_panel(form: dict[str, str]) -> httpx.Response:
    """status in the single and bulk forms."""
    if "order" in form:
        return httpx.Response(200, json=STATUS)
    return httpx.Response(200, json=dict.fromkeys(form["orders"].split(","), STATUS))


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


@pytest.fixture(name="connect")
def _connect(otel: Collected) -> Callable[..., smmapi.AsyncClient]:
    def connect(answer: Callable[[dict[str, str]], httpx.Response] = status_panel, **options: Any) -> Any:
        options.setdefault("batch_window", 0)
        options.setdefault("retry_backoff", 0)
        transport = httpx.MockTransport(lambda request: answer(form_of(request)))
        return smmapi.AsyncClient(URL, KEY, transport=transport, **otel.options(), **options)

    return connect


# -- spans of coalesced requests ----------------------------------------------------------------


@pytest.mark.parametrize(("callers", "requests"), [(250, 3), (1000, 10)])
async def test_each_coalesced_request_span_links_to_the_span_of_every_caller_it_answered(
    otel, connect, callers, requests
):
    tracer = otel.tracer_provider.get_tracer("the-app")
    caller_of: dict[int, int] = {}

    async def ask(order: int) -> None:
        with tracer.start_as_current_span(f"handler {order}") as span:
            caller_of[order] = span.get_span_context().span_id
            await client.status(order)

    with bounded():
        async with connect() as client, anyio.create_task_group() as group:
            for order in range(1, callers + 1):
                group.start_soon(ask, order)

    spans = otel.requests()
    assert len(spans) == requests
    linked: set[int] = set()
    for span in spans:
        assert span.parent is None  # a coalesced request has no (false) parent
        ids = span.attributes["smmapi.ids"]
        assert span.attributes["smmapi.ids.count"] == len(ids) <= 100
        assert span.attributes["smmapi.callers"] == len(ids)
        links = {link.context.span_id for link in span.links}
        assert links == {caller_of[order] for order in ids}
        linked |= links
    assert linked == set(caller_of.values())
    assert len(otel.spans(SpanKind.INTERNAL)) == callers  # the app's handler spans, none of ours


async def test_callers_in_one_span_are_linked_once(otel, connect):
    tracer = otel.tracer_provider.get_tracer("the-app")
    with bounded(), tracer.start_as_current_span("poll") as poll:
        async with connect() as client:
            await client.statuses(range(1, 151))
    spans = otel.requests()
    assert [len(span.links) for span in spans] == [1, 1]
    assert all(span.links[0].context.span_id == poll.get_span_context().span_id for span in spans)


async def test_a_request_for_one_caller_is_its_child(otel, connect):
    tracer = otel.tracer_provider.get_tracer("the-app")
    answer = httpx.Response(200, json={"balance": "1.5", "currency": "USD"})
    with bounded(), tracer.start_as_current_span("handler") as handler:
        async with connect(lambda form: answer) as client:
            await client.balance()
    (span,) = otel.requests()
    assert span.parent is not None
    assert span.parent.span_id == handler.get_span_context().span_id
    assert span.name == "POST balance"
    assert dict(span.attributes) == {
        "http.request.method": "POST",
        "url.full": URL,
        "server.address": "panel.test",
        "server.port": 443,
        "smmapi.action": "balance",
        "http.response.status_code": 200,
        "smmapi.outcome": "ok",
    }


# -- a retried read ------------------------------------------------------------------------------


async def test_a_retried_read_has_a_span_per_attempt(otel, connect):
    answers = iter([httpx.Response(503, text="busy"), httpx.Response(429, headers={"Retry-After": "0"})])

    def flaky(form: dict[str, str]) -> httpx.Response:
        return next(answers, None) or status_panel(form)

    with bounded():
        async with connect(flaky, retry_backoff=0.001) as client:
            await client.status(7)

    first, second, third = otel.requests()
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"] == "smmapi.HTTPStatusError"
    assert first.attributes["smmapi.outcome"] == "http_error"
    assert 0 <= first.attributes["smmapi.retry.delay"] <= 0.001
    assert "http.request.resend_count" not in first.attributes
    assert first.status.status_code is StatusCode.ERROR
    (event,) = first.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "smmapi.HTTPStatusError"
    assert event.attributes["exception.message"].startswith("status: HTTP 503")
    assert "exception.stacktrace" not in event.attributes

    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["smmapi.outcome"] == "rate_limited"
    assert second.attributes["smmapi.retry.delay"] == 0  # as Retry-After asked

    assert third.attributes["http.request.resend_count"] == 2
    assert third.attributes["smmapi.outcome"] == "ok"
    assert third.attributes["http.response.status_code"] == 200
    assert "smmapi.retry.delay" not in third.attributes
    assert third.status.status_code is StatusCode.UNSET
    for span in (first, second, third):
        assert span.attributes["smmapi.ids"] == (7,)
        assert span.links == first.links  # each attempt answers the same caller

    assert otel.total("smmapi.retries", **{"smmapi.action": "status"}) == 2
    durations = {
        point.attributes["smmapi.outcome"]: point.count for point in otel.points("smmapi.request.duration")
    }
    assert durations == {"http_error": 1, "rate_limited": 1, "ok": 1}


async def test_a_read_that_fails_for_good_ends_its_last_span_without_a_retry_delay(otel, connect):
    with bounded():
        async with connect(lambda form: httpx.Response(500), max_retries=1) as client:
            with pytest.raises(smmapi.HTTPStatusError):
                await client.status(7)
    first, last = otel.requests()
    assert "smmapi.retry.delay" in first.attributes
    assert "smmapi.retry.delay" not in last.attributes
    assert last.attributes["error.type"] == "smmapi.HTTPStatusError"


# -- writes --------------------------------------------------------------------------------------

WRITE_OUTCOMES = {
    "placed": (httpx.Response(200, json={"order": 99999}), None),
    "refused": (httpx.Response(200, json={"error": "Not enough funds"}), smmapi.InsufficientFundsError),
    "unknown": (httpx.Response(200, text="<html>Bad gateway</html>"), smmapi.OutcomeUnknownError),
}


@pytest.mark.parametrize("expected", list(WRITE_OUTCOMES))
async def test_a_write_has_a_span_with_its_outcome_and_its_request_as_a_child(otel, connect, expected):
    answer, raises = WRITE_OUTCOMES[expected]
    with bounded():
        async with connect(lambda form: answer) as client:
            if raises is None:
                await client.add(service=1, link="https://example.com/p/1", quantity=100)
            else:
                with pytest.raises(raises):
                    await client.add(service=1, link="https://example.com/p/1", quantity=100)
    (write,) = otel.spans(SpanKind.INTERNAL)
    (request,) = otel.requests()
    assert write.name == "smmapi.add"
    assert write.attributes["smmapi.outcome"] == expected
    assert request.parent is not None
    assert request.parent.span_id == write.context.span_id
    if raises is None:
        assert write.attributes["smmapi.order.id"] == 99999
        assert "error.type" not in write.attributes
    else:
        assert "smmapi.order.id" not in write.attributes
        assert write.attributes["error.type"] == f"smmapi.{raises.__name__}"
    unknown = otel.total("smmapi.unknown_outcomes", **{"smmapi.action": "add"})
    assert unknown == (1 if expected == "unknown" else 0)


async def test_an_unknown_outcome_write_names_why(otel, connect):
    with bounded():
        async with connect(lambda form: httpx.Response(200, text="<html>Bad gateway</html>")) as client:
            with pytest.raises(smmapi.OutcomeUnknownError):
                await client.add_product_order(product=1, quantity=1)
    (write,) = otel.spans(SpanKind.INTERNAL)
    (request,) = otel.requests()
    assert write.attributes["smmapi.outcome"] == "unknown"
    assert write.status.status_code is StatusCode.ERROR
    assert "may have carried it out" in write.events[0].attributes["exception.message"]
    assert request.attributes["smmapi.outcome"] == "unreadable"
    assert request.attributes["error.type"] == "smmapi.UnreadableAnswerError"
    assert "smmapi.retry.delay" not in request.attributes  # a write is not retried


async def test_a_bulk_write_counts_its_unknown_outcomes(otel, connect):
    lone = httpx.Response(200, json={"refill": "1"})  # one answer for several IDs: cannot be split
    with bounded():
        async with connect(lambda form: lone) as client:
            results = await client.refills([1, 2, 3])
    assert all(isinstance(result, smmapi.OutcomeUnknownError) for result in results.values())
    assert otel.total("smmapi.unknown_outcomes", **{"smmapi.action": "refill"}) == 3


# -- metrics -------------------------------------------------------------------------------------


async def test_metrics_count_lookups_ids_per_request_and_item_errors(otel, connect):
    def three_is_unknown(form: dict[str, str]) -> httpx.Response:
        unknown = {"error": "Incorrect order ID"}
        if "order" in form:
            return httpx.Response(200, json=unknown if form["order"] == "3" else STATUS)
        return httpx.Response(
            200, json={key: unknown if key == "3" else STATUS for key in form["orders"].split(",")}
        )

    with bounded():
        async with connect(three_is_unknown) as client:
            await client.statuses(range(1, 151))
            async with anyio.create_task_group() as group:
                for order in (3, 3, 200):  # two callers of 3 share its entry
                    group.start_soon(client.statuses, [order])
            with pytest.raises(smmapi.UnknownIdError):
                await client.status(3)
    status = {"smmapi.action": "status"}
    assert otel.total("smmapi.lookups", **status) == 150 + 3 + 1
    (ids,) = otel.points("smmapi.request.ids")
    assert ids.count == 4  # 100 + 50, then 3 and 200 together, then 3 alone
    assert ids.sum == 100 + 50 + 2 + 1
    # 3 in each bulk answer; the single form's error is the request's own, as in stats()
    assert otel.total("smmapi.item_errors", **status) == 2 == client.stats().item_errors
    assert otel.total("smmapi.lookups.waiting", **status) == 0
    assert otel.total("smmapi.requests.active", **status) == 0
    (point,) = [p for p in otel.points("smmapi.request.duration") if p.attributes["smmapi.outcome"] == "ok"]
    assert dict(point.attributes) == {
        "smmapi.action": "status",
        "smmapi.outcome": "ok",
        "server.address": "panel.test",
        "server.port": 443,
    }


async def test_lookups_waiting_and_requests_active_while_a_request_is_in_flight(otel):
    release = anyio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return status_panel(form_of(request))

    client = smmapi.AsyncClient(
        URL, KEY, transport=httpx.MockTransport(held), batch_window=0, **otel.options()
    )
    with bounded():
        async with client, anyio.create_task_group() as group:
            for order in (1, 2, 3):
                group.start_soon(client.status, order)
            await anyio.wait_all_tasks_blocked()
            assert otel.total("smmapi.lookups.waiting") == 3
            assert otel.total("smmapi.requests.active") == 1
            release.set()
    assert otel.total("smmapi.lookups.waiting") == 0
    assert otel.total("smmapi.requests.active") == 0


# -- the key and the URL's query -----------------------------------------------------------------


def echo_the_key(form: dict[str, str]) -> httpx.Response:
    """Every answer of test_key_never_leaks, but errors that echo what was sent."""
    if form["action"] in ("balance", "products"):
        return httpx.Response(200, json={"error": f"Invalid key {form['key']}"})
    if form["action"] == "services":
        return httpx.Response(502, text=f"<html>bad gateway for {form['key']}</html>")
    answer = ANSWERS[form["action"]]
    return httpx.Response(200, json=answer(form) if callable(answer) else answer)


async def test_no_span_or_metric_holds_the_key_or_the_urls_query(otel):
    url = URL + "?lang=en&token=query-secret#frag"
    transport = httpx.MockTransport(lambda request: echo_the_key(form_of(request)))
    client = smmapi.AsyncClient(url, KEY, transport=transport, retry_backoff=0, **otel.options())
    with bounded():
        async with client:
            with pytest.raises(smmapi.AuthenticationError):
                await every_method(client)
            with pytest.raises(smmapi.HTTPStatusError):
                await client.services()
            await every_method_but_the_refused(client)
    exported = otel.as_json()
    assert len(otel.requests()) == 1 + 3 + 7  # balance, services thrice, the rest
    assert KEY not in exported
    assert "query-secret" not in exported
    assert "frag" not in exported
    assert "[key]" in exported  # the panel's echo is there, masked
    assert {span.attributes["url.full"] for span in otel.requests()} == {URL}


async def every_method_but_the_refused(client: smmapi.AsyncClient) -> None:
    await client.add(service=1, link="https://example.com/p/1", quantity=100)
    await client.add_product_order(product=1, quantity=1, require="me@example.com")
    await client.statuses([1, 2])
    await client.refills([1, 2])
    await client.refill_statuses([1, 2])
    await client.cancels([1, 2])
    await client.product_order_statuses([1, 2])


# -- without OpenTelemetry -----------------------------------------------------------------------

BLOCK_OPENTELEMETRY = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""

A_LOOKUP = """
import anyio, httpx, smmapi

def answer(request):
    return httpx.Response(200, json={"status": "Completed", "charge": "1"})

async def main():
    async with smmapi.AsyncClient(
        "https://panel.test/api/v2", "fake-key", transport=httpx.MockTransport(answer), **OPTIONS
    ) as client:
        await client.status(1)

anyio.run(main)
"""

REPORT = """
print(sorted(name for name in sys.modules if name.partition(".")[0] == "opentelemetry"))
"""


def run_python(code: str) -> str:
    done = subprocess.run(  # noqa: S603  (our own interpreter, our own code)
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_smmapi_does_not_import_opentelemetry():
    assert run_python("import sys, smmapi" + REPORT) == "[]"


def test_without_opentelemetry_installed_a_client_works_and_imports_nothing_of_it():
    code = BLOCK_OPENTELEMETRY + "OPTIONS = {}" + A_LOOKUP + REPORT
    assert run_python(code) == "[]"


def test_telemetry_false_imports_nothing_of_opentelemetry_though_installed():
    code = "import sys\nOPTIONS = {'telemetry': False}" + A_LOOKUP + REPORT
    assert run_python(code) == "[]"


def test_by_default_installed_opentelemetry_is_used():
    code = "import sys\nOPTIONS = {}" + A_LOOKUP + REPORT
    assert "opentelemetry.trace" in run_python(code)


def test_telemetry_true_without_opentelemetry_says_what_to_install():
    code = BLOCK_OPENTELEMETRY + "OPTIONS = {'telemetry': True}" + A_LOOKUP
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "pip install 'smmapi[otel]'" in done.stderr


async def test_telemetry_false_emits_nothing_though_providers_are_given(otel):
    transport = httpx.MockTransport(lambda request: status_panel(form_of(request)))
    client = smmapi.AsyncClient(URL, KEY, transport=transport, telemetry=False, **otel.options())
    async with client:
        await client.status(1)
    assert otel.spans() == []


async def test_a_read_cut_off_mid_flight_ends_its_span_as_cancelled(otel):
    async def never(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    client = smmapi.AsyncClient(
        URL, KEY, transport=httpx.MockTransport(never), batch_window=0, **otel.options()
    )
    with bounded():
        async with client:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(client.status, 1)
                    await anyio.wait_all_tasks_blocked()
                    scope.cancel()
    (span,) = otel.requests()
    assert span.attributes["smmapi.outcome"] == "cancelled"
    assert span.attributes["error.type"] in ("asyncio.CancelledError", "trio.Cancelled")
    assert span.events == ()  # only an SmmError's message is recorded
    assert otel.total("smmapi.requests.active") == 0
    assert otel.total("smmapi.lookups.waiting") == 0


async def test_lookups_waiting_counts_every_client_of_a_meter_provider(otel):
    release = anyio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return status_panel(form_of(request))

    def connect(url: str) -> smmapi.AsyncClient:
        transport = httpx.MockTransport(held)
        return smmapi.AsyncClient(url, KEY, transport=transport, batch_window=0, **otel.options())

    with bounded():
        one, two, three = connect(URL), connect(URL), connect("https://other.test/api")
        async with one, two, three, anyio.create_task_group() as group:
            for client, order in ((one, 1), (one, 2), (two, 3), (three, 4)):
                group.start_soon(client.status, order)
            await anyio.wait_all_tasks_blocked()
            assert otel.total("smmapi.lookups.waiting", **{"server.address": "panel.test"}) == 3
            assert otel.total("smmapi.lookups.waiting", **{"server.address": "other.test"}) == 1
            release.set()
    assert otel.total("smmapi.lookups.waiting") == 0
