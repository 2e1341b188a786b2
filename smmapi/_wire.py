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
from collections.abc import Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlencode

import anyio
import httpx

from ._config import MAX_RETRY_DELAY
from ._errors import (
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
from ._telemetry import OFF, Coalesced, Request, Telemetry

__all__ = ["Gate", "RateLimiter", "Secret", "Slot", "Wire"]

log = logging.getLogger("smmapi")

_FORM: Final = "application/x-www-form-urlencoded"
_KEY_MASK: Final = "[key]"


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The string itself; only the request body may use it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"


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


def _encode(key: Secret, action: str, fields: Mapping[str, str]) -> bytes:
    return urlencode({"key": key.reveal(), "action": action, **fields}).encode()


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
        telemetry: Telemetry = OFF,
    ) -> None:
        self.url = url
        self.telemetry = telemetry
        self._key = key
        self._http = http_client
        self._headers = httpx.Headers({"Content-Type": _FORM})
        self._headers.update(headers)
        self._max_retries = max_retries
        self._retry_backoff = retry_backoff
        self._attempt_bound = attempt_bound
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._rate = None if rate_limit is None else RateLimiter(rate_limit)
        self.gate = Gate()
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self._in_flight = 0
        self._idle: anyio.Event | None = None

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
        coalesced: Coalesced | None = None,
    ) -> Any:
        """Send ``action`` with ``fields`` and return the parsed JSON answer, or raise an ``SmmError``.

        Reads are retried on transport faults, 5xx, rate limits and unreadable answers; writes only
        when no connection was made. What a failed write means is not decided here but in
        ``_lookups``. An error answer that also holds the field ``keep`` (an order ID beside an
        error) is not a plain refusal: it is an :class:`UnreadableAnswerError`. ``coalesced``
        names the IDs and callers of a coalesced request, for its spans.
        """
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
                    traced.end(error, delay)
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
    ) -> Any:
        self.gate.check(action)
        request = self._http.build_request(
            "POST", self.url, content=_encode(self._key, action, fields), headers=self._headers
        )
        self.requests[action] += 1
        self._in_flight += 1
        started = time.perf_counter()
        status: int | None = None
        try:
            # httpx bounds each step; this bounds the whole, so a panel trickling bytes (or a
            # transport that ignores timeouts) cannot keep a request going for ever.
            with anyio.fail_after(self._attempt_bound):
                response = await self._http.send(request, follow_redirects=False)
            status = response.status_code
            if traced is not None:
                traced.answered(status)
            return self._read(action, response, keep)
        except RuntimeError as exc:
            if not self._http.is_closed:
                raise
            # aclose() (or the owner of an injected client) closed it while this call waited.
            raise ClientClosedError(f"{action}: the client was closed") from exc
        except TimeoutError as exc:
            raise RequestTimeoutError(f"{action}: no answer within {self._attempt_bound:g} seconds") from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectError(f"{action}: cannot connect to the panel ({exc!r})") from exc
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError(f"{action}: the panel did not answer in time ({exc!r})") from exc
        except httpx.RequestError as exc:
            raise TransportError(f"{action}: the request failed ({exc!r})") from exc
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

    def _mask(self, text: str) -> str:
        """``text`` with the key masked: some panels echo what they were sent.

        The key is never bound to a local name, so no traceback rendered with locals shows it.
        """
        return text.replace(self._key.reveal(), _KEY_MASK)

    def _read(self, action: str, response: httpx.Response, keep: str | None = None) -> Any:
        status = response.status_code
        if response.is_redirect:
            location = self._mask(response.headers.get("location", "")) or None
            target = f"to {location!r}" if location else "without a Location"
            raise RedirectError(
                f"{action}: the panel redirects {target} (HTTP {status}); redirects are not"
                " followed since they would carry the key: use that URL if you trust it",
                status_code=status,
                location=location,
            )
        text = self._mask(response.content.decode("utf-8-sig", errors="replace"))
        try:
            answer = json.loads(text, parse_float=Decimal)
        except ValueError:
            answer = None
            readable = False
        else:
            readable = True
        error = top_level_error(answer)
        if error is not None and keep is not None and _holds(answer, keep):
            raise UnreadableAnswerError(
                f"{action}: the answer holds both an {keep} ID and an error: {snippet(text)}"
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
                f"{action}: HTTP {status} {response.reason_phrase}: {snippet(text)}",
                status_code=status,
            )
        if not readable:
            raise UnreadableAnswerError(f"{action}: the answer is not JSON: {snippet(text)}")
        return answer

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
