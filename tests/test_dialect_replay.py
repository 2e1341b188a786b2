"""Every exchange recorded off real panel software, replayed through the client.

tests/data/panel-dialects.json holds each request form and raw answer recorded off two real
panel server programs (SmartPanel and the BoostedSMM family). Each exchange is replayed by
making the client call that sends its form, against a transport that answers, byte for byte,
what that panel answered to the same form (the exchange's own answer first, then the panel's
other recorded answers). A form the panel was never asked is answered HTTP 599, so a test can
see what the client would have needed.

What each answer must read as is written here from the recorded body, not from the client's
rules: an order ID is that ID, a status object is an OrderStatus, an error text is an error
of the class a caller acts on.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import smmapi
from smmapi._lookups import SPECS

from conftest import KEY

DATA = json.loads((Path(__file__).parent / "data" / "panel-dialects.json").read_text())
URL = "http://127.0.0.1:8080/api/v2"
UNRECORDED = 599

#: Exchanges the client cannot send: forms of no call (probes by hand), or one ID in the bulk
#: form, which the client now sends in the single form (that form's answer is replayed instead).
NOT_SENDABLE = (
    "probe unknown action",
    "probe no action",
    "probe status orders= with spaces",
    "probe refill_status refill=0",  # no ID is 0: the client refuses it before sending
)

FIELDS = {"min": "min_per_post", "max": "max_per_post"}
#: How the recorded panels word a refused key, a short balance and an unknown ID.
AUTH = ("API is Disable for this user", "API key invalid")
FUNDS = ("Not enough funds on balance", "Your balance is insufficient.")


def _sendable(exchange: dict[str, Any]) -> bool:
    """Whether some client call sends this exchange's form."""
    form = exchange["form"]
    if exchange["label"] in NOT_SENDABLE or "action" not in form:
        return False
    spec = SPECS.get(form["action"])
    # One ID in the bulk form: the client sends the single form (replayed where recorded).
    return not (spec is not None and spec.single is not None and spec.bulk in form and len(ids_of(form)) == 1)


def exchanges(*, sendable: bool = True) -> Iterator[Any]:
    for panel in DATA["panels"]:
        for index, exchange in enumerate(panel["exchanges"]):
            if _sendable(exchange) is sendable:
                yield pytest.param(panel, exchange, id=f"{panel['name']}:{index}:{exchange['label']}")


def test_only_forms_the_client_cannot_send_are_left_out():
    left_out = sorted({param.values[1]["label"] for param in exchanges(sendable=False)})
    assert left_out == sorted(
        {
            *NOT_SENDABLE,
            "probe status orders= (one id)",
            "refill single",
            "refill_status single",
            "refill_status(501) via smmapi",
            "status single (comments order)",
            "status single (drip order)",
            "status single (new order)",
            "status single (package_q1 order)",
            "status single (unknown id)",
        }
    )


def _bulk_answer(panel: dict[str, Any], form: dict[str, str]) -> dict[str, Any] | None:
    """The panel's one answer to every bulk form of an action, if it gave the same to each it was asked."""
    spec = SPECS.get(form["action"])
    if spec is None or spec.bulk not in form:
        return None
    answers = [
        e
        for e in panel["exchanges"]
        if e["form"].get("action") == form["action"]
        and spec.bulk in e["form"]
        and not e["label"].startswith("bad key")
    ]
    bodies = {(e["http_status"], json.dumps(json.loads(e["body"]))) for e in answers}
    return answers[0] if len(bodies) == 1 else None


def replaying(panel: dict[str, Any], exchange: dict[str, Any]) -> httpx.MockTransport:
    recorded = [exchange, *panel["exchanges"]]

    def answer(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        assert form.pop("key") == KEY
        found = next((e for e in recorded if e["form"] == form), None) or _bulk_answer(panel, form)
        if found is None:
            return httpx.Response(UNRECORDED, text="not recorded")
        return httpx.Response(
            found["http_status"], content=found["body"].encode(), headers={"Content-Type": "text/html"}
        )

    return httpx.MockTransport(answer)


def ids_of(form: dict[str, str]) -> list[int]:
    text = form.get("orders", form.get("refills", form.get("order", form.get("refill", ""))))
    return [int(part) for part in text.split(",")]


async def call(client: smmapi.AsyncClient, form: dict[str, str]) -> Any:
    """The client call that sends ``form`` (or its single form, for one ID)."""
    action = form["action"]
    if action in ("balance", "services", "products"):
        return await getattr(client, action)()
    if action == "add":
        fields = {FIELDS.get(name, name): value for name, value in form.items() if name != "action"}
        service = int(fields.pop("service"))
        for name in ("quantity", "runs", "interval", "min_per_post", "max_per_post", "posts", "delay"):
            if name in fields:
                fields[name] = int(fields[name])
        return await client.add(service=service, **fields)
    ids = ids_of(form)
    many = {
        "status": client.statuses,
        "refill": client.refills,
        "refill_status": client.refill_statuses,
        "cancel": client.cancels,
    }[action]
    return await many(ids)


def body_of(exchange: dict[str, Any]) -> Any:
    return json.loads(exchange["body"])


def expect_error_text(result: Any, text: str) -> None:
    """A top-level error text, read as the class a caller acts on."""
    if any(marker in text for marker in AUTH):
        expected: type[smmapi.SmmError] = smmapi.AuthenticationError
    elif text in FUNDS:
        expected = smmapi.InsufficientFundsError
    else:
        expected = smmapi.PanelError
    values = list(result.values()) if isinstance(result, dict) else [result]
    for value in values:
        assert isinstance(value, expected), (value, text)
        assert text in str(value)


@pytest.mark.parametrize(("panel", "exchange"), list(exchanges()))
@pytest.mark.anyio
async def test_each_recorded_answer_is_read_as_a_user_would_want(panel, exchange):  # noqa: PLR0915  (one branch per kind of recorded answer)
    form = exchange["form"]
    action = form["action"]
    body = body_of(exchange)
    with anyio.fail_after(10):
        async with smmapi.AsyncClient(
            URL, KEY, transport=replaying(panel, exchange), batch_window=0, retry_backoff=0, max_retries=0
        ) as client:
            try:
                result = await call(client, form)
            except smmapi.SmmError as error:
                result = error
    if isinstance(body, dict) and "error" in body:
        top = body["error"]
        if (
            action in ("status", "refill_status")
            and len(ids_of(form)) > 1
            and not any(m in top for m in AUTH)
        ):
            # Refused as a whole, naming no ID: never every ID's UnknownIdError. Each ID is asked
            # again on its own; what the panel answered to that form (if recorded) is its answer.
            for key, value in result.items():
                single = {"action": action, ("order" if action == "status" else "refill"): str(key)}
                recorded = next((e for e in panel["exchanges"] if e["form"] == single), None)
                if recorded is None:
                    assert isinstance(value, smmapi.HTTPStatusError), (key, value)
                    assert value.status_code == UNRECORDED
                elif "error" in body_of(recorded):
                    assert isinstance(value, smmapi.PanelError), (key, value)
                else:
                    assert not isinstance(value, smmapi.SmmError), (key, value)
            return
        if action in ("refill", "cancel") and isinstance(result, dict) and "not found" in top.lower():
            # A bulk write refused as a whole: each ID's refusal, never each ID's UnknownIdError.
            assert all(type(value) is smmapi.PanelError for value in result.values())
            return
        expect_error_text(result, top)
        if isinstance(result, smmapi.PanelError) and "status" in body and str(body["status"]).isdigit():
            assert result.code == str(body["status"])  # the panel's code is kept
        return
    if action == "add":
        assert result == int(body["order"])
    elif action == "balance":
        assert isinstance(result, smmapi.Balance)
        assert str(result.balance) == body["balance"]
    elif action == "services":
        assert [service.id for service in result] == [int(item["service"]) for item in body]
    elif action in ("products", "cancel") and body is None:
        # Boosted answers an action it lacks with null: nothing readable. For a write that may
        # have been carried out, an unknown outcome; for a read, an unreadable answer.
        values = list(result.values()) if isinstance(result, dict) else [result]
        kind = smmapi.OutcomeUnknownError if action == "cancel" else smmapi.UnreadableAnswerError
        assert all(isinstance(value, kind) for value in values), values
    elif action == "refill":
        # {"refill": "0"}: no refill was made that we could name; never a returned 0.
        if body == {"refill": "0"}:
            assert all(isinstance(value, smmapi.OutcomeUnknownError) for value in result.values())
        else:
            assert result == {ids_of(form)[0]: int(body["refill"])}
    elif action == "refill_status":
        (value,) = result.values()
        assert isinstance(value, smmapi.RefillStatus)
        assert value.status_text == body["status"]
    elif action == "status" and "order" in form:
        (value,) = result.values()
        assert isinstance(value, smmapi.OrderStatus)
        assert value.status_text == body["status"]
    elif action == "status":
        for key, value in result.items():
            item = body[str(key)]
            if isinstance(item, str):
                assert isinstance(
                    value, smmapi.UnknownIdError if "order id" in item.lower() else smmapi.PanelError
                )
            else:
                assert isinstance(value, smmapi.OrderStatus), (key, value)
                assert value.order == key
                assert value.status_text == item["status"]
    else:
        raise AssertionError(f"no expectation for {exchange['label']}")
