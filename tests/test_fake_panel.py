"""smmapi.testing.FakePanel: its rules driven with raw httpx, then the smmapi client against it.

The first half never touches smmapi's client, so a bug shared by the fake and the client cannot
hide; the second runs every client method and every fault end to end, mostly through the
plugin's smm_panel / smm_client fixtures. Every test runs on asyncio and trio (but the one on a
real uvicorn server), moves the panel's clock with advance() or settle() (no sleeps) and is
bounded by fail_after. One test lets a real 10 ms timeout expire: it is what it tests.
"""

import ast
import datetime
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import smmapi
import smmapi.testing
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from smmapi.testing import (
    DEFAULT_KEY,
    DEFAULT_SERVICES,
    ORDER_TYPES,
    FakePanel,
    FakeProduct,
    FakeService,
    Fault,
    Outcomes,
)
from smmapi.testing._json import NUMBER_STYLES, Num, render

# The marker sets up the plugin's smm_panel; the raw tests make their own panels.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.smm_panel(outcomes=Outcomes(partial=0, canceled=0, refill_rejected=0)),
]

LIMIT = 10  # seconds any test may take
#: Every order and refill completes: for tests of one path through the lifecycle.
SURE = Outcomes(partial=0, canceled=0, refill_rejected=0)
LINK = "https://instagram.com/p/Cx1"


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(name="fake")
def _fake() -> FakePanel:
    return FakePanel(outcomes=SURE)


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(LIMIT):
        yield


async def send(
    panel: FakePanel, data: Any = None, *, url: str | None = None, **options: Any
) -> httpx.Response:
    """One raw POST to the panel (no smmapi client involved)."""
    with bounded():
        async with httpx.AsyncClient(transport=panel.transport()) as http:
            return await http.post(url or panel.url, data=data, **options)


def read(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


async def call(panel: FakePanel, action: str, **fields: Any) -> Any:
    """POST ``action`` with the panel's key; the JSON answer (HTTP 200 expected)."""
    response = await send(
        panel, {"key": panel.key, "action": action, **{k: str(v) for k, v in fields.items()}}
    )
    assert response.status_code == 200, response.text
    return read(response)


async def place(panel: FakePanel, service: int = 101, quantity: int = 1000, **fields: Any) -> int:
    answer = await call(panel, "add", service=service, link=LINK, quantity=quantity, **fields)
    return int(answer["order"])


# -- the package -----------------------------------------------------------------------------

#: Every module of the fake but the pytest plugin, which alone may import the client.
FAKE_MODULES = sorted(
    path for path in Path(smmapi.testing.__file__).parent.glob("*.py") if path.name != "_plugin.py"
)


@pytest.mark.parametrize("path", FAKE_MODULES, ids=lambda path: path.name)
def test_the_fake_imports_nothing_of_the_client(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert not any(alias.name.startswith("smmapi") for alias in node.names), node.lineno
        elif isinstance(node, ast.ImportFrom):
            assert node.level <= 1, f"line {node.lineno} reaches out of smmapi.testing"
            assert node.level == 1 or not (node.module or "").startswith("smmapi"), node.lineno


def test_the_public_names_are_sorted_and_report_the_public_module():
    # Sorted as ruff's RUF022 sorts: constants, then classes, then the rest.
    kind = lambda name: (not name.isupper(), not name[0].isupper(), name)  # noqa: E731
    assert smmapi.testing.__all__ == sorted(smmapi.testing.__all__, key=kind)
    for name in smmapi.testing.__all__:
        value = getattr(smmapi.testing, name)
        if isinstance(value, type):
            assert value.__module__ == "smmapi.testing", name


# -- the protocol ----------------------------------------------------------------------------


async def test_a_wrong_key_is_refused_with_http_200(fake):
    response = await send(fake, {"key": "nope", "action": "balance"})
    assert (response.status_code, read(response)) == (200, {"error": "Invalid API key"})


async def test_a_missing_key_is_refused(fake):
    assert read(await send(fake, {"action": "balance"})) == {"error": "Invalid API key"}


async def test_an_unknown_action_is_refused(fake):
    assert await call(fake, "teleport") == {"error": "Invalid action"}


async def test_the_key_is_checked_before_the_action(fake):
    assert read(await send(fake, {"key": "nope", "action": "teleport"})) == {"error": "Invalid API key"}


async def test_a_json_body_carries_no_form_so_no_key(fake):
    response = await send(fake, json={"key": fake.key, "action": "balance"})
    assert read(response) == {"error": "Invalid API key"}


async def test_get_is_not_allowed(fake):
    with bounded():
        async with httpx.AsyncClient(transport=fake.transport()) as http:
            response = await http.get(fake.url, params={"key": fake.key, "action": "balance"})
    assert response.status_code == 405


async def test_any_path_is_answered(fake):
    response = await send(fake, {"key": fake.key, "action": "balance"}, url="https://fake-panel.invalid/x")
    assert read(response)["currency"] == "USD"


async def test_the_defaults_are_an_https_url_on_a_reserved_name_and_an_obviously_fake_key():
    panel = FakePanel()
    assert panel.url == "https://fake-panel.invalid/api/v2"
    assert panel.key == DEFAULT_KEY
    assert "fake" in panel.key


async def test_the_lifespan_protocol_is_answered(fake):
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send_message(message: Any) -> None:
        sent.append(message)

    with bounded():
        await fake({"type": "lifespan"}, receive, send_message)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# -- catalogue and balance -------------------------------------------------------------------


async def test_balance_has_the_documented_shape(fake):
    response = await send(fake, {"key": fake.key, "action": "balance"})
    assert response.text == '{"balance": "100.0000", "currency": "USD"}'


async def test_balance_and_currency_are_chosen():
    panel = FakePanel(balance="68.6868", currency="EUR")
    assert await call(panel, "balance") == {"balance": "68.6868", "currency": "EUR"}


async def test_services_list_every_order_type_with_wire_names(fake):
    services = await call(fake, "services")
    assert {s["type"] for s in services} >= {
        "Default",
        "Package",
        "Custom Comments",
        "Mentions",
        "Mentions with Hashtags",
        "Mentions Custom List",
        "Mentions Hashtag",
        "Mentions User Followers",
        "Mentions Media Likers",
        "Comment Likes",
        "Poll",
        "Subscriptions",
    }
    first = services[0]
    assert first == {
        "service": 101,
        "name": "Instagram Followers [Refill 30D] [Max 100K]",
        "type": "Default",
        "category": "Instagram Followers",
        "rate": "0.90",
        "min": "50",
        "max": "100000",
        "refill": True,
        "cancel": True,
        "dripfeed": True,
    }
    defaults = [s for s in services if s["type"] == "Default"]
    assert any(s["dripfeed"] for s in defaults)
    assert not all(s["dripfeed"] for s in defaults)


async def test_products_list_stock_and_unit_prices(fake):
    products = {p["product"]: p for p in await call(fake, "products")}
    assert products[1] == {
        "product": 1,
        "name": "Netflix Premium 1 Month",
        "rate": Decimal("2.50"),
        "min": 1,
        "max": 10,
        "category": "Netflix",
        "require": "Input your account e-mail",
        "status": "In stock",
        "inventory": 40,
        "type": "Auto",
    }
    assert products[2]["status"] == "Out of stock"
    assert "inventory" not in products[3]


async def test_a_custom_catalogue_replaces_the_default():
    service = FakeService(9, "Views", "Default", "YouTube", rate="1.5", min=100, max=1000)
    product = FakeProduct(5, "Key", rate="3", min=1, max=2, category="Games", inventory=1)
    panel = FakePanel(services=[service], products=[product])
    assert [s["service"] for s in await call(panel, "services")] == [9]
    assert [p["product"] for p in await call(panel, "products")] == [5]


def test_a_catalogue_entry_refuses_float_prices_unknown_types_and_bad_limits():
    with pytest.raises(TypeError):
        FakeService(1, "x", "Default", "c", rate=0.1, min=1, max=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown order type"):
        FakeService(1, "x", "Teleport", "c", rate="1", min=1, max=2)
    with pytest.raises(ValueError, match="min <= max"):
        FakeService(1, "x", "Default", "c", rate="1", min=5, max=2)


def test_the_default_catalogue_only_uses_known_order_types():
    assert {s.type for s in DEFAULT_SERVICES} <= set(ORDER_TYPES)


# -- add -------------------------------------------------------------------------------------


async def test_add_returns_increasing_order_ids_and_charges_rate_per_thousand(fake):
    first = await call(fake, "add", service=101, link=LINK, quantity=1000)
    second = await call(fake, "add", service=104, link=LINK, quantity=1234)
    assert first == {"order": 10001}
    assert second == {"order": 10002}
    # 0.90 per 1000 x 1000 + 0.02 per 1000 x 1234, exactly
    assert fake.balance == Decimal(100) - Decimal("0.90") - Decimal("0.02468")
    assert await call(fake, "balance") == {"balance": "99.07532", "currency": "USD"}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param(
            {"service": 999, "link": LINK, "quantity": 100}, "Incorrect service ID", id="unknown-service"
        ),
        pytest.param(
            {"service": "abc", "link": LINK, "quantity": 100}, "Incorrect service ID", id="service-text"
        ),
        pytest.param({"service": 101, "quantity": 100}, "The link field is required", id="no-link"),
        pytest.param({"service": 101, "link": LINK}, "The quantity field is required", id="no-quantity"),
        pytest.param(
            {"service": 101, "link": LINK, "quantity": "1e3"}, "Incorrect quantity", id="quantity-text"
        ),
        pytest.param(
            {"service": 101, "link": LINK, "quantity": 49}, "Quantity less than minimal 50", id="below-min"
        ),
        pytest.param(
            {"service": 101, "link": LINK, "quantity": 100_001},
            "Quantity more than maximal 100000",
            id="above-max",
        ),
        pytest.param(
            {"service": 103, "link": LINK, "quantity": 1000, "runs": 2, "interval": 10},
            "Drip-feed is disabled for this service",
            id="dripfeed-disabled",
        ),
        pytest.param(
            {"service": 101, "link": LINK, "quantity": 100, "runs": 2},
            "The interval field is required",
            id="runs-without-interval",
        ),
        pytest.param(
            {"service": 401, "link": LINK, "quantity": 100}, "The usernames field is required", id="mentions"
        ),
        pytest.param(
            {"service": 402, "link": LINK, "quantity": 100, "usernames": "a"},
            "The hashtags field is required",
            id="mentions-hashtags",
        ),
        pytest.param(
            {"service": 404, "link": LINK, "quantity": 100}, "The hashtag field is required", id="hashtag"
        ),
        pytest.param(
            {"service": 405, "link": LINK, "quantity": 100},
            "The username field is required",
            id="user-followers",
        ),
        pytest.param(
            {"service": 406, "link": LINK, "quantity": 100}, "The media field is required", id="media"
        ),
        pytest.param(
            {"service": 501, "link": LINK, "quantity": 100},
            "The username field is required",
            id="comment-likes",
        ),
        pytest.param(
            {"service": 601, "link": LINK, "quantity": 100}, "The answer_number field is required", id="poll"
        ),
        pytest.param(
            {"service": 301, "link": LINK, "quantity": 10},
            "The comments field is required",
            id="custom-comments",
        ),
        pytest.param(
            {"service": 301, "link": LINK, "comments": "one\ntwo"},
            "Quantity less than minimal 10",
            id="too-few-comments",
        ),
        pytest.param(
            {"service": 701, "link": LINK, "quantity": 100},
            "The username field is required",
            id="subscription-needs-username",
        ),
        pytest.param(
            {"service": 701, "username": "me", "min": 100, "max": 50, "delay": 0},
            "Min quantity is more than max quantity",
            id="subscription-min-above-max",
        ),
        pytest.param(
            {"service": 701, "username": "me", "min": 100, "max": 200, "delay": 7},
            "Incorrect delay",
            id="subscription-delay",
        ),
        pytest.param(
            {"service": 701, "username": "me", "min": 100, "max": 200, "delay": 0, "expiry": "2030-01-01"},
            "Incorrect expiry",
            id="subscription-expiry",
        ),
    ],
)
async def test_add_refuses_a_bad_form_and_charges_nothing(fake, fields, error):
    assert await call(fake, "add", **fields) == {"error": error}
    assert fake.balance == 100
    assert fake.orders == {}


async def test_add_beyond_the_balance_is_refused_and_places_nothing():
    panel = FakePanel(balance="0.89")
    assert await call(panel, "add", service=101, link=LINK, quantity=1000) == {
        "error": "Not enough funds on balance"
    }
    assert (panel.balance, dict(panel.orders)) == (Decimal("0.89"), {})


async def test_an_order_costing_the_whole_balance_is_placed():
    panel = FakePanel(balance="0.90")
    assert "order" in await call(panel, "add", service=101, link=LINK, quantity=1000)
    assert panel.balance == 0


@pytest.mark.parametrize(
    ("fields", "quantity", "charge"),
    [
        pytest.param({"service": 201, "link": LINK}, 1, "4.20", id="package-is-its-price"),
        pytest.param(
            {"service": 201, "link": LINK, "quantity": 500}, 1, "4.20", id="package-ignores-quantity"
        ),
        pytest.param(
            {"service": 301, "link": LINK, "comments": "\n".join(f"c{i}" for i in range(12))},
            12,
            "0.096",
            id="custom-comments-count-lines",
        ),
        pytest.param(
            {"service": 301, "link": LINK, "comments": "a\r\nb\n\n" + "c\n" * 8, "quantity": 999},
            10,
            "0.08",
            id="custom-comments-ignore-quantity-and-blank-lines",
        ),
        pytest.param(
            {"service": 302, "link": LINK, "comments": "a\nb"}, 1, "3.00", id="custom-comments-package"
        ),
        pytest.param(
            {"service": 401, "link": LINK, "quantity": 100, "usernames": "a\nb"}, 100, "0.2", id="mentions"
        ),
        pytest.param(
            {"service": 402, "link": LINK, "quantity": 100, "usernames": "a", "hashtags": "#x"},
            100,
            "0.24",
            id="mentions-with-hashtags",
        ),
        pytest.param(
            {"service": 403, "link": LINK, "usernames": "\n".join(f"u{i}" for i in range(10))},
            10,
            "0.03",
            id="mentions-custom-list-counts-usernames",
        ),
        pytest.param(
            {"service": 404, "link": LINK, "quantity": 200, "hashtag": "cats"},
            200,
            "0.36",
            id="mentions-hashtag",
        ),
        pytest.param(
            {"service": 405, "link": LINK, "quantity": 200, "username": "nasa"},
            200,
            "0.36",
            id="mentions-user-followers",
        ),
        pytest.param(
            {"service": 406, "link": LINK, "quantity": 200, "media": LINK},
            200,
            "0.36",
            id="mentions-media-likers",
        ),
        pytest.param(
            {"service": 501, "link": LINK, "quantity": 20, "username": "owner"},
            20,
            "0.07",
            id="comment-likes",
        ),
        pytest.param(
            {"service": 601, "link": LINK, "quantity": 10, "answer_number": 2}, 10, "0.012", id="poll"
        ),
        pytest.param(
            {"service": 701, "username": "me", "min": 100, "max": 200, "delay": 30, "posts": 5},
            1000,
            "0.15",
            id="subscription-charges-max-times-posts",
        ),
        pytest.param(
            {"service": 701, "username": "me", "min": 100, "max": 200, "delay": 0},
            200,
            "0.03",
            id="subscription-without-posts-charges-one",
        ),
        pytest.param(
            {"service": 101, "link": LINK, "quantity": 100, "runs": 5, "interval": 30},
            500,
            "0.45",
            id="dripfeed-quantity-is-per-run",
        ),
    ],
)
async def test_each_order_type_counts_and_charges_its_own_way(fake, fields, quantity, charge):
    answer = await call(fake, "add", **fields)
    order = fake.orders[answer["order"]]
    assert (order.quantity, order.charge) == (quantity, Decimal(charge))
    assert fake.balance == 100 - Decimal(charge)
    assert order.fields == {k: str(v) for k, v in fields.items()}


# -- the order lifecycle ---------------------------------------------------------------------


async def test_an_order_goes_pending_in_progress_completed_as_the_clock_moves(fake):
    order = await place(fake, quantity=1000)
    pending = await call(fake, "status", order=order)
    assert pending == {
        "charge": "0.9000",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "USD",
    }
    fake.advance(62)  # every order starts within a minute
    early = await call(fake, "status", order=order)
    fake.advance(200)
    later = await call(fake, "status", order=order)
    assert early["status"] == later["status"] == "In progress"
    assert 1000 >= int(early["remains"]) > int(later["remains"]) >= 0
    assert int(early["start_count"]) > 0
    fake.advance(600)  # and is delivered within ten minutes more
    done = await call(fake, "status", order=order)
    assert done == {**early, "status": "Completed", "remains": "0"}


async def test_a_dripfeed_order_runs_for_its_runs_times_its_interval(fake):
    order = await place(fake, quantity=100, runs=10, interval=60)
    fake.advance(62 + 600)
    assert (await call(fake, "status", order=order))["status"] == "In progress"
    fake.advance(9 * 3600)
    assert (await call(fake, "status", order=order))["status"] == "Completed"


async def test_settle_ends_everything_and_says_how_long_it_took(fake):
    await place(fake)
    await place(fake, quantity=100, runs=3, interval=10)
    took = fake.settle()
    assert 60 < took < 60 + 20 * 60 + 600
    assert {o.status for o in fake.orders.values()} == {"Completed"}
    assert fake.settle() == 0


async def test_a_partial_order_refunds_what_it_did_not_deliver():
    panel = FakePanel(outcomes=Outcomes(partial=1, canceled=0))
    order = await place(panel, quantity=1000)
    panel.settle()
    status = await call(panel, "status", order=order)
    remains = int(status["remains"])
    assert status["status"] == "Partial"
    assert 0 < remains < 1000
    refund = Decimal("0.90") * remains / 1000
    assert Decimal(status["charge"]) == Decimal("0.90") - refund
    assert panel.balance == 100 - Decimal("0.90") + refund


async def test_a_canceled_order_refunds_everything():
    panel = FakePanel(outcomes=Outcomes(partial=0, canceled=1))
    order = await place(panel, quantity=1000)
    panel.settle()
    assert await call(panel, "status", order=order) == {
        "charge": "0.0000",
        "start_count": "0",
        "status": "Canceled",
        "remains": "1000",
        "currency": "USD",
    }
    assert panel.balance == 100


async def test_the_clock_never_goes_back(fake):
    with pytest.raises(ValueError, match="forward"):
        fake.advance(-1)


class Timer:
    """Real time as a test sets it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_with_speed_the_clock_follows_real_time_sped_up_with_nothing_driving_it():
    timer = Timer()
    panel = FakePanel(outcomes=SURE, speed=60, timer=timer)
    order = await place(panel, quantity=1000)
    assert panel.now == 0
    timer.now += 2
    assert panel.now == 120
    timer.now += 11  # eleven minutes on the panel: a request sees the order delivered
    assert (await call(panel, "status", order=order))["status"] == "Completed"
    assert panel.requests[-1].time == 780


async def test_with_speed_advance_still_adds_and_a_timer_stepping_back_moves_nothing():
    timer = Timer()
    panel = FakePanel(speed=10, timer=timer)
    panel.advance(100)
    timer.now += 1
    assert panel.now == 110
    timer.now -= 5
    assert panel.now == 110
    timer.now += 6  # back where it was, and one second on
    assert panel.now == 120


async def test_without_speed_real_time_never_moves_the_clock():
    timer = Timer()
    panel = FakePanel(timer=timer)
    timer.now += 3600
    assert panel.now == 0


@pytest.mark.parametrize("speed", [0, -1], ids=["zero", "negative"])
async def test_a_speed_must_be_positive(speed):
    with pytest.raises(ValueError, match="speed"):
        FakePanel(speed=speed)


# -- status ----------------------------------------------------------------------------------


async def test_bulk_status_is_keyed_by_id_with_per_item_errors(fake):
    order = await place(fake)
    answer = await call(fake, "status", orders=f"{order},1,abc")
    assert list(answer) == [str(order), "1", "abc"]
    assert answer[str(order)]["status"] == "Pending"
    assert answer["1"] == answer["abc"] == {"error": "Incorrect order ID"}


async def test_single_status_of_an_unknown_order_is_a_top_level_error(fake):
    assert await call(fake, "status", order=42) == {"error": "Incorrect order ID"}


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("status", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
        ("cancel", "orders"),
        ("product_order_status", "orders"),
    ],
)
async def test_bulk_forms_take_at_most_a_hundred_ids(fake, action, field):
    ids = ",".join(str(i) for i in range(1, 102))
    assert await call(fake, action, **{field: ids}) == {"error": "Too many IDs: at most 100 per request"}
    hundred = ",".join(str(i) for i in range(1, 101))
    assert len(await call(fake, action, **{field: hundred})) == 100


async def test_a_lookup_without_ids_is_an_incorrect_request(fake):
    assert await call(fake, "status") == {"error": "Incorrect request"}
    assert await call(fake, "status", orders=" , ") == {"error": "Incorrect request"}


# -- refill ----------------------------------------------------------------------------------


async def test_refill_follows_the_service_flag_and_the_order_state(fake):
    refillable = await place(fake, service=101)
    not_refillable = await place(fake, service=102)
    answer = await call(fake, "refill", orders=f"{refillable},{not_refillable},7")
    assert answer == [
        {"order": refillable, "refill": {"error": "The order is not completed"}},
        {"order": not_refillable, "refill": {"error": "Refill is disabled for this service"}},
        {"order": 7, "refill": {"error": "Incorrect order ID"}},
    ]
    fake.settle()
    assert await call(fake, "refill", orders=str(refillable)) == [{"order": refillable, "refill": 501}]
    assert await call(fake, "refill", order=refillable) == {
        "error": "The refill task is not completed for this order"
    }
    fake.settle()
    assert await call(fake, "refill", order=refillable) == {"refill": "502"}


async def test_a_refill_moves_over_the_clock(fake):
    order = await place(fake)
    fake.settle()
    refill = int((await call(fake, "refill", order=order))["refill"])
    assert await call(fake, "refill_status", refill=refill) == {"status": "Pending"}
    fake.advance(62)
    assert await call(fake, "refill_status", refill=refill) == {"status": "In progress"}
    fake.advance(600)
    assert await call(fake, "refill_status", refills=f"{refill},3") == [
        {"refill": refill, "status": "Completed"},
        {"refill": 3, "status": {"error": "Incorrect refill ID"}},
    ]
    assert fake.refills[refill].order == order


async def test_single_refill_status_of_an_unknown_refill_is_a_top_level_error(fake):
    assert await call(fake, "refill_status", refill=9) == {"error": "Incorrect refill ID"}


async def test_some_refills_are_rejected():
    panel = FakePanel(outcomes=Outcomes(partial=0, canceled=0, refill_rejected=1))
    order = await place(panel)
    panel.settle()
    refill = int((await call(panel, "refill", order=order))["refill"])
    panel.settle()
    assert await call(panel, "refill_status", refill=refill) == {"status": "Rejected"}


# -- cancel ----------------------------------------------------------------------------------


async def test_cancel_follows_the_service_flag_and_the_order_state(fake):
    pending = await place(fake, service=101)
    no_cancel = await place(fake, service=103)
    answer = await call(fake, "cancel", orders=f"{pending},{no_cancel},5")
    assert answer == [
        {"order": pending, "cancel": 1},
        {"order": no_cancel, "cancel": {"error": "Cancel is disabled for this service"}},
        {"order": 5, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert (await call(fake, "status", order=pending))["status"] == "Canceled"
    assert await call(fake, "cancel", orders=str(pending)) == [
        {"order": pending, "cancel": {"error": "The order cannot be canceled"}}
    ]
    assert fake.balance == 100 - Decimal("2.50")  # the canceled order came back in full


async def test_cancelling_an_order_in_progress_ends_it_partial_with_a_refund(fake):
    order = await place(fake, quantity=10_000)
    fake.advance(200)
    delivered = fake.orders[order].quantity - fake.orders[order].remains
    await call(fake, "cancel", orders=str(order))
    status = await call(fake, "status", order=order)
    assert status["status"] == "Partial"
    assert int(status["remains"]) == 10_000 - delivered
    assert fake.balance == 100 - Decimal("0.90") * delivered / 1000
    fake.settle()
    assert (await call(fake, "status", order=order))["status"] == "Partial"


async def test_cancel_needs_the_bulk_form(fake):
    assert await call(fake, "cancel", order=await place(fake)) == {"error": "Incorrect request"}


# -- products --------------------------------------------------------------------------------


async def test_a_product_order_charges_per_unit_takes_stock_and_delivers_a_result(fake):
    answer = await call(fake, "add_product_order", product=1, quantity=3, require="me@example.com")
    order = answer["order"]
    assert order == 70001
    assert fake.balance == 100 - Decimal("7.50")
    assert fake.stock[1] == 37
    assert await call(fake, "product_order_status", order=order) == {
        "charge": Decimal("7.50"),
        "status": "Pending",
    }
    fake.settle()
    status = await call(fake, "product_order_status", order=order)
    assert (status["status"], status["charge"]) == ("Completed", Decimal("7.50"))
    assert len(status["result"].split("\n")) == 3
    products = {p["product"]: p for p in await call(fake, "products")}
    assert products[1]["inventory"] == 37


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"product": 99, "quantity": 1}, "Incorrect product ID", id="unknown-product"),
        pytest.param(
            {"product": 1, "quantity": 11, "require": "me"}, "Quantity more than maximal 10", id="above-max"
        ),
        pytest.param({"product": 1, "quantity": 1}, "The require field is required", id="no-require"),
        pytest.param({"product": 1, "require": "me"}, "The quantity field is required", id="no-quantity"),
    ],
)
async def test_a_bad_product_order_is_refused(fake, fields, error):
    assert await call(fake, "add_product_order", **fields) == {"error": error}
    assert fake.balance == 100


async def test_a_product_out_of_stock_is_canceled_and_refunded(fake):
    order = (await call(fake, "add_product_order", product=2, quantity=1, require="me"))["order"]
    fake.settle()
    assert await call(fake, "product_order_status", orders=f"{order},5") == {
        str(order): {"charge": 0, "status": "Canceled", "note": "Out of stock", "refund": Decimal(5)},
        "5": {"error": "Incorrect order ID"},
    }
    assert fake.balance == 100


async def test_a_product_short_of_stock_ends_partial():
    panel = FakePanel(products=[FakeProduct(5, "Key", rate="2", min=1, max=5, category="Games", inventory=2)])
    order = (await call(panel, "add_product_order", product=5, quantity=5))["order"]
    panel.settle()
    status = await call(panel, "product_order_status", order=order)
    assert (status["status"], status["charge"], status["refund"]) == ("Partial", 4, 6)
    assert status["note"] == "Only 2 in stock"
    assert len(status["result"].split("\n")) == 2
    assert panel.balance == 96


async def test_a_made_to_order_product_goes_through_in_progress(fake):
    order = (await call(fake, "add_product_order", product=3, quantity=2))["order"]
    fake.advance(62)
    assert (await call(fake, "product_order_status", order=order))["status"] == "In progress"
    fake.settle()
    assert (await call(fake, "product_order_status", order=order))["status"] == "Completed"
    assert fake.stock[3] is None


# -- numbers, determinism, traffic -----------------------------------------------------------


async def test_the_number_style_is_a_panel_wide_switch(fake):
    order = await place(fake)
    fake.number_style = "numbers"
    assert (await send(fake, {"key": fake.key, "action": "status", "order": order})).text == (
        '{"charge": 0.9000, "start_count": 0, "status": "Pending", "remains": 1000, "currency": "USD"}'
    )
    fake.number_style = "strings"
    assert (
        await send(fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100})
    ).text == ('{"order": "10002"}')
    assert (await call(fake, "services"))[0]["service"] == "101"
    with pytest.raises(ValueError, match="number_style"):
        fake.number_style = "roman"  # type: ignore[assignment]


async def outcomes_of(seed: int) -> list[tuple[str, str]]:
    panel = FakePanel(seed=seed, outcomes=Outcomes(partial=0.3, canceled=0.2))
    orders = [await place(panel, quantity=1000) for _ in range(30)]
    panel.settle()
    answer = await call(panel, "status", orders=",".join(map(str, orders)))
    return [(item["status"], item["remains"]) for item in answer.values()]


async def test_the_same_seed_gives_the_same_outcomes():
    first = await outcomes_of(7)
    assert first == await outcomes_of(7)
    assert first != await outcomes_of(8)
    assert {status for status, _ in first} == {"Completed", "Partial", "Canceled"}


async def test_every_request_is_recorded_with_the_key_masked(fake):
    order = await place(fake)
    fake.advance(30)
    await call(fake, "status", orders=f"{order},2,3")
    add, status = fake.requests
    assert (add.method, add.path, add.action, add.ids, add.time, add.fault) == (
        "POST",
        "/api/v2",
        "add",
        0,
        0,
        None,
    )
    assert add.fields == {"key": "***", "action": "add", "service": "101", "link": LINK, "quantity": "1000"}
    assert (status.action, status.ids, status.time) == ("status", 3, 30)
    assert fake.requests_for("status") == [status]
    assert fake.key not in repr(fake.requests)


# -- faults, seen raw ------------------------------------------------------------------------


async def balance_request(panel: FakePanel) -> httpx.Response:
    return await send(panel, {"key": panel.key, "action": "balance"})


async def test_a_status_fault_answers_an_html_error_page_the_given_number_of_times(fake):
    fake.misbehave(Fault.status(503), action="balance", times=2)
    first, second, third = [await balance_request(fake) for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["content-type"].startswith("text/html")
    assert "503 Service Unavailable" in first.text
    assert [r.fault for r in fake.requests] == [Fault.status(503), Fault.status(503), None]


async def test_a_fault_only_hits_its_action(fake):
    fake.misbehave(Fault.status(500), action="status")
    assert (await balance_request(fake)).status_code == 200


async def test_a_fault_for_several_actions(fake):
    fake.misbehave(Fault.status(500), action={"balance", "services"})
    assert (await balance_request(fake)).status_code == 500
    assert (await send(fake, {"key": fake.key, "action": "services"})).status_code == 500
    assert (await send(fake, {"key": fake.key, "action": "products"})).status_code == 200


async def test_a_5xx_before_the_panel_places_no_order(fake):
    fake.misbehave(Fault.status(502), action="add", times=1)
    response = await send(
        fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100}
    )
    assert response.status_code == 502
    assert (fake.orders, fake.balance) == ({}, 100)


async def test_a_5xx_after_the_panel_has_placed_the_order(fake):
    fake.misbehave(Fault.status(502, when="after"), action="add", times=1)
    response = await send(
        fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100}
    )
    assert response.status_code == 502
    assert list(fake.orders) == [10001]
    assert fake.balance == 100 - Decimal("0.09")


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        pytest.param(Fault.rate_limited(), None, id="bare"),
        pytest.param(Fault.rate_limited(retry_after=7), "7", id="seconds"),
        pytest.param(
            Fault.rate_limited(retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
            "Wed, 21 Oct 2015 07:28:00 GMT",
            id="http-date",
        ),
    ],
)
async def test_rate_limited_is_a_429_with_or_without_retry_after(fake, fault, retry_after):
    fake.misbehave(fault)
    response = await balance_request(fake)
    assert response.status_code == 429
    assert response.headers.get("retry-after") == retry_after


async def test_spam_protection_is_an_error_body_with_http_200(fake):
    fake.misbehave(Fault.spam_protection(5))
    response = await balance_request(fake)
    assert (response.status_code, read(response)) == (200, {"error": "Spam protection, wait 5 seconds"})


async def test_an_error_fault_sends_any_text_with_any_status(fake):
    fake.misbehave(Fault.error("Your account has been suspended.", status=401))
    response = await balance_request(fake)
    assert (response.status_code, read(response)) == (401, {"error": "Your account has been suspended."})


async def test_an_html_fault_sends_a_page(fake):
    fake.misbehave(Fault.html())
    response = await balance_request(fake)
    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html>")


async def test_truncated_sends_the_first_half_of_the_real_answer(fake):
    fake.misbehave(Fault.truncated(), action="balance", times=1)
    cut = (await balance_request(fake)).text
    whole = (await balance_request(fake)).text
    assert whole.startswith(cut)
    assert len(cut) == len(whole) // 2
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(cut)


async def test_a_redirect_names_a_location(fake):
    fake.misbehave(Fault.redirect("https://elsewhere.invalid/api/v2", status=301))
    response = await balance_request(fake)
    assert (response.status_code, response.headers["location"]) == (301, "https://elsewhere.invalid/api/v2")


async def test_a_reset_fails_the_transport(fake):
    fake.misbehave(Fault.reset(), action="add", times=1)
    with pytest.raises(httpx.ReadError):
        await send(fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100})
    assert fake.orders == {}


async def test_a_reset_after_the_answer_started_has_placed_the_order(fake):
    fake.misbehave(Fault.reset(when="after"), action="add", times=1)
    with pytest.raises(httpx.ReadError):
        await send(fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100})
    assert list(fake.orders) == [10001]


async def test_a_refused_connection_fails_before_anything_happens(fake):
    fake.misbehave(Fault.refused(), action="add", times=1)
    with pytest.raises(httpx.ConnectError):
        await send(fake, {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100})
    assert fake.orders == {}


async def test_a_lone_refill_answers_one_object_for_a_bulk_refill_of_which_all_took_effect(fake):
    orders = [await place(fake) for _ in range(3)]
    fake.settle()
    fake.misbehave(Fault.lone_refill(), action="refill")
    assert await call(fake, "refill", order=orders[0]) == {"refill": "501"}  # the single form: not a bulk
    assert await call(fake, "refill", orders=",".join(map(str, orders[1:]))) == {"refill": "502"}
    assert [r.order for r in fake.refills.values()] == orders


async def test_missing_ids_leave_items_out_of_a_bulk_answer(fake):
    fake.misbehave(Fault.missing_ids(), action="status", times=1)
    fake.misbehave(Fault.missing_ids([1]), action="cancel", times=1)
    assert list(await call(fake, "status", orders="1,2,3")) == ["1", "2"]
    assert await call(fake, "cancel", orders="1,2") == [
        {"order": 2, "cancel": {"error": "Incorrect order ID"}}
    ]


async def test_extra_ids_add_items_nobody_asked(fake):
    order = await place(fake)
    fake.misbehave(Fault.extra_ids(), action="status", times=1)
    fake.misbehave(Fault.extra_ids([77]), action="refill_status", times=1)
    answer = await call(fake, "status", orders=str(order))
    assert list(answer) == [str(order), str(order + 1)]
    assert answer[str(order + 1)] == answer[str(order)]
    assert [item["refill"] for item in await call(fake, "refill_status", refills="5")] == [5, 77]


async def test_bulk_only_faults_wait_for_a_bulk_request(fake):
    rule = fake.misbehave(Fault.missing_ids(), action="status", times=1)
    assert "error" in await call(fake, "status", order=1)
    assert (rule.applied, rule.remaining) == (0, 1)
    assert await call(fake, "status", orders="1,2") == {"1": {"error": "Incorrect order ID"}}
    assert (rule.applied, rule.remaining) == (1, 0)


async def test_latency_answers_normally_and_is_recorded(fake):
    fake.misbehave(Fault.latency(0), action="balance", times=1)
    assert (await balance_request(fake)).status_code == 200
    assert fake.requests[0].fault == Fault.latency(0)


async def test_latency_beyond_the_read_timeout_times_out_and_after_the_panel_took_effect(fake):
    fake.misbehave(Fault.latency(60, when="after"), action="add")
    with pytest.raises(httpx.ReadTimeout):
        await send(
            fake,
            {"key": fake.key, "action": "add", "service": 101, "link": LINK, "quantity": 100},
            timeout=0.01,
        )
    assert list(fake.orders) == [10001]


async def test_one_fault_per_request_the_first_rule_wins(fake):
    fake.misbehave(Fault.status(500), times=1)
    fake.misbehave(Fault.status(502), times=1)
    codes = [(await balance_request(fake)).status_code for _ in range(3)]
    assert codes == [500, 502, 200]


async def test_a_rule_can_be_cancelled_and_all_rules_cleared(fake):
    rule = fake.misbehave(Fault.status(500))
    assert (await balance_request(fake)).status_code == 500
    rule.cancel()
    assert (await balance_request(fake)).status_code == 200
    fake.misbehave(Fault.status(500))
    fake.clear_faults()
    assert (await balance_request(fake)).status_code == 200
    assert rule.applied == 1


async def faulted_with(seed: int) -> list[bool]:
    panel = FakePanel(seed=seed)
    panel.misbehave(Fault.status(503), action="balance", probability=0.3)
    return [(await balance_request(panel)).status_code == 503 for _ in range(40)]


async def test_a_probability_fault_repeats_with_the_seed():
    first = await faulted_with(3)
    assert first == await faulted_with(3)
    assert 0 < sum(first) < 40
    assert first != await faulted_with(4)


async def test_faults_do_not_change_order_outcomes():
    quiet = FakePanel(seed=5, outcomes=Outcomes(partial=0.5, canceled=0))
    noisy = FakePanel(seed=5, outcomes=Outcomes(partial=0.5, canceled=0))
    noisy.misbehave(Fault.latency(0), probability=0.5)
    for panel in (quiet, noisy):
        for _ in range(10):
            await place(panel)
        panel.settle()
    assert quiet.orders == noisy.orders


def test_faults_check_their_arguments():
    with pytest.raises(ValueError, match="400 to 599"):
        Fault.status(200)
    with pytest.raises(ValueError, match="300 to 399"):
        Fault.redirect(status=200)
    with pytest.raises(ValueError, match="latency"):
        Fault.latency(-1)
    with pytest.raises(ValueError, match="when"):
        Fault.status(503, when="during")  # type: ignore[arg-type]
    panel = FakePanel()
    with pytest.raises(ValueError, match="times"):
        panel.misbehave(Fault.status(503), times=0)
    with pytest.raises(ValueError, match="probability"):
        panel.misbehave(Fault.status(503), probability=2)
    with pytest.raises(TypeError):
        panel.misbehave("503")  # type: ignore[arg-type]


def test_faults_read_as_the_call_that_made_them():
    assert repr(Fault.status(502, when="after")) == "Fault.status(502, when='after')"
    assert repr(Fault.missing_ids([3])) == "Fault.missing_ids([3])"
    assert repr(Fault.rate_limited()) == "Fault.rate_limited()"


# -- the smmapi client against the fake, end to end ------------------------------------------


@asynccontextmanager
async def connect(panel: FakePanel, **options: Any) -> AsyncIterator[smmapi.AsyncClient]:
    """A client on ``panel`` with options of its own (the fixture's are batch_window=0, retry_backoff=0)."""
    options.setdefault("batch_window", 0)
    options.setdefault("retry_backoff", 0)
    async with smmapi.AsyncClient(panel.url, panel.key, transport=panel.transport(), **options) as client:
        yield client


async def test_the_client_reads_the_catalogue_and_the_balance(smm_client):
    with bounded():
        balance = await smm_client.balance()
        services = {s.id: s for s in await smm_client.services()}
        products = {p.id: p for p in await smm_client.products()}
    assert balance == smmapi.Balance(balance=Decimal(100), currency="USD")
    assert set(services) == {s.id for s in DEFAULT_SERVICES}
    followers = services[101]
    assert (followers.type, followers.rate, followers.min, followers.max) == (
        "Default",
        Decimal("0.90"),
        50,
        100_000,
    )
    assert (followers.refill, followers.cancel, followers.dripfeed) == (True, True, True)
    assert (products[1].rate, products[1].inventory, products[1].status) == (Decimal("2.50"), 40, "In stock")
    assert products[3].inventory is None


async def test_orders_of_every_type_are_placed_and_followed_to_completed(smm_panel, smm_client):
    forms: list[dict[str, Any]] = [
        {"service": 101, "link": LINK, "quantity": 1000},
        {"service": 102, "link": LINK, "quantity": 100, "runs": 3, "interval": 15},
        {"service": 201, "link": LINK},
        {"service": 301, "link": LINK, "comments": [f"Nice {i}!" for i in range(10)]},
        {"service": 401, "link": LINK, "quantity": 100, "usernames": ["alice", "bob"]},
        {"service": 402, "link": LINK, "quantity": 100, "usernames": ["alice"], "hashtags": ["#cats"]},
        {"service": 403, "link": LINK, "usernames": [f"user{i}" for i in range(10)]},
        {"service": 404, "link": LINK, "quantity": 100, "hashtag": "cats"},
        {"service": 405, "link": LINK, "quantity": 100, "username": "nasa"},
        {"service": 406, "link": LINK, "quantity": 100, "media": LINK},
        {"service": 501, "link": LINK, "quantity": 20, "username": "owner"},
        {"service": 601, "link": LINK, "quantity": 10, "answer_number": 2},
        {
            "service": 701,
            "username": "nasa",
            "min_per_post": 100,
            "max_per_post": 200,
            "delay": 30,
            "posts": 5,
            "expiry": datetime.date(2030, 1, 31),
        },
    ]
    with bounded():
        orders = [await smm_client.add(**form) for form in forms]
        pending = await smm_client.statuses(orders)
        smm_panel.settle()
        done = await smm_client.statuses(orders)
    assert orders == list(range(10001, 10001 + len(forms)))
    assert {s.status for s in pending.values()} == {smmapi.OrderState.PENDING}
    assert {(s.status, s.remains) for s in done.values()} == {(smmapi.OrderState.COMPLETED, 0)}
    assert smm_panel.orders[orders[-1]].fields["expiry"] == "31/01/2030"
    assert [done[o].charge for o in orders] == [smm_panel.orders[o].charge for o in orders]


async def test_the_balance_is_charged_exactly(smm_panel, smm_client):
    with bounded():
        for quantity in (50, 333, 1001, 99_999):
            await smm_client.add(service=101, link=LINK, quantity=quantity)
        await smm_client.add_product_order(product=4, quantity=3)
        balance = await smm_client.balance()
    spent = Decimal("0.90") * (50 + 333 + 1001 + 99_999) / 1000 + Decimal("1.25") * 3
    assert balance.balance == 100 - spent == smm_panel.balance


async def test_status_follows_the_clock(smm_panel, smm_client):
    with bounded():
        order = await smm_client.add(service=101, link=LINK, quantity=10_000)
        pending = await smm_client.status(order)
        smm_panel.advance(62)
        early = await smm_client.status(order)
        smm_panel.advance(200)
        later = await smm_client.status(order)
        smm_panel.advance(600)
        done = await smm_client.status(order)
    assert (pending.status, pending.remains, pending.charge) == (
        smmapi.OrderState.PENDING,
        10_000,
        Decimal(9),
    )
    assert early.status == later.status == smmapi.OrderState.IN_PROGRESS
    assert early.remains > later.remains > 0
    assert (done.status, done.remains, done.start_count) == (
        smmapi.OrderState.COMPLETED,
        0,
        early.start_count,
    )


@pytest.mark.smm_panel(outcomes=Outcomes(partial=1, canceled=0))
async def test_a_partial_order_is_refunded_end_to_end(smm_panel, smm_client):
    with bounded():
        order = await smm_client.add(service=101, link=LINK, quantity=1000)
        smm_panel.settle()
        status = await smm_client.status(order)
        balance = await smm_client.balance()
    assert status.status is smmapi.OrderState.PARTIAL
    assert balance.balance == 100 - status.charge
    assert status.charge == Decimal("0.90") * (1000 - status.remains) / 1000


async def test_refill_and_refill_status_end_to_end(smm_panel, smm_client):
    with bounded():
        first, second = [await smm_client.add(service=101, link=LINK, quantity=100) for _ in range(2)]
        no_refill = await smm_client.add(service=102, link=LINK, quantity=100)
        with pytest.raises(smmapi.PanelError, match="The order is not completed"):
            await smm_client.refill(first)
        smm_panel.settle()
        refill = await smm_client.refill(first)
        pending = await smm_client.refill_status(refill)
        refills = await smm_client.refills([second, no_refill, 42, first])
        smm_panel.settle()
        statuses = await smm_client.refill_statuses([refill, refills[second], 9])
    assert refill == 501
    assert pending.status is smmapi.RefillState.PENDING
    assert refills[second] == 502
    assert str(refills[no_refill]) == "Refill is disabled for this service"
    assert isinstance(refills[42], smmapi.UnknownIdError)
    assert str(refills[first]) == "The refill task is not completed for this order"
    assert [statuses[refill].status, statuses[502].status] == [smmapi.RefillState.COMPLETED] * 2
    assert isinstance(statuses[9], smmapi.UnknownIdError)


async def test_cancel_end_to_end(smm_panel, smm_client):
    with bounded():
        first, second = [await smm_client.add(service=101, link=LINK, quantity=1000) for _ in range(2)]
        no_cancel = await smm_client.add(service=103, link=LINK, quantity=1000)
        await smm_client.cancel(first)
        status = await smm_client.status(first)
        with pytest.raises(smmapi.PanelError, match="The order cannot be canceled"):
            await smm_client.cancel(first)
        cancels = await smm_client.cancels([second, no_cancel, 42])
        balance = await smm_client.balance()
    assert status.status is smmapi.OrderState.CANCELED
    assert cancels[second] is None
    assert str(cancels[no_cancel]) == "Cancel is disabled for this service"
    assert isinstance(cancels[42], smmapi.UnknownIdError)
    assert balance.balance == 100 - Decimal("2.50")  # only the order that could not be canceled


async def test_product_orders_end_to_end(smm_panel, smm_client):
    with bounded():
        order = await smm_client.add_product_order(product=1, quantity=2, require="me@example.com")
        sold_out = await smm_client.add_product_order(product=2, quantity=1, require="me@example.com")
        pending = await smm_client.product_order_status(order)
        smm_panel.settle()
        statuses = await smm_client.product_order_statuses([order, sold_out, 5])
        products = {p.id: p for p in await smm_client.products()}
    assert (order, pending.status) == (70001, smmapi.OrderState.PENDING)
    done = statuses[order]
    assert (done.status, done.charge) == (smmapi.OrderState.COMPLETED, Decimal("5.00"))
    assert done.result is not None
    assert len(done.result.splitlines()) == 2
    assert (statuses[sold_out].status, statuses[sold_out].note) == (
        smmapi.OrderState.CANCELED,
        "Out of stock",
    )
    assert statuses[sold_out].refund == 5
    assert isinstance(statuses[5], smmapi.UnknownIdError)
    assert products[1].inventory == 38


async def test_bulk_statuses_of_250_ids_go_in_three_requests_with_per_item_errors(smm_panel, smm_client):
    with bounded():
        orders = [await smm_client.add(service=104, link=LINK, quantity=10) for _ in range(150)]
        unknown = list(range(1, 101))
        asked = [i for pair in zip(orders[:100], unknown, strict=True) for i in pair] + orders[100:]
        statuses = await smm_client.statuses(asked)
    assert list(statuses) == asked
    assert all(statuses[o].order == o for o in orders)
    assert all(isinstance(statuses[i], smmapi.UnknownIdError) for i in unknown)
    assert sorted(r.ids for r in smm_panel.requests_for("status")) == [50, 100, 100]


@pytest.mark.smm_panel(balance="0.50")
async def test_not_enough_funds_places_nothing(smm_panel, smm_client):
    with bounded(), pytest.raises(smmapi.InsufficientFundsError, match="Not enough funds on balance"):
        await smm_client.add(service=101, link=LINK, quantity=1000)
    assert smm_panel.orders == {}


async def test_a_wrong_key_is_an_authentication_error(smm_panel):
    with bounded():
        async with smmapi.AsyncClient(smm_panel.url, "wrong", transport=smm_panel.transport()) as client:
            with pytest.raises(smmapi.AuthenticationError):
                await client.balance()


async def test_the_panels_refusal_of_an_order_reaches_the_caller(smm_client):
    with bounded(), pytest.raises(smmapi.PanelError, match="Quantity less than minimal 50"):
        await smm_client.add(service=101, link=LINK, quantity=10)


@pytest.mark.parametrize("style", ["canonical", "strings", "numbers"])
async def test_the_client_reads_every_number_style_alike(style):
    panel = FakePanel(outcomes=SURE, number_style=style)
    with bounded():
        async with connect(panel) as client:
            order = await client.add(service=101, link=LINK, quantity=1000)
            panel.settle()
            refill = await client.refill(order)
            status = await client.status(order)
            seen = (
                await client.balance(),
                (await client.services())[0],
                (await client.products())[0],
                order,
                refill,
                status.charge,
                status.remains,
                status.start_count,
                (await client.refill_status(refill)).status,
            )
    assert seen[0].balance == Decimal("99.1")
    assert (seen[1].rate, seen[2].rate) == (Decimal("0.90"), Decimal("2.50"))
    assert seen[3:7] == (10001, 501, Decimal("0.9"), 0)
    assert seen[7] > 0


async def statuses_with_seed(seed: int) -> dict[int, Any]:
    panel = FakePanel(seed=seed, outcomes=Outcomes(partial=0.3, canceled=0.2))
    async with connect(panel) as client:
        orders = [await client.add(service=101, link=LINK, quantity=1000) for _ in range(20)]
        panel.settle()
        return await client.statuses(orders)


async def test_the_same_seed_gives_the_client_the_same_answers():
    with bounded():
        first, again = await statuses_with_seed(11), await statuses_with_seed(11)
        other = await statuses_with_seed(12)
    assert first == again
    assert first != other


# -- every fault, as the client sees it ------------------------------------------------------


async def test_http_503_is_an_http_status_error_after_the_clients_retries(smm_panel, smm_client):
    smm_panel.misbehave(Fault.status(503), action="status")
    with bounded(), pytest.raises(smmapi.HTTPStatusError) as caught:
        await smm_client.status(1)
    assert caught.value.status_code == 503
    assert len(smm_panel.requests_for("status")) == 3  # one try and the default two retries
    assert smm_client.stats().retries == 2


async def test_two_503s_are_retried_through(smm_panel, smm_client):
    order = await smm_client.add(service=101, link=LINK, quantity=100)
    smm_panel.misbehave(Fault.status(503), action="status", times=2)
    with bounded():
        status = await smm_client.status(order)
    assert status.order == order
    assert [r.fault for r in smm_panel.requests_for("status")] == [Fault.status(503)] * 2 + [None]


@pytest.mark.parametrize(("retry_after", "seconds"), [(None, None), (7, 7.0)])
async def test_429_is_a_rate_limited_error(smm_panel, smm_client, retry_after, seconds):
    smm_panel.misbehave(Fault.rate_limited(retry_after=retry_after), action="balance")
    with bounded(), pytest.raises(smmapi.RateLimitedError) as caught:
        await smm_client.balance()
    assert (caught.value.status_code, caught.value.retry_after) == (429, seconds)
    assert len(smm_panel.requests_for("balance")) == 3


async def test_spam_protection_is_a_rate_limited_error_and_an_add_is_not_sent_again(smm_panel, smm_client):
    smm_panel.misbehave(Fault.spam_protection(5), action="add")
    with bounded(), pytest.raises(smmapi.RateLimitedError) as caught:
        await smm_client.add(service=101, link=LINK, quantity=100)
    assert caught.value.retry_after == 5
    assert len(smm_panel.requests_for("add")) == 1
    assert smm_panel.orders == {}


@pytest.mark.parametrize(
    ("fault", "action", "call"),
    [
        pytest.param(Fault.html(), "balance", lambda c: c.balance(), id="html-page"),
        pytest.param(Fault.truncated(), "status", lambda c: c.status(1), id="truncated-json"),
    ],
)
async def test_an_unreadable_answer_is_an_unreadable_answer_error(smm_panel, smm_client, fault, action, call):
    smm_panel.misbehave(fault, action=action)
    with bounded(), pytest.raises(smmapi.UnreadableAnswerError):
        await call(smm_client)
    assert len(smm_panel.requests_for(action)) == 3


async def test_a_redirect_is_a_redirect_error_and_never_followed(smm_panel, smm_client):
    smm_panel.misbehave(Fault.redirect("https://elsewhere.invalid/api/v2"))
    with bounded(), pytest.raises(smmapi.RedirectError) as caught:
        await smm_client.balance()
    assert caught.value.location == "https://elsewhere.invalid/api/v2"
    assert [(r.path, r.action) for r in smm_panel.requests] == [("/api/v2", "balance")]


@pytest.mark.parametrize(
    ("fault", "placed"),
    [
        pytest.param(Fault.status(502), False, id="5xx-before"),
        pytest.param(Fault.status(502, when="after"), True, id="5xx-after"),
        pytest.param(Fault.reset(), False, id="reset-before"),
        pytest.param(Fault.reset(when="after"), True, id="reset-after"),
        pytest.param(Fault.html(502, when="after"), True, id="html-after"),
        pytest.param(Fault.truncated(), True, id="truncated"),
    ],
)
async def test_an_add_without_a_usable_answer_is_an_unknown_outcome_sent_once(
    smm_panel, smm_client, fault, placed
):
    smm_panel.misbehave(fault, action="add", times=1)
    with bounded(), pytest.raises(smmapi.OutcomeUnknownError) as caught:
        await smm_client.add(service=101, link=LINK, quantity=100)
    assert (caught.value.action, caught.value.fields["link"]) == ("add", LINK)
    assert len(smm_panel.requests_for("add")) == 1
    # What a caller reconciles against: the order exists exactly when the panel processed the add.
    assert [o.fields["link"] for o in smm_panel.orders.values()] == ([LINK] if placed else [])


async def test_a_reset_lookup_is_a_transport_error_after_retries(smm_panel, smm_client):
    smm_panel.misbehave(Fault.reset(), action="status")
    with bounded(), pytest.raises(smmapi.TransportError):
        await smm_client.status(1)
    assert len(smm_panel.requests_for("status")) == 3


async def test_a_refused_connection_is_safe_to_retry_even_for_an_add(smm_panel, smm_client):
    smm_panel.misbehave(Fault.refused(), action="add", times=1)
    with bounded():
        order = await smm_client.add(service=101, link=LINK, quantity=100)
    assert list(smm_panel.orders) == [order]
    assert len(smm_panel.requests_for("add")) == 2


async def test_a_panel_that_refuses_every_connection_is_a_connect_error(smm_panel, smm_client):
    smm_panel.misbehave(Fault.refused())
    with bounded(), pytest.raises(smmapi.ConnectError):
        await smm_client.balance()


async def test_a_lone_refill_answer_is_an_unknown_outcome_then_refills_go_one_by_one(smm_panel, smm_client):
    with bounded():
        orders = [await smm_client.add(service=101, link=LINK, quantity=100) for _ in range(4)]
        smm_panel.settle()
        smm_panel.misbehave(Fault.lone_refill(), action="refill")
        lone = await smm_client.refills(orders[:2])
        after = await smm_client.refills(orders[2:])
    assert all(isinstance(value, smmapi.OutcomeUnknownError) for value in lone.values())
    # The lone answer hid two real refills. Trio starts the one-by-one requests in any order.
    assert sorted(r.order for r in smm_panel.refills.values()) == orders
    assert sorted(after.values()) == [503, 504]
    assert [r.ids for r in smm_panel.requests_for("refill")] == [2, 1, 1]


async def test_missing_ids_fail_only_their_lookup_and_make_a_write_unknown(smm_panel, smm_client):
    with bounded():
        first, second = [await smm_client.add(service=101, link=LINK, quantity=100) for _ in range(2)]
        smm_panel.misbehave(Fault.missing_ids([second]), times=2)
        statuses = await smm_client.statuses([first, second])
        cancels = await smm_client.cancels([first, second])
    assert statuses[first].order == first
    assert isinstance(statuses[second], smmapi.SmmError)
    assert cancels[first] is None
    assert isinstance(cancels[second], smmapi.OutcomeUnknownError)
    assert smm_panel.orders[second].status == "Canceled"  # it was canceled: the answer just left it out


async def test_ids_nobody_asked_are_ignored(smm_panel, smm_client):
    order = await smm_client.add(service=101, link=LINK, quantity=100)
    smm_panel.misbehave(Fault.extra_ids([99]), action="status", times=1)
    with bounded():
        statuses = await smm_client.statuses([order])
    assert list(statuses) == [order]


async def test_latency_beyond_the_timeout_is_a_timeout_and_an_unknown_outcome_for_a_write():
    panel = FakePanel(outcomes=SURE)
    panel.misbehave(Fault.latency(60), action="status")
    panel.misbehave(Fault.latency(60, when="after"), action="add")
    with bounded():
        async with connect(panel, timeout=0.01, max_retries=0) as client:
            with pytest.raises(smmapi.RequestTimeoutError):
                await client.status(1)
            with pytest.raises(smmapi.OutcomeUnknownError):
                await client.add(service=101, link=LINK, quantity=100)
    assert list(panel.orders) == [10001]


async def test_an_error_body_with_an_http_status_is_a_panel_error_with_that_status(smm_panel, smm_client):
    smm_panel.misbehave(Fault.error("Your account has been suspended.", status=401))
    with bounded(), pytest.raises(smmapi.PanelError, match="suspended") as caught:
        await smm_client.balance()
    assert caught.value.status_code == 401


# -- a real server ---------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn's server with an event for "listening": no polling of ``started``."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # uvicorn runs on asyncio only
async def test_the_panel_serves_a_real_client_on_a_loopback_port():
    panel = FakePanel(outcomes=SURE)
    server = _Server(uvicorn.Config(app=panel, host="127.0.0.1", port=0, log_level="warning"))
    with bounded():
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve)
            await server.ready.wait()
            assert server.started
            port = server.servers[0].sockets[0].getsockname()[1]
            try:
                async with smmapi.AsyncClient(f"http://127.0.0.1:{port}/api/v2", panel.key) as client:
                    order = await client.add(service=101, link=LINK, quantity=1000)
                    panel.settle()
                    statuses = await client.statuses([order, 5])
                    balance = await client.balance()
            finally:
                server.should_exit = True
    assert statuses[order].status is smmapi.OrderState.COMPLETED
    assert isinstance(statuses[5], smmapi.UnknownIdError)
    assert balance.balance == Decimal("99.1")
    assert [r.action for r in panel.requests] == ["add", "status", "balance"]


_PLAIN_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_PLAIN_JSON, st.sampled_from(NUMBER_STYLES))
def test_the_panel_writes_plain_values_as_json_does(value, style):
    assert render(value, style) == json.dumps(value, separators=(", ", ": ")).encode()


@pytest.mark.parametrize(
    ("style", "written"),
    [
        ("canonical", b'{"charge": "1.50", "order": 7, "list": ["0.0200", 3]}'),
        ("strings", b'{"charge": "1.50", "order": "7", "list": ["0.0200", "3"]}'),
        ("numbers", b'{"charge": 1.50, "order": 7, "list": [0.0200, 3]}'),
    ],
)
def test_the_number_style_decides_the_quotes_in_objects_and_lists(style, written):
    answer = {
        "charge": Num(Decimal("1.50"), quoted=True),
        "order": Num(7, quoted=False),
        "list": [Num(Decimal("0.0200"), quoted=True), Num(3, quoted=False)],
    }
    assert render(answer, style) == written
