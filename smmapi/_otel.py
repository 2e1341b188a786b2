"""The OpenTelemetry half of :mod:`smmapi._telemetry`: imported only when a client turns it on."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.context import Context

from ._errors import OutcomeUnknownError, PanelError, SmmError
from ._telemetry import (
    ACTION,
    CALLERS,
    ERROR_TYPE,
    HTTP_METHOD,
    HTTP_RESEND,
    HTTP_STATUS,
    ID_COUNT,
    IDS,
    MAX_LISTED_IDS,
    ORDER_ID,
    OUTCOME,
    RETRY_DELAY,
    SCOPE,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
    Coalesced,
    Request,
    Telemetry,
    Write,
    error_type,
    public_url,
    request_outcome,
    write_outcome,
)

__all__ = ["OpenTelemetry"]

T = TypeVar("T")
_Labels = tuple[tuple[str, str | int], ...]

#: Bucket bounds of the request duration histogram, in seconds: a panel answers in 0.1 s to 30 s.
_DURATION_BOUNDS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Bucket bounds of the IDs-per-request histogram: 1 (the single form) up to the API's 100.
_ID_BOUNDS: Final = (1, 2, 5, 10, 25, 50, 75, 99, 100)
#: A coalesced request has no parent: the caller that leads it is one of many it answers.
_ROOT: Final = Context()


def _version() -> str:
    from . import __version__  # noqa: PLC0415  (the package imports this module after it is set)

    return __version__


def _mark_failed(span: trace.Span, error: BaseException) -> None:
    """Set ``error.type`` and the status; record an SmmError's (masked) message, never a traceback."""
    span.set_attribute(ERROR_TYPE, error_type(error))
    if isinstance(error, SmmError):
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))
        span.add_event("exception", {"exception.type": error_type(error), "exception.message": str(error)})
    else:
        span.set_status(trace.Status(trace.StatusCode.ERROR))


class OpenTelemetry(Telemetry):
    """Spans and metrics through OpenTelemetry's API, to the providers given or the global ones."""

    on = True

    def __init__(self, url: str, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        version = _version()
        self._tracer = trace.get_tracer(SCOPE, version, tracer_provider)
        meter = metrics.get_meter(SCOPE, version, meter_provider)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._server: dict[str, str | int] = {SERVER_ADDRESS: parts.hostname or "", SERVER_PORT: port}
        self._request_base = {HTTP_METHOD: "POST", URL_FULL: public_url(url), **self._server}
        self._labels_of: dict[str, dict[str, str | int]] = {}
        self._label_keys: dict[str, _Labels] = {}
        self.duration = meter.create_histogram(
            "smmapi.request.duration",
            unit="s",
            description="Duration of HTTP requests to the panel, by action and outcome.",
            explicit_bucket_boundaries_advisory=_DURATION_BOUNDS,
        )
        self.ids = meter.create_histogram(
            "smmapi.request.ids",
            unit="{id}",
            description="IDs carried by one request of an action asked by ID.",
            explicit_bucket_boundaries_advisory=_ID_BOUNDS,
        )
        self.retries = meter.create_counter(
            "smmapi.retries", unit="{retry}", description="Requests retried after a fault."
        )
        self.item_errors = meter.create_counter(
            "smmapi.item_errors", unit="{error}", description="IDs the panel answered with their own error."
        )
        self.unknown_outcomes = meter.create_counter(
            "smmapi.unknown_outcomes",
            unit="{write}",
            description="Writes (or IDs of a bulk write) whose outcome is unknown: reconcile them.",
        )
        self.active = meter.create_up_down_counter(
            "smmapi.requests.active", unit="{request}", description="HTTP requests in flight."
        )
        self._lookups = _Lookups.of(meter, meter_provider)

    def labels(self, action: str) -> dict[str, str | int]:
        """The attributes of a metric about ``action``, made once."""
        labels = self._labels_of.get(action)
        if labels is None:
            labels = self._labels_of[action] = {ACTION: action, **self._server}
        return labels

    def caller(self) -> trace.SpanContext | None:
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    def request(self, action: str, *, ids: int, attempt: int, coalesced: Coalesced | None) -> Request:
        attributes: dict[str, Any] = {**self._request_base, ACTION: action}
        labels = self.labels(action)
        if ids:
            attributes[ID_COUNT] = ids
            self.ids.record(ids, labels)
        if attempt:
            attributes[HTTP_RESEND] = attempt
        links = None
        parent = None
        if coalesced is not None:
            # Callers in one span (a loop of awaits, a bulk call) make one link.
            callers = {(caller.trace_id, caller.span_id): caller for caller in coalesced.callers}
            attributes[IDS] = list(coalesced.ids[:MAX_LISTED_IDS])
            attributes[CALLERS] = len(callers)
            links = [trace.Link(caller) for caller in callers.values()]
            parent = _ROOT
        span = self._tracer.start_span(
            f"POST {action}", parent, kind=trace.SpanKind.CLIENT, attributes=attributes, links=links
        )
        self.active.add(1, labels)
        return _Request(self, span, labels)

    async def counted(self, action: str, count: int, lookup: Awaitable[T]) -> T:
        key = self._label_keys.get(action)
        if key is None:
            key = self._label_keys[action] = tuple(self.labels(action).items())
        lookups = self._lookups
        with lookups.lock:
            lookups.asked[key] += count
            lookups.waiting[key] += count
        try:
            return await lookup
        finally:
            with lookups.lock:
                lookups.waiting[key] -= count

    @contextlib.contextmanager
    def write(self, action: str) -> Iterator[Write]:
        with self._tracer.start_as_current_span(
            f"smmapi.{action}",
            kind=trace.SpanKind.INTERNAL,
            attributes={ACTION: action, **self._server},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield _Write(self, span, action)

    def decided(self, action: str, result: Any, *, item: bool) -> None:
        if isinstance(result, OutcomeUnknownError):
            self.unknown_outcomes.add(1, self.labels(action))
        elif item and isinstance(result, PanelError):
            self.item_errors.add(1, self.labels(action))


class _Lookups:
    """``smmapi.lookups`` and ``smmapi.lookups.waiting``, of every client of one meter provider.

    Through the SDK, three measurements a lookup cost more than all the rest of telemetry: so
    lookups are counted in plain ints and read when metrics are collected. The observable
    instruments that read them are made once per provider (a second instrument of the same name
    would be ignored), and the counts are the provider's, so they outlive the clients.
    """

    _made_lock: Final = threading.Lock()
    _of_provider: Final[weakref.WeakKeyDictionary[Any, _Lookups]] = weakref.WeakKeyDictionary()
    #: The global provider's: its meters may be proxies, a new one each time one is asked for.
    _of_global: _Lookups | None = None

    def __init__(self, meter: metrics.Meter) -> None:
        self.lock = threading.Lock()  # clients of one provider may run in several threads
        self.asked: Counter[_Labels] = Counter()
        self.waiting: Counter[_Labels] = Counter()
        meter.create_observable_counter(
            "smmapi.lookups",
            callbacks=[self._reader(self.asked)],
            unit="{lookup}",
            description="IDs asked through the lookup methods.",
        )
        meter.create_observable_up_down_counter(
            "smmapi.lookups.waiting",
            callbacks=[self._reader(self.waiting)],
            unit="{lookup}",
            description="Lookups waiting for their outcome.",
        )

    @classmethod
    def of(cls, meter: metrics.Meter, provider: Any) -> _Lookups:
        """The counts of ``provider`` (``None``: the global one), made on first use."""
        with cls._made_lock:
            if provider is None:
                if cls._of_global is None:
                    cls._of_global = cls(meter)
                return cls._of_global
            made = cls._of_provider.get(provider)
            if made is None:
                made = cls._of_provider[provider] = cls(meter)
            return made

    def _reader(
        self, counts: Counter[_Labels]
    ) -> Callable[[metrics.CallbackOptions], list[metrics.Observation]]:
        def observe(_: metrics.CallbackOptions) -> list[metrics.Observation]:
            with self.lock:
                return [metrics.Observation(count, dict(labels)) for labels, count in counts.items()]

        return observe


class _Request(Request):
    __slots__ = ("_labels", "_otel", "_span", "_started")

    def __init__(self, otel: OpenTelemetry, span: trace.Span, labels: dict[str, str | int]) -> None:
        self._otel = otel
        self._span = span
        self._labels = labels
        self._started = time.perf_counter()

    def answered(self, status: int) -> None:
        self._span.set_attribute(HTTP_STATUS, status)

    def end(self, error: BaseException | None = None, retry_delay: float | None = None) -> None:
        elapsed = time.perf_counter() - self._started
        span, otel, labels = self._span, self._otel, self._labels
        outcome = request_outcome(error)
        span.set_attribute(OUTCOME, outcome)
        if error is not None:
            _mark_failed(span, error)
        if retry_delay is not None:
            span.set_attribute(RETRY_DELAY, retry_delay)
            otel.retries.add(1, labels)
        span.end()
        otel.duration.record(elapsed, {**labels, OUTCOME: outcome})
        otel.active.add(-1, labels)


class _Write(Write):
    __slots__ = ("_action", "_otel", "_span")

    def __init__(self, otel: OpenTelemetry, span: trace.Span, action: str) -> None:
        self._otel = otel
        self._span = span
        self._action = action

    def outcome(self, result: Any) -> None:
        self._span.set_attribute(OUTCOME, write_outcome(result))
        if isinstance(result, BaseException):
            _mark_failed(self._span, result)
        else:
            self._span.set_attribute(ORDER_ID, result)
        self._otel.decided(self._action, result, item=False)
