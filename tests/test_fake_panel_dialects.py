"""FakePanel(dialect=...): the fake answers as real panel software does, and the client copes.

The first tests send the recorded requests of tests/data/panel-dialects.json to the fake with
raw httpx: every whole-request answer (an action the panel lacks, a bulk form it does not read,
a wrong key) must be the one recorded off the real program. The others run the client against
the fake in each dialect, on asyncio and trio, counting requests at the panel.
"""

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import smmapi
from smmapi.testing import Dialect, FakePanel, Outcomes

pytestmark = pytest.mark.anyio

RECORDED = json.loads((Path(__file__).parent / "data" / "panel-dialects.json").read_text())
PRESETS = {"smartpanel": Dialect.SMARTPANEL, "boosted": Dialect.BOOSTEDSMM}
SURE = Outcomes(partial=0, canceled=0, refill_rejected=0)
LINK = "https://instagram.com/p/Cx1"


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def bounded() -> Iterator[None]:
    with anyio.fail_after(60):
        yield


def whole_request_answers() -> Iterator[Any]:
    """The recorded exchanges whose answer does not depend on the panel's orders."""
    for panel in RECORDED["panels"]:
        dialect = PRESETS[panel["name"]]
        for exchange in panel["exchanges"]:
            form, label = exchange["form"], exchange["label"]
            action = form.get("action")
            bulk_unread = not dialect.bulk and ("orders" in form or "refills" in form)
            if label.startswith("bad key") or action in dialect.missing or bulk_unread:
                yield pytest.param(dialect, exchange, id=f"{panel['name']}: {label}")


@pytest.mark.parametrize(("dialect", "exchange"), list(whole_request_answers()))
async def test_the_fake_answers_a_whole_request_as_the_recorded_program_did(dialect, exchange):
    panel = FakePanel(dialect=dialect)
    key = "wrong-key" if exchange["label"].startswith("bad key") else panel.key
    with bounded():
        async with httpx.AsyncClient(transport=panel.transport()) as http:
            response = await http.post(panel.url, data={"key": key, **exchange["form"]})
    assert response.status_code == exchange["http_status"]
    assert json.loads(response.text, parse_float=Decimal) == json.loads(exchange["body"], parse_float=Decimal)


def test_a_dialect_refuses_a_bulk_limit_below_one():
    with pytest.raises(ValueError, match="bulk_limit"):
        Dialect(bulk_limit=0)


# -- the client against each dialect ------------------------------------------------------------


async def place(client: smmapi.AsyncClient, n: int) -> list[int]:
    orders: list[int] = []

    async def one() -> None:
        orders.append(await client.add(service=101, link=LINK, quantity=1000))

    async with anyio.create_task_group() as group:
        for _ in range(n):
            group.start_soon(one)
    return sorted(orders)


def lookups(panel: FakePanel, action: str = "status") -> int:
    return len(panel.requests_for(action))


@pytest.mark.parametrize(
    ("dialect", "budget", "learnt"),
    [
        pytest.param(Dialect(), lambda n: math.ceil(n / 100), (True, 100), id="textbook"),
        pytest.param(Dialect.SMARTPANEL, lambda n: math.ceil(n / 100), (True, 100), id="smartpanel"),
        pytest.param(Dialect.BOOSTEDSMM, lambda n: n + 3, (False, 1), id="boosted"),
        pytest.param(
            Dialect(whole_list=True),
            lambda n: math.ceil(n / 100) + 2 * math.ceil(math.log2(100)),
            (True, 100),
            id="whole-list",
        ),
        pytest.param(Dialect(bulk_limit=50), lambda n: 20, (True, 50), id="limit-50"),
    ],
)
async def test_every_caller_gets_its_own_status_within_the_dialects_budget(dialect, budget, learnt):
    panel = FakePanel(dialect=dialect, outcomes=SURE, balance=Decimal(1000))
    with bounded():
        async with smmapi.AsyncClient(
            panel.url, panel.key, transport=panel.transport(), batch_window=0, retry_backoff=0
        ) as client:
            orders = await place(client, 150)
            panel.settle()
            asked = [999_999, *orders]  # the unknown ID shares a bulk request with known ones
            results = await client.statuses(asked)
            dialect_seen = client.dialect["status"]
    assert (dialect_seen.bulk, dialect_seen.batch_size) == learnt  # the fake spoke its dialect
    assert lookups(panel) <= budget(len(asked))
    assert isinstance(results.pop(999_999), smmapi.UnknownIdError)
    assert {order: (value.order, value.status) for order, value in results.items()} == {
        order: (order, "Completed") for order in orders
    }


async def test_refills_on_a_panel_without_them_are_each_ids_refusal_sent_once():
    panel = FakePanel(dialect=Dialect.SMARTPANEL, outcomes=SURE)
    with bounded():
        async with smmapi.AsyncClient(
            panel.url, panel.key, transport=panel.transport(), batch_window=0
        ) as client:
            orders = await place(client, 2)
            panel.settle()
            results = await client.refills(orders)
            with pytest.raises(smmapi.PanelError, match="This action is Invalid"):
                await client.cancel(orders[0])
    assert all(type(value) is smmapi.PanelError for value in results.values())
    assert lookups(panel, "refill") == 1


async def test_refills_on_a_panel_reading_singles_only_are_never_reported_as_id_zero():
    panel = FakePanel(dialect=Dialect.BOOSTEDSMM, outcomes=SURE)
    with bounded():
        async with smmapi.AsyncClient(
            panel.url, panel.key, transport=panel.transport(), batch_window=0
        ) as client:
            orders = await place(client, 4)
            panel.settle()
            await client.statuses(orders)  # teaches that orders= is not read
            refills = await client.refills(orders)
    assert sorted(refills.values()) == sorted(panel.refills)
    assert all(request.fields.get("orders") is None for request in panel.requests_for("refill"))


async def test_a_refused_key_on_each_dialect_is_an_authentication_error():
    for dialect in (Dialect(), Dialect.SMARTPANEL, Dialect.BOOSTEDSMM):
        panel = FakePanel(dialect=dialect)
        with bounded():
            async with smmapi.AsyncClient(panel.url, "not-the-key", transport=panel.transport()) as client:
                with pytest.raises(smmapi.AuthenticationError):
                    await client.balance()
