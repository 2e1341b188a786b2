"""Misbehaviour on purpose: what a fault does to one answer, and which requests get one."""

from __future__ import annotations

import http
import math
import random
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from ._json import Num, NumberStyle, render
from ._panel import Answer

__all__ = ["Fault", "FaultPlan", "FaultRule", "Reply", "When", "reply_for"]

#: ``"before"``: the panel never processed the request (a proxy, a rate limiter or the network
#: answered first). ``"after"``: it did (an order was placed, a refill requested), and then the
#: answer was replaced or spoilt on the way back.
When = Literal["before", "after"]

_JSON: Final = (("content-type", "application/json"),)
_HTML: Final = (("content-type", "text/html; charset=utf-8"),)
#: Kinds that spoil the panel's real answer, so they can only come after it was made.
_SPOILERS: Final = frozenset({"truncated", "lone_refill", "missing_ids", "extra_ids"})
_MAINTENANCE_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
    "<body><h1>We&rsquo;ll be back soon!</h1><p>The panel is under maintenance.</p></body></html>"
)


def _when(value: str) -> When:
    if value not in ("before", "after"):
        raise ValueError(f'when must be "before" or "after", not {value!r}')
    return "before" if value == "before" else "after"


def _call(name: str, *args: object, **named: object) -> str:
    """How a constructor call reads in a repr: ``status(503, when='after')``."""
    parts = [repr(arg) for arg in args]
    parts += [f"{key}={value!r}" for key, value in named.items() if value is not None]
    return f"{name}({', '.join(parts)})"


def _after(when: When) -> When | None:
    """``when`` for a repr: shown only when it is not the default."""
    return "after" if when == "after" else None


def _error_page(code: int) -> str:
    title = f"{code} {http.HTTPStatus(code).phrase}"
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>nginx</center></body></html>"
    )


@attrs.frozen(repr=False)
class Fault:
    """One way the fake panel misbehaves on a request; make one with a constructor below.

    Hand it to :meth:`FakePanel.misbehave` with the requests it is for. ``when`` says whether
    the panel processed the request first (``"after"``: an ``add`` placed its order, then the
    answer went wrong) or never saw it (``"before"``, the default where both make sense).

    Example::

        panel.misbehave(Fault.status(503), action="status", times=2)
        panel.misbehave(Fault.status(502, when="after"), action="add", times=1)  # placed, no answer
        panel.misbehave(Fault.latency(0.05), probability=0.2)
    """

    kind: str
    when: When = attrs.field(default="before", converter=_when)
    seconds: float = 0.0
    status_code: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    ids: tuple[int, ...] | None = None
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind in _SPOILERS and self.when != "after":
            raise ValueError(f"{self.kind} spoils the panel's answer, so it can only come after it")

    def __repr__(self) -> str:
        return f"Fault.{self.label}"

    @classmethod
    def latency(cls, seconds: float, *, when: When = "before") -> Fault:
        """Answer normally, but ``seconds`` late (a real ``anyio.sleep``).

        :meth:`FakePanel.transport` honours the client's read timeout, so a latency longer
        than it ends in ``httpx.ReadTimeout``; with ``when="after"`` the request took effect.

        Example::

            panel.misbehave(Fault.latency(30), action="add", times=1)   # with AsyncClient(timeout=0.1)
        """
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {seconds!r}")
        return cls(
            "latency", when, seconds=float(seconds), label=_call("latency", seconds, when=_after(when))
        )

    @classmethod
    def status(cls, code: int = 503, *, body: str | None = None, when: When = "before") -> Fault:
        """Answer HTTP ``code`` (4xx or 5xx) with a web server's HTML error page, or ``body``.

        Example::

            panel.misbehave(Fault.status(503), action="status", times=2)
        """
        if not 400 <= code <= 599:
            raise ValueError(f"an HTTP error status is 400 to 599, not {code}")
        text = _error_page(code) if body is None else body
        return cls(
            "status",
            when,
            status_code=code,
            headers=_HTML,
            body=text,
            label=_call("status", code, when=_after(when)),
        )

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None, *, when: When = "before") -> Fault:
        """Answer HTTP 429, with a ``Retry-After`` header (seconds or an HTTP date) if given.

        Example::

            panel.misbehave(Fault.rate_limited(retry_after=2), action="status")
        """
        headers: tuple[tuple[str, str], ...] = _JSON
        if retry_after is not None:
            headers += (("retry-after", str(retry_after)),)
        return cls(
            "rate_limited",
            when,
            status_code=429,
            headers=headers,
            body='{"error": "Too many requests"}',
            label=_call("rate_limited", *([] if retry_after is None else [retry_after]), when=_after(when)),
        )

    @classmethod
    def spam_protection(cls, seconds: int = 5, *, when: When = "before") -> Fault:
        """Answer HTTP 200 ``{"error": "Spam protection, wait N seconds"}``: a rate limit in the body.

        Example::

            panel.misbehave(Fault.spam_protection(5), action="add", times=1)
        """
        body = f'{{"error": "Spam protection, wait {seconds} seconds"}}'
        return cls(
            "spam_protection",
            when,
            headers=_JSON,
            body=body,
            label=_call("spam_protection", seconds, when=_after(when)),
        )

    @classmethod
    def error(cls, text: str, *, status: int = 200, when: When = "before") -> Fault:
        """Answer ``{"error": text}`` with HTTP ``status``: any refusal a real panel may send.

        Example::

            panel.misbehave(Fault.error("Your account has been suspended.", status=401))
        """
        return cls(
            "error",
            when,
            status_code=status,
            headers=_JSON,
            body=render({"error": text}, "canonical").decode(),
            label=_call("error", text, status=None if status == 200 else status, when=_after(when)),
        )

    @classmethod
    def html(cls, status: int = 200, *, when: When = "before") -> Fault:
        """Answer an HTML maintenance page with HTTP ``status`` (a CDN or a panel in maintenance).

        Example::

            panel.misbehave(Fault.html(), action="balance", times=1)
        """
        return cls(
            "html",
            when,
            status_code=status,
            headers=_HTML,
            body=_MAINTENANCE_PAGE,
            label=_call("html", status, when=_after(when)),
        )

    @classmethod
    def redirect(
        cls, location: str = "https://fake-panel.invalid/login", *, status: int = 302, when: When = "before"
    ) -> Fault:
        """Answer a redirect (HTTP ``status``, 3xx) to ``location``: a client must not follow it.

        Example::

            panel.misbehave(Fault.redirect("https://elsewhere.invalid/api/v2", status=301))
        """
        if not 300 <= status <= 399:
            raise ValueError(f"a redirect status is 300 to 399, not {status}")
        headers = (*_HTML, ("location", location))
        return cls(
            "redirect",
            when,
            status_code=status,
            headers=headers,
            label=_call("redirect", location, status=status, when=_after(when)),
        )

    @classmethod
    def reset(cls, *, when: When = "before") -> Fault:
        """Drop the connection: the ASGI app raises ``httpx.ReadError``, so the transport fails.

        With ``when="after"`` the request took effect and half of the answer was sent first.
        Served by a real server (uvicorn), the client sees the connection closed instead.

        Example::

            panel.misbehave(Fault.reset(when="after"), action="add", times=1)
        """
        return cls("reset", when, label=_call("reset", when=_after(when)))

    @classmethod
    def refused(cls) -> Fault:
        """Refuse the connection: the ASGI app raises ``httpx.ConnectError``; nothing was sent.

        Example::

            panel.misbehave(Fault.refused(), times=1)   # a client may safely send this again
        """
        return cls("refused", "before", label=_call("refused"))

    @classmethod
    def truncated(cls) -> Fault:
        """Send only the first half of the real answer: JSON that does not parse.

        Example::

            panel.misbehave(Fault.truncated(), action="status", times=1)
        """
        return cls("truncated", "after", label=_call("truncated"))

    @classmethod
    def lone_refill(cls) -> Fault:
        """Answer a bulk refill (``orders=``) with one ``{"refill": "..."}``, as some panels document.

        Every refill was requested; the answer names the first one's ID.

        Example::

            panel.misbehave(Fault.lone_refill(), action="refill")
        """
        return cls("lone_refill", "after", label=_call("lone_refill"))

    @classmethod
    def missing_ids(cls, ids: Iterable[int] | None = None) -> Fault:
        """Leave ``ids`` (the last ID asked, if ``None``) out of a bulk answer; the rest is real.

        Example::

            panel.misbehave(Fault.missing_ids([10_002]), action="status", times=1)
        """
        return cls._about_ids("missing_ids", ids)

    @classmethod
    def extra_ids(cls, ids: Iterable[int] | None = None) -> Fault:
        """Add items for ``ids`` nobody asked (one past the largest asked, if ``None``) to a bulk answer.

        Example::

            panel.misbehave(Fault.extra_ids([99]), action="status", times=1)
        """
        return cls._about_ids("extra_ids", ids)

    @classmethod
    def _about_ids(cls, kind: str, ids: Iterable[int] | None) -> Fault:
        chosen = None if ids is None else tuple(ids)
        return cls(kind, "after", ids=chosen, label=_call(kind, *([] if chosen is None else [list(chosen)])))

    def fits(self, action: str | None, fields: Mapping[str, str]) -> bool:
        """Whether this fault can apply to a request (bulk-only faults need a bulk form)."""
        if self.kind == "lone_refill":
            return action == "refill" and "orders" in fields
        if self.kind in ("missing_ids", "extra_ids"):
            return "orders" in fields or "refills" in fields
        return True


@attrs.define(eq=False)
class FaultRule:
    """A fault and the requests it is for, as :meth:`FakePanel.misbehave` returned it.

    ``remaining`` counts the requests it will still spoil (``None``: no limit); ``applied`` those
    it spoilt. :meth:`cancel` ends it early.

    Example::

        rule = panel.misbehave(Fault.status(503), action="status")
        ...
        rule.cancel()
        assert rule.applied == 3
    """

    fault: Fault
    actions: frozenset[str] | None
    remaining: int | None
    probability: float | None
    applied: int = 0
    active: bool = True

    def cancel(self) -> None:
        """Stop applying this fault."""
        self.active = False

    def _matches(self, action: str | None, fields: Mapping[str, str]) -> bool:
        return (
            self.active
            and (self.remaining is None or self.remaining > 0)
            and (self.actions is None or action in self.actions)
            and self.fault.fits(action, fields)
        )


class FaultPlan:
    """The rules of one panel, in the order given; at most one fault per request."""

    def __init__(self, seed: int) -> None:
        # Its own generator: adding a fault never changes which orders end Partial.
        self._random = random.Random(f"faults-{seed}")  # noqa: S311  (a fake's faults, not secrets)
        self._rules: list[FaultRule] = []

    def add(
        self,
        fault: Fault,
        *,
        action: str | Collection[str] | None,
        times: int | None,
        probability: float | None,
    ) -> FaultRule:
        """A new rule, checked after the existing ones."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be a positive int or None, not {times!r}")
        if probability is not None and not 0 <= probability <= 1:
            raise ValueError(f"probability must be between 0 and 1, not {probability!r}")
        actions = None if action is None else frozenset([action] if isinstance(action, str) else action)
        rule = FaultRule(fault, actions, times, probability)
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Cancel every rule."""
        for rule in self._rules:
            rule.cancel()
        self._rules.clear()

    def pick(self, action: str | None, fields: Mapping[str, str]) -> Fault | None:
        """The fault for this request, if a rule fires; that rule counts it."""
        for rule in self._rules:
            if not rule._matches(action, fields):  # noqa: SLF001  (the plan owns its rules)
                continue
            if rule.probability is not None and self._random.random() >= rule.probability:
                continue
            rule.applied += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            self._rules = [r for r in self._rules if r.active and r.remaining != 0]
            return rule.fault
        return None


@attrs.frozen
class Reply:
    """An HTTP answer to send; ``abort`` makes the app raise instead (``"reset"``, ``"refused"``)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON
    abort: Literal["reset", "refused"] | None = None


def _asked(fields: Mapping[str, str]) -> list[str]:
    text = fields.get("orders", fields.get("refills", ""))
    return [token.strip() for token in text.split(",") if token.strip()]


def _item_id(item: Any, field: str) -> str:
    value = item.get(field) if isinstance(item, Mapping) else None
    return str(value.value) if isinstance(value, Num) else str(value)


def _lone_refill(body: Any) -> Any:
    """A bulk refill's list as one ``{"refill": ...}``: the first refill made, else the first error."""
    if not isinstance(body, list) or not body:
        return body
    for item in body:
        if isinstance(item.get("refill"), Num):
            return {"refill": Num(item["refill"].value, quoted=True)}
    return body[0]["refill"]


def _without(body: Any, drop: set[str], id_field: str) -> Any:
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key not in drop}
    if isinstance(body, list):
        return [item for item in body if _item_id(item, id_field) not in drop]
    return body


def _with(body: Any, extra: Iterable[int], id_field: str) -> Any:
    # Each made-up item copies the first real one, as a panel mixing up requests would.
    if isinstance(body, dict) and body:
        first = next(iter(body.values()))
        return {**body, **{str(i): first for i in extra}}
    if isinstance(body, list) and body:
        return [*body, *({**body[0], id_field: Num(i, quoted=False)} for i in extra)]
    return body


def _spoil(fault: Fault, body: Any, fields: Mapping[str, str]) -> Any:
    """The answer ``body`` as a spoiling fault changes it."""
    asked = _asked(fields)
    id_field = "refill" if "refills" in fields else "order"
    if fault.kind == "lone_refill":
        return _lone_refill(body)
    if fault.kind == "missing_ids":
        drop = {str(i) for i in fault.ids} if fault.ids is not None else set(asked[-1:])
        return _without(body, drop, id_field)
    numbers = [int(token) for token in asked if token.isdigit()]
    return _with(body, fault.ids if fault.ids is not None else (max(numbers, default=0) + 1,), id_field)


def reply_for(fault: Fault, answer: Answer | None, fields: Mapping[str, str], style: NumberStyle) -> Reply:
    """What goes back when ``fault`` applies; ``answer`` is the panel's own, if it made one."""
    if fault.kind in ("reset", "refused"):
        body = b"" if answer is None else render(answer.body, style)
        return Reply(200, body, abort="reset" if fault.kind == "reset" else "refused")
    if fault.kind in _SPOILERS:
        if answer is None:  # the constructor keeps spoilers "after"
            raise AssertionError(fault)
        if fault.kind == "truncated":
            whole = render(answer.body, style)
            return Reply(answer.status, whole[: len(whole) // 2])
        return Reply(answer.status, render(_spoil(fault, answer.body, fields), style))
    return Reply(fault.status_code, fault.body.encode(), fault.headers)
