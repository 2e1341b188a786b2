"""The batcher through the client: many callers, few bulk requests, each caller its own answer.

Every test runs on asyncio and trio, counts requests at the transport, reaches "everyone is
queued" with anyio.wait_all_tasks_blocked() or a held request slot, and is bounded by fail_after.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import attrs
import httpx
import pytest
import smmapi
import trio.testing
from smmapi._lookups import SPECS

from conftest import KEY, URL

pytestmark = pytest.mark.anyio

LIMIT = 10  # seconds any test may take
#: Trio's MockClock jumps to the next deadline whenever every task waits: a wait on the clock shows.
ON_A_JUMPING_CLOCK = pytest.mark.parametrize(
    "anyio_backend",
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio")],
)


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(LIMIT):
        yield


@attrs.define
class BulkPanel:
    """Answers the bulk forms; can hold requests at a gate and counts them in flight."""

    unknown: set[int] = attrs.Factory(set)  # answered {"error": "Incorrect order ID"}
    refused: dict[int, str] = attrs.Factory(dict)  # answered {"error": <the text>}
    missing: set[int] = attrs.Factory(set)  # left out of the answer
    lone_refill: bool = False  # answer a bulk refill with one {"refill": ...}
    fail: httpx.Response | None = None
    gates: dict[str, anyio.Event] = attrs.Factory(dict)  # action -> held until set
    requests: list[dict[str, str]] = attrs.Factory(list)
    finished: list[dict[str, str]] = attrs.Factory(list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.requests.append(form)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            gate = self.gates.get(form["action"])
            if gate is not None:
                await gate.wait()
        finally:
            self.in_flight -= 1
        self.finished.append(form)
        if self.fail is not None:
            return self.fail
        return httpx.Response(200, json=self.answer(form))

    def answer(self, form: dict[str, str]) -> Any:  # noqa: PLR0911  (one return per action)
        action = form["action"]
        if action == "balance":
            return {"balance": "1.00", "currency": "USD"}
        ids = asked_ids(form)
        asked = [i for i in ids if i not in self.missing]
        spec = SPECS[action]

        def error_or(i: int, item: Any) -> Any:
            if i in self.refused:
                return {"error": self.refused[i]}
            return {"error": "Incorrect order ID"} if i in self.unknown else item

        if spec.single in form:  # the single form: a single answer
            (one,) = ids
            bulk = {name: value for name, value in form.items() if name != spec.single}
            single = self.answer({**bulk, spec.bulk: str(one)})
            if isinstance(single, list):
                return single[0]
            return single.get(str(one), single)
        if action in ("status", "product_order_status"):
            item = {"charge": "1.5", "start_count": "10", "status": "In progress", "remains": "5"}
            return {str(i): error_or(i, item) for i in asked}
        if action == "refill":
            if self.lone_refill:
                return {"refill": "77"}
            return [{"order": i, "refill": error_or(i, i + 1000)} for i in asked]
        if action == "cancel":
            return [{"order": i, "cancel": error_or(i, 1)} for i in asked]
        if action == "refill_status":
            return [{"refill": i, "status": error_or(i, "Completed")} for i in asked]
        raise AssertionError(action)

    def ids_sent(self, action: str = "status") -> list[list[int]]:
        """The IDs of each request of ``action``, sorted (trio starts tasks in random order)."""
        return [sorted(asked_ids(form)) for form in self.requests if form["action"] == action]


def asked_ids(form: dict[str, str]) -> list[int]:
    """The IDs a request asks, in the single form (``order=1``) or the bulk one (``orders=1,2``)."""
    spec = SPECS[form["action"]]
    text = form[spec.single] if spec.single in form else form[spec.bulk]
    return [int(i) for i in text.split(",")]


@pytest.fixture(name="bulk")
def _bulk() -> BulkPanel:
    return BulkPanel()


@pytest.fixture(name="connect")
def _connect(bulk: BulkPanel) -> Callable[..., smmapi.AsyncClient]:
    def connect(**options: Any) -> smmapi.AsyncClient:
        options.setdefault("batch_window", 0)
        options.setdefault("retry_backoff", 0)
        return smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(bulk), **options)

    return connect


async def gather(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call concurrently; each result is its value or its exception."""
    results: list[Any] = [None] * len(calls)

    async def run(index: int) -> None:
        try:
            results[index] = await calls[index]()
        except smmapi.SmmError as error:
            results[index] = error

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index)
    return results


async def test_a_thousand_status_calls_make_ten_requests_of_a_hundred(bulk, connect):
    with bounded():
        async with connect(batch_window=60) as client:
            results = await gather([lambda i=i: client.status(i) for i in range(1, 1001)])
    assert [len(ids) for ids in bulk.ids_sent()] == [100] * 10
    assert sorted(i for ids in bulk.ids_sent() for i in ids) == list(range(1, 1001))
    assert [status.order for status in results] == list(range(1, 1001))
    assert all(status.status is smmapi.OrderState.IN_PROGRESS for status in results)


async def test_ten_thousand_concurrent_status_calls_make_exactly_a_hundred_requests_by_default(bulk):
    with bounded():
        async with smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(bulk)) as client:
            results = await gather([lambda i=i: client.status(i) for i in range(1, 10_001)])
    assert [len(ids) for ids in bulk.ids_sent()] == [100] * 100
    assert sorted(i for ids in bulk.ids_sent() for i in ids) == list(range(1, 10_001))
    assert [status.order for status in results] == list(range(1, 10_001))


@ON_A_JUMPING_CLOCK
async def test_a_lone_lookup_waits_for_no_clock_by_default(bulk):
    with bounded():
        async with smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(bulk)) as client:
            started = anyio.current_time()
            status = await client.status(1)
            many = await client.statuses([2, 3])
            assert anyio.current_time() == started
    assert status.order == 1
    assert list(many) == [2, 3]
    assert bulk.ids_sent() == [[1], [2, 3]]


@ON_A_JUMPING_CLOCK
async def test_a_window_set_by_the_user_still_holds_a_lone_lookup_that_long(bulk):
    with bounded():
        async with smmapi.AsyncClient(
            URL, KEY, transport=httpx.MockTransport(bulk), batch_window=0.25
        ) as client:
            started = anyio.current_time()
            await client.status(1)
            assert anyio.current_time() - started == pytest.approx(0.25)


async def test_lookups_that_arrive_while_every_slot_is_busy_fill_one_batch_sent_when_a_slot_frees(bulk):
    gate = bulk.gates["status"] = anyio.Event()
    with bounded():
        async with (
            smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(bulk), max_concurrency=1) as client,
            anyio.create_task_group() as group,
        ):
            group.start_soon(client.status, 1)  # alone: sent at once, holds the only slot
            await anyio.wait_all_tasks_blocked()
            assert bulk.ids_sent() == [[1]]
            for i in range(2, 8):  # one by one, each after the others are waiting
                group.start_soon(client.status, i)
                await anyio.wait_all_tasks_blocked()
            assert bulk.ids_sent() == [[1]]
            gate.set()
    assert bulk.ids_sent() == [[1], list(range(2, 8))]


async def test_mixed_single_and_bulk_calls_share_the_queue(bulk, connect):
    calls: list[Callable[[], Any]] = []
    for i in range(1, 251):
        if i % 5:
            calls.append(lambda i=i: client.status(i))
        else:
            calls.append(lambda i=i: client.statuses([i, i + 1000]))
    with bounded():
        async with connect(batch_window=0) as client:
            results = await gather(calls)
    sent = [i for ids in bulk.ids_sent() for i in ids]
    assert sorted(sent) == sorted(set(range(1, 251)) | {i + 1000 for i in range(5, 251, 5)})
    assert len(bulk.requests) == -(-len(sent) // 100)
    for i, result in zip(range(1, 251), results, strict=True):
        if i % 5:
            assert result.order == i
        else:
            assert list(result) == [i, i + 1000]
            assert result[i].order == i


async def test_the_window_collects_callers_scheduled_together(bulk, connect):
    with bounded():
        async with connect(batch_window=0) as client:
            await gather([lambda i=i: client.status(i) for i in range(1, 31)])
    assert bulk.ids_sent() == [list(range(1, 31))]


async def test_a_full_batch_is_sent_without_waiting_for_the_window(bulk, connect):
    with bounded():
        async with connect(batch_window=3600, max_batch_size=5) as client:
            results = await gather([lambda i=i: client.status(i) for i in range(1, 11)])
    assert [len(ids) for ids in bulk.ids_sent()] == [5, 5]
    assert [r.order for r in results] == list(range(1, 11))


@pytest.mark.parametrize(
    ("method", "action"),
    [
        pytest.param("status", "status", id="status"),
        pytest.param("product_order_status", "product_order_status", id="product-order-status"),
        pytest.param("refill_status", "refill_status", id="refill-status"),
        pytest.param("refill", "refill", id="refill-write"),
        pytest.param("cancel", "cancel", id="cancel-write"),
    ],
)
async def test_a_repeated_id_is_sent_once_and_every_caller_gets_the_answer(bulk, connect, method, action):
    with bounded():
        async with connect() as client:
            results = await gather(
                [lambda: getattr(client, method)(7)] * 5 + [lambda: getattr(client, method)(8)]
            )
    assert bulk.ids_sent(action) == [[7, 8]]
    assert all(result == results[0] for result in results[:5])


async def test_an_id_asked_while_in_flight_joins_it_and_is_sent_again_once_answered(bulk, connect):
    gate = bulk.gates["status"] = anyio.Event()
    results: list[Any] = []

    async def ask() -> None:
        results.append(await client.status(7))

    with bounded():
        async with connect() as client:
            async with anyio.create_task_group() as group:
                group.start_soon(ask)
                await anyio.wait_all_tasks_blocked()  # the first request is in flight
                group.start_soon(ask)
                await anyio.wait_all_tasks_blocked()  # the second caller joined it
                assert bulk.ids_sent() == [[7]]
                gate.set()
            again = await client.status(7)
    assert len(results) == 2
    assert results[0] == results[1] == again
    assert bulk.ids_sent() == [[7], [7]]


async def test_an_id_missing_from_the_answer_fails_only_its_caller(bulk, connect):
    bulk.missing = {3}
    with bounded():
        async with connect() as client:
            results = await gather([lambda i=i: client.status(i) for i in (1, 2, 3)])
    assert [r.order for r in results[:2]] == [1, 2]
    assert isinstance(results[2], smmapi.SmmError)
    assert "3" in str(results[2])


@pytest.mark.parametrize("method", ["refill", "cancel"])
async def test_a_write_missing_from_the_answer_is_an_unknown_outcome(bulk, connect, method):
    bulk.missing = {3}
    with bounded():
        async with connect() as client:
            results = await gather([lambda i=i: getattr(client, method)(i) for i in (1, 2, 3)])
    assert not isinstance(results[0], Exception)
    assert isinstance(results[2], smmapi.OutcomeUnknownError)
    assert results[2].action == method
    assert results[2].fields == {"orders": "3"}


async def test_a_per_item_error_fails_only_its_caller(bulk, connect):
    bulk.unknown = {2}
    with bounded():
        async with connect() as client:
            results = await gather([lambda i=i: client.status(i) for i in (1, 2, 3)])
            refills = await gather([lambda i=i: client.refill(i) for i in (1, 2)])
    assert isinstance(results[1], smmapi.UnknownIdError)
    assert str(results[1]) == "Incorrect order ID"
    assert [results[0].order, results[2].order] == [1, 3]
    assert refills[0] == 1001
    assert isinstance(refills[1], smmapi.UnknownIdError)
    assert client.stats().item_errors == 2


@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(
            httpx.Response(200, json={"error": "Invalid API key"}),
            smmapi.AuthenticationError,
            id="top-level-error",
        ),
        pytest.param(httpx.Response(502, text="<html>502</html>"), smmapi.HTTPStatusError, id="http-502"),
    ],
)
async def test_a_failed_request_fails_each_of_its_callers(bulk, connect, response, error):
    bulk.fail = response
    with bounded():
        async with connect(max_retries=0) as client:
            results = await gather([lambda i=i: client.status(i) for i in (1, 2, 3)])
    assert all(isinstance(result, error) for result in results)
    assert len(bulk.requests) == 1
    assert client.stats().request_failures == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(502, text="<html>502</html>"), id="http-502"),
        pytest.param(httpx.Response(429, json={"error": "Too many requests"}), id="rate-limited"),
    ],
)
async def test_a_bulk_call_hands_a_failed_request_that_passes_to_each_id(bulk, connect, response):
    bulk.fail = response
    with bounded():
        async with connect(max_retries=0) as client:
            many = await client.statuses([4, 5])
    assert [type(error) for error in many.values()] == [type(many[4])] * 2
    assert isinstance(many[4], smmapi.HTTPStatusError | smmapi.RateLimitedError)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("Invalid API key", smmapi.AuthenticationError, id="refused-key"),
        pytest.param("Not enough funds on balance", smmapi.InsufficientFundsError, id="no-funds"),
    ],
)
@pytest.mark.parametrize("method", ["statuses", "refills", "cancels", "refill_statuses"])
async def test_a_bulk_call_raises_an_account_error_every_id_got(bulk, connect, method, text, error):
    bulk.fail = httpx.Response(200, json={"error": text})
    with bounded():
        async with connect(max_retries=0) as client:
            with pytest.raises(error):
                await getattr(client, method)(range(1, 251))
    assert len(bulk.requests) == 3


async def test_a_bulk_read_raises_an_account_error_that_only_some_ids_got(bulk, connect):
    bulk.refused = {2: "Invalid API key"}
    bulk.unknown = {3}
    with bounded():
        async with connect() as client:
            with pytest.raises(smmapi.AuthenticationError):
                await client.statuses([1, 2, 3])


async def test_a_bulk_write_never_hides_an_outcome_behind_an_account_error(bulk, connect):
    bulk.refused = {2: "Not enough funds on balance"}
    with bounded():
        async with connect() as client:
            refills = await client.refills([1, 2])
    assert refills[1] == 1001
    assert isinstance(refills[2], smmapi.InsufficientFundsError)


async def test_callers_cancelled_before_sending_leave_and_the_leader_hands_over(bulk, connect):
    hold = bulk.gates["balance"] = anyio.Event()
    with bounded():
        async with connect(max_concurrency=1) as client, anyio.create_task_group() as outer:
            outer.start_soon(client.balance)  # holds the one request slot
            await anyio.wait_all_tasks_blocked()
            scopes = [anyio.CancelScope() for _ in range(100)]
            results: dict[int, Any] = {}

            async def ask(i: int) -> None:
                with scopes[i - 1]:
                    results[i] = await client.status(i)

            async with anyio.create_task_group() as group:
                for i in range(1, 101):  # order 1 opens the batch and leads it
                    group.start_soon(ask, i)
                    if i == 1:
                        await anyio.wait_all_tasks_blocked()
                await anyio.wait_all_tasks_blocked()
                for i in range(1, 101, 4):  # a quarter, the leader (order 1) among them
                    scopes[i - 1].cancel()
                await anyio.wait_all_tasks_blocked()
                hold.set()
    cancelled = set(range(1, 101, 4))
    assert bulk.ids_sent() == [[i for i in range(1, 101) if i not in cancelled]]
    assert sorted(results) == sorted(set(range(1, 101)) - cancelled)
    assert all(results[i].order == i for i in results)


async def test_a_read_cut_off_in_flight_is_sent_again_by_the_next_leader(bulk, connect):
    gate = bulk.gates["status"] = anyio.Event()
    with bounded():
        async with connect(batch_window=3600, max_batch_size=8) as client:
            scopes = [anyio.CancelScope() for _ in range(8)]
            results: dict[int, Any] = {}

            async def ask(i: int) -> None:
                with scopes[i - 1]:
                    results[i] = await client.status(i)

            async with anyio.create_task_group() as group:
                for i in range(1, 9):  # order 1 opens the batch and leads it; order 8 fills it
                    group.start_soon(ask, i)
                    await anyio.wait_all_tasks_blocked()
                assert bulk.ids_sent() == [list(range(1, 9))]
                scopes[0].cancel()  # the leader
                scopes[1].cancel()
                await anyio.wait_all_tasks_blocked()
                gate.set()
    assert bulk.ids_sent() == [list(range(1, 9)), list(range(3, 9))]
    assert sorted(results) == list(range(3, 9))


async def test_a_sent_refill_completes_once_after_every_caller_left(bulk, connect, caplog):
    gate = bulk.gates["refill"] = anyio.Event()
    caplog.set_level(logging.WARNING, logger="smmapi")
    with bounded():
        async with connect(batch_window=3600, max_batch_size=3) as client:
            async with anyio.create_task_group() as group:
                for i in (1, 2, 3):  # order 1 leads; order 3 fills the batch
                    group.start_soon(client.refill, i)
                    await anyio.wait_all_tasks_blocked()
                assert bulk.in_flight == 1
                group.cancel_scope.cancel()
                gate.set()
            assert bulk.finished == bulk.requests
            assert bulk.ids_sent("refill") == [[1, 2, 3]]
            # The client is healthy afterwards (three IDs fill a batch: no hour-long window).
            assert await client.refills([1, 2, 3]) == {1: 1001, 2: 1002, 3: 1003}
    # The leader was inside the shielded request and still received its answer; the others left.
    warnings = " ".join(r.getMessage() for r in caplog.records if "after every caller left" in r.getMessage())
    assert "1002" in warnings
    assert "1003" in warnings
    assert "1001" not in warnings


async def test_a_lone_refill_answer_for_several_ids_is_unknown_and_refills_go_one_by_one(bulk, connect):
    bulk.lone_refill = True
    with bounded():
        async with connect() as client:
            results = await gather([lambda i=i: client.refill(i) for i in (1, 2, 3)])
            assert all(isinstance(result, smmapi.OutcomeUnknownError) for result in results)
            assert all(result.answer == {"refill": "77"} for result in results)
            again = await gather([lambda i=i: client.refill(i) for i in (4, 5)])
    assert again == [77, 77]
    assert bulk.ids_sent("refill")[0] == [1, 2, 3]
    assert sorted(bulk.ids_sent("refill")[1:]) == [[4], [5]]


async def test_the_concurrency_cap_holds_and_a_waiting_batch_keeps_filling(bulk, connect):
    gate = bulk.gates["status"] = anyio.Event()
    client = connect(max_concurrency=2, max_batch_size=10)
    with bounded():
        async with client, anyio.create_task_group() as group:
            for i in range(1, 26):
                group.start_soon(client.status, i)
                if i in (1, 2):  # two batches of one reach the panel and hold both slots
                    await anyio.wait_all_tasks_blocked()
            await anyio.wait_all_tasks_blocked()
            assert bulk.in_flight == 2
            gate.set()
    assert bulk.most_in_flight == 2
    assert bulk.ids_sent()[:2] == [[1], [2]]
    assert sorted(len(ids) for ids in bulk.ids_sent()[2:]) == [3, 10, 10]


async def test_aclose_sends_queued_batches_at_once_and_awaits_those_in_flight(bulk, connect):
    gate = bulk.gates["status"] = anyio.Event()
    with bounded():
        client = connect(batch_window=3600, max_batch_size=2)
        results: dict[int, Any] = {}

        async def ask(i: int) -> None:
            results[i] = await client.status(i)

        async with anyio.create_task_group() as group:
            for i in (1, 2, 3):  # 1 and 2 fill a batch and go; 3 waits for an hour-long window
                group.start_soon(ask, i)
                await anyio.wait_all_tasks_blocked()
            assert bulk.ids_sent() == [[1, 2]]
            group.start_soon(client.aclose)
            await anyio.wait_all_tasks_blocked()
            assert bulk.ids_sent() == [[1, 2], [3]]
            gate.set()
    assert sorted(results) == [1, 2, 3]
    with pytest.raises(smmapi.ClientClosedError):
        await client.status(4)
    with pytest.raises(smmapi.ClientClosedError):
        await client.statuses([4])


async def test_a_client_without_async_with_coalesces_the_same_way(bulk, connect):
    client = connect()
    try:
        with bounded():
            results = await gather([lambda i=i: client.status(i) for i in range(1, 51)])
    finally:
        await client.aclose()
    assert bulk.ids_sent() == [list(range(1, 51))]
    assert [r.order for r in results] == list(range(1, 51))


async def test_stats_count_lookups_requests_and_ids_per_request(bulk, connect):
    with bounded():
        async with connect() as client:
            await gather([lambda i=i: client.status(i) for i in range(1, 151)] + [lambda: client.status(1)])
            stats = client.stats()
    assert stats.lookups == 151
    assert stats.ids_sent == 150
    assert stats.bulk_requests == 2
    assert stats.requests == 2
    assert stats.requests_by_action == {"status": 2}
    assert stats.ids_per_request == 75.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.lookups = 0  # type: ignore[misc]


async def test_a_batch_whose_leader_and_heir_both_left_is_closed_not_stuck(bulk, connect):
    with bounded():
        async with connect(batch_window=3600, max_batch_size=3) as client:
            scopes: dict[str, anyio.CancelScope] = {}

            async def ask(name: str, order: int) -> None:
                with anyio.CancelScope() as scope:
                    scopes[name] = scope
                    await client.status(order)

            async with anyio.create_task_group() as group:
                group.start_soon(ask, "leader", 1)
                await anyio.wait_all_tasks_blocked()
                group.start_soon(ask, "heir", 1)
                await anyio.wait_all_tasks_blocked()
                scopes["leader"].cancel()  # hands the batch over to the heir ...
                scopes["heir"].cancel()  # ... who leaves before taking it
            # Three new IDs fill a batch: it is sent at once, not joined to the abandoned one.
            results = await gather([lambda i=i: client.status(i) for i in (2, 3, 4)])
    assert [r.order for r in results] == [2, 3, 4]
    assert bulk.ids_sent() == [[2, 3, 4]]


def test_a_write_cut_off_by_plain_asyncio_cancellation_is_an_unknown_outcome_for_who_joined_it(bulk, connect):
    """asyncio's Task.cancel() goes through anyio's shields: the joined caller must not be told less."""
    import asyncio  # noqa: PLC0415

    async def main() -> Any:
        gate = bulk.gates["refill"] = anyio.Event()
        with anyio.fail_after(LIMIT):
            return await joined_error(gate)

    async def joined_error(gate: anyio.Event) -> Any:
        async with connect() as client:
            leader = asyncio.ensure_future(client.refill(1))
            await anyio.wait_all_tasks_blocked()
            joined = asyncio.ensure_future(client.refill(1))
            await anyio.wait_all_tasks_blocked()
            leader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await leader
            gate.set()
            with pytest.raises(smmapi.OutcomeUnknownError) as caught:
                await joined
            return caught.value

    error = asyncio.run(main())
    assert error.action == "refill"
    assert error.fields == {"orders": "1"}


@pytest.mark.parametrize("answer", [pytest.param("ok", id="bare-text"), pytest.param(True, id="bare-true")])
async def test_a_write_answer_that_cannot_be_split_is_an_unknown_outcome(bulk, connect, answer):
    async def unsplittable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    with bounded():
        async with smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(unsplittable)) as client:
            results = await client.cancels([1, 2])
    assert all(isinstance(error, smmapi.OutcomeUnknownError) for error in results.values())
    assert [error.fields for error in results.values()] == [{"orders": "1"}, {"orders": "2"}]


async def test_each_caller_of_a_failed_write_batch_gets_an_error_naming_its_own_order(bulk, connect):
    bulk.fail = httpx.Response(502, text="<html>502</html>")
    with bounded():
        async with connect(batch_window=3600, max_batch_size=3) as client:
            results = await gather([lambda i=i: client.cancel(i) for i in (1, 2, 3)])
            stats = client.stats()
    assert [type(error) for error in results] == [smmapi.OutcomeUnknownError] * 3
    assert sorted(error.fields["orders"] for error in results) == ["1", "2", "3"]
    assert all(isinstance(error.__cause__, smmapi.HTTPStatusError) for error in results)
    assert stats.request_failures == 1
    assert len(bulk.requests) == 1  # a write is never sent twice


@pytest.mark.parametrize(
    ("answer", "method", "error", "text"),
    [
        pytest.param(
            [{"order": 1, "refill": "Incorrect order ID"}],
            "refills",
            smmapi.UnknownIdError,
            "Incorrect order ID",
            id="refill-bare-text",
        ),
        pytest.param(
            [{"order": 1, "cancel": "Order is not cancellable now"}],
            "cancels",
            smmapi.PanelError,
            "Order is not cancellable now",
            id="cancel-bare-text",
        ),
        pytest.param(
            [{"refill": 1, "status": "Incorrect refill ID"}],
            "refill_statuses",
            smmapi.UnknownIdError,
            "Incorrect refill ID",
            id="refill-status-bare-text",
        ),
        pytest.param(
            [{"order": 1, "error": "Incorrect order ID"}],
            "refills",
            smmapi.UnknownIdError,
            "Incorrect order ID",
            id="error-beside-id",
        ),
    ],
)
async def test_a_bare_text_in_a_list_item_is_that_ids_panel_error(answer, method, error, text):
    async def panel(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    with bounded():
        async with smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel)) as client:
            result = (await getattr(client, method)([1]))[1]
    assert type(result) is error
    assert str(result) == text
