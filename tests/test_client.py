"""Every public method of AsyncClient against a MockTransport panel, and the client's lifecycle."""

import gc
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import smmapi
from smmapi._lookups import SPECS, Spec

from conftest import KEY, URL, Panel

STATUS = {
    "charge": "0.27819",
    "start_count": "3572",
    "status": "Partial",
    "remains": "157",
    "currency": "USD",
}
PRODUCT_STATUS = {"charge": 7.5, "status": "Completed", "result": "c85c1d1a-9ef3", "refund": "0.4"}
SERVICES = [
    {
        "service": 1,
        "name": "Youtube views",
        "type": "Default",
        "category": "Youtube",
        "rate": "2.5",
        "min": "200",
        "max": "10000",
        "refill": True,
    },
    {
        "service": 2,
        "name": "Facebook comments",
        "type": "Custom Comments",
        "category": "Facebook",
        "rate": "4",
        "min": "10",
        "max": "1500",
        "refill": False,
        "cancel": "1",
        "dripfeed": 1,
    },
]
PRODUCTS = [
    {
        "product": 1,
        "name": "Netflix premium 1 month",
        "require": "Input your account",
        "rate": 2.5,
        "min": 1,
        "max": 10,
        "category": "Netflix",
        "status": "In stock",
        "inventory": 40,
        "type": "Auto",
    }
]


def by_form(
    single_field: str, single: Callable[[int], Any], bulk: Callable[[list[int]], Any]
) -> Callable[[dict[str, str]], Any]:
    """Answer the single form (``order=1``) with ``single``, the bulk form (``orders=1,2``) with ``bulk``."""

    def answer(form: dict[str, str]) -> Any:
        if single_field in form:
            return single(int(form[single_field]))
        return bulk([int(value) for value in form[single_field + "s"].split(",")])

    return answer


def sent_ids(form: dict[str, str], field: str) -> list[int]:
    """The IDs a lookup sent, in the single form or the bulk form."""
    if field in form:
        return [int(form[field])]
    return [int(value) for value in form[field + "s"].split(",")]


# -- bulk methods, described once ----------------------------------------------------------------


@dataclass(frozen=True)
class Bulk:
    """A bulk method, its action's spec (the client's own table) and a panel's answer to it."""

    method: str
    action: str
    answer: Callable[[list[str]], Any]
    is_result_for: Callable[[int, Any], bool]

    @property
    def spec(self) -> Spec:
        return SPECS[self.action]

    def ids(self, form: dict[str, str]) -> list[str]:
        """The IDs a request asked, in either form (answered here in the bulk shape)."""
        if self.spec.single is not None and self.spec.single in form:
            return [form[self.spec.single]]
        return form[self.spec.bulk].split(",")


def _status_for(key: int, value: Any) -> bool:
    return isinstance(value, smmapi.OrderStatus) and value.order == key and value.status == "Partial"


def _product_status_for(key: int, value: Any) -> bool:
    return isinstance(value, smmapi.ProductOrderStatus) and value.order == key and value.status == "Completed"


def _refill_status_for(key: int, value: Any) -> bool:
    return isinstance(value, smmapi.RefillStatus) and value.refill == key and value.status == "Completed"


# Every answer lists the IDs in reverse, so results keyed in input order are not an accident.
BULKS = [
    pytest.param(
        Bulk(
            "statuses",
            "status",
            lambda ids: dict.fromkeys(reversed(ids), STATUS),
            _status_for,
        ),
        id="statuses",
    ),
    pytest.param(
        Bulk(
            "refills",
            "refill",
            lambda ids: [{"order": int(key), "refill": int(key) + 1000} for key in reversed(ids)],
            lambda key, value: value == key + 1000,
        ),
        id="refills",
    ),
    pytest.param(
        Bulk(
            "refill_statuses",
            "refill_status",
            lambda ids: [{"refill": int(key), "status": "Completed"} for key in reversed(ids)],
            _refill_status_for,
        ),
        id="refill_statuses",
    ),
    pytest.param(
        Bulk(
            "cancels",
            "cancel",
            lambda ids: [{"order": int(key), "cancel": 1} for key in reversed(ids)],
            lambda key, value: value is None,
        ),
        id="cancels",
    ),
    pytest.param(
        Bulk(
            "product_order_statuses",
            "product_order_status",
            lambda ids: dict.fromkeys(reversed(ids), PRODUCT_STATUS),
            _product_status_for,
        ),
        id="product_order_statuses",
    ),
]


def answer_bulk(panel: Panel, bulk: Bulk) -> None:
    panel.answers[bulk.action] = lambda form: bulk.answer(bulk.ids(form))


def chunks_sent(panel: Panel, bulk: Bulk) -> list[list[int]]:
    return [[int(key) for key in bulk.ids(form)] for form in panel.requests]


# -- account and catalogue -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_balance_reads_money_as_decimal(panel, client):
    panel.answers["balance"] = {"balance": "68.6868", "currency": "USD"}

    balance = await client.balance()

    assert balance == smmapi.Balance(balance=Decimal("68.6868"), currency="USD")


@pytest.mark.asyncio
async def test_balance_sends_key_and_action_only(panel, client):
    panel.answers["balance"] = {"balance": "68.6868", "currency": "USD"}

    await client.balance()

    assert panel.requests == [{"key": KEY, "action": "balance"}]


@pytest.mark.asyncio
async def test_services_reads_the_catalogue(panel, client):
    panel.answers["services"] = SERVICES

    services = await client.services()

    assert [service.id for service in services] == [1, 2]
    first, second = services
    assert first.name == "Youtube views"
    assert first.type == "Default"
    assert first.category == "Youtube"
    assert first.rate == Decimal("2.5")
    assert (first.min, first.max) == (200, 10000)
    assert (first.refill, first.cancel, first.dripfeed) == (True, False, False)
    assert (second.refill, second.cancel, second.dripfeed) == (False, True, True)


@pytest.mark.asyncio
async def test_services_fetches_each_time_without_ttl(panel, client):
    panel.answers["services"] = SERVICES

    await client.services()
    await client.services()

    assert panel.actions() == ["services", "services"]


@pytest.mark.asyncio
async def test_services_kept_for_catalogue_ttl(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        first = await client.services()
        second = await client.services()

    assert first == second
    assert panel.actions() == ["services"]


@pytest.mark.asyncio
async def test_services_refresh_bypasses_the_cache(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        await client.services()
        panel.answers["services"] = SERVICES[:1]
        refreshed = await client.services(refresh=True)

    assert [service.id for service in refreshed] == [1]
    assert panel.actions() == ["services", "services"]


@pytest.mark.asyncio
async def test_services_refresh_renews_the_cache(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        await client.services()
        panel.answers["services"] = SERVICES[:1]
        await client.services(refresh=True)
        cached = await client.services()

    assert [service.id for service in cached] == [1]
    assert panel.actions() == ["services", "services"]


@pytest.mark.asyncio
async def test_services_catalogue_ttl_zero_keeps_nothing(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=0) as client:
        await client.services()
        await client.services()

    assert panel.actions() == ["services", "services"]


@pytest.mark.asyncio
async def test_services_cache_is_not_changed_by_the_caller(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        (await client.services()).clear()
        again = await client.services()

    assert len(again) == 2


@pytest.mark.asyncio
async def test_services_error_is_not_cached(panel, make_client):
    panel.answers["services"] = {"error": "Service temporarily unavailable"}
    async with make_client(catalogue_ttl=3600) as client:
        with pytest.raises(smmapi.PanelError):
            await client.services()
        panel.answers["services"] = SERVICES
        services = await client.services()

    assert len(services) == 2


class BlockingPanel:
    """An async handler that holds every request until ``release`` is set."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.release = anyio.Event()
        self.actions: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.actions.append(dict(httpx.QueryParams(request.content.decode()))["action"])
        await self.release.wait()
        if isinstance(self.answer, httpx.Response):
            return self.answer
        return httpx.Response(200, json=self.answer)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "answer"),
    [pytest.param("services", SERVICES, id="services"), pytest.param("products", PRODUCTS, id="products")],
)
async def test_concurrent_catalogue_calls_share_one_request(make_client, method, answer):
    blocking = BlockingPanel(answer)
    results: list[Any] = []

    async def call(client: smmapi.AsyncClient) -> None:
        results.append(await getattr(client, method)())

    with anyio.fail_after(10):
        async with (
            make_client(transport=httpx.MockTransport(blocking)) as client,
            anyio.create_task_group() as group,
        ):
            for _ in range(3):
                group.start_soon(call, client)
            await anyio.wait_all_tasks_blocked()
            assert blocking.actions == [method]
            blocking.release.set()

    assert blocking.actions == [method]
    assert len(results) == 3
    assert results[0] == results[1] == results[2]


@pytest.mark.asyncio
async def test_concurrent_services_calls_share_one_error(make_client):
    blocking = BlockingPanel({"error": "Service temporarily unavailable"})
    errors: list[BaseException] = []

    async def call(client: smmapi.AsyncClient) -> None:
        try:
            await client.services()
        except smmapi.PanelError as error:
            errors.append(error)

    with anyio.fail_after(10):
        async with (
            make_client(transport=httpx.MockTransport(blocking)) as client,
            anyio.create_task_group() as group,
        ):
            for _ in range(3):
                group.start_soon(call, client)
            await anyio.wait_all_tasks_blocked()
            blocking.release.set()

    assert blocking.actions == ["services"]
    assert len(errors) == 3


@pytest.mark.asyncio
async def test_products_reads_the_catalogue(panel, client):
    panel.answers["products"] = PRODUCTS

    [product] = await client.products()

    assert product.id == 1
    assert product.name == "Netflix premium 1 month"
    assert product.require == "Input your account"
    assert product.rate == Decimal("2.5")
    assert (product.min, product.max) == (1, 10)
    assert product.category == "Netflix"
    assert product.status == "In stock"
    assert product.inventory == 40
    assert product.type == "Auto"


@pytest.mark.asyncio
async def test_products_kept_for_catalogue_ttl(panel, make_client):
    panel.answers["products"] = PRODUCTS
    async with make_client(catalogue_ttl=3600) as client:
        await client.products()
        await client.products()
        await client.products(refresh=True)

    assert panel.actions() == ["products", "products"]


@pytest.mark.asyncio
async def test_products_and_services_are_cached_apart(panel, make_client):
    panel.answers["products"] = PRODUCTS
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        await client.services()
        products = await client.products()

    assert [product.id for product in products] == [1]
    assert panel.actions() == ["services", "products"]


# -- writes --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_add_returns_the_order_id(panel, client):
    panel.answers["add"] = {"order": 99999}

    order = await client.add(service=1, link="https://example.com/p/1", quantity=1000)

    assert order == 99999


@pytest.mark.asyncio
async def test_add_product_order_returns_the_order_id(panel, client):
    panel.answers["add_product_order"] = {"order": "23501"}

    order = await client.add_product_order(product=1, quantity=2, require="me@example.com")

    assert order == 23501
    assert panel.requests == [
        {
            "key": KEY,
            "action": "add_product_order",
            "product": "1",
            "quantity": "2",
            "require": "me@example.com",
        }
    ]


# -- single lookups ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_status_reads_one_order(panel, client):
    panel.answers["status"] = by_form("order", lambda _: STATUS, lambda ids: dict.fromkeys(ids, STATUS))

    status = await client.status(123)

    assert status == smmapi.OrderStatus(
        order=123,
        status=smmapi.OrderState.PARTIAL,
        status_text="Partial",
        charge=Decimal("0.27819"),
        start_count=3572,
        remains=157,
        currency="USD",
    )
    assert [sent_ids(form, "order") for form in panel.requests] == [[123]]


@pytest.mark.asyncio
async def test_status_raises_unknown_id(panel, client):
    error = {"error": "Incorrect order ID"}
    panel.answers["status"] = by_form("order", lambda _: error, lambda ids: dict.fromkeys(ids, error))

    with pytest.raises(smmapi.UnknownIdError, match="Incorrect order ID"):
        await client.status(123)


@pytest.mark.asyncio
async def test_refill_returns_the_refill_id(panel, client):
    panel.answers["refill"] = by_form(
        "order", lambda _: {"refill": "77"}, lambda ids: [{"order": key, "refill": 77} for key in ids]
    )

    assert await client.refill(123) == 77


@pytest.mark.asyncio
async def test_refill_raises_unknown_id(panel, client):
    error = {"error": "Incorrect order ID"}
    panel.answers["refill"] = by_form(
        "order", lambda _: error, lambda ids: [{"order": key, "refill": error} for key in ids]
    )

    with pytest.raises(smmapi.UnknownIdError, match="Incorrect order ID"):
        await client.refill(123)


@pytest.mark.asyncio
async def test_refill_status_reads_one_refill(panel, client):
    panel.answers["refill_status"] = by_form(
        "refill",
        lambda _: {"status": "Completed"},
        lambda ids: [{"refill": key, "status": "Completed"} for key in ids],
    )

    status = await client.refill_status(7)

    assert status == smmapi.RefillStatus(
        refill=7, status=smmapi.RefillState.COMPLETED, status_text="Completed"
    )


@pytest.mark.asyncio
async def test_refill_status_raises_unknown_id(panel, client):
    error = {"error": "Refill not found"}
    panel.answers["refill_status"] = by_form(
        "refill", lambda _: error, lambda ids: [{"refill": key, "status": error} for key in ids]
    )

    with pytest.raises(smmapi.UnknownIdError, match="Refill not found"):
        await client.refill_status(7)


@pytest.mark.asyncio
async def test_product_order_status_reads_one_order(panel, client):
    panel.answers["product_order_status"] = by_form(
        "order", lambda _: PRODUCT_STATUS, lambda ids: dict.fromkeys(ids, PRODUCT_STATUS)
    )

    status = await client.product_order_status(5)

    assert status == smmapi.ProductOrderStatus(
        order=5,
        status=smmapi.OrderState.COMPLETED,
        status_text="Completed",
        charge=Decimal("7.5"),
        result="c85c1d1a-9ef3",
        refund=Decimal("0.4"),
    )


@pytest.mark.asyncio
async def test_product_order_status_raises_unknown_id(panel, client):
    error = {"error": "Incorrect order ID"}
    panel.answers["product_order_status"] = by_form(
        "order", lambda _: error, lambda ids: dict.fromkeys(ids, error)
    )

    with pytest.raises(smmapi.UnknownIdError):
        await client.product_order_status(5)


@pytest.mark.asyncio
async def test_cancel_returns_none_when_accepted(panel, client):
    panel.answers["cancel"] = by_form(
        "order", lambda _: {"cancel": 1}, lambda ids: [{"order": key, "cancel": 1} for key in ids]
    )

    assert await client.cancel(123) is None
    assert [sent_ids(form, "order") for form in panel.requests] == [[123]]


@pytest.mark.asyncio
async def test_cancel_raises_when_refused(panel, client):
    error = {"error": "Order can not be canceled"}
    panel.answers["cancel"] = by_form(
        "order", lambda _: error, lambda ids: [{"order": key, "cancel": error} for key in ids]
    )

    with pytest.raises(smmapi.PanelError, match="Order can not be canceled"):
        await client.cancel(123)


@pytest.mark.asyncio
async def test_cancel_raises_unknown_id(panel, client):
    error = {"error": "Incorrect order ID"}
    panel.answers["cancel"] = by_form(
        "order", lambda _: error, lambda ids: [{"order": key, "cancel": error} for key in ids]
    )

    with pytest.raises(smmapi.UnknownIdError):
        await client.cancel(123)


SINGLES = [
    pytest.param("status", id="status"),
    pytest.param("refill", id="refill"),
    pytest.param("refill_status", id="refill_status"),
    pytest.param("cancel", id="cancel"),
    pytest.param("product_order_status", id="product_order_status"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("method", SINGLES)
@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("123", id="str"),
        pytest.param(True, id="bool"),
        pytest.param(1.0, id="float"),
        pytest.param(None, id="none"),
        pytest.param(Decimal(1), id="decimal"),
    ],
)
async def test_single_lookup_refuses_a_non_int_id(panel, client, method, bad):
    with pytest.raises(TypeError):
        await getattr(client, method)(bad)

    assert panel.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("method", SINGLES)
@pytest.mark.parametrize("bad", [pytest.param(0, id="zero"), pytest.param(-5, id="negative")])
async def test_single_lookup_refuses_a_non_positive_id(panel, client, method, bad):
    with pytest.raises(smmapi.ValidationError):
        await getattr(client, method)(bad)

    assert panel.requests == []


# -- bulk methods --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_statuses_reads_items_and_per_item_errors(panel, client):
    panel.answers["status"] = {
        "1": STATUS,
        "2": {"error": "Incorrect order ID"},
        "3": "Incorrect order ID",
    }

    result = await client.statuses([1, 2, 3])

    assert result[1] == smmapi.OrderStatus(
        order=1,
        status=smmapi.OrderState.PARTIAL,
        status_text="Partial",
        charge=Decimal("0.27819"),
        start_count=3572,
        remains=157,
        currency="USD",
    )
    assert isinstance(result[2], smmapi.UnknownIdError)
    assert isinstance(result[3], smmapi.UnknownIdError)
    assert panel.requests == [{"key": KEY, "action": "status", "orders": "1,2,3"}]


@pytest.mark.asyncio
async def test_refills_reads_refill_ids_and_per_item_errors(panel, client):
    panel.answers["refill"] = [
        {"order": 1, "refill": 1},
        {"order": 2, "refill": {"error": "Incorrect order ID"}},
    ]

    result = await client.refills([1, 2])

    assert result[1] == 1
    assert isinstance(result[2], smmapi.UnknownIdError)
    assert panel.requests == [{"key": KEY, "action": "refill", "orders": "1,2"}]


@pytest.mark.asyncio
async def test_refill_statuses_reads_items_and_per_item_errors(panel, client):
    panel.answers["refill_status"] = [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]

    result = await client.refill_statuses([1, 2, 3])

    assert result[1] == smmapi.RefillStatus(
        refill=1, status=smmapi.RefillState.COMPLETED, status_text="Completed"
    )
    assert result[2] == smmapi.RefillStatus(
        refill=2, status=smmapi.RefillState.REJECTED, status_text="Rejected"
    )
    assert isinstance(result[3], smmapi.UnknownIdError)
    assert panel.requests == [{"key": KEY, "action": "refill_status", "refills": "1,2,3"}]


@pytest.mark.asyncio
async def test_cancels_reads_accepted_and_refused(panel, client):
    panel.answers["cancel"] = [
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
        {"order": 2, "cancel": 1},
        {"order": 3, "cancel": {"error": "Order can not be canceled"}},
    ]

    result = await client.cancels([2, 3, 9])

    assert result[2] is None
    assert type(result[3]) is smmapi.PanelError
    assert str(result[3]) == "Order can not be canceled"
    assert isinstance(result[9], smmapi.UnknownIdError)
    assert panel.requests == [{"key": KEY, "action": "cancel", "orders": "2,3,9"}]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("ok", None, id="ok"),
        pytest.param(" OK ", None, id="OK"),
        pytest.param("true", None, id="true"),
        pytest.param(0, smmapi.PanelError, id="zero"),
        pytest.param("nope", smmapi.OutcomeUnknownError, id="one-word"),
        pytest.param(7, smmapi.OutcomeUnknownError, id="a-number"),
    ],
)
async def test_cancels_read_each_flag_and_an_unreadable_one_is_that_ids_error(panel, client, value, expected):
    panel.answers["cancel"] = [{"order": 2, "cancel": value}, {"order": 3, "cancel": 1}]

    result = await client.cancels([2, 3])

    assert result[3] is None  # one unreadable item does not spoil the others
    if expected is None:
        assert result[2] is None
    else:
        assert type(result[2]) is expected


@pytest.mark.asyncio
async def test_product_order_statuses_reads_items_and_per_item_errors(panel, client):
    panel.answers["product_order_status"] = {
        "123": {"charge": 7.5, "status": "Completed", "result": "c85c1d1a"},
        "456": {"error": "Incorrect order ID"},
        "789": {"charge": 0, "status": "Canceled", "note": "Out of stock"},
    }

    result = await client.product_order_statuses([123, 456, 789])

    assert result[123] == smmapi.ProductOrderStatus(
        order=123,
        status=smmapi.OrderState.COMPLETED,
        status_text="Completed",
        charge=Decimal("7.5"),
        result="c85c1d1a",
    )
    assert isinstance(result[456], smmapi.UnknownIdError)
    assert result[789].note == "Out of stock"
    assert panel.requests == [{"key": KEY, "action": "product_order_status", "orders": "123,456,789"}]


ITERABLES = [
    pytest.param(lambda: [3, 1, 2], id="list"),
    pytest.param(lambda: (3, 1, 2), id="tuple"),
    pytest.param(lambda: {3, 1, 2}, id="set"),
    pytest.param(lambda: (key for key in [3, 1, 2]), id="generator"),
    pytest.param(lambda: range(1, 4), id="range"),
    pytest.param(lambda: dict.fromkeys([3, 1, 2]).keys(), id="dict-keys"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
@pytest.mark.parametrize("make_ids", ITERABLES)
async def test_bulk_takes_any_iterable_and_keys_in_input_order(panel, client, bulk, make_ids):
    answer_bulk(panel, bulk)
    expected = list(make_ids())

    result = await getattr(client, bulk.method)(make_ids())

    assert list(result) == expected
    assert all(bulk.is_result_for(key, value) for key, value in result.items())
    assert chunks_sent(panel, bulk) == [expected]


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_collapses_duplicates(panel, client, bulk):
    answer_bulk(panel, bulk)

    result = await getattr(client, bulk.method)([3, 1, 3, 2, 1, 3])

    assert list(result) == [3, 1, 2]
    assert chunks_sent(panel, bulk) == [[3, 1, 2]]


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
@pytest.mark.parametrize(
    "make_ids",
    [
        pytest.param(list, id="list"),
        pytest.param(tuple, id="tuple"),
        pytest.param(lambda: iter(()), id="iterator"),
        pytest.param(lambda: range(0), id="range"),
    ],
)
async def test_bulk_of_nothing_is_empty_without_a_request(panel, client, bulk, make_ids):
    result = await getattr(client, bulk.method)(make_ids())

    assert result == {}
    assert panel.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_sends_at_most_100_ids_per_request(panel, client, bulk):
    answer_bulk(panel, bulk)

    result = await getattr(client, bulk.method)(range(1, 251))

    assert list(result) == list(range(1, 251))
    assert all(bulk.is_result_for(key, value) for key, value in result.items())
    assert sorted(chunks_sent(panel, bulk)) == [
        list(range(1, 101)),
        list(range(101, 201)),
        list(range(201, 251)),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_respects_max_batch_size(panel, make_client, bulk):
    answer_bulk(panel, bulk)
    async with make_client(max_batch_size=10) as client:
        result = await getattr(client, bulk.method)(range(1, 26))

    assert list(result) == list(range(1, 26))
    assert sorted(chunks_sent(panel, bulk)) == [
        list(range(1, 11)),
        list(range(11, 21)),
        list(range(21, 26)),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_failed_chunk_errors_only_its_ids(panel, make_client, bulk):
    def answer(form: dict[str, str]) -> Any:
        ids = bulk.ids(form)
        if "3" in ids:
            return {"error": "Service temporarily unavailable"}
        return bulk.answer(ids)

    panel.answers[bulk.action] = answer
    async with make_client(max_batch_size=2, max_retries=0) as client:
        result = await getattr(client, bulk.method)([1, 2, 3, 4, 5])

    assert list(result) == [1, 2, 3, 4, 5]
    # A read refused as a whole is asked again in halves, so 4 gets its own answer; a write
    # is never sent again, and the refusal (nothing done) is each of its IDs' error.
    fine = (1, 2, 4, 5) if not bulk.spec.write else (1, 2, 5)
    assert all(bulk.is_result_for(key, result[key]) for key in fine)
    for key in {1, 2, 3, 4, 5} - set(fine):
        assert isinstance(result[key], smmapi.PanelError)
        assert "Service temporarily unavailable" in str(result[key])


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_transport_failure_is_a_value_not_a_raise(make_client, bulk):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=0) as client:
        result = await getattr(client, bulk.method)([1, 2])

    assert list(result) == [1, 2]
    assert all(isinstance(value, smmapi.ConnectError) for value in result.values())


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
async def test_bulk_id_missing_from_the_answer_gets_an_error(panel, client, bulk):
    panel.answers[bulk.action] = lambda form: bulk.answer(["1"])

    result = await getattr(client, bulk.method)([1, 2])

    assert bulk.is_result_for(1, result[1])
    assert isinstance(result[2], smmapi.SmmError)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bulk", [param for param in BULKS if param.values[0].method in ("refills", "cancels")]
)
async def test_bulk_write_id_missing_from_the_answer_is_outcome_unknown(panel, client, bulk):
    panel.answers[bulk.action] = lambda form: bulk.answer(["1"])

    result = await getattr(client, bulk.method)([1, 2])

    assert isinstance(result[2], smmapi.OutcomeUnknownError)
    assert result[2].action == bulk.action


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
@pytest.mark.parametrize(
    "ids",
    [
        pytest.param("123", id="str"),
        pytest.param(b"123", id="bytes"),
        pytest.param(123, id="int"),
        pytest.param(None, id="none"),
        pytest.param([1, "2"], id="str-item"),
        pytest.param([True], id="bool-item"),
        pytest.param([1, False], id="false-item"),
        pytest.param([1.0], id="float-item"),
        pytest.param([None], id="none-item"),
        pytest.param([Decimal(1)], id="decimal-item"),
    ],
)
async def test_bulk_refuses_wrong_types(panel, client, bulk, ids):
    with pytest.raises(TypeError):
        await getattr(client, bulk.method)(ids)

    assert panel.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("bulk", BULKS)
@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([1, 0], id="zero"),
        pytest.param([-5], id="negative"),
        pytest.param(range(-1, 3), id="range-through-zero"),
    ],
)
async def test_bulk_refuses_non_positive_ids(panel, client, bulk, ids):
    with pytest.raises(smmapi.ValidationError):
        await getattr(client, bulk.method)(ids)

    assert panel.requests == []


# -- lifecycle -----------------------------------------------------------------------------------


class ClosingTransport(httpx.MockTransport):
    """A MockTransport that remembers whether it was closed."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


CALLS = [
    pytest.param(lambda c: c.balance(), id="balance"),
    pytest.param(lambda c: c.services(), id="services"),
    pytest.param(lambda c: c.products(), id="products"),
    pytest.param(lambda c: c.add(service=1, link="https://example.com/p/1", quantity=100), id="add"),
    pytest.param(lambda c: c.add_product_order(product=1, quantity=1), id="add_product_order"),
    pytest.param(lambda c: c.status(1), id="status"),
    pytest.param(lambda c: c.statuses([1, 2]), id="statuses"),
    pytest.param(lambda c: c.refill(1), id="refill"),
    pytest.param(lambda c: c.refills([1, 2]), id="refills"),
    pytest.param(lambda c: c.refill_status(1), id="refill_status"),
    pytest.param(lambda c: c.refill_statuses([1, 2]), id="refill_statuses"),
    pytest.param(lambda c: c.cancel(1), id="cancel"),
    pytest.param(lambda c: c.cancels([1, 2]), id="cancels"),
    pytest.param(lambda c: c.product_order_status(1), id="product_order_status"),
    pytest.param(lambda c: c.product_order_statuses([1, 2]), id="product_order_statuses"),
]


@pytest.mark.asyncio
async def test_async_with_returns_the_client(make_client):
    client = make_client()

    async with client as entered:
        assert entered is client


@pytest.mark.asyncio
async def test_aclose_twice_is_harmless(make_client):
    client = make_client()

    await client.aclose()
    await client.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("call", CALLS)
async def test_calls_after_close_raise(panel, make_client, call):
    client = make_client()
    await client.aclose()

    with pytest.raises(smmapi.ClientClosedError):
        await call(client)

    assert panel.requests == []


@pytest.mark.asyncio
async def test_calls_after_async_with_raise(panel, make_client):
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    async with make_client() as client:
        await client.balance()

    with pytest.raises(smmapi.ClientClosedError):
        await client.balance()

    assert panel.actions() == ["balance"]


@pytest.mark.asyncio
async def test_catalogue_cached_before_close_still_raises_after(panel, make_client):
    panel.answers["services"] = SERVICES
    async with make_client(catalogue_ttl=3600) as client:
        await client.services()

    with pytest.raises(smmapi.ClientClosedError):
        await client.services()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "method", ["statuses", "refills", "refill_statuses", "cancels", "product_order_statuses"]
)
async def test_empty_bulk_after_close_raises(make_client, method):
    client = make_client()
    await client.aclose()

    with pytest.raises(smmapi.ClientClosedError):
        await getattr(client, method)([])


def test_client_closed_error_is_a_runtime_error():
    assert issubclass(smmapi.ClientClosedError, RuntimeError)
    assert issubclass(smmapi.ClientClosedError, smmapi.SmmError)


@pytest.mark.asyncio
async def test_aclose_closes_the_http_client_it_made():
    transport = ClosingTransport(Panel())
    client = smmapi.AsyncClient(URL, KEY, transport=transport)

    await client.aclose()

    assert transport.closed


@pytest.mark.asyncio
async def test_aclose_leaves_an_injected_http_client_open(panel):
    transport = ClosingTransport(panel)
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    async with httpx.AsyncClient(transport=transport) as http:
        client = smmapi.AsyncClient(URL, KEY, http_client=http)
        await client.balance()
        await client.aclose()

        assert not transport.closed
        assert not http.is_closed


@pytest.mark.asyncio
async def test_injected_http_client_is_used(panel):
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(panel)) as http,
        smmapi.AsyncClient(URL, KEY, http_client=http) as client,
    ):
        await client.balance()

    assert panel.actions() == ["balance"]


@pytest.mark.asyncio
async def test_transport_and_http_client_together_is_a_type_error(panel):
    async with httpx.AsyncClient(transport=httpx.MockTransport(panel)) as http:
        with pytest.raises(TypeError):
            smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel), http_client=http)


def test_construction_works_outside_an_event_loop(panel):
    panel.answers["balance"] = {"balance": "68.6868", "currency": "USD"}
    client = smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel))

    async def use() -> smmapi.Balance:
        async with client:
            return await client.balance()

    assert anyio.run(use).balance == Decimal("68.6868")


@pytest.mark.parametrize("second_backend", ["asyncio", "trio"])
def test_a_client_used_from_a_second_event_loop_raises_a_clear_error(panel, second_backend):
    panel.answers["balance"] = {"balance": "68.6868", "currency": "USD"}
    client = smmapi.AsyncClient(URL, KEY, transport=httpx.MockTransport(panel))

    async def first() -> None:
        await client.balance()

    async def second() -> None:
        try:
            with pytest.raises(smmapi.ClientClosedError, match="another event loop"):
                await client.balance()
            with pytest.raises(RuntimeError, match="another event loop"):
                await client.status(1)
        finally:
            # It still closes, and says it was the wrong loop.
            with pytest.raises(smmapi.ClientClosedError, match="another event loop"):
                await client.aclose()
        with pytest.raises(smmapi.ClientClosedError, match="closed"):
            await client.balance()
        await client.aclose()  # closed: again is nothing

    anyio.run(first)
    anyio.run(second, backend=second_backend)
    assert panel.actions() == ["balance"]
    assert "state=closed" in repr(client)


def forget(clients: list[smmapi.AsyncClient]) -> None:
    """Drop the last references to ``clients`` and collect them."""
    clients.clear()
    gc.collect()


@pytest.mark.asyncio
async def test_client_collected_while_open_warns(panel, make_client):
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    clients = [make_client()]
    await clients[0].balance()

    with pytest.warns(ResourceWarning, match="unclosed"):
        forget(clients)


def test_client_never_used_collected_does_not_warn(make_client):
    client = make_client()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()

    assert [warning for warning in caught if issubclass(warning.category, ResourceWarning)] == []


@pytest.mark.asyncio
async def test_client_collected_after_close_does_not_warn(make_client):
    client = make_client()
    await client.aclose()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()

    assert [warning for warning in caught if issubclass(warning.category, ResourceWarning)] == []


@pytest.mark.parametrize(
    ("args", "options"),
    [
        pytest.param((URL, ""), {}, id="empty-key"),
        pytest.param(("http://panel.test/api/v2", KEY), {}, id="plain-http"),
        pytest.param((URL, KEY), {"max_batch_size": 101}, id="batch-over-100"),
        pytest.param(
            (URL, KEY),
            {"transport": httpx.MockTransport(Panel()), "http_client": httpx.AsyncClient()},
            id="transport-and-http_client",
        ),
    ],
)
def test_failed_construction_leaves_nothing_behind(monkeypatch, args, options):
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises((smmapi.ValidationError, TypeError)):
            smmapi.AsyncClient(*args, **options)
        gc.collect()

    assert [repr(hook.exc_value) for hook in unraisable] == []
    assert [str(warning.message) for warning in caught] == []


@pytest.mark.asyncio
async def test_repr_shows_the_url_and_not_the_key(make_client):
    async with make_client() as client:
        text = repr(client)

    assert URL in text
    assert KEY not in text


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://panel.test/api/v2", id="plain-http"),
        pytest.param("http://203.0.113.7/api/v2", id="plain-http-ip"),
        pytest.param("ftp://panel.test/api/v2", id="ftp"),
        pytest.param("panel.test/api/v2", id="no-scheme"),
        pytest.param("https:///api/v2", id="no-host"),
    ],
)
def test_constructor_refuses_bad_urls(url):
    with pytest.raises(smmapi.ValidationError):
        smmapi.AsyncClient(url, KEY)


@pytest.mark.asyncio
async def test_plain_http_allowed_when_asked(panel):
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    async with smmapi.AsyncClient(
        "http://panel.test/api/v2", KEY, allow_http=True, transport=httpx.MockTransport(panel)
    ) as client:
        await client.balance()

    assert panel.actions() == ["balance"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:8000/api/v2", id="127.0.0.1"),
        pytest.param("http://localhost/api/v2", id="localhost"),
        pytest.param("http://LOCALHOST:8080/api/v2", id="localhost-upper"),
        pytest.param("http://[::1]:8000/api/v2", id="ipv6-loopback"),
    ],
)
async def test_plain_http_allowed_to_loopback(panel, url):
    panel.answers["balance"] = {"balance": "1", "currency": "USD"}
    async with smmapi.AsyncClient(url, KEY, transport=httpx.MockTransport(panel)) as client:
        await client.balance()

    assert panel.actions() == ["balance"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"max_batch_size": 101}, smmapi.ValidationError, id="max_batch_size-101"),
        pytest.param({"max_batch_size": 0}, smmapi.ValidationError, id="max_batch_size-0"),
        pytest.param({"max_batch_size": 50.0}, TypeError, id="max_batch_size-float"),
        pytest.param({"max_retries": -1}, smmapi.ValidationError, id="max_retries-negative"),
        pytest.param({"max_concurrency": 0}, smmapi.ValidationError, id="max_concurrency-0"),
        pytest.param({"batch_window": -0.1}, smmapi.ValidationError, id="batch_window-negative"),
        pytest.param({"retry_backoff": -1}, smmapi.ValidationError, id="retry_backoff-negative"),
        pytest.param({"catalogue_ttl": -1}, smmapi.ValidationError, id="catalogue_ttl-negative"),
    ],
)
def test_constructor_refuses_bad_options(options, error):
    with pytest.raises(error):
        smmapi.AsyncClient(URL, KEY, **options)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        pytest.param("", smmapi.ValidationError, id="empty"),
        pytest.param("   ", smmapi.ValidationError, id="blank"),
        pytest.param(None, smmapi.ValidationError, id="none"),
    ],
)
def test_constructor_refuses_an_empty_key(key, error):
    with pytest.raises(error):
        smmapi.AsyncClient(URL, key)


@pytest.mark.asyncio
async def test_max_batch_size_100_is_allowed(make_client):
    async with make_client(max_batch_size=100):
        pass


@pytest.mark.asyncio
async def test_user_agent_names_smmapi_and_its_version(make_client):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1", "currency": "USD"})

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        await client.balance()

    [user_agent] = seen[0].headers.get_list("user-agent")
    assert re.match(rf"smmapi/{re.escape(smmapi.__version__)}\b", user_agent)


@pytest.mark.asyncio
async def test_request_is_a_form_post(make_client):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1", "currency": "USD"})

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        await client.balance()

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.asyncio
async def test_headers_are_added(make_client):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1", "currency": "USD"})

    transport = httpx.MockTransport(handler)
    async with make_client(transport=transport, headers={"X-Reseller": "shop-7"}) as client:
        await client.balance()

    assert seen[0].headers.get_list("x-reseller") == ["shop-7"]
    assert seen[0].headers["user-agent"].startswith("smmapi/")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("User-Agent", id="canonical-case"),
        pytest.param("user-agent", id="lower-case"),
        pytest.param("USER-AGENT", id="upper-case"),
    ],
)
async def test_headers_override_the_user_agent(make_client, name):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1", "currency": "USD"})

    async with make_client(transport=httpx.MockTransport(handler), headers={name: "mine/1.0"}) as client:
        await client.balance()

    assert seen[0].headers.get_list("user-agent") == ["mine/1.0"]


@pytest.mark.asyncio
async def test_tls_verification_stays_on_in_the_http_client_it_makes():
    import ssl  # noqa: PLC0415

    async with smmapi.AsyncClient(URL, KEY) as client:
        pool = client._wire._http._transport._pool
        assert pool._ssl_context.verify_mode is ssl.CERT_REQUIRED
        assert pool._ssl_context.check_hostname
