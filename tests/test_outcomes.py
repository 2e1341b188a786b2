"""Every paid write accounted for: what a caller is told however a write ends, and how it leaves.

Time runs on trio's MockClock with autojump where a test waits out a grace or a timeout; the
moments "everyone is waiting" are reached with anyio.wait_all_tasks_blocked(); requests are
counted at the transport; every test is bounded by fail_after.
"""

import asyncio
import gc
import logging
import pickle
import threading
import time
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
import uvicorn
from smmapi.testing import FakePanel

from conftest import KEY, URL

LIMIT = 600  # virtual seconds on the MockClock; a few real ones elsewhere


@contextmanager
def bounded(seconds: float = LIMIT) -> Iterator[None]:
    with anyio.fail_after(seconds):
        yield


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> Any:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


@attrs.define
class HeldPanel:
    """Holds every request of an action at a gate until it is opened; counts what reached it."""

    answers: dict[str, Any] = attrs.Factory(dict)
    held: set[str] = attrs.Factory(set)
    gate: anyio.Event | None = None
    requests: list[dict[str, str]] = attrs.Factory(list)
    arrived: anyio.Event | None = None  # set when a held request reaches the panel

    async def reached(self) -> None:
        if self.arrived is None:
            self.arrived = anyio.Event()
        await self.arrived.wait()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.requests.append(form)
        if self.arrived is not None:
            self.arrived.set()
        if form["action"] in self.held:
            if self.gate is None:
                self.gate = anyio.Event()
            await self.gate.wait()
        answer = self.answers[form["action"]]
        answer = answer(form) if callable(answer) else answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def open(self) -> None:
        if self.gate is not None:
            self.gate.set()

    def sent(self, action: str) -> list[dict[str, str]]:
        return [form for form in self.requests if form["action"] == action]


def connect(panel: HeldPanel, **options: Any) -> smmapi.AsyncClient:
    options.setdefault("batch_window", 0)
    options.setdefault("retry_backoff", 0)
    options.setdefault("timeout", 5)
    return smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel), **options)


def warnings_of(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


# -- aclose() --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_aclose_past_its_grace_makes_a_sent_refill_unknown_and_logs_its_late_answer(caplog):
    caplog.set_level(logging.WARNING, logger="smmapi")
    panel = HeldPanel(answers={"refill": {"refill": "501"}}, held={"refill"})
    # The default timeouts: one request may take 100 s, the close waits 30 s.
    client = connect(panel, timeout=smmapi.AsyncClient.__init__.__kwdefaults__["timeout"])
    results: dict[str, Any] = {}

    async def ask(name: str) -> None:
        try:
            results[name] = await client.refill(7)
        except smmapi.SmmError as error:
            results[name] = error

    with bounded():
        async with anyio.create_task_group() as group:
            group.start_soon(ask, "leader")
            await anyio.wait_all_tasks_blocked()
            group.start_soon(ask, "joined")  # joins the refill in flight
            await anyio.wait_all_tasks_blocked()
            await client.aclose()  # waits its grace (virtual seconds), then settles
            await anyio.wait_all_tasks_blocked()
            # The caller who only joined is free at once, told the outcome is unknown, not "closed".
            assert isinstance(results["joined"], smmapi.OutcomeUnknownError)
            assert results["joined"].fields == {"orders": "7"}
            assert "still in flight when the client closed" in warnings_of(caplog)
            panel.open()  # the panel's answer arrives after all
    assert isinstance(results["leader"], smmapi.OutcomeUnknownError)
    assert "refill answered after the client closed: 7: 501" in warnings_of(caplog)
    assert len(panel.sent("refill")) == 1


@pytest.mark.anyio
async def test_nothing_is_sent_after_aclose_and_no_caller_waiting_for_a_slot_stays_blocked():
    panel = HeldPanel(answers={"add": {"order": 10001}, "status": {"status": "Pending"}}, held={"add"})
    http = httpx.AsyncClient(transport=httpx.MockTransport(panel), timeout=30)
    client = smmapi.AsyncClient(URL, KEY, http_client=http, max_concurrency=1, batch_window=0)
    results: dict[str, Any] = {}

    async def call(name: str, make: Callable[[], Any]) -> None:
        try:
            results[name] = await make()
        except smmapi.SmmError as error:
            results[name] = error

    with bounded():
        async with http, anyio.create_task_group() as group:
            group.start_soon(
                call, "first", lambda: client.add(service=1, link="https://x.test/1", quantity=10)
            )
            await anyio.wait_all_tasks_blocked()  # the first add holds the only slot
            group.start_soon(
                call, "queued", lambda: client.add(service=1, link="https://x.test/2", quantity=10)
            )
            group.start_soon(call, "status", lambda: client.status(5))
            await anyio.wait_all_tasks_blocked()
            await client.aclose()
            await anyio.wait_all_tasks_blocked()
            # Both waited for a slot: neither was sent, and neither is left waiting.
            assert isinstance(results["queued"], smmapi.ClientClosedError)
            assert isinstance(results["status"], smmapi.ClientClosedError)
            panel.open()
    assert results["first"] == 10001
    assert [form["action"] for form in panel.requests] == ["add"]
    assert panel.requests[0]["link"] == "https://x.test/1"


# -- a caller leaving a sent write -------------------------------------------------------------


def _add(client: smmapi.AsyncClient) -> Any:
    return client.add(service=1, link="https://x.test/p", quantity=10)


async def _add_until_it_reaches_the_panel(client: smmapi.AsyncClient, panel: HeldPanel) -> None:
    """An add under ``asyncio.timeout()`` whose deadline passes once the request reached the panel."""
    async with asyncio.timeout(3600) as deadline:
        adding = asyncio.ensure_future(_add(client))
        await panel.reached()
        deadline.reschedule(asyncio.get_running_loop().time())
        await adding


@pytest.mark.parametrize("how", ["task-cancel", "wait_for", "timeout"])
@pytest.mark.asyncio
async def test_plain_asyncio_cancellation_of_a_sent_add_leaves_a_warning_with_its_fields(caplog, how):
    caplog.set_level(logging.WARNING, logger="smmapi")
    panel = HeldPanel(answers={"add": {"order": 10001}}, held={"add"})
    async with connect(panel) as client:
        async with asyncio.timeout(10):
            if how == "task-cancel":
                task = asyncio.ensure_future(_add(client))
                await panel.reached()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            elif how == "wait_for":
                waiting = asyncio.ensure_future(asyncio.wait_for(_add(client), timeout=3600))
                await panel.reached()
                waiting.cancel()  # wait_for passes it on to the add inside it
                with pytest.raises(asyncio.CancelledError):
                    await waiting
            else:
                with pytest.raises(TimeoutError):
                    await _add_until_it_reaches_the_panel(client, panel)
            panel.open()
    logged = warnings_of(caplog)
    assert (
        "add {'service': '1', 'link': 'https://x.test/p', 'quantity': '10'} finished after its caller left"
        in logged
    )
    assert "OutcomeUnknownError" in logged


@pytest.mark.anyio
async def test_a_cancel_scope_around_a_sent_add_logs_the_order_id(caplog):
    caplog.set_level(logging.WARNING, logger="smmapi")
    panel = HeldPanel(answers={"add": {"order": 10001}}, held={"add"})
    with bounded():
        async with connect(panel) as client, anyio.create_task_group() as group:
            scope = anyio.CancelScope()

            async def place() -> None:
                with scope:
                    await _add(client)

            group.start_soon(place)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            await anyio.wait_all_tasks_blocked()
            panel.open()
    assert "finished after its caller left: 10001" in warnings_of(caplog)


# -- batches formed before the panel taught one ID per request ------------------------------


@pytest.mark.anyio
async def test_batches_formed_before_a_lone_refill_answer_go_one_id_per_request():
    def refill(form: dict[str, str]) -> Any:
        if "order" in form:
            return {"refill": str(500 + int(form["order"]))}
        return {"refill": "77"}  # a lone answer for several orders

    panel = HeldPanel(answers={"refill": refill}, held={"refill"})
    results: dict[int, Any] = {}

    async def ask(ids: list[int]) -> None:
        results.update(await client.refills(ids))

    with bounded():
        async with connect(panel, max_concurrency=1) as client, anyio.create_task_group() as group:
            group.start_soon(ask, [1, 2])
            await anyio.wait_all_tasks_blocked()  # sent in bulk, held
            group.start_soon(ask, [3, 4, 5])  # a batch formed meanwhile, waiting for the slot
            await anyio.wait_all_tasks_blocked()
            panel.open()
    assert isinstance(results[1], smmapi.OutcomeUnknownError)
    assert isinstance(results[2], smmapi.OutcomeUnknownError)
    assert {key: results[key] for key in (3, 4, 5)} == {3: 503, 4: 504, 5: 505}
    assert panel.sent("refill")[0]["orders"] == "1,2"
    assert sorted(form["order"] for form in panel.sent("refill")[1:]) == ["3", "4", "5"]
    assert client.dialect["refill"].bulk is False


# -- what an answer to a write may hold -------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"order": 0}, id="zero"),
        pytest.param({"order": -5}, id="negative"),
        pytest.param({"order": "-5"}, id="negative-text"),
        pytest.param({"order": "5e3"}, id="exponent-text"),
        pytest.param({"order": 5, "ORDER": 6}, id="two-cases"),
        pytest.param({"order": "1" * 19}, id="nineteen-digits"),
        pytest.param({"order": 5, "error": "x"}, id="beside-an-error"),
        pytest.param({"order": True}, id="boolean"),
    ],
)
@pytest.mark.anyio
async def test_an_add_answer_that_is_not_one_plain_id_is_an_unknown_outcome(answer):
    panel = HeldPanel(answers={"add": answer})
    with bounded():
        async with connect(panel) as client:
            with pytest.raises(smmapi.OutcomeUnknownError) as caught:
                await _add(client)
    assert caught.value.action == "add"
    assert caught.value.fields["quantity"] == "10"


@pytest.mark.parametrize(
    "answer", [{"refill": "0"}, {"refill": 0}, {"refill": "-1"}], ids=["0-text", "0", "-1"]
)
@pytest.mark.anyio
async def test_a_refill_id_that_is_not_one_is_an_unknown_outcome_never_a_returned_zero(answer):
    panel = HeldPanel(answers={"refill": answer})
    with bounded():
        async with connect(panel) as client:
            with pytest.raises(smmapi.OutcomeUnknownError):
                await client.refill(201)
    assert panel.requests == [{"key": KEY, "action": "refill", "order": "201"}]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.anyio
async def test_a_redirect_answering_a_write_is_an_unknown_outcome_naming_it(status):
    panel = HeldPanel(
        answers={
            "add": httpx.Response(
                status, headers={"Location": "https://elsewhere.test/"}, json={"order": 555}
            ),
            "balance": httpx.Response(status, headers={"Location": "https://elsewhere.test/"}),
        }
    )
    with bounded():
        async with connect(panel) as client:
            with pytest.raises(smmapi.OutcomeUnknownError, match="redirect") as caught:
                await _add(client)
            assert isinstance(caught.value.__cause__, smmapi.RedirectError)
            with pytest.raises(smmapi.RedirectError):
                await client.balance()


@pytest.mark.parametrize(
    "body",
    ["<html><body>401 Authorization Required</body></html>", "", '{"message": "nope"}'],
    ids=["html", "empty", "json-without-error"],
)
@pytest.mark.anyio
async def test_http_401_is_an_authentication_error_whatever_the_body(body):
    panel = HeldPanel(
        answers={"balance": httpx.Response(401, text=body), "status": httpx.Response(401, text=body)}
    )
    with bounded():
        async with connect(panel) as client:
            with pytest.raises(smmapi.AuthenticationError):
                await client.balance()
            with pytest.raises(smmapi.AuthenticationError):
                await client.status(1)


# -- callers' IDs ------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [10**18, 10**5000, -(10**18)], ids=["19-digits", "5001-digits", "negative"])
@pytest.mark.anyio
async def test_an_id_past_18_digits_fails_only_its_caller_before_anything_is_queued(order):
    panel = HeldPanel(answers={"status": lambda form: {"status": "Pending"}})
    results: dict[str, Any] = {}

    async def ask(name: str, key: int) -> None:
        try:
            results[name] = await client.status(key)
        except (smmapi.SmmError, ValueError) as error:
            results[name] = error

    with bounded():
        async with connect(panel) as client, anyio.create_task_group() as group:
            group.start_soon(ask, "good", 1)
            group.start_soon(ask, "bad", order)
            group.start_soon(ask, "other", 2)
    assert isinstance(results["bad"], smmapi.ValidationError)
    assert results["good"].order == 1
    assert results["other"].order == 2


@pytest.mark.anyio
async def test_the_largest_id_of_18_digits_is_asked_and_matched():
    largest = 10**18 - 1
    panel = HeldPanel(
        answers={
            "status": lambda form: (
                {form["orders"]: {"status": "Pending"}} if "orders" in form else {"status": "Pending"}
            )
        }
    )
    with bounded():
        async with connect(panel) as client:
            result = await client.statuses([largest, 1])
    assert result[largest].order == largest


@pytest.mark.anyio
async def test_an_int_subclass_goes_on_the_wire_by_its_value():
    class Sneaky(int):
        def __str__(self) -> str:
            return "5,6,7"

    panel = HeldPanel(answers={"status": {"status": "Pending"}})
    with bounded():
        async with connect(panel) as client:
            await client.status(Sneaky(5))
    assert panel.requests[0]["order"] == "5"


# -- errors travel between processes ----------------------------------------------------------


def _every_error() -> list[smmapi.SmmError]:
    return [
        smmapi.SmmError("root"),
        smmapi.ValidationError("bad input"),
        smmapi.ClientClosedError("closed"),
        smmapi.PanelError("Incorrect request", status_code=400, code="101"),
        smmapi.AuthenticationError("Invalid API key", status_code=401),
        smmapi.InsufficientFundsError("Not enough funds"),
        smmapi.UnknownIdError("Incorrect order ID", code="104"),
        smmapi.RateLimitedError("slow down", status_code=429, retry_after=5.0),
        smmapi.TransportError("reset"),
        smmapi.ConnectError("refused"),
        smmapi.RequestTimeoutError("slow"),
        smmapi.HTTPStatusError("HTTP 502", status_code=502),
        smmapi.RedirectError("moved", status_code=302, location="https://elsewhere.test/"),
        smmapi.UnreadableAnswerError("<html>"),
        smmapi.OutcomeUnknownError("maybe", action="add", fields={"service": "1"}, answer={"x": [1]}),
        smmapi.WatchTimeoutError("2 not final", unfinished=(1, 2)),
    ]


def test_every_public_error_class_is_covered_by_the_pickle_test():
    public = {
        value
        for value in vars(smmapi).values()
        if isinstance(value, type) and issubclass(value, smmapi.SmmError)
    }
    assert {type(error) for error in _every_error()} == public


@pytest.mark.parametrize("error", _every_error(), ids=lambda error: type(error).__name__)
def test_every_error_pickles_with_its_message_and_attributes(error):
    error.__cause__ = httpx.ConnectError("the cause stays behind")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own bytes, just made)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    for name in ("status_code", "code", "retry_after", "location", "action", "answer", "message"):
        assert getattr(copy, name, None) == getattr(error, name, None)
    if isinstance(error, smmapi.OutcomeUnknownError):
        assert dict(copy.fields) == {"service": "1"}
    assert copy.__cause__ is None


# -- aclose() from another event loop ---------------------------------------------------------


class _ThreadServer(uvicorn.Server):
    """uvicorn in a thread of its own, with an event for "listening"."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


@pytest.mark.filterwarnings(
    "ignore:unclosed transport:ResourceWarning"
)  # asyncio's object; the socket is closed
@pytest.mark.parametrize("second", ["asyncio", "trio"])
@pytest.mark.parametrize("first", ["asyncio", "trio"])
def test_aclose_from_another_event_loop_closes_the_client_and_its_connection(first, second):
    panel = FakePanel()
    server = _ThreadServer(
        uvicorn.Config(app=panel, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = smmapi.AsyncClient(f"http://127.0.0.1:{port}/api/v2", panel.key)

        async def use() -> None:
            await client.balance()

        async def close() -> None:
            with pytest.raises(smmapi.ClientClosedError, match="another event loop"):
                await client.aclose()

        anyio.run(use, backend=first)
        assert len(server.server_state.connections) == 1  # kept alive for the next request
        anyio.run(close, backend=second)
        assert "state=closed" in repr(client)
        with (
            anyio.from_thread.start_blocking_portal(second) as portal,
            pytest.raises(smmapi.ClientClosedError),
        ):
            portal.call(client.balance)
        gc.collect()
        deadline = time.monotonic() + 10
        while server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.01)  # the server notices the closed socket on its own thread
        assert not server.server_state.connections
    finally:
        server.should_exit = True
        thread.join(10)
