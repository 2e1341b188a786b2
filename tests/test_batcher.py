"""The coalescer on its own: generic keys, a fake send, no SMM."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
import smmapi
from smmapi._batcher import Batcher

pytestmark = pytest.mark.anyio


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(10):
        yield


class Slot:
    def release(self) -> None:
        pass


async def reserve() -> Slot:
    return Slot()


class Echo:
    """Answers each key with its double; records batches; fails on demand."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.failure: BaseException | None = None

    async def __call__(self, keys: list[str], slot: Slot) -> dict[str, Any]:
        self.batches.append(sorted(keys))
        await anyio.lowlevel.checkpoint()
        if self.failure is not None:
            raise self.failure
        return {key: key * 2 for key in keys if key != "missing"}


async def test_any_hashable_keys_are_batched_and_answered_each_their_own():
    send = Echo()
    batcher: Batcher[str, str, Slot] = Batcher(send, reserve=reserve, window=0, max_size=2)
    results: dict[str, Any] = {}

    async def ask(key: str) -> None:
        results[key] = await batcher.get(key)

    with bounded():
        async with anyio.create_task_group() as group:
            for key in ("a", "b", "c"):
                group.start_soon(ask, key)
    assert results == {"a": "aa", "b": "bb", "c": "cc"}
    assert sorted(len(batch) for batch in send.batches) == [1, 2]
    assert (batcher.lookups, batcher.keys_sent, batcher.batches_sent) == (3, 3, 2)


async def test_a_key_the_send_left_out_gets_an_smm_error_naming_it():
    batcher: Batcher[str, str, Slot] = Batcher(Echo(), reserve=reserve, window=0, max_size=10)
    with bounded():
        results = await batcher.get_many(["x", "missing"])
    assert results["x"] == "xx"
    assert isinstance(results["missing"], smmapi.SmmError)
    assert "missing" in str(results["missing"])


@pytest.mark.parametrize("shield", [False, True], ids=["read", "write"])
async def test_a_bug_in_send_reaches_every_waiter_and_leaves_nothing_hanging(shield):
    send = Echo()
    send.failure = KeyError("a bug of ours")
    batcher: Batcher[str, str, Slot] = Batcher(send, reserve=reserve, window=0, max_size=10, shield=shield)
    outcomes: list[BaseException] = []

    async def ask(key: str) -> None:
        try:
            await batcher.get(key)
        except KeyError as error:
            outcomes.append(error)

    with bounded():
        async with anyio.create_task_group() as group:
            for key in ("a", "b"):
                group.start_soon(ask, key)
        assert [str(error) for error in outcomes] == ["'a bug of ours'"] * 2
        send.failure = None
        assert await batcher.get("a") == "aa"  # asked again, sent again: nothing was left behind
        await batcher.aclose(grace=0)
    assert batcher._entries == {}


async def test_asking_a_closed_batcher_raises_the_closed_client_error():
    batcher: Batcher[str, str, Slot] = Batcher(Echo(), reserve=reserve, window=0, max_size=10)
    with bounded():
        await batcher.aclose(grace=0)
        with pytest.raises(smmapi.ClientClosedError):
            await batcher.get("a")
        with pytest.raises(smmapi.ClientClosedError):
            await batcher.get_many(["a"])


@pytest.mark.parametrize("lanes", [1, 2, None])
async def test_a_long_get_many_leads_its_batches_in_as_many_lanes_at_once(lanes):
    # With no slot limit of its own, a call of seven batches has `lanes` of them in flight at
    # once, each lane leading its share in turn (None: every batch at once); all are answered.
    in_flight = most = 0
    release = anyio.Event()

    async def send(keys: list[str], slot: Slot) -> dict[str, Any]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        return {key: key * 2 for key in keys}

    batcher: Batcher[str, str, Slot] = Batcher(send, reserve=reserve, window=0, max_size=2, lanes=lanes)
    keys = [str(number) for number in range(13)]
    results: dict[str, Any] = {}

    async def ask() -> None:
        results.update(await batcher.get_many(keys))

    with bounded():
        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            assert in_flight == (7 if lanes is None else lanes)
            release.set()
    assert results == {key: key * 2 for key in keys}
    assert most == (7 if lanes is None else lanes)
    assert batcher.batches_sent == 7


async def test_a_slow_batch_holds_up_its_own_lane_only():
    # Two lanes, four batches, the first stalled: the other lane takes the other three in turn.
    stall = anyio.Event()
    answered: list[str] = []

    async def send(keys: list[str], slot: Slot) -> dict[str, Any]:
        if "0" in keys:
            await stall.wait()
        answered.extend(keys)
        return {key: key * 2 for key in keys}

    batcher: Batcher[str, str, Slot] = Batcher(send, reserve=reserve, window=0, max_size=1, lanes=2)
    results: dict[str, Any] = {}

    async def ask() -> None:
        results.update(await batcher.get_many(["0", "1", "2", "3"]))

    with bounded():
        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            assert answered == ["1", "2", "3"]
            stall.set()
    assert results == {"0": "00", "1": "11", "2": "22", "3": "33"}


async def test_a_long_get_many_cancelled_leaves_nothing_behind_in_the_batches_no_lane_took():
    release = anyio.Event()
    send = Echo()

    async def held(keys: list[str], slot: Slot) -> dict[str, Any]:
        await release.wait()
        return await send(keys, slot)

    batcher: Batcher[str, str, Slot] = Batcher(held, reserve=reserve, window=0, max_size=1, lanes=2)
    with bounded():
        async with anyio.create_task_group() as group:
            group.start_soon(batcher.get_many, ["a", "b", "c", "d", "e"])
            await anyio.wait_all_tasks_blocked()
            group.cancel_scope.cancel()
        assert batcher._entries == {}  # the three batches no lane took are dropped, not left waiting
        release.set()
        assert await batcher.get("c") == "cc"  # asked again, sent again
