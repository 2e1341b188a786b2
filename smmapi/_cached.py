"""One fetch shared by concurrent callers, kept for a while: the catalogue's cache."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from ._errors import SmmError

__all__ = ["Cached"]

T = TypeVar("T")


class Cached(Generic[T]):
    """One fetch shared by concurrent callers, kept for ``ttl`` seconds (never when ``None``)."""

    def __init__(self, fetch: Callable[[], Awaitable[T]], ttl: float | None) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._value: T | None = None
        self._fetched_at = 0.0
        self._running: anyio.Event | None = None
        self._outcome: T | BaseException | None = None

    async def get(self, *, refresh: bool) -> T:
        while True:
            if (
                not refresh
                and self._value is not None
                and self._ttl is not None
                and anyio.current_time() - self._fetched_at < self._ttl
            ):
                return self._value
            if self._running is None:
                return await self._lead()
            running = self._running
            await running.wait()
            outcome = self._outcome
            if isinstance(outcome, SmmError):
                raise outcome
            if outcome is not None and not isinstance(outcome, BaseException):
                return outcome
            # The leader was cancelled before it had an answer: one of us fetches again.

    async def _lead(self) -> T:
        running = self._running = anyio.Event()
        self._outcome = None
        try:
            value = await self._fetch()
        except SmmError as error:
            self._outcome = error
            raise
        else:
            self._outcome = value
            self._value, self._fetched_at = value, anyio.current_time()
            return value
        finally:
            self._running = None
            running.set()
