"""POST a form to the panel and read its JSON: the one place that speaks HTTP.

Every httpx error becomes an :class:`~smmapi.SmmError` here; the retry policy lives here too.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote_plus

import anyio
import httpx

from ._config import DEFAULT_MAX_ANSWER_BYTES, MAX_RETRY_DELAY, THREAD_ANSWER_BYTES
from ._errors import (
    SNIPPET_LENGTH,
    ClientClosedError,
    ConnectError,
    HTTPStatusError,
    RateLimitedError,
    RedirectError,
    RequestTimeoutError,
    SmmError,
    TransportError,
    UnreadableAnswerError,
    error_text,
    panel_error,
    snippet,
)
from ._secret import Secret, filter_loggers, redacted
from ._telemetry import OFF, Coalesced, Request, Telemetry

__all__ = ["UNREADABLE", "Gate", "RateLimiter", "Slot", "Wire", "parse_json"]

log = logging.getLogger("smmapi")

E = TypeVar("E", bound=BaseException)

_FORM: Final = "application/x-www-form-urlencoded"


class Gate:
    """Open until the client is closed; then no slot is granted, and whoever waits for one is let go."""

    __slots__ = ("_waiting", "closed")

    def __init__(self) -> None:
        self.closed = False
        self._waiting: set[anyio.CancelScope] = set()

    def check(self, action: str = "this call") -> None:
        """Raise :class:`ClientClosedError` if the gate is closed."""
        if self.closed:
            raise ClientClosedError(f"{action}: the client was closed before it was sent")

    def close(self) -> None:
        """Refuse slots from now on and wake every caller waiting for one."""
        self.closed = True
        for scope in self._waiting:
            scope.cancel()


class Slot:
    """The right to send one request: a concurrent-request slot, then a turn of the rate limit.

    A batcher acquires a slot before it closes a batch (so the batch keeps filling while it
    waits) and hands it to :meth:`Wire.post`, which uses it for the first attempt and releases it
    before any backoff. Once the client is closed, no slot is granted: a caller still waiting
    gets :class:`ClientClosedError`, so nothing is sent after ``aclose()`` returns.
    """

    __slots__ = ("_gate", "_held", "_limiter", "_rate")

    def __init__(self, limiter: anyio.CapacityLimiter, rate: RateLimiter | None, gate: Gate) -> None:
        self._limiter = limiter
        self._rate = rate
        self._gate = gate
        self._held = False

    @property
    def held(self) -> bool:
        """Whether this slot is taken."""
        return self._held

    async def acquire(self) -> None:
        """Wait for a free slot, then for the rate limit.

        In that order: a turn of the rate limit taken before a slot was free would let the
        callers queued for slots out in a burst when slots free up.
        """
        gate = self._gate
        gate.check()
        with anyio.CancelScope() as scope:
            gate._waiting.add(scope)  # noqa: SLF001  (the gate and its slots are one mechanism)
            try:
                await self._limiter.acquire_on_behalf_of(self)
                try:
                    if self._rate is not None:
                        await self._rate.wait()
                except BaseException:
                    self._limiter.release_on_behalf_of(self)
                    raise
                self._held = True
            finally:
                gate._waiting.discard(scope)  # noqa: SLF001
        if gate.closed:
            self.release()
            gate.check()

    def release(self) -> None:
        """Give the slot back; releasing twice is harmless."""
        if self._held:
            self._held = False
            self._limiter.release_on_behalf_of(self)


class RateLimiter:
    """A token bucket holding one token, refilled ``rate`` times a second: requests go out evenly.

    Panels that ban bursts see at most ``rate`` requests in any second, retries included.
    """

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        self._interval = 1 / rate
        self._next = -math.inf

    async def wait(self) -> None:
        """Wait for the next token."""
        now = anyio.current_time()
        # Take the token now and pay for it by waiting: concurrent callers queue up in order.
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await anyio.sleep(start - now)


def _form_value(text: str) -> str:
    """``quote_plus(text)``: a list of IDs told at once, where quote_plus quotes it a byte at a time."""
    if text.isascii() and text.replace(",", "").isalnum():
        return text.replace(",", "%2C")
    return quote_plus(text)


def _encode(key: Secret, action: str, fields: Mapping[str, str]) -> bytes:
    """The form, as ``urlencode`` writes it."""
    form = {"key": key.reveal(), "action": action, **fields}
    return "&".join(f"{quote_plus(name)}={_form_value(value)}" for name, value in form.items()).encode()


#: What :func:`parse_json` gives for a text that is not JSON.
UNREADABLE: Final = object()


def _same(value: Any) -> Any:
    return value


def parse_json(text: str, *, in_thread: bool = False) -> Any:
    """The JSON value of ``text`` (fractions and exponents as ``Decimal``), or :data:`UNREADABLE`.

    Bounded, whatever the text: nesting deeper than the interpreter's recursion limit, an
    integer of more than 4,300 digits (Python's own limit) or an exponent ``Decimal`` cannot
    hold is unreadable, never a ``RecursionError`` or ``decimal.InvalidOperation``.

    ``in_thread``: the C parser holds the GIL for the whole text, so a worker thread parsing a
    long answer would stall the event loop all the same; a hook in Python on each object lets
    the interpreter switch threads as it parses.
    """
    try:
        return json.loads(text, parse_float=Decimal, object_hook=_same if in_thread else None)
    except (ValueError, ArithmeticError, RecursionError):
        return UNREADABLE


def _apply(then: Callable[[Any], Any], handed: list[Any]) -> Any:
    return then(handed.pop())


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header, given as seconds or as an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def top_level_error(answer: Any) -> str | None:
    """The panel's error text if the whole answer is an error, else ``None``.

    Panels say ``{"error": "..."}``, ``{"Error": "..."}`` or ``{"status": "error", "message": ...}``.
    """
    text = error_text(answer)
    if text is None and isinstance(answer, dict):
        status = answer.get("status")
        if isinstance(status, str) and status.lower() == "error" and "message" in answer:
            text = str(answer["message"])
    return text


def _holds(answer: Any, field: str) -> bool:
    return isinstance(answer, dict) and any(
        isinstance(name, str) and name.strip().lower() == field for name in answer
    )


def _code(answer: Any) -> str | None:
    """The panel's own code beside an error text, such as ``"status": "104"``."""
    if not isinstance(answer, dict):
        return None
    code = answer.get("status", answer.get("code"))
    if isinstance(code, int | str) and not isinstance(code, bool) and str(code).strip().isdigit():
        return str(code).strip()
    return None


def _is_retryable(error: SmmError, *, write: bool) -> bool:
    if isinstance(error, ConnectError):
        return True
    if write:
        return False
    if isinstance(error, RedirectError):
        return False
    if isinstance(error, HTTPStatusError):
        return error.status_code >= 500
    return isinstance(error, TransportError | RateLimitedError | UnreadableAnswerError)


class Wire:
    """Sends one action to the panel and returns its JSON answer, or raises an ``SmmError``."""

    def __init__(
        self,
        url: str,
        key: Secret,
        http_client: httpx.AsyncClient,
        *,
        headers: httpx.Headers,
        max_retries: int,
        retry_backoff: float,
        max_concurrency: int,
        attempt_bound: float = math.inf,
        rate_limit: float | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        telemetry: Telemetry = OFF,
    ) -> None:
        filter_loggers()
        self._url = httpx.URL(url)  # parsed once: httpx would parse a text on every request
        self.telemetry = telemetry
        self._key = key
        self._http = http_client
        self._headers = httpx.Headers({"Content-Type": _FORM})
        self._headers.update(headers)
        self._max_retries = max_retries
        self._retry_backoff = retry_backoff
        self._attempt_bound = attempt_bound
        self._max_answer_bytes = max_answer_bytes
        self.max_concurrency = max_concurrency
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._rate = None if rate_limit is None else RateLimiter(rate_limit)
        self.gate = Gate()
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self._in_flight = 0
        self._idle: anyio.Event | None = None

    def forget_key(self) -> None:
        """The client is closed: its key leaves the log filter (:meth:`Secret.forget`)."""
        self._key.forget()

    def scrub(self, error: E) -> E:
        """``error`` with the key masked along its chain, tracebacks dropped (:meth:`Secret.scrub`)."""
        return self._key.scrub(error)

    def shown(self, answer: Any) -> Any:
        """A copy of ``answer`` to keep in an error: the key masked, see :meth:`Secret.mask_value`."""
        return self._key.mask_value(answer)

    def slot(self) -> Slot:
        """A slot that a batcher may acquire before handing its batch to :meth:`post`."""
        return Slot(self._limiter, self._rate, self.gate)

    def _backoff(self, attempt: int, error: SmmError) -> float | None:
        """Seconds to wait before retry ``attempt`` (1-based), or ``None`` to give up."""
        if self._retry_backoff == 0:
            return 0.0
        asked = error.retry_after if isinstance(error, RateLimitedError) else None
        if asked is not None:
            return asked if asked <= MAX_RETRY_DELAY else None
        # Full jitter: spreads the retries of many clients that failed at the same moment.
        return random.uniform(0, min(MAX_RETRY_DELAY, self._retry_backoff * 2 ** (attempt - 1)))  # noqa: S311

    async def post(
        self,
        action: str,
        fields: Mapping[str, str],
        *,
        write: bool = False,
        ids: int = 0,
        slot: Slot | None = None,
        keep: str | None = None,
        then: Callable[[Any], Any] | None = None,
        coalesced: Coalesced | None = None,
    ) -> Any:
        """Send ``action`` with ``fields`` and return the parsed JSON answer, or raise an ``SmmError``.

        Reads are retried on transport faults, 5xx, rate limits and unreadable answers; writes only
        when no connection was made. What a failed write means is not decided here but in
        ``_lookups``. An error answer that also holds the field ``keep`` (an order ID beside an
        error) is not a plain refusal: it is an :class:`UnreadableAnswerError`. ``then`` reads
        the answer (never retried); like the parsing, it runs in a worker thread when the answer
        is long, so that the event loop keeps running. Every error raised is scrubbed of the key.
        ``coalesced`` names the IDs and callers of a coalesced request, for its spans.
        """
        try:
            return await self._post_and_read(
                action, fields, write=write, ids=ids, slot=slot, keep=keep, then=then, coalesced=coalesced
            )
        except SmmError as error:
            # No local of this frame holds the answer: the traceback starts here.
            raise self._key.scrub(error) from error.__cause__

    async def _post_and_read(
        self, action: str, fields: Mapping[str, str], *, then: Callable[[Any], Any] | None, **options: Any
    ) -> Any:
        got = await self._post(action, fields, **options)
        if then is None:
            return got[0]
        if not got[1]:
            return then(got[0])
        # The thread holds the only reference to a long answer: it is freed there, not here.
        handed = [got[0]]
        del got
        return await anyio.to_thread.run_sync(_apply, then, handed)

    async def _post(
        self,
        action: str,
        fields: Mapping[str, str],
        *,
        write: bool,
        ids: int,
        slot: Slot | None,
        keep: str | None,
        coalesced: Coalesced | None,
    ) -> tuple[Any, bool]:
        slot = slot or self.slot()
        attempt = 0
        while True:
            traced: Request | None = None
            try:
                if not slot.held:
                    await slot.acquire()
                if self.telemetry.on:
                    traced = self.telemetry.request(action, ids=ids, attempt=attempt, coalesced=coalesced)
                try:
                    answer = await self._attempt(
                        action, fields, ids=ids, attempt=attempt, keep=keep, traced=traced
                    )
                finally:
                    slot.release()
            except SmmError as error:
                retry = attempt < self._max_retries and _is_retryable(error, write=write)
                delay = self._backoff(attempt + 1, error) if retry else None
                if traced is not None:
                    traced.end(self._key.scrub(error), delay)  # a span quotes the error's text
                if delay is None:
                    raise
                attempt += 1
                self.retries += 1
                await anyio.sleep(delay)
            except BaseException as exc:
                if traced is not None:
                    traced.end(exc)
                raise
            else:
                if traced is not None:
                    traced.end()
                return answer

    async def _attempt(
        self,
        action: str,
        fields: Mapping[str, str],
        *,
        ids: int,
        attempt: int,
        keep: str | None,
        traced: Request | None = None,
    ) -> tuple[Any, bool]:
        """The answer and whether it was long, or the request's error."""
        self.gate.check(action)
        self.requests[action] += 1
        self._in_flight += 1
        started = time.perf_counter()
        status: int | None = None
        try:
            response, body = await self._exchange(action, fields)
            status = response.status_code
            if traced is not None:
                traced.answered(status)
            long = len(body) > THREAD_ANSWER_BYTES
            if long:
                return await anyio.to_thread.run_sync(self._read, action, response, body, keep, long), long
            return self._read(action, response, body, keep), long
        finally:
            self._in_flight -= 1
            if self._idle is not None and not self._in_flight:
                self._idle.set()
            elapsed = time.perf_counter() - started
            log.debug(
                "%s: %d IDs, HTTP %s in %.3fs, retry %d",
                action,
                ids,
                status,
                elapsed,
                attempt,
                extra={
                    "smm_action": action,
                    "smm_ids": ids,
                    "smm_status_code": status,
                    "smm_elapsed": elapsed,
                    "smm_retry": attempt,
                },
            )

    async def _exchange(self, action: str, fields: Mapping[str, str]) -> tuple[httpx.Response, bytes]:
        """Send the request and read the answer's body, up to ``max_answer_bytes``.

        An httpx error becomes an ``SmmError`` raised outside the ``except`` block, so that the
        httpx error (whose request holds the key, whose frames hold the body being sent) is
        neither its cause nor its context: a redacted copy is its cause.
        """
        try:
            request = self._http.build_request(
                "POST", self._url, content=_encode(self._key, action, fields), headers=self._headers
            )
            # httpx bounds each step; this bounds the whole, so a panel trickling bytes (or a
            # transport that ignores timeouts) cannot keep a request going for ever.
            with anyio.fail_after(self._attempt_bound):
                response = await self._http.send(request, follow_redirects=False, stream=True)
                try:
                    return response, await self._body(action, response)
                finally:
                    await response.aclose()
        except RuntimeError:
            if not self._http.is_closed:
                raise
            # aclose() (or the owner of an injected client) closed it while this call waited.
            error: SmmError = ClientClosedError(f"{action}: the client was closed")
        except TimeoutError:
            error = RequestTimeoutError(f"{action}: no answer within {self._attempt_bound:g} seconds")
        except httpx.HTTPError as exc:
            error = self._translate(action, exc)
        raise error

    def _translate(self, action: str, exc: httpx.HTTPError) -> SmmError:
        cause = redacted(exc, self._key)
        error: SmmError
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError):
            # A proxy that refused the tunnel passed nothing on: nothing reached the panel.
            error = ConnectError(f"{action}: cannot connect to the panel ({cause!r})")
        elif isinstance(exc, httpx.TimeoutException):
            error = RequestTimeoutError(f"{action}: the panel did not answer in time ({cause!r})")
        else:
            error = TransportError(f"{action}: the request failed ({cause!r})")
        error.__cause__ = cause
        return error

    async def _body(self, action: str, response: httpx.Response) -> bytes:
        """The answer's body, decompressed, refused as soon as it passes ``max_answer_bytes``."""
        bound = self._max_answer_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > bound:
                raise UnreadableAnswerError(
                    f"{action}: the answer is longer than {bound} bytes (max_answer_bytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _read(
        self,
        action: str,
        response: httpx.Response,
        body: bytes,
        keep: str | None = None,
        in_thread: bool = False,
    ) -> Any:
        status = response.status_code
        if response.is_redirect:
            location = response.headers.get("location", "") or None
            target = f"to {location!r}" if location else "without a Location"
            raise RedirectError(
                f"{action}: the panel redirects {target} (HTTP {status}); redirects are not"
                " followed since they would carry the key: use that URL if you trust it",
                status_code=status,
                location=location,
            )
        text = body.decode("utf-8-sig", errors="replace")
        answer = parse_json(text, in_thread=in_thread)
        error = top_level_error(answer)
        if error is not None and keep is not None and _holds(answer, keep):
            raise UnreadableAnswerError(
                f"{action}: the answer holds both an {keep} ID and an error: {self._quote(text)}"
            )
        if status == 401:  # Unauthorized: the key was refused, whatever the body says
            raise panel_error(error or "HTTP 401 Unauthorized", status_code=status, code=_code(answer))
        if status == 429:
            raise RateLimitedError(
                error or "HTTP 429 Too Many Requests",
                status_code=status,
                retry_after=_retry_after(response),
            )
        if error is not None and status < 500:
            raise panel_error(
                error, status_code=status, code=_code(answer), retry_after=_retry_after(response)
            )
        if status >= 400:
            raise HTTPStatusError(
                f"{action}: HTTP {status} {response.reason_phrase}: {self._quote(text)}",
                status_code=status,
            )
        if answer is UNREADABLE:
            raise UnreadableAnswerError(f"{action}: the answer is not JSON: {self._quote(text)}")
        return answer

    def _quote(self, text: str) -> str:
        """The start of an answer's text for a message, the key masked before it is cut short."""
        return snippet(self._key.mask(text[: SNIPPET_LENGTH * 8]))

    async def wait_idle(self) -> None:
        """Wait until no request is in flight."""
        if self._in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()

    def abandon(self) -> None:
        """Close the connections' sockets without their event loop, which is not the running one.

        Best effort, for ``aclose()`` called from another event loop: httpx can only close its
        connections in their own loop, so their sockets are closed under them instead.
        """
        pool = getattr(getattr(self._http, "_transport", None), "_pool", None)
        for connection in list(getattr(pool, "connections", ())):
            stream = getattr(getattr(connection, "_connection", None), "_network_stream", None)
            sock = stream.get_extra_info("socket") if stream is not None else None
            # asyncio hands out a TransportSocket, which may not be closed; the socket inside may.
            sock = getattr(sock, "_sock", sock)
            if sock is not None:
                sock.close()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
