"""OpenTelemetry spans and metrics: what a client emits, and the no-op used without it.

A client holds a :class:`Telemetry`. Without OpenTelemetry (not installed, or
``AsyncClient(telemetry=False)``) it is :data:`OFF`, whose ``on`` is ``False``: callers test
that one attribute before doing anything, so the hot path pays nothing and ``opentelemetry`` is
never imported. Otherwise :func:`make_telemetry`, called when a client is made (not at
``import smmapi``: importing OpenTelemetry takes time), imports the implementation that speaks
to OpenTelemetry's API, :mod:`smmapi._otel`: the one module that imports ``opentelemetry``.

What is emitted, and why:

- A CLIENT span per HTTP request (each retry is its own span, as the HTTP semantic conventions
  ask), named ``POST {action}``. A coalesced request answers many callers, so it has no parent:
  it links to the span of every caller whose ID it carries. A request made for one caller
  (``balance()``, ``add()``) is that caller's child.
- An INTERNAL span per paid write that creates an order (``add``, ``add_product_order``) with
  its outcome and order ID; its HTTP request span is its child.
- Metrics named ``smmapi.*``: request durations and IDs, lookups, retries, item errors,
  unknown outcomes, requests in flight and lookups waiting.

The key never reaches this module: a span holds the action, IDs, the URL without its query,
and an error's class and message, which ``_wire`` has already masked. Exceptions are recorded
without their traceback, whose chained causes are not ours to vouch for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ._errors import (
    ClientClosedError,
    ConnectError,
    HTTPStatusError,
    OutcomeUnknownError,
    PanelError,
    RateLimitedError,
    RequestTimeoutError,
    SmmError,
    TransportError,
    UnreadableAnswerError,
)

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

__all__ = ["OFF", "Coalesced", "Request", "Telemetry", "Write", "make_telemetry"]

T = TypeVar("T")

#: The instrumentation scope's name: what a user filters on.
SCOPE: Final = "smmapi"
#: The most IDs listed on a request span (the count is always there).
MAX_LISTED_IDS: Final = 100

# The OpenTelemetry HTTP client conventions we follow, and ours under the `smmapi.` prefix.
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_RESEND: Final = "http.request.resend_count"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
ERROR_TYPE: Final = "error.type"
ACTION: Final = "smmapi.action"
OUTCOME: Final = "smmapi.outcome"
ID_COUNT: Final = "smmapi.ids.count"
IDS: Final = "smmapi.ids"
CALLERS: Final = "smmapi.callers"
RETRY_DELAY: Final = "smmapi.retry.delay"
ORDER_ID: Final = "smmapi.order.id"

# A request's outcome class: the first class in this table the error is an instance of.
_REQUEST_OUTCOMES: Final[tuple[tuple[type[SmmError], str], ...]] = (
    (RateLimitedError, "rate_limited"),
    (PanelError, "refused"),
    (RequestTimeoutError, "timeout"),
    (ConnectError, "connect_error"),
    (TransportError, "transport_error"),
    (HTTPStatusError, "http_error"),
    (UnreadableAnswerError, "unreadable"),
    (ClientClosedError, "closed"),
)


def request_outcome(error: BaseException | None) -> str:
    """The outcome class of a request: ``"ok"``, or what kind of fault ended it."""
    if error is None:
        return "ok"
    for kind, name in _REQUEST_OUTCOMES:
        if isinstance(error, kind):
            return name
    return "error" if isinstance(error, SmmError) else "cancelled"


def write_outcome(result: Any) -> str:
    """What became of a paid write: placed, refused by the panel, never sent, or unknown."""
    if isinstance(result, OutcomeUnknownError):
        return "unknown"
    if isinstance(result, PanelError):
        return "refused"
    if isinstance(result, SmmError):
        return "not_sent"
    return "placed"


def error_type(error: BaseException) -> str:
    """The public name of an error's class: ``smmapi.UnknownIdError``, ``trio.Cancelled``."""
    kind = type(error)
    module = "smmapi" if isinstance(error, SmmError) else kind.__module__.partition(".")[0]
    return f"{module}.{kind.__qualname__}"


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: nothing there belongs in telemetry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Coalesced(NamedTuple):
    """The IDs of a coalesced request and the span contexts of the callers who asked for them."""

    ids: Sequence[int]
    callers: Sequence[SpanContext]


class Telemetry:
    """Emits nothing: the implementation used without OpenTelemetry. Test :attr:`on` first."""

    #: Whether anything is emitted; every hook is behind a test of it.
    on = False

    def caller(self) -> SpanContext | None:
        """The span context of the code calling now, to link a coalesced request to; ``None``."""
        return None

    def request(self, action: str, *, ids: int, attempt: int, coalesced: Coalesced | None) -> Request:  # noqa: ARG002  (emits nothing)
        """Start timing (and tracing) one HTTP request."""
        return Request()

    async def counted(self, action: str, count: int, lookup: Awaitable[T]) -> T:  # noqa: ARG002  (emits nothing)
        """The outcome of ``lookup``, counted as ``count`` lookups of ``action`` waiting for it."""
        return await lookup

    @contextlib.contextmanager
    def write(self, action: str) -> Iterator[Write]:  # noqa: ARG002  (emits nothing)
        """A span for one paid write, current in the block: its request is its child."""
        yield Write()

    def decided(self, action: str, result: Any, *, item: bool) -> None:
        """Count an ID's outcome if it is an error the answer gave it (``item``) or unknown."""


#: The telemetry of a client without OpenTelemetry.
OFF: Final = Telemetry()


class Request:
    """One HTTP request, timed and traced; without OpenTelemetry, nothing."""

    __slots__ = ()

    def answered(self, status: int) -> None:
        """The HTTP status of the answer."""

    def end(self, error: BaseException | None = None, retry_delay: float | None = None) -> None:
        """The request is over: ``error`` if it failed, and the wait before it is retried."""


class Write:
    """One paid write's span; without OpenTelemetry, nothing."""

    __slots__ = ()

    def outcome(self, result: Any) -> None:
        """What became of the write: the order ID, or the error its caller is told."""


def make_telemetry(
    enabled: bool | None, *, url: str, tracer_provider: Any = None, meter_provider: Any = None
) -> Telemetry:
    """The telemetry of a client: :data:`OFF`, or OpenTelemetry's (imported here, not before).

    ``enabled=None`` turns it on if ``opentelemetry-api`` can be imported; ``True`` requires it;
    a provider given turns it on. Without providers, OpenTelemetry's global ones are used.
    """
    if enabled is False:
        return OFF
    try:
        from ._otel import OpenTelemetry  # noqa: PLC0415  (importing it costs time: only when asked)
    except ImportError as exc:
        if enabled or tracer_provider is not None or meter_provider is not None:
            raise ImportError("telemetry needs the OpenTelemetry API: pip install 'smmapi[otel]'") from exc
        return OFF
    return OpenTelemetry(url, tracer_provider=tracer_provider, meter_provider=meter_provider)
