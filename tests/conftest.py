import json
import math
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anyio
import attrs
import httpx
import pytest
import pytest_asyncio
import smmapi
from hypothesis import HealthCheck, settings
from smmapi.testing import FakePanel

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile(
    "fuzz", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("SMMAPI_HYPOTHESIS_PROFILE", "ci"))

#: Obviously fake; tests check that it never leaks.
KEY = "test-key-DO-NOT-LEAK-0123456789"
URL = "https://panel.test/api/v2"
PANEL_ANSWERS = Path(__file__).parent / "data" / "panel-answers.json"

Answer = Any  # a JSON body, an httpx.Response, or a callable(form) returning either


@attrs.define
class Panel:
    """A MockTransport handler that answers per action and records every form it receives."""

    answers: dict[str, Answer] = attrs.Factory(dict)
    requests: list[dict[str, str]] = attrs.Factory(list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        self.requests.append(form)
        answer = self.answers[form["action"]]
        if callable(answer):
            answer = answer(form)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, content=json.dumps(answer).encode())

    def actions(self) -> list[str]:
        return [form["action"] for form in self.requests]


@pytest.fixture(name="panel")
def _panel() -> Panel:
    return Panel()


@pytest.fixture(name="make_client")
def _make_client(panel: Panel) -> Callable[..., smmapi.AsyncClient]:
    def make(**options: Any) -> smmapi.AsyncClient:
        options.setdefault("transport", httpx.MockTransport(panel))
        options.setdefault("retry_backoff", 0)
        options.setdefault("batch_window", 0)
        return smmapi.AsyncClient(URL, KEY, **options)

    return make


@pytest_asyncio.fixture(name="client")
async def _client(
    make_client: Callable[..., smmapi.AsyncClient],
) -> AsyncIterator[smmapi.AsyncClient]:
    async with make_client() as client:
        yield client


class FollowTheClock(httpx.AsyncBaseTransport):
    """Serves a FakePanel whose clock follows the event loop's (virtual) clock."""

    def __init__(self, panel: FakePanel) -> None:
        self.panel = panel
        self.inner = panel.transport()
        self.started = math.nan

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = anyio.current_time()
        if math.isnan(self.started):
            self.started = now - self.panel.now
        self.panel.advance(max(0.0, now - self.started - self.panel.now))
        return await self.inner.handle_async_request(request)


# -- PostgreSQL ---------------------------------------------------------------------------------

#: A PostgreSQL server's DSN for the tests (`source .ci/postgres.sh` starts a throwaway one).
POSTGRES_DSN = os.environ.get("SMMAPI_TEST_POSTGRES_DSN")


@pytest.fixture(name="postgres_dsn")
def _postgres_dsn() -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards.

    Without a server the test is skipped, unless SMMAPI_REQUIRE_POSTGRES=1 (as in CI): then it fails.
    """
    if POSTGRES_DSN is None:
        message = "no PostgreSQL server: set SMMAPI_TEST_POSTGRES_DSN (`source .ci/postgres.sh` starts one)"
        if os.environ.get("SMMAPI_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + ", which SMMAPI_REQUIRE_POSTGRES=1 requires")
        pytest.skip(message)
    import psycopg  # noqa: PLC0415  (the postgres extra; only these tests need it)

    name = f"smmapi_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(POSTGRES_DSN)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
