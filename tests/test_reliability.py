"""Retries, backoff, the rate limit, timeouts and logging.

Time-dependent tests run on trio's MockClock with autojump: virtual seconds pass instantly, so
schedules are checked exactly and nothing really sleeps.
"""

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import smmapi
import trio.testing

from conftest import KEY, URL

pytestmark = pytest.mark.anyio


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> Any:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(3600):  # virtual seconds: a hang still fails, at once
        yield


class Scripted:
    """Answers each request with the next scripted response (the last one repeats); notes times."""

    def __init__(self, *responses: httpx.Response | Callable[[], httpx.Response]) -> None:
        self.responses = list(responses)
        self.times: list[float] = []
        self.actions: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(anyio.current_time())
        self.actions.append(dict(parse_qsl(request.content.decode()))["action"])
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return response() if callable(response) else response

    def gaps(self) -> list[float]:
        return [round(b - a, 6) for a, b in zip(self.times, self.times[1:], strict=False)]


BALANCE = httpx.Response(200, json={"balance": "1.00", "currency": "USD"})


def client_for(panel: Scripted, **options: Any) -> smmapi.AsyncClient:
    return smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel), **options)


async def test_rate_limit_spaces_requests_evenly():
    panel = Scripted(BALANCE)
    with bounded():
        async with client_for(panel, rate_limit=5) as client, anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(client.balance)
    assert len(panel.times) == 10
    assert panel.gaps() == [0.2] * 9


async def test_rate_limit_counts_retries_too():
    panel = Scripted(httpx.Response(503), httpx.Response(503), BALANCE)
    with bounded():
        async with client_for(panel, rate_limit=2, retry_backoff=0) as client:
            await client.balance()
    assert panel.gaps() == [0.5, 0.5]


async def test_backoff_doubles_with_full_jitter_up_to_the_retries_allowed():
    panel = Scripted(httpx.Response(503))
    with bounded():
        async with client_for(panel, max_retries=4, retry_backoff=1) as client:
            with pytest.raises(smmapi.HTTPStatusError):
                await client.balance()
    gaps = panel.gaps()
    assert len(gaps) == 4
    for attempt, gap in enumerate(gaps):
        assert 0 <= gap <= 2**attempt


@pytest.mark.parametrize(
    ("response", "wait"),
    [
        pytest.param(httpx.Response(429, headers={"Retry-After": "7"}), 7.0, id="retry-after-seconds"),
        pytest.param(
            httpx.Response(200, json={"error": "Spam protection, wait 5 seconds"}), 5.0, id="wait-n-seconds"
        ),
        pytest.param(httpx.Response(503, headers={"Retry-After": "3"}), None, id="503-jitter"),
    ],
)
async def test_a_delay_the_panel_asks_for_is_honoured(response, wait):
    panel = Scripted(response, BALANCE)
    with bounded():
        async with client_for(panel, retry_backoff=0.5) as client:
            assert (await client.balance()).balance == 1
    if wait is None:
        assert 0 <= panel.gaps()[0] <= 0.5
    else:
        assert panel.gaps() == [wait]


async def test_retry_after_an_http_date_is_honoured():
    when = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})  # long past
    panel = Scripted(when, BALANCE)
    with bounded():
        async with client_for(panel, retry_backoff=0.5) as client:
            await client.balance()
    assert panel.gaps() == [0.0]


async def test_a_delay_beyond_the_cap_is_not_waited_for():
    panel = Scripted(httpx.Response(429, headers={"Retry-After": "600"}), BALANCE)
    with bounded():
        async with client_for(panel, retry_backoff=0.5) as client:
            with pytest.raises(smmapi.RateLimitedError) as caught:
                await client.balance()
    assert caught.value.retry_after == 600
    assert len(panel.times) == 1


async def test_max_retries_zero_sends_once():
    panel = Scripted(httpx.Response(503))
    with bounded():
        async with client_for(panel, max_retries=0) as client:
            with pytest.raises(smmapi.HTTPStatusError):
                await client.balance()
    assert len(panel.times) == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_backoff_does_not_hold_a_request_slot(backend):
    """With one slot: balance, queued while status is in flight, goes before status's retry."""
    actions: list[str] = []

    async def main() -> None:
        gate = anyio.Event()

        async def answer(request: httpx.Request) -> httpx.Response:
            form = dict(parse_qsl(request.content.decode()))
            actions.append(form["action"])
            if form["action"] == "balance":
                return BALANCE
            if len(actions) == 1:
                await gate.wait()
                return httpx.Response(503)
            return httpx.Response(200, json={"1": {"status": "Pending"}})

        transport = httpx.MockTransport(answer)
        with anyio.fail_after(10):
            client = smmapi.AsyncClient(
                URL, KEY, transport=transport, max_concurrency=1, batch_window=0, retry_backoff=0
            )
            async with client, anyio.create_task_group() as group:
                group.start_soon(client.status, 1)
                await anyio.wait_all_tasks_blocked()  # status holds the one slot, at the gate
                group.start_soon(client.balance)
                await anyio.wait_all_tasks_blocked()  # balance waits for the slot
                gate.set()

    anyio.run(main, backend=backend)
    assert actions == ["status", "balance", "status"]


async def test_a_caller_may_bound_a_call_and_the_client_stays_healthy():
    hold = anyio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if form.get("link") == "https://example.com/slow" or form.get("order") == "1":
            await hold.wait()
        if form["action"] == "add":
            return httpx.Response(200, json={"order": 9})
        return httpx.Response(200, json={"status": "Completed"})

    with bounded():
        async with smmapi.AsyncClient(
            URL, KEY, transport=httpx.MockTransport(slow), batch_window=0
        ) as client:
            with pytest.raises(TimeoutError):
                with anyio.fail_after(5):
                    await client.status(1)
            with pytest.raises(TimeoutError):
                with anyio.fail_after(5):
                    await client.add(service=1, link="https://example.com/slow", quantity=100)
            assert (await client.status(2)).status == "Completed"
            assert await client.add(service=1, link="https://example.com/fast", quantity=100) == 9


async def test_each_request_logs_one_debug_line_with_its_fields(caplog):
    caplog.set_level(logging.DEBUG, logger="smmapi")
    panel = Scripted(httpx.Response(503), lambda: httpx.Response(200, json={"1": {"status": "Pending"}}))
    with bounded():
        async with client_for(panel, retry_backoff=0) as client:
            await client.statuses([1])
    records = [r for r in caplog.records if r.name == "smmapi" and hasattr(r, "smm_action")]
    assert [(r.smm_action, r.smm_ids, r.smm_status_code, r.smm_retry) for r in records] == [
        ("status", 1, 503, 0),
        ("status", 1, 200, 1),
    ]
    assert all(r.levelno == logging.DEBUG and r.smm_elapsed >= 0 for r in records)
    assert "status: 1 IDs, HTTP 503" in records[0].getMessage()


async def test_the_rate_limit_holds_when_callers_queued_for_a_request_slot():
    held = anyio.Event()
    times: list[float] = []

    async def panel(request: httpx.Request) -> httpx.Response:
        times.append(anyio.current_time())
        if len(times) <= 2:
            await held.wait()
        return BALANCE

    with bounded():
        client = smmapi.AsyncClient(
            URL, KEY, transport=httpx.MockTransport(panel), rate_limit=10, max_concurrency=2
        )
        async with client, anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(client.balance)
            await anyio.sleep(1)
            held.set()
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps[0] == 0.1
    assert gaps[2] == 0.1  # the two that waited for a slot do not go out together


async def test_a_cancelled_add_still_finishes_and_its_outcome_is_logged(caplog):
    caplog.set_level(logging.WARNING, logger="smmapi")
    placed: list[float] = []

    async def panel(request: httpx.Request) -> httpx.Response:
        placed.append(anyio.current_time())
        await anyio.sleep(5)  # the panel is slow to answer, but has taken the order
        return httpx.Response(200, json={"order": 99999})

    with bounded():
        async with client_for_transport(httpx.MockTransport(panel)) as client:
            with anyio.move_on_after(1) as scope:
                await client.add(service=1, link="https://example.com/p/1", quantity=100)
    assert scope.cancelled_caught
    assert len(placed) == 1
    (warning,) = [r for r in caplog.records if "after its caller left" in r.getMessage()]
    assert "99999" in warning.getMessage()


def client_for_transport(transport: httpx.AsyncBaseTransport, **options: Any) -> smmapi.AsyncClient:
    return smmapi.AsyncClient(URL, KEY, transport=transport, **options)


async def test_aclose_waits_for_what_is_in_flight_at_most_thirty_seconds():
    late = anyio.Event()

    async def never(request: httpx.Request) -> httpx.Response:
        await late.wait()  # the mock transport ignores timeouts: the test ends the request
        return httpx.Response(200, json={"1": {"status": "Completed"}})

    outcome: list[BaseException] = []
    with bounded():
        # Each request may take 10 + 20 + 20 + 20 seconds; closing waits at most 30 of them.
        client = client_for_transport(httpx.MockTransport(never), timeout=20.0, batch_window=0)

        async def ask() -> None:
            try:
                await client.status(1)
            except smmapi.SmmError as error:
                outcome.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            started = anyio.current_time()
            await client.aclose()
            closed_after = anyio.current_time() - started
            late.set()
    assert closed_after == 30
    assert [type(error) for error in outcome] == [smmapi.ClientClosedError]


async def test_aclose_can_itself_be_bounded():
    async def never(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    with bounded():
        client = client_for_transport(httpx.MockTransport(never), batch_window=0)
        async with anyio.create_task_group() as group:
            group.start_soon(client.balance)
            await anyio.wait_all_tasks_blocked()
            started = anyio.current_time()
            with anyio.move_on_after(1):
                await client.aclose()
            assert anyio.current_time() - started == 1
            group.cancel_scope.cancel()
        with pytest.raises(smmapi.ClientClosedError):
            await client.balance()


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        pytest.param(None, TypeError, id="none"),
        pytest.param("10", TypeError, id="text"),
        pytest.param(-1, smmapi.ValidationError, id="negative"),
        pytest.param(0, smmapi.ValidationError, id="zero"),
    ],
)
def test_a_bad_timeout_is_refused(timeout, error):
    with pytest.raises(error):
        smmapi.AsyncClient(URL, KEY, timeout=timeout)


async def test_a_request_that_trickles_on_is_cut_off_at_its_whole_bound():
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(3600)  # each step within httpx's limits, the whole far beyond
        return BALANCE

    with bounded():
        async with client_for_transport(httpx.MockTransport(slow), timeout=1.0, max_retries=0) as client:
            started = anyio.current_time()
            with pytest.raises(smmapi.RequestTimeoutError):
                await client.balance()
            assert anyio.current_time() - started == 4  # connect + write + read + pool


async def test_a_call_waiting_for_its_turn_when_the_client_closes_gets_the_closed_client_error():
    outcomes: list[Any] = []

    with bounded():
        client = client_for_transport(httpx.MockTransport(lambda request: BALANCE), rate_limit=1)

        async def ask() -> None:
            try:
                outcomes.append(await client.balance())
            except smmapi.SmmError as error:
                outcomes.append(error)

        async with anyio.create_task_group() as group:
            await ask()  # takes the rate limit's turn
            group.start_soon(ask)  # waits a second for the next turn, nothing in flight
            await anyio.wait_all_tasks_blocked()
            await client.aclose()  # closes the HTTP client under it at once
    assert outcomes[0].balance == 1
    assert isinstance(outcomes[1], smmapi.ClientClosedError)
