"""Check the client's constructor options and turn them into what httpx takes."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping

import httpx

from . import _config
from ._errors import ValidationError

__all__ = ["check_number", "check_url", "request_bound", "request_headers", "request_timeout"]

_USER_AGENT = "smmapi/{version} (+https://pypi.org/project/smmapi/)"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool) -> str:
    """``url`` if it is an http(s) URL; plain http only to a loopback host or when allowed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValidationError(f"not a URL: {url!r}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(f"the panel URL must be http(s)://host/..., not {url!r}")
    if parsed.scheme == "http" and not allow_http and not _is_loopback(parsed.host):
        raise ValidationError(
            f"refusing plain http to {parsed.host}: the key would travel unencrypted;"
            " use https, or pass allow_http=True if you must"
        )
    return url


def check_number(name: str, value: float, *, allow_zero: bool = True, whole: bool = False) -> None:
    """Refuse a non-number (``TypeError``) or a negative one (``ValidationError``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if whole and not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(f"{name} must be {'at least 0' if allow_zero else 'positive'}, got {value}")


def request_headers(custom: Mapping[str, str] | None) -> httpx.Headers:
    """The default headers, with the caller's replacing them whatever their case."""
    from . import __version__  # noqa: PLC0415  (the package imports this module first)

    merged = httpx.Headers(
        {"User-Agent": _USER_AGENT.format(version=__version__), "Accept": "application/json"}
    )
    merged.update(custom or {})
    return merged


def request_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """The httpx timeouts for ``timeout`` seconds: each step, at most 10 of them to connect."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    check_number("timeout", timeout, allow_zero=False)
    return httpx.Timeout(timeout, connect=min(timeout, _config.DEFAULT_CONNECT_TIMEOUT))


def request_bound(timeout: httpx.Timeout) -> float:
    """The most seconds one request may take under ``timeout`` (infinite if any part is None)."""
    parts = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return math.inf if None in parts else sum(parts)  # type: ignore[arg-type]
