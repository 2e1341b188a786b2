"""Panels that do not read every form: each caller still gets its own right answer, within budget.

Each dialect is a small panel of its own, modelled on real panel software (the recorded
exchanges are in tests/data/panel-dialects.json); requests are counted at the transport. Every
test runs on asyncio and trio and is bounded by fail_after.
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import attrs
import httpx
import pytest
import smmapi

from conftest import KEY, URL

pytestmark = pytest.mark.anyio

LIVE = frozenset(range(1, 1001))  # the orders (and refills) the panel knows
STATUS = {"charge": "0.09", "start_count": "0", "status": "Pending", "remains": "0", "currency": "USD"}


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(20):
        yield


@attrs.define
class DialectPanel:
    """A panel that reads the single form always and the bulk form as its dialect says.

    ``reads_bulk``: whether ``orders=``/``refills=`` is read at all (BoostedSMM: no; it answers a
    top-level "Order not found."); ``whole_list``: a bulk request with one unknown ID is refused
    as a whole; ``limit``: the most IDs a bulk request may carry ("up to N" refusal otherwise).
    """

    reads_bulk: bool = True
    whole_list: bool = False
    limit: int = 100
    requests: list[dict[str, str]] = attrs.Factory(list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.requests.append(form)
        return httpx.Response(200, json=self.answer(form))

    def answer(self, form: dict[str, str]) -> Any:  # noqa: PLR0911  (one return per dialect rule)
        action = "status" if form["action"] == "product_order_status" else form["action"]
        single, bulk = ("refill", "refills") if action == "refill_status" else ("order", "orders")
        if single in form:
            return self.single(action, int(form[single]))
        ids = [int(i) for i in form[bulk].split(",")]
        if not self.reads_bulk:
            return {"refill": "0"} if action == "refill" else {"error": "Order not found.", "status": "104"}
        if len(ids) > self.limit:
            return {"error": f"You can check up to {self.limit} orders at once"}
        if self.whole_list and any(i not in LIVE for i in ids):
            return {"error": "Incorrect order ID"}
        if action == "status":
            return {str(i): STATUS if i in LIVE else "Incorrect order ID" for i in ids}
        if action == "refill":
            return [
                {"order": i, "refill": 5000 + i if i in LIVE else {"error": "Incorrect order ID"}}
                for i in ids
            ]
        if action == "refill_status":
            return [
                {"refill": i, "status": "Completed" if i in LIVE else {"error": "Refill not found"}}
                for i in ids
            ]
        raise AssertionError(action)

    def single(self, action: str, key: int) -> Any:
        if action in ("status", "product_order_status"):
            return STATUS if key in LIVE else {"error": "Order not found.", "status": "104"}
        if action == "refill":
            return {"refill": str(5000 + key) if key in LIVE else "0"}
        if action == "refill_status":
            return {"status": "Completed"} if key in LIVE else {"error": "Refill not found"}
        raise AssertionError(action)

    def sent(self, action: str = "status") -> int:
        return sum(form["action"] == action for form in self.requests)


def connect(panel: DialectPanel, **options: Any) -> smmapi.AsyncClient:
    options.setdefault("batch_window", 0)
    options.setdefault("retry_backoff", 0)
    return smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel), **options)


def check_statuses(results: dict[int, Any]) -> None:
    for key, value in results.items():
        if key in LIVE:
            assert isinstance(value, smmapi.OrderStatus), (key, value)
            assert value.order == key
        else:
            assert isinstance(value, smmapi.UnknownIdError), (key, value)


async def status_tasks(client: smmapi.AsyncClient, ids: list[int]) -> dict[int, Any]:
    results: dict[int, Any] = {}

    async def ask(key: int) -> None:
        try:
            results[key] = await client.status(key)
        except smmapi.SmmError as error:
            results[key] = error

    async with anyio.create_task_group() as group:
        for key in ids:
            group.start_soon(ask, key)
    return results


# -- the single form -------------------------------------------------------------------------


async def test_one_id_goes_in_the_single_form_and_its_single_answer_is_read():
    panel = DialectPanel()
    with bounded():
        async with connect(panel) as client:
            status = await client.status(7)
            refill = await client.refill(7)
            refill_status = await client.refill_status(7)
    assert (status.order, refill, refill_status.refill) == (7, 5007, 7)
    assert [{k: v for k, v in form.items() if k != "key"} for form in panel.requests] == [
        {"action": "status", "order": "7"},
        {"action": "refill", "order": "7"},
        {"action": "refill_status", "refill": "7"},
    ]


# -- a panel that reads every bulk form ------------------------------------------------------


@pytest.mark.parametrize("n", [250, 1000])
async def test_a_panel_reading_the_bulk_form_costs_ceil_n_over_100_requests(n):
    panel = DialectPanel()
    with bounded():
        async with connect(panel) as client:
            check_statuses(await client.statuses(range(1, n + 1)))
            assert client.dialect["status"] == smmapi.ActionDialect(bulk=True, batch_size=100, pinned=False)
    assert panel.sent() == math.ceil(n / 100)


# -- a panel that does not read the bulk form (the BoostedSMM family) -----------------------------


@pytest.mark.parametrize("via", ["statuses", "status-tasks"])
@pytest.mark.parametrize("n", [2, 10, 250])
async def test_a_panel_ignoring_the_bulk_form_costs_at_most_n_plus_3_requests(caplog, via, n):
    caplog.set_level(logging.INFO, logger="smmapi")
    panel = DialectPanel(reads_bulk=False)
    # One unknown order among them; with only two, a panel checking the whole list would answer
    # the same, so both are known there.
    ids = [*range(1, n), 999_999] if n > 2 else [1, 2]
    with bounded():
        async with connect(panel) as client:
            results = await client.statuses(ids) if via == "statuses" else await status_tasks(client, ids)
            check_statuses(results)
            assert client.dialect["status"].bulk is False
            assert client.dialect["status"].batch_size == 1
            # Later lookups go one ID per request from the start.
            before = panel.sent()
            check_statuses(await client.statuses([1, 2, 3]))
            assert panel.sent() == before + 3
    assert before <= n + 3
    learnt = [r for r in caplog.records if r.levelno == logging.INFO and r.getMessage().startswith("status:")]
    assert len(learnt) == 1
    assert "one ID per request" in learnt[0].getMessage()


async def test_a_watch_on_a_panel_ignoring_the_bulk_form_follows_every_live_order():
    panel = DialectPanel(reads_bulk=False)
    seen: dict[int | None, Any] = {}
    with bounded():
        async with connect(panel) as client, client.watch([1, 2, 3], interval=0, until_done=False) as watch:
            async for update in watch:
                seen[update.id] = update.value if update.error is None else update.error
                if len(seen) == 3:
                    break
    assert all(isinstance(value, smmapi.OrderStatus) for value in seen.values())


async def test_refills_on_a_panel_ignoring_the_bulk_form_are_unknown_then_one_by_one():
    panel = DialectPanel(reads_bulk=False)
    with bounded():
        async with connect(panel) as client:
            first = await client.refills([1, 2])
            assert all(isinstance(value, smmapi.OutcomeUnknownError) for value in first.values())
            assert await client.refills([3, 4]) == {3: 5003, 4: 5004}
            with pytest.raises(smmapi.OutcomeUnknownError):
                await client.refill(999_999)  # {"refill": "0"}: no refill ID, never a returned 0
    # The bulk refill was sent once and never again to learn anything.
    assert [form.get("orders") for form in panel.requests if form["action"] == "refill"] == [
        "1,2",
        None,
        None,
        None,
    ]


async def test_what_reads_taught_about_the_bulk_form_steers_later_writes():
    panel = DialectPanel(reads_bulk=False)
    with bounded():
        async with connect(panel) as client:
            await client.statuses([1, 2, 3])
            assert client.dialect["refill"].bulk is False
            assert await client.refills([1, 2]) == {1: 5001, 2: 5002}
    assert [form.get("order") for form in panel.requests if form["action"] == "refill"] in (
        ["1", "2"],
        ["2", "1"],
    )


# -- a panel that checks the whole list ------------------------------------------------------


async def test_one_unknown_id_among_100_costs_about_2_log2_100_extra_requests_and_bulk_stays():
    panel = DialectPanel(whole_list=True)
    ids = [*range(1, 100), 999_999]
    with bounded():
        async with connect(panel) as client:
            check_statuses(await client.statuses(ids))
            assert client.dialect["status"].bulk is True
            before = panel.sent()
            check_statuses(await client.statuses(range(1, 101)))
            assert panel.sent() == before + 1
    assert before <= 1 + 2 * math.ceil(math.log2(100))


async def test_a_whole_list_refusal_of_a_bulk_write_is_each_ids_refusal_and_never_resent():
    panel = DialectPanel(whole_list=True)
    with bounded():
        async with connect(panel) as client:
            results = await client.refills([1, 999_999])
    assert all(type(value) is smmapi.PanelError for value in results.values())  # not UnknownIdError
    assert panel.sent("refill") == 1


# -- a panel with a smaller bulk limit -------------------------------------------------------


async def test_a_bulk_limit_of_50_costs_at_most_20_requests_for_200_lookups_and_stays():
    panel = DialectPanel(limit=50)
    with bounded():
        async with connect(panel) as client:
            check_statuses(await client.statuses(range(1, 201)))
            assert client.dialect["status"].batch_size == 50
            assert client.dialect["status"].bulk is True
            assert panel.sent() <= 20
            before = panel.sent()
            check_statuses(await client.statuses(range(1, 201)))
    assert panel.sent() == before + 4


# -- pinning ---------------------------------------------------------------------------------


async def test_bulk_false_pins_one_id_per_request_from_the_start():
    panel = DialectPanel()
    with bounded():
        async with connect(panel, bulk=False) as client:
            check_statuses(await client.statuses([1, 2, 3]))
            assert client.dialect["status"] == smmapi.ActionDialect(bulk=False, batch_size=1, pinned=True)
    assert [form.get("order") for form in panel.requests] != [None] * 3
    assert all("orders" not in form for form in panel.requests)


async def test_bulk_per_action_pins_only_that_action():
    panel = DialectPanel()
    with bounded():
        async with connect(panel, bulk={"refill": False}) as client:
            assert await client.refills([1, 2]) == {1: 5001, 2: 5002}
            check_statuses(await client.statuses([1, 2]))
            assert client.dialect["status"].pinned is False
    assert panel.requests[-1]["orders"] == "1,2"


@pytest.mark.parametrize(
    ("bulk", "error"),
    [({"frobnicate": False}, smmapi.ValidationError), ({"status": 1}, TypeError), ("yes", TypeError)],
    ids=["unknown-action", "not-a-bool", "not-a-mapping"],
)
async def test_a_bad_bulk_pin_is_refused_at_construction(bulk, error):
    with pytest.raises(error):
        smmapi.AsyncClient(URL, KEY, bulk=bulk)


# -- account-wide errors -----------------------------------------------------------------------


async def test_a_refused_key_on_a_bulk_request_is_raised_as_it_is_and_teaches_nothing():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"error": "API is Disable for this user or User Not Found! Contact the Support"}
        )

    with bounded():
        async with smmapi.AsyncClient(
            URL, KEY, transport=httpx.MockTransport(refuse), batch_window=0
        ) as client:
            with pytest.raises(smmapi.AuthenticationError, match="API is Disable"):
                await client.statuses([1, 2, 3])
            assert client.dialect["status"].bulk is None


# -- probing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("panel", "expected"),
    [
        pytest.param(DialectPanel(), {"bulk": True, "whole_list": False, "limit": 100}, id="textbook"),
        pytest.param(
            DialectPanel(reads_bulk=False), {"bulk": False, "whole_list": None, "limit": None}, id="boosted"
        ),
        pytest.param(
            DialectPanel(whole_list=True), {"bulk": True, "whole_list": True, "limit": None}, id="whole-list"
        ),
        pytest.param(DialectPanel(limit=50), {"bulk": True, "whole_list": False, "limit": 50}, id="limit-50"),
    ],
)
async def test_probe_tells_each_dialect_with_reads_only(panel, expected):
    with bounded():
        async with connect(panel) as client:
            found = await client._probe(order=7, refill=7, product_order=None)
    status, refill_status, product = found
    assert (status.exists, status.single) == (True, True)
    assert {"bulk": status.bulk, "whole_list": status.whole_list, "limit": status.limit} == expected
    assert refill_status.bulk == expected["bulk"]
    assert product.single is None  # no ID of ours to ask with
    assert {form["action"] for form in panel.requests} <= {"status", "refill_status", "product_order_status"}
