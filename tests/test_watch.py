"""watch(): follow orders until final, with backoff, on a virtual clock (trio's MockClock)."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import smmapi
import trio.testing
from smmapi.testing import FakePanel

from conftest import KEY, URL, FollowTheClock

pytestmark = pytest.mark.anyio


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> Any:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(100_000):  # virtual seconds: a hang still fails, at once
        yield


class Orders:
    """A panel whose order statuses the test sets; notes when each order was asked."""

    def __init__(self, **statuses: str) -> None:
        self.statuses = {int(order.lstrip("o")): status for order, status in statuses.items()}
        self.asked: dict[int, list[float]] = {}
        self.requests: list[list[int]] = []
        self.fail_next = 0
        self.failure = httpx.Response(503)
        self.item_errors: dict[int, str] = {}
        self.hold: anyio.Event | None = None  # while set, requests wait for it

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        ids = [int(i) for i in form.get("orders", form.get("order", "")).split(",")]
        self.requests.append(ids)
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            self.fail_next -= 1
            return self.failure
        for order in ids:
            self.asked.setdefault(order, []).append(anyio.current_time())
        return httpx.Response(
            200,
            json={
                str(i): {"error": self.item_errors[i]}
                if i in self.item_errors
                else {"status": self.statuses[i], "remains": "0"}
                if i in self.statuses
                else {"error": "Incorrect order ID"}
                for i in ids
            },
        )

    def client(self) -> smmapi.AsyncClient:
        return smmapi.AsyncClient(
            URL, KEY, transport=httpx.MockTransport(self), batch_window=0, retry_backoff=0, max_retries=0
        )


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


async def test_an_unchanged_order_is_asked_less_often_and_a_change_resets_it():
    panel = Orders(o1="In progress")
    with bounded():
        async with panel.client() as client, client.watch([1], interval=10, max_interval=60) as watch:
            first = await watch.__anext__()
            assert (first.id, first.value.status) == (1, "In progress")  # the first sighting counts
            with anyio.move_on_after(10 + 20 + 40 + 60 + 60 + 1):
                await watch.__anext__()  # nothing changes: it only polls, less and less often
            panel.statuses[1] = "Completed"
            last = await watch.__anext__()
            with pytest.raises(StopAsyncIteration):
                await watch.__anext__()
    assert gaps(panel.asked[1])[:5] == [10, 20, 40, 60, 60]
    assert (last.id, last.value.status, last.final) == (1, "Completed", True)


async def test_n_orders_cost_at_most_ceil_n_over_100_requests_a_round():
    panel = Orders(**{f"o{i}": "Pending" for i in range(1, 251)})
    with bounded():
        async with (
            panel.client() as client,
            client.watch(range(1, 251), interval=10, max_interval=10) as watch,
        ):
            for _ in range(250 * 3):  # three rounds: the first sees everyone, then no change
                if len(panel.requests) >= 9:
                    break
                with anyio.move_on_after(10):
                    await watch.__anext__()
    assert [sorted(len(ids) for ids in panel.requests[i : i + 3]) for i in (0, 3, 6)] == [[50, 100, 100]] * 3


async def test_an_unknown_order_yields_its_error_and_is_dropped():
    panel = Orders(o1="Completed")
    with bounded():
        async with panel.client() as client:
            updates = [update async for update in client.watch([1, 2], interval=10)]
    by_id = {update.id: update for update in updates}
    assert by_id[1].value.status == "Completed"
    assert isinstance(by_id[1], smmapi.Update)
    assert by_id[1].error is None
    assert isinstance(by_id[2], smmapi.FailedUpdate)
    assert isinstance(by_id[2].error, smmapi.UnknownIdError)
    assert by_id[2].value is None
    assert by_id[2].final
    assert len(updates) == 2


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        pytest.param(httpx.Response(503), smmapi.HTTPStatusError, id="http-503"),
        pytest.param(
            httpx.Response(200, json={"error": "Rate limit exceeded. Slow down."}),
            smmapi.RateLimitedError,
            id="rate-limited-panel-error",
        ),
    ],
)
async def test_a_failed_round_is_yielded_once_and_the_watch_goes_on(failure, error):
    panel = Orders(o1="Completed", o2="Completed")
    panel.fail_next = 1
    panel.failure = failure
    with bounded():
        async with panel.client() as client:
            updates = [update async for update in client.watch([1, 2], interval=10)]
    assert isinstance(updates[0], smmapi.FailedUpdate)
    assert updates[0].id is None
    assert not updates[0].final
    assert isinstance(updates[0].error, error)
    assert sorted(update.id for update in updates[1:]) == [1, 2]


async def test_orders_can_be_added_and_removed_while_it_runs():
    panel = Orders(o1="Pending", o2="Pending", o3="Completed")
    seen: list[int | None] = []
    with bounded():
        async with panel.client() as client, client.watch([1, 2], interval=10, until_done=False) as watch:
            async for update in watch:
                seen.append(update.id)
                if update.id == 2:
                    watch.remove([1, 2])
                    watch.add([3])
                if update.id == 3:
                    break
            assert watch.following == 0
    assert sorted(seen[:2]) == [1, 2]
    assert seen[2:] == [3]
    assert all(1 not in ids for ids in panel.requests[1:])


async def test_until_done_false_waits_for_new_orders():
    panel = Orders(o1="Completed", o2="Completed")
    with bounded():
        async with panel.client() as client, client.watch([1], interval=10, until_done=False) as watch:
            assert (await watch.__anext__()).id == 1
            with anyio.move_on_after(1000) as idle:
                await watch.__anext__()
            assert idle.cancelled_caught  # nothing to follow, still running
            watch.add([2])
            assert (await watch.__anext__()).id == 2
            assert len(panel.requests) == 2


@pytest.mark.parametrize(
    ("until_done", "end"),
    [
        (True, lambda watch: watch.remove([1])),
        (True, lambda watch: watch.aclose()),
        (False, lambda watch: watch.aclose()),
    ],
    ids=["remove-the-last", "aclose", "aclose-not-until-done"],
)
async def test_another_task_ending_the_watch_wakes_the_loop_waiting_on_it(until_done, end):
    panel = Orders(o1="Pending")
    seen: list[int | None] = []
    with bounded():
        async with panel.client() as client, client.watch([1], interval=10, until_done=until_done) as watch:

            async def follow() -> None:
                seen.extend([update.id async for update in watch])

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(follow)
                await anyio.sleep(5)  # the first round is done; the loop waits for the next at 10
                ending = end(watch)
                if ending is not None:
                    await ending
            finished = anyio.current_time()
    assert seen == [1]
    assert finished == 5  # at once, not at the next round nor at the bound
    assert len(panel.requests) == 1


async def test_leaving_the_async_with_ends_the_watch_and_cancelling_it_is_clean():
    panel = Orders(o1="Pending")
    with bounded():
        async with panel.client() as client:
            async with client.watch([1], interval=10) as watch:
                await watch.__anext__()
            with pytest.raises(StopAsyncIteration):
                await watch.__anext__()
            with anyio.move_on_after(35):
                async for _ in client.watch([1], interval=10):
                    pass
            asked = len(panel.requests)
            assert (await client.status(1)).status == "Pending"  # the client is healthy
    assert asked == 1 + 3  # one round of the first watch; three of the cancelled one (0, 10, 30)


async def test_bad_ids_and_options_are_refused_at_once():
    async with Orders().client() as client:
        with pytest.raises(TypeError):
            client.watch(["1"])
        with pytest.raises(smmapi.ValidationError):
            client.watch([1], interval=-1)
        with pytest.raises(smmapi.ValidationError):
            client.watch([1], timeout=-1)


async def test_watch_follows_a_fake_panel_until_every_order_is_final():
    panel = FakePanel(seed=3)
    client = smmapi.AsyncClient(panel.url, panel.key, transport=FollowTheClock(panel), batch_window=0)
    with bounded():
        async with client:
            orders = [
                await client.add(service=101, link=f"https://instagram.com/p/{i}", quantity=1000)
                for i in range(40)
            ]
            last: dict[int, Any] = {}
            async for update in client.watch(orders, interval=60, max_interval=600):
                assert update.error is None
                last[update.id] = update.value
            completed = [o for o, s in last.items() if s.status == "Completed"]
            refills = await client.refills(completed[:3])
            refill_ids = [r for r in refills.values() if isinstance(r, int)]
            refill_updates = [u async for u in client.watch_refills(refill_ids, interval=60)]
    assert sorted(last) == sorted(orders)
    assert all(status.status.is_final for status in last.values())
    assert {o: s.status for o, s in last.items()} == {o: panel.orders[o].status for o in orders}
    assert refill_ids
    last_refills = {update.id: update for update in refill_updates}
    assert set(last_refills) == set(refill_ids)
    assert all(update.final and update.value.status.is_final for update in last_refills.values())


def test_watch_runs_on_asyncio_too():
    panel = Orders(o1="Completed", o2="Partial")

    async def main() -> list[Any]:
        with anyio.fail_after(10):
            async with panel.client() as client:
                return [update async for update in client.watch([1, 2], interval=0)]

    updates = anyio.run(main, backend="asyncio")
    assert sorted((update.id, str(update.value.status)) for update in updates) == [
        (1, "Completed"),
        (2, "Partial"),
    ]


async def test_a_refused_key_ends_the_watch_with_its_error():
    panel = Orders(o1="Pending")
    panel.fail_next = 1
    panel.failure = httpx.Response(200, json={"error": "Invalid API key"})
    with bounded():
        async with panel.client() as client:
            with pytest.raises(smmapi.AuthenticationError):
                async for _ in client.watch([1], interval=10):
                    pass
    assert len(panel.requests) == 1


async def test_a_consumer_cancelled_mid_round_forgets_no_order():
    panel = Orders(o1="Pending", o2="Pending")
    panel.hold = anyio.Event()
    with bounded():
        async with panel.client() as client, client.watch([1, 2], interval=10) as watch:
            with anyio.move_on_after(5) as waited:
                await watch.__anext__()
            assert waited.cancelled_caught
            panel.hold = None
            panel.statuses.update({1: "Completed", 2: "Canceled"})
            updates = [update async for update in watch]
    assert sorted((update.id, update.value.status) for update in updates) == [
        (1, "Completed"),
        (2, "Canceled"),
    ]


async def test_a_refused_key_mid_round_forgets_no_order():
    panel = Orders(o1="Completed", o2="Completed")
    panel.fail_next = 1
    panel.failure = httpx.Response(200, json={"error": "Invalid API key"})
    with bounded():
        async with panel.client() as client, client.watch([1, 2], interval=10) as watch:
            with pytest.raises(smmapi.AuthenticationError):
                await watch.__anext__()
            updates = [update async for update in watch]  # the key works again
    assert sorted(update.id for update in updates) == [1, 2]


async def test_an_error_of_one_order_carries_its_id_and_the_order_stays_followed():
    panel = Orders(o1="Completed", o2="Pending")
    panel.item_errors[2] = "Service is temporarily unavailable"
    with bounded():
        async with panel.client() as client, client.watch([1, 2], interval=10) as watch:
            updates = [await watch.__anext__(), await watch.__anext__()]
            del panel.item_errors[2]
            panel.statuses[2] = "Completed"
            updates += [update async for update in watch]
    errors = [update for update in updates if update.error is not None]
    assert [(update.id, type(update.error)) for update in errors] == [(2, smmapi.PanelError)]
    assert not errors[0].final
    assert sorted(update.id for update in updates if update.error is None) == [1, 2]


# -- timeout ----------------------------------------------------------------------------------


async def test_a_timeout_ends_the_watch_with_the_ids_not_final():
    panel = Orders(o1="In progress", o2="Completed", o3="Pending")
    seen: list[int | None] = []

    async def follow(watch: smmapi.Watch[Any]) -> None:
        async for update in watch:
            seen.append(update.id)  # noqa: PERF401  (kept one by one: an error ends the loop)

    with bounded():
        async with panel.client() as client:
            started = anyio.current_time()
            with pytest.raises(smmapi.WatchTimeoutError) as caught:
                await follow(client.watch([1, 2, 3], interval=10, timeout=95))
            ended = anyio.current_time()
    assert sorted(seen) == [1, 2, 3]  # every first sighting came before the timeout
    assert ended - started == 95
    assert caught.value.unfinished == (1, 3)
    assert isinstance(caught.value, TimeoutError)
    assert "2 not final after the watch's timeout of 95 seconds: 1, 3" in str(caught.value)


async def test_a_round_in_flight_at_the_timeout_is_cut_off():
    held = anyio.Event()
    panel = Orders(o1="Pending")

    async def answer(request: httpx.Request) -> httpx.Response:
        if panel.requests:
            await held.wait()  # the second round never gets an answer
        return await panel(request)

    client = smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(answer), batch_window=0)
    with bounded():
        async with client:
            started = anyio.current_time()
            watch = client.watch([1], interval=10, timeout=30)
            await watch.__anext__()  # the first sighting
            with pytest.raises(smmapi.WatchTimeoutError) as caught:
                await watch.__anext__()
            assert anyio.current_time() - started == 30
            held.set()
    assert caught.value.unfinished == (1,)


async def test_a_watch_that_ends_before_its_timeout_ends_as_usual():
    panel = Orders(o1="Completed")
    with bounded():
        async with panel.client() as client:
            updates = [update async for update in client.watch([1], timeout=60)]
    assert [update.id for update in updates] == [1]


async def test_a_timeout_with_nothing_left_to_follow_just_ends():
    panel = Orders()
    with bounded():
        async with panel.client() as client:
            started = anyio.current_time()
            updates = [update async for update in client.watch([], until_done=False, timeout=60)]
            assert anyio.current_time() - started == 60
    assert updates == []
