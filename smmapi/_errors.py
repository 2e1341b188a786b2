"""Everything smmapi raises.

The tree::

    SmmError
    ├── ValidationError (also ValueError)        bad input; nothing was sent
    ├── ClientClosedError (also RuntimeError)    the client was closed, or is used from another event loop
    ├── PanelError                               the panel's own {"error": ...}; str(err) is its text
    │   ├── AuthenticationError                  the key was refused (and any HTTP 401)
    │   ├── InsufficientFundsError               not enough money on the balance
    │   ├── UnknownIdError                       no such order or refill
    │   └── RateLimitedError                     slow down; .retry_after in seconds when the panel says
    ├── TransportError                           the request did not complete (the cause is chained)
    │   ├── ConnectError                         no connection was made: nothing was sent
    │   └── RequestTimeoutError (also TimeoutError)
    ├── HTTPStatusError                          a 3xx/4xx/5xx answer that is not a readable panel error
    │   └── RedirectError                        never followed: it would carry the key elsewhere
    ├── UnreadableAnswerError                    HTML, bad JSON, or JSON of the wrong shape
    ├── OutcomeUnknownError                      a write may have reached the panel, with no usable answer
    └── WatchTimeoutError (also TimeoutError)    a watch's timeout passed; .unfinished lists what was left

No exception here ever holds the API key: messages quote the panel's answer, never the request body.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "ConnectError",
    "HTTPStatusError",
    "InsufficientFundsError",
    "OutcomeUnknownError",
    "PanelError",
    "RateLimitedError",
    "RedirectError",
    "RequestTimeoutError",
    "SmmError",
    "TransportError",
    "UnknownIdError",
    "UnreadableAnswerError",
    "ValidationError",
    "WatchTimeoutError",
]

SNIPPET_LENGTH = 200


def snippet(text: str) -> str:
    """Shorten an answer's text for an error message."""
    text = text.strip()
    if len(text) <= SNIPPET_LENGTH:
        return text
    return text[:SNIPPET_LENGTH] + "..."


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxdict, _SHOWN.maxlist = 4, 10, 10
_SHOWN.maxstring, _SHOWN.maxother = SNIPPET_LENGTH * 4, SNIPPET_LENGTH


def shown(value: Any) -> str:
    """A JSON value for an error message: its repr, shortened and bounded whatever its size or depth."""
    return snippet(_SHOWN.repr(value))


def _restore(cls: type[SmmError], args: tuple[Any, ...], state: dict[str, Any]) -> SmmError:
    """Rebuild a pickled error without calling its ``__init__`` (whose keywords pickle drops)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class SmmError(Exception):
    """The root of every exception smmapi raises.

    Every one pickles with its message and attributes (for process pools and task queues); its
    ``__cause__`` chain is left behind, as with every pickled exception.

    Example::

        try:
            await client.add(service=1, link="https://example.com/p/1", quantity=100)
        except smmapi.SmmError as err:
            log.warning("order not placed: %s", err)
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ValidationError(SmmError, ValueError):
    """An argument has the wrong shape or value; nothing was sent.

    Example::

        await client.add(service=1, link="", quantity=100)   # raises ValidationError
    """


class ClientClosedError(SmmError, RuntimeError):
    """The client is closed, or is being used from an event loop other than its own.

    Example::

        async with smmapi.AsyncClient(url, key) as client:
            ...
        await client.balance()   # raises ClientClosedError: this client is closed
    """


class PanelError(SmmError):
    """The panel answered with its own error, such as ``{"error": "Incorrect order ID"}``.

    ``str(err)`` is the panel's text; ``err.status_code`` the HTTP status it came with, and
    ``err.code`` the panel's own code beside the text, if it sent one (``{"error": "Order not
    found.", "status": "104"}`` gives ``"104"``).
    Texts are sorted into the subclasses callers act on: :class:`AuthenticationError`,
    :class:`InsufficientFundsError`, :class:`UnknownIdError` and :class:`RateLimitedError`; any other
    text (including texts in other languages) is a plain ``PanelError``.

    Example::

        try:
            await client.status(123)
        except smmapi.UnknownIdError:
            forget(123)
    """

    def __init__(self, message: str, *, status_code: int = 200, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code


class AuthenticationError(PanelError):
    """The panel refused the API key (``"Invalid API key"``).

    It is never retried, and a watch raises it rather than yield it: no later request can succeed.

    Example::

        try:
            await client.balance()
        except smmapi.AuthenticationError:
            raise SystemExit("the panel refused the API key") from None
    """


class InsufficientFundsError(PanelError):
    """The balance does not cover the order (``"Not enough funds on balance"``).

    The panel refused the order, so nothing was placed.

    Example::

        try:
            order = await client.add(service=1, link=link, quantity=1000)
        except smmapi.InsufficientFundsError:
            print("top up first; balance:", (await client.balance()).balance)
    """


class UnknownIdError(PanelError):
    """The panel knows no order or refill with that ID (``"Incorrect order ID"``).

    Single lookups raise it; bulk calls such as :meth:`~smmapi.AsyncClient.statuses` give it as
    that ID's value, and a watch yields it in an :class:`~smmapi.Update` and drops the ID.

    Example::

        try:
            status = await client.status(99999)
        except smmapi.UnknownIdError as err:
            print(err)   # Incorrect order ID
    """


class RateLimitedError(PanelError):
    """The panel asks to slow down (HTTP 429, or a body such as ``"Rate limit exceeded"``).

    ``retry_after`` is the delay in seconds the panel asked for, or ``None`` if it named none.
    A read is retried first, within the client's ``max_retries``; a write raises it at once, and
    nothing was placed.

    Example::

        try:
            balance = await client.balance()
        except smmapi.RateLimitedError as err:
            await anyio.sleep(err.retry_after or 60)
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 200,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.retry_after = retry_after


class TransportError(SmmError):
    """The HTTP request failed before a complete answer arrived; the httpx error is chained.

    A read gets it once its retries are used up. A write that may have been sent raises
    :class:`OutcomeUnknownError` instead, with this error as its ``__cause__``; only
    :class:`ConnectError` reaches a write's caller as it is.

    Example::

        try:
            status = await client.status(123)
        except smmapi.TransportError as err:
            print("no answer:", err, repr(err.__cause__))   # __cause__ is the httpx error
    """


class ConnectError(TransportError):
    """No connection to the panel could be made, so nothing was sent (safe to retry, writes too).

    The client has already retried the request (up to ``max_retries`` times), writes included.

    Example::

        try:
            order = await client.add(service=1, link=link, quantity=1000)
        except smmapi.ConnectError:
            ...   # the panel never saw this order: placing it again later cannot double it
    """


class RequestTimeoutError(TransportError, TimeoutError):
    """The panel did not answer in time; the request may or may not have reached it.

    A read gets it once its retries are used up; a write raises :class:`OutcomeUnknownError`
    instead, since the panel may have acted on it.

    Example::

        try:
            services = await client.services()
        except smmapi.RequestTimeoutError:   # also caught by `except TimeoutError`
            services = last_known_services
    """


class HTTPStatusError(SmmError):
    """The panel answered with an HTTP error status and no readable ``{"error": ...}``.

    ``status_code`` is that status. Reads are retried on a 5xx first; a write answered this way
    raises :class:`OutcomeUnknownError` instead, unless it was a redirect.

    Example::

        try:
            balance = await client.balance()
        except smmapi.HTTPStatusError as err:
            print("the panel answered HTTP", err.status_code)   # 502, say
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RedirectError(HTTPStatusError):
    """The panel answered with a redirect, which is never followed since it would carry the key.

    ``location`` is the target it named; point the client at it if you trust it.

    Example::

        try:
            await client.balance()
        except smmapi.RedirectError as err:
            print("the panel points to", err.location)   # check it before using it as the URL
    """

    def __init__(self, message: str, *, status_code: int, location: str | None) -> None:
        super().__init__(message, status_code=status_code)
        self.location = location


class UnreadableAnswerError(SmmError):
    """The answer is not what the API defines: an HTML page, bad JSON, or JSON of the wrong shape.

    The message shows the start of the answer. A read whose answer is not JSON at all is retried
    first; a write answered this way raises :class:`OutcomeUnknownError` instead.

    Example::

        try:
            services = await client.services()
        except smmapi.UnreadableAnswerError as err:
            print(err)   # services: the answer is not JSON: <!DOCTYPE html>...
    """


class OutcomeUnknownError(SmmError):
    """A write may have reached the panel, but there is no usable answer for it.

    The order, refill or cancel may or may not exist now: reconcile before trying again, for
    example by looking for the order in the panel's order list. ``action`` and ``fields`` are
    what was sent (never the key); ``answer`` is the panel's answer for it, if one was readable.

    Example::

        try:
            order = await client.add(service=1, link=link, quantity=1000)
        except smmapi.OutcomeUnknownError as err:
            await reconcile_later(err.action, err.fields)
    """

    def __init__(
        self,
        message: str,
        *,
        action: str,
        fields: Mapping[str, str],
        answer: Any = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self._fields = dict(fields)
        self.answer = answer

    @property
    def fields(self) -> Mapping[str, str]:
        """The fields that were sent, read-only (never the key)."""
        return MappingProxyType(self._fields)


class WatchTimeoutError(SmmError, TimeoutError):
    """A watch's ``timeout`` passed before every order it followed was final.

    ``unfinished`` holds their IDs; the watch has ended. The panel is not told anything: the
    orders go on, and a later watch or lookup sees how they end.

    Example::

        try:
            async for update in client.watch(orders, timeout=3600):
                ...
        except smmapi.WatchTimeoutError as err:
            log.warning("still open after an hour: %s", err.unfinished)
    """

    def __init__(self, message: str, *, unfinished: tuple[int, ...]) -> None:
        super().__init__(message)
        self.unfinished = unfinished


#: Errors about the whole account, never about one ID (a refused key, funds, a rate limit).
ACCOUNT_ERRORS = (AuthenticationError, InsufficientFundsError, RateLimitedError)
#: The account errors a bulk method raises instead of handing one to each ID: asking those IDs
#: again cannot help until someone fixes the account (a rate limit passes by itself).
RAISED_BY_BULK = (AuthenticationError, InsufficientFundsError)


def error_text(value: Any) -> str | None:
    """The text of an ``{"error": "..."}`` object (any case of "error"), or ``None``.

    An ``error`` that is null, empty or false is no error.
    """
    if isinstance(value, Mapping):
        for key, text in value.items():
            # The cheap checks first: this runs on every key of every bulk answer, mostly IDs.
            if (
                isinstance(key, str)
                and len(key) < 12
                and not key.isdigit()
                and key.strip().lower() == "error"
                and text not in (None, "", False)
            ):
                return str(text)
    return None


def _words(text: str) -> str:
    """Fold a panel text or machine code ("error.not_enough_funds") into plain lower-case words."""
    return " ".join(re.split(r"[\s._\-:/]+", text.lower())).strip()


_KINDS: tuple[tuple[re.Pattern[str], type[PanelError]], ...] = (
    (re.compile(r"\b(invalid|incorrect|wrong|bad|unknown)( api)? key\b"), AuthenticationError),
    (re.compile(r"\bapi key (is )?(invalid|incorrect|wrong|disabled|not found)\b"), AuthenticationError),
    # SmartPanel's text for a refused key
    (re.compile(r"\bapi is disabled? for this user\b"), AuthenticationError),
    (
        re.compile(
            r"\b(not enough (funds|balance|money)|insufficient (funds|balance)|low balance"
            r"|balance is (insufficient|not enough|too low))"
        ),
        InsufficientFundsError,
    ),
    (
        re.compile(
            r"\b(incorrect|invalid|unknown|wrong|bad)( (order|refill))+ (id|ids|number)\b"
            r"|\b(order|refill)s? (id )?(was )?not found\b"
        ),
        UnknownIdError,
    ),
    (
        re.compile(
            r"\b(rate limit|too many requests|slow down|spam protection|flood)"
            r"|\b(wait|try again|retry)( again)? (in|after|for)? ?\d"
        ),
        RateLimitedError,
    ),
)

_WAIT = re.compile(r"(\d+(?:\.\d+)?) ?(seconds?|secs?|s|minutes?|mins?|m)\b")


def wait_from_text(text: str) -> float | None:
    """The delay a text such as ``"Spam protection, wait 5 seconds"`` asks for, in seconds."""
    match = _WAIT.search(text.lower())
    if match is None:
        return None
    amount = float(match.group(1))
    return amount * 60 if match.group(2).startswith("m") else amount


def panel_error(
    message: str, *, status_code: int = 200, code: str | None = None, retry_after: float | None = None
) -> PanelError:
    """The :class:`PanelError` subclass a panel's error text stands for.

    An HTTP 429 is a :class:`RateLimitedError` and an HTTP 401 an :class:`AuthenticationError`,
    whatever their text says.
    """
    words = _words(message)
    kind: type[PanelError] = PanelError
    if status_code == 429:
        kind = RateLimitedError
    elif status_code == 401:  # Unauthorized: the key was refused, whatever the words
        kind = AuthenticationError
    else:
        for pattern, candidate in _KINDS:
            if pattern.search(words):
                kind = candidate
                break
    if kind is RateLimitedError:
        if retry_after is None:
            retry_after = wait_from_text(message)
        return RateLimitedError(message, status_code=status_code, code=code, retry_after=retry_after)
    return kind(message, status_code=status_code, code=code)
