"""smmapi.Client: AsyncClient's methods, blocking, from threads, scripts and (refused) event loops."""

import asyncio
import gc
import inspect
import queue
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import smmapi
import trio
from smmapi.testing import FakePanel

from conftest import KEY, URL

#: Seconds a thread may wait for another; far more than any of these tests takes.
BOUND = 30
THREAD_NAME = "smmapi.Client"


def loop_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


@pytest.fixture(name="panel")
def _panel() -> FakePanel:
    return FakePanel()


@pytest.fixture(name="client")
def _client(panel: FakePanel):
    with smmapi.Client(panel.url, panel.key, transport=panel.transport(), batch_window=0) as client:
        yield client


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def test_every_method_of_asyncclient_has_a_blocking_twin_with_its_signature():
    asynchronous = _public_methods(smmapi.AsyncClient)
    blocking = _public_methods(smmapi.Client)
    assert set(asynchronous) - {"aclose"} == set(blocking) - {"close"}
    for name in set(asynchronous) - {"aclose", "watch", "watch_product_orders", "watch_refills"}:
        assert blocking[name] == asynchronous[name], name
        assert not inspect.iscoroutinefunction(getattr(smmapi.Client, name)), name
    assert inspect.signature(smmapi.Client) == inspect.signature(smmapi.AsyncClient)


def test_the_blocking_docs_show_blocking_calls():
    assert "await" not in (smmapi.Client.add.__doc__ or "")
    assert "client.add(service=1" in (smmapi.Client.add.__doc__ or "")


def test_it_places_looks_up_and_watches_orders_until_final(client, panel):
    order = client.add(service=101, link="https://instagram.com/p/Cx1", quantity=1000)
    assert client.status(order).status == "Pending"
    assert client.balance().balance < 100
    panel.settle()
    with client.watch([order], interval=0) as watch:
        updates = list(watch)
    assert [(u.id, u.final) for u in updates] == [(order, True)]
    assert updates[0].error is None
    many = client.statuses([order, 99])
    assert many[order] == updates[0].value
    assert isinstance(many[99], smmapi.UnknownIdError)
    assert client.stats().requests_by_action["add"] == 1


def test_a_hundred_threads_asking_one_status_each_make_one_bulk_request():
    requests: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        requests.append(form)
        ids = form.get("orders", form.get("order", "")).split(",")
        return httpx.Response(200, json={i: {"status": "Pending", "remains": "5"} for i in ids})

    # The batch is sent when it holds 100 IDs; a thread that missed it would wait out the window
    # and be sent in a second request.
    start = threading.Barrier(100, timeout=BOUND)

    def ask(order: int) -> smmapi.OrderStatus:
        start.wait()
        return client.status(order)

    with (
        smmapi.Client(URL, KEY, transport=httpx.MockTransport(answer), batch_window=BOUND) as client,
        ThreadPoolExecutor(max_workers=100) as threads,
    ):
        statuses = list(threads.map(ask, range(1, 101), timeout=2 * BOUND))
    assert [status.order for status in statuses] == list(range(1, 101))
    assert len(requests) == 1
    assert sorted(int(i) for i in requests[0]["orders"].split(",")) == list(range(1, 101))


def test_threads_of_a_pool_each_get_their_own_answer(client, panel):
    links = [f"https://instagram.com/p/{n}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=8) as threads:
        orders = list(threads.map(lambda link: client.add(service=101, link=link, quantity=1000), links))
        statuses = list(threads.map(client.status, orders, timeout=BOUND))
    assert len(set(orders)) == 20
    assert [status.order for status in statuses] == orders
    assert sorted(panel.orders) == sorted(orders)


def test_one_event_loop_thread_serves_every_thread_and_ends_on_close(panel):
    before = len(loop_threads())
    client = smmapi.Client(panel.url, panel.key, transport=panel.transport())
    assert len(loop_threads()) == before  # started on first use
    with ThreadPoolExecutor(max_workers=4) as threads:
        list(threads.map(lambda _: client.balance(), range(8)))
    assert len(loop_threads()) == before + 1
    client.close()
    assert len(loop_threads()) == before
    client.close()  # idempotent


def test_a_closed_client_refuses_to_be_used(panel):
    with smmapi.Client(panel.url, panel.key, transport=panel.transport()) as client:
        client.balance()
    with pytest.raises(smmapi.ClientClosedError, match="closed"):
        client.balance()
    with pytest.raises(smmapi.ClientClosedError):
        client.watch([1])


def test_closing_ends_a_watch_waiting_in_another_thread(client, panel):
    order = client.add(service=101, link="https://instagram.com/p/Cx1", quantity=1000)
    seen: queue.Queue[object] = queue.Queue()

    def follow() -> None:
        try:
            for update in client.watch([order], interval=3600):
                seen.put(update)
        except smmapi.ClientClosedError as error:
            seen.put(error)

    follower = threading.Thread(target=follow)
    follower.start()
    assert seen.get(timeout=BOUND).id == order  # the first sighting; the next round is an hour away
    client.close()
    follower.join(BOUND)
    assert not follower.is_alive()
    assert isinstance(seen.get_nowait(), smmapi.ClientClosedError)


def test_a_watch_gives_up_after_its_timeout(client):
    order = client.add(service=101, link="https://instagram.com/p/Cx1", quantity=1000)
    with pytest.raises(smmapi.WatchTimeoutError) as caught:
        next(client.watch([order], timeout=0))
    assert caught.value.unfinished == (order,)


def test_a_watch_takes_orders_from_another_thread_while_one_waits(client, panel):
    first = client.add(service=101, link="https://instagram.com/p/1", quantity=1000)
    with client.watch([], interval=0, until_done=False) as watch:
        watch.add([first])
        assert watch.following == 1
        assert next(watch).id == first
        second = client.add(service=101, link="https://instagram.com/p/2", quantity=1000)
        threading.Thread(target=watch.add, args=([second],)).start()
        panel.settle()
        ids = {next(watch).id for _ in range(2)}
        assert ids == {first, second}
        watch.remove([first])
    assert list(watch) == []


def test_a_client_collected_while_open_warns_and_ends_its_thread(panel):
    before = len(loop_threads())
    clients = [smmapi.Client(panel.url, panel.key, transport=panel.transport())]
    clients[0].balance()
    with pytest.warns(ResourceWarning, match="unclosed"):
        forget(clients)
    assert len(loop_threads()) == before


def forget(clients: list[smmapi.Client]) -> None:
    clients.clear()
    gc.collect()


def test_an_unused_client_holds_nothing_and_does_not_warn(panel):
    client = smmapi.Client(panel.url, panel.key, transport=panel.transport())
    del client
    gc.collect()  # filterwarnings=error: a warning would fail this test


def test_bad_options_are_refused_at_once_as_asyncclient_refuses_them():
    with pytest.raises(smmapi.ValidationError):
        smmapi.Client(URL, KEY, max_batch_size=101)
    with pytest.raises(TypeError):
        smmapi.Client(URL, KEY, batch_windw=0)


# -- event loops -------------------------------------------------------------------------------


def test_called_in_a_running_asyncio_loop_it_refuses_instead_of_stalling_it(client):
    async def main() -> None:
        with pytest.raises(smmapi.ClientClosedError, match=r"asyncio event loop.*smmapi\.AsyncClient"):
            client.balance()

    asyncio.run(main())


def test_called_in_a_running_trio_loop_it_refuses_instead_of_stalling_it(client):
    async def main() -> None:
        with pytest.raises(smmapi.ClientClosedError, match=r"trio event loop.*smmapi\.AsyncClient"):
            client.balance()

    trio.run(main)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_worker_thread_of_a_running_loop_may_use_it(client, backend):
    async def main() -> smmapi.Balance:
        with anyio.fail_after(BOUND):
            return await anyio.to_thread.run_sync(client.balance)

    assert anyio.run(main, backend=backend).currency == "USD"


# -- a plain script ----------------------------------------------------------------------------

SCRIPT = """
import smmapi
from smmapi.testing import FakePanel


class Transport(FakePanel().transport().__class__):
    async def aclose(self) -> None:
        print("connections closed")


panel = FakePanel()
client = smmapi.Client(panel.url, panel.key, transport=Transport(app=panel))
order = client.add(service=101, link="https://instagram.com/p/Cx1", quantity=1000)
print(order, client.status(order).status)
{end}
"""


@pytest.mark.parametrize(
    "end",
    [pytest.param("client.close()", id="closed"), pytest.param("", id="left-open-until-exit")],
)
def test_a_plain_script_uses_it_and_its_connections_close_by_exit(end):
    result = subprocess.run(  # noqa: S603  (our own script)
        [sys.executable, "-W", "error", "-c", textwrap.dedent(SCRIPT.format(end=end))],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["10001 Pending", "connections closed"]
    assert result.stderr == ""
