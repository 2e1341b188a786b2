r"""The API key, and the one way text that may echo it is shown: masked, in every spelling.

Panels echo what they were sent, in their error texts, HTML pages, headers and reason phrases,
and not always verbatim: JSON-escaped (``\u0041``, PHP's ``\/``), URL-encoded (``%2B``) or in
another case. Answers are parsed and read as they came; the key is masked where text from them
is quoted into an error or a log line, and an error's traceback is dropped on its way out, since
the frames inside smmapi hold the answer being read.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterator, Mapping
from typing import Any, Final, TypeVar

import httpx

__all__ = ["MASK", "KeyFilter", "Secret", "filter_loggers", "redacted"]

#: What stands where the key was.
MASK: Final = "[key]"
#: How deep a copy of an answer kept for showing goes.
MOST_SHOWN_DEPTH: Final = 32

E = TypeVar("E", bound=BaseException)


def _spellings(char: str) -> Iterator[str]:
    """Every way one character of the key may come back in a text, as regular expressions."""
    yield re.escape(char)
    point = ord(char)
    if point < 0x10000:
        yield rf"\\u{point:04x}"  # JSON
    yield f"&#{point};|&#x0*{point:x};"  # HTML
    yield "".join(f"%{byte:02x}" for byte in char.encode())  # URL
    if char == "/":
        yield r"\\/"  # JSON as PHP writes it
    if char == " ":
        yield r"\+"  # a form


def _pattern(key: str) -> re.Pattern[str]:
    # IGNORECASE matches the key in any case and hex escapes in either case.
    return re.compile("".join(f"(?:{'|'.join(_spellings(char))})" for char in key), re.IGNORECASE)


#: The keys of the clients alive now, for the log filter: the loggers of httpx and httpcore are
#: shared by every client in the process.
_LIVE: weakref.WeakSet[Secret] = weakref.WeakSet()


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback's locals."""

    __slots__ = ("__weakref__", "_pattern", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._pattern = _pattern(value)
        _LIVE.add(self)

    def reveal(self) -> str:
        """The string itself; only the request body may use it."""
        return self._value

    def forget(self) -> None:
        """Leave the log filter's keys, once the client is closed.

        Masking a closed client's key in other clients' log lines could only garble them (a toy
        key such as ``"100"`` inside an order ID).
        """
        _LIVE.discard(self)

    def __repr__(self) -> str:
        return "Secret('********')"

    def mask(self, text: str) -> str:
        """``text`` with the key masked in any spelling it may come back in."""
        return self._pattern.sub(MASK, text)

    def mask_value(self, value: Any, depth: int = 0) -> Any:
        """A JSON value with the key masked in every text in it; ``value`` itself if none held it.

        Containers nested deeper than :data:`MOST_SHOWN_DEPTH` are cut to ``"..."``: the copy
        is for showing, and must pickle and print whatever the panel sent.
        """
        if isinstance(value, str):
            return self.mask(value)
        if not isinstance(value, list | dict):
            return value
        if depth >= MOST_SHOWN_DEPTH:
            return "..."
        if isinstance(value, list):
            masked = [self.mask_value(item, depth + 1) for item in value]
            return value if all(a is b for a, b in zip(masked, value, strict=True)) else masked
        pairs = [(self.mask_value(k, depth + 1), self.mask_value(v, depth + 1)) for k, v in value.items()]
        same = all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items(), strict=True))
        return value if same else dict(pairs)

    def scrub(self, error: E) -> E:
        """``error`` made safe to hand out: the key masked along its whole chain, tracebacks dropped.

        Its texts are masked: args, and attributes that are texts or mappings of texts. An
        answer kept in an error (``OutcomeUnknownError.answer``) is masked with
        :meth:`mask_value` where it is kept, once per answer. The tracebacks go since their
        frames, inside smmapi and httpx, hold the answer or the request body; an error raised
        again gets a traceback from where it is raised.
        """
        for link in _chain(error):
            link.__traceback__ = None
            if isinstance(link, httpx.HTTPError):
                continue  # redacted() where it was caught
            link.args = tuple(self._masked(arg) for arg in link.args)
            state = getattr(link, "__dict__", {})
            for name, value in state.items():
                state[name] = self._masked(value)
        return error

    def _masked(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping) and all(isinstance(item, str) for item in value.values()):
            return {name: self.mask(item) for name, item in value.items()}
        return value


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception in its ``__cause__`` / ``__context__`` chain, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        link = todo.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [link.__cause__, link.__context__]


def redacted(exc: httpx.HTTPError, secret: Secret) -> httpx.HTTPError:
    """A copy of an httpx error to chain instead of it: no request (whose body holds the key), no traceback.

    Its message is masked; its own cause and context (httpcore's error, whose frames hold the
    body being sent) are left behind.
    """
    message = secret.mask(str(exc))
    try:
        copy = type(exc)(message)
    except TypeError:  # an httpx error that needs more than a message
        copy = httpx.TransportError(message)
    return copy


class KeyFilter(logging.Filter):
    """Masks the key of every live client in a log record, for the loggers of smmapi, httpx and httpcore.

    httpx logs the reason phrase at INFO; httpcore logs response headers at DEBUG: a panel
    chooses both.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in list(_LIVE):
            masked = secret.mask(masked)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_FILTER: Final = KeyFilter()


def filter_loggers() -> None:
    """Put :class:`KeyFilter` on each logger of smmapi, httpx and httpcore: each sees its own records."""
    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.split(".", 1)[0] in ("smmapi", "httpx", "httpcore")
    ]
    for name in {"smmapi", "httpx", "httpcore", *names}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
