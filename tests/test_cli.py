"""The ``smmapi`` command, run in process by click's runner against a FakePanel.

The panel is reached through the command's seam (click's ``obj``), never by patching httpx.
"""

import json
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import smmapi
import uvicorn
from click.testing import CliRunner, Result
from smmapi.cli import _demo, main
from smmapi.cli._app import Seams, cli
from smmapi.cli._render import Tally
from smmapi.testing import FakePanel, FakeService, Fault, Outcomes

#: The key of every panel here; no output may ever show it.
PANEL_KEY = "cli-secret-key-NEVER-PRINTED-4242"
LINK = "https://instagram.com/p/cli"
#: Ten custom comments: service 301 takes ten or more.
COMMENTS = [f"Comment {n}" for n in range(10)]


@pytest.fixture(name="panel")
def _panel() -> FakePanel:
    return FakePanel(key=PANEL_KEY, seed=1, outcomes=Outcomes(partial=0, canceled=0, refill_rejected=0))


def run(
    args: list[str],
    panel: FakePanel | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    env: dict[str, str | None] | None = None,
    seams: Seams | None = None,
) -> Result:
    """Run the command in process; the panel's URL and key come from the environment."""
    environment: dict[str, str | None] = {"SMMAPI_URL": None, "SMMAPI_KEY": None, "COLUMNS": "200"}
    if panel is not None:
        environment.update(SMMAPI_URL=panel.url, SMMAPI_KEY=panel.key)
        transport = transport or panel.transport()
    environment.update(env or {})
    seams = seams or Seams(transport=transport, client_options={"retry_backoff": 0})
    return CliRunner().invoke(cli, args, obj=seams, env=environment, prog_name="smmapi")


def run_json(args: list[str], panel: FakePanel) -> Any:
    result = run([*args, "--json"], panel)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def place(panel: FakePanel, count: int, **fields: Any) -> list[int]:
    """Orders placed on the panel through a client (not the command)."""
    fields = fields or {"service": 101, "link": LINK, "quantity": 1000}

    async def main() -> list[int]:
        async with smmapi.AsyncClient(panel.url, panel.key, transport=panel.transport()) as client:
            return [await client.add(**fields) for _ in range(count)]

    return anyio.run(main)


class FastClock(httpx.AsyncBaseTransport):
    """The panel, its clock 5,000 times as fast as real time: an order ends within 0.15 s."""

    def __init__(self, panel: FakePanel) -> None:
        self.panel = panel
        self.inner = panel.transport()
        self.origin = time.monotonic()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        behind = (time.monotonic() - self.origin) * 5000 - self.panel.now
        if behind > 0:
            self.panel.advance(behind)
        return await self.inner.handle_async_request(request)


def assert_one_error_line(result: Result, text: str) -> None:
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("smmapi: error: ")
    assert text in result.stderr
    assert "Traceback" not in result.output


# -- importing -----------------------------------------------------------------------------


def test_importing_smmapi_needs_nothing_of_the_command():
    # With the command's packages made unimportable (httpx imports click and rich for its own
    # command when they are installed, so their absence from sys.modules would prove nothing).
    code = (
        "import sys\n"
        "sys.modules.update(dict.fromkeys(['click', 'rich', 'uvicorn']))\n"
        "import smmapi, smmapi.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith('smmapi.cli')))"
    )
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_main_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "smmapi.cli._app")
    monkeypatch.setitem(sys.modules, "click", None)  # `import click` now fails as if not installed

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert 'pip install "smmapi[cli]"' in capsys.readouterr().err


# -- help and version ----------------------------------------------------------------------


def test_help_documents_exit_codes_and_the_key_variable():
    result = run(["--help"])
    assert result.exit_code == 0
    for line in (
        "2    usage",
        "3    the panel refused",
        "4    the panel could not be reached",
        "5    outcome",
    ):
        assert line in result.stdout
    assert "130" in result.stdout
    assert "SMMAPI_KEY" in result.stdout


def test_key_help_steers_to_the_environment_variable():
    help_text = " ".join(run(["balance", "--help"]).stdout.split())
    assert "Prefer the SMMAPI_KEY environment variable" in help_text
    assert "[env var: SMMAPI_KEY]" in help_text


def test_no_arguments_shows_the_commands():
    result = run([])
    assert "status" in result.output
    assert "demo" in result.output


def test_version():
    result = run(["--version"])
    assert result.exit_code == 0
    assert smmapi.__version__ in result.stdout


# -- configuration -------------------------------------------------------------------------


def test_url_and_key_come_from_the_environment(panel):
    result = run(["balance"], panel)
    assert result.exit_code == 0, result.output
    assert result.stdout == "100.0000 USD\n"


def test_options_win_over_the_environment(panel):
    env = {"SMMAPI_URL": "https://elsewhere.invalid/api/v2", "SMMAPI_KEY": "wrong"}
    result = run(["balance", "--url", panel.url, "--key", PANEL_KEY], panel, env=env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("missing", "text"),
    [("SMMAPI_URL", "no panel URL: set SMMAPI_URL"), ("SMMAPI_KEY", "no API key: set SMMAPI_KEY")],
)
def test_missing_configuration_is_a_usage_error(panel, missing, text):
    result = run(["balance"], panel, env={missing: None})
    assert result.exit_code == 2
    assert_one_error_line(result, text)


def test_missing_configuration_with_json_is_an_error_object(panel):
    result = run(["balance", "--json"], panel, env={"SMMAPI_KEY": None})
    assert result.exit_code == 2
    assert json.loads(result.stdout)["type"] == "UsageError"


def test_a_plain_http_url_elsewhere_is_refused_before_sending():
    env = {"SMMAPI_URL": "http://panel.example/api/v2", "SMMAPI_KEY": PANEL_KEY}
    result = run(["balance"], env=env)
    assert result.exit_code == 2
    assert_one_error_line(result, "refusing plain http")


# -- account and catalogue -----------------------------------------------------------------


def test_balance_as_json(panel):
    assert run_json(["balance"], panel) == {"balance": "100.0000", "currency": "USD", "extra": {}}


def test_services_lists_the_catalogue(panel):
    result = run(["services"], panel)
    assert result.exit_code == 0
    assert f"{len(panel.services)} services" in result.stdout
    assert "Instagram Followers [Refill 30D] [Max 100K]" in result.stdout
    assert "refill, cancel, drip-feed" in result.stdout


def test_services_prints_the_panels_texts_as_they_are():
    odd = FakeService(1, "[/bold] Followers [red]", "Default", "[x]", rate="1", min=1, max=10)
    panel = FakePanel(key=PANEL_KEY, services=[odd])
    result = run(["services"], panel)
    assert result.exit_code == 0, result.output
    assert "[/bold] Followers [red]" in result.stdout


def test_services_filters_by_category_and_name_in_any_case(panel):
    services = run_json(["services", "--category", "instagram mentions", "--search", "HASHTAG"], panel)
    assert [s["id"] for s in services] == [402, 404]


def test_services_as_json_keeps_rates_exact(panel):
    services = run_json(["services"], panel)
    first = services[0]
    assert first["rate"] == "0.90"
    assert first["refill"] is True
    assert set(first) >= {"id", "name", "type", "category", "rate", "min", "max", "cancel", "dripfeed"}


def test_products_lists_them(panel):
    result = run(["products"], panel)
    assert result.exit_code == 0
    assert "Netflix Premium 1 Month" in result.stdout
    assert (
        run_json(["products"], panel)[0] | {"rate": "2.50", "inventory": 40}
        == run_json(["products"], panel)[0]
    )


# -- placing orders ------------------------------------------------------------------------


def test_add_places_an_order(panel):
    result = run(["add", "--service", "101", "--link", LINK, "--quantity", "1000"], panel)
    assert result.exit_code == 0, result.output
    [order] = panel.orders.values()
    assert result.stdout == f"Order {order.id} placed.\n"
    assert dict(order.fields) == {"service": "101", "link": LINK, "quantity": "1000"}


def test_add_as_json(panel):
    assert run_json(["add", "--service", "201", "--link", LINK], panel) == {"order": 10_001}


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        pytest.param(
            ["--service", "301", *(f"--comments={comment}" for comment in COMMENTS)],
            {"comments": "\n".join(COMMENTS)},
            id="comments-repeated",
        ),
        pytest.param(
            ["--service", "301", "--comments", "\n".join(COMMENTS)],
            {"comments": "\n".join(COMMENTS)},
            id="comments-one-per-line",
        ),
        pytest.param(
            ["--service", "101", "--quantity", "100", "--runs", "3", "--interval", "5"],
            {"quantity": "100", "runs": "3", "interval": "5"},
            id="drip-feed",
        ),
        pytest.param(
            ["--service", "601", "--quantity", "100", "--answer-number", "2"],
            {"quantity": "100", "answer_number": "2"},
            id="poll",
        ),
        pytest.param(
            ["--service", "101", "--quantity", "100", "--field", "note=vip"],
            {"quantity": "100", "note": "vip"},
            id="extra-field",
        ),
    ],
)
def test_add_sends_each_order_types_fields(panel, options, fields):
    result = run(["add", "--link", LINK, *options], panel)
    assert result.exit_code == 0, result.output
    [order] = panel.orders.values()
    assert dict(order.fields).items() >= fields.items()


def test_add_subscription_fields(panel):
    options = ["--username", "alice", "--min-per-post", "50", "--max-per-post", "100", "--delay", "0"]
    result = run(["add", "--service", "701", *options, "--posts", "2"], panel)
    assert result.exit_code == 0, result.output
    [order] = panel.orders.values()
    assert dict(order.fields) == {
        "service": "701", "username": "alice", "min": "50", "max": "100", "delay": "0", "posts": "2"
    }  # fmt: skip


def test_add_with_a_bad_value_is_a_usage_error_and_sends_nothing(panel):
    result = run(["add", "--service", "101", "--link", LINK, "--quantity", "0"], panel)
    assert result.exit_code == 2
    assert_one_error_line(result, "quantity must be at least 1, got 0 (ValidationError)")
    assert panel.requests == []


def test_add_with_a_malformed_field_is_a_usage_error(panel):
    result = run(["add", "--service", "101", "--link", LINK, "--field", "novalue"], panel)
    assert result.exit_code == 2
    assert_one_error_line(result, "expected NAME=VALUE")


def test_add_refused_by_the_panel(panel):
    panel.balance = Decimal(0)
    result = run(["add", "--service", "101", "--link", LINK, "--quantity", "1000", "--json"], panel)
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {
        "error": "Not enough funds on balance",
        "type": "InsufficientFundsError",
    }
    assert_one_error_line(result, "Not enough funds on balance (InsufficientFundsError)")


def test_add_product_order(panel):
    result = run(
        ["add-product-order", "--product", "1", "--quantity", "2", "--require", "me@example.com"], panel
    )
    assert result.exit_code == 0, result.output
    [order] = panel.product_orders.values()
    assert result.stdout == f"Product order {order.id} placed.\n"
    assert (order.product, order.quantity, order.require) == (1, 2, "me@example.com")


def test_add_product_order_as_json(panel):
    assert run_json(["add-product-order", "--product", "4", "--quantity", "1"], panel) == {"order": 70_001}


# -- looking up by ID ----------------------------------------------------------------------


def test_status_of_several_orders_in_one_request(panel):
    orders = place(panel, 3)
    result = run(["status", *map(str, orders)], panel)
    assert result.exit_code == 0, result.output
    assert all(str(order) in result.stdout for order in orders)
    assert "Pending" in result.stdout
    assert [request.ids for request in panel.requests_for("status")] == [3]


def test_status_as_json_is_keyed_by_id(panel):
    [order] = place(panel, 1)
    panel.settle()
    assert run_json(["status", str(order)], panel) == {
        str(order): {
            "order": order,
            "status": "Completed",
            "status_text": "Completed",
            "charge": "0.9000",
            "start_count": panel.orders[order].start_count,
            "remains": 0,
            "currency": "USD",
            "extra": {},
        }
    }


def test_status_of_an_unknown_order_is_one_error_line(panel):
    result = run(["status", "99"], panel)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert_one_error_line(result, "Incorrect order ID (UnknownIdError)")


def test_status_with_some_unknown_orders_shows_each_and_fails(panel):
    [order] = place(panel, 1)
    result = run(["status", str(order), "99"], panel)
    assert result.exit_code == 3
    assert "Pending" in result.stdout
    assert "Incorrect order ID (UnknownIdError)" in result.stdout
    assert_one_error_line(result, "1 of 2 orders failed; order 99: Incorrect order ID")


def test_status_as_json_puts_errors_beside_results(panel):
    [order] = place(panel, 1)
    result = run(["status", str(order), "99", "--json"], panel)
    assert result.exit_code == 3
    answer = json.loads(result.stdout)
    assert answer["99"] == {"error": "Incorrect order ID", "type": "UnknownIdError"}
    assert answer[str(order)]["status"] == "Pending"


@pytest.mark.parametrize("ids", [["0"], ["-3"], ["abc"], []], ids=["zero", "negative", "text", "none"])
def test_status_with_bad_ids_is_a_usage_error(panel, ids):
    result = run(["status", *ids], panel)
    assert result.exit_code == 2
    assert_one_error_line(result, "(see 'smmapi status --help')")
    assert panel.requests == []


def test_status_watch_follows_orders_until_final(panel):
    orders = place(panel, 3)
    result = run(
        ["status", *map(str, orders), "--watch", "--interval", "0.01"], panel, transport=FastClock(panel)
    )
    assert result.exit_code == 0, result.output
    assert "Following 3 orders" in result.stdout
    assert result.stdout.count("Completed") >= 3


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["table", "json"])
def test_status_watch_gives_up_after_its_timeout_naming_what_did_not_finish(panel, as_json):
    orders = place(panel, 2)  # the panel's clock stands still: they stay Pending
    result = run(["status", *map(str, orders), "--watch", "--timeout", "0", *as_json], panel)
    assert result.exit_code == 1
    expected = f"2 not final after the watch's timeout of 0 seconds: {orders[0]}, {orders[1]}"
    assert_one_error_line(result, expected)


def test_status_watch_as_json_streams_one_line_per_change(panel):
    orders = place(panel, 2)
    result = run(
        ["status", *map(str, orders), "99", "--watch", "--interval", "0.01", "--json"],
        panel,
        transport=FastClock(panel),
    )
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"order": 99, "error": "Incorrect order ID", "type": "UnknownIdError"} in lines
    last = {line["order"]: line for line in lines}
    assert [last[order]["status"] for order in orders] == ["Completed", "Completed"]
    assert all(last[order]["final"] for order in orders)
    assert all(line["final"] is False for line in lines if line.get("status") == "Pending")


def test_refill_asks_for_each_order(panel):
    orders = place(panel, 2)
    panel.settle()
    result = run(["refill", *map(str, orders), "99"], panel)
    assert result.exit_code == 3
    assert "501" in result.stdout
    assert "502" in result.stdout
    assert [refill.order for refill in panel.refills.values()] == orders


def test_refill_as_json(panel):
    [order] = place(panel, 1)
    panel.settle()
    assert run_json(["refill", str(order)], panel) == {str(order): {"order": order, "refill": 501}}


def test_refill_status(panel):
    [order] = place(panel, 1)
    panel.settle()
    run(["refill", str(order)], panel)
    assert run_json(["refill-status", "501"], panel) == {
        "501": {"refill": 501, "status": "Pending", "status_text": "Pending", "extra": {}}
    }


def test_refill_status_watch(panel):
    [order] = place(panel, 1)
    panel.settle()
    run(["refill", str(order)], panel)
    result = run(["refill-status", "501", "--watch", "--interval", "0.01"], panel, transport=FastClock(panel))
    assert result.exit_code == 0, result.output
    assert "Completed" in result.stdout


def test_cancel(panel):
    orders = place(panel, 2, service=101, link=LINK, quantity=1000)
    panel.settle()  # the second cannot be canceled now
    [pending] = place(panel, 1)
    result = run(["cancel", str(pending), str(orders[0])], panel)
    assert result.exit_code == 3
    assert "accepted" in result.stdout
    assert panel.orders[pending].status == "Canceled"
    assert_one_error_line(result, "1 of 2 orders failed")


def test_cancel_as_json(panel):
    [order] = place(panel, 1)
    assert run_json(["cancel", str(order)], panel) == {str(order): {"order": order, "accepted": True}}


def test_product_order_status(panel):
    result = run(
        ["add-product-order", "--product", "1", "--quantity", "1", "--require", "me@example.com"], panel
    )
    assert result.exit_code == 0
    panel.settle()
    answer = run_json(["product-order-status", "70001"], panel)
    assert answer["70001"]["status"] == "Completed"
    assert answer["70001"]["charge"] == "2.50"
    assert answer["70001"]["result"].startswith("netflix:")


def test_product_order_status_watch(panel):
    run(["add-product-order", "--product", "4", "--quantity", "1"], panel)
    result = run(
        ["product-order-status", "70001", "--watch", "--interval", "0.01"], panel, transport=FastClock(panel)
    )
    assert result.exit_code == 0, result.output
    assert "Completed" in result.stdout


# -- errors and exit codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "kind"),
    [
        pytest.param(Fault.error("Invalid API key"), 3, "AuthenticationError", id="panel"),
        pytest.param(Fault.refused(), 4, "ConnectError", id="transport"),
        pytest.param(Fault.status(503), 4, "HTTPStatusError", id="http-status"),
        pytest.param(Fault.html(), 4, "UnreadableAnswerError", id="unreadable"),
    ],
)
def test_exit_code_of_each_error_class(panel, fault, code, kind):
    panel.misbehave(fault)
    result = run(["balance", "--json"], panel)
    assert result.exit_code == code
    assert json.loads(result.stdout)["type"] == kind
    assert_one_error_line(result, f"({kind})")


def test_exit_code_of_an_unknown_outcome(panel):
    panel.misbehave(Fault.reset(when="after"), action="add")
    result = run(["add", "--service", "101", "--link", LINK, "--quantity", "1000", "--json"], panel)
    assert result.exit_code == 5
    error = json.loads(result.stdout)
    assert error["type"] == "OutcomeUnknownError"
    assert error["action"] == "add"
    assert error["fields"]["link"] == LINK
    assert_one_error_line(result, "(OutcomeUnknownError)")


def test_a_request_that_fails_for_every_id_is_one_line(panel):
    panel.misbehave(Fault.status(503))
    result = run(["status", "1", "2", "3"], panel)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert_one_error_line(result, "(HTTPStatusError)")


def test_the_most_serious_error_sets_the_exit_code(panel):
    orders = place(panel, 2)
    panel.settle()
    panel.misbehave(Fault.missing_ids([orders[1]]), action="refill", times=1)
    result = run(["refill", str(orders[0]), str(orders[1]), "99"], panel)
    assert result.exit_code == 5
    assert "UnknownIdError" in result.stdout
    assert "OutcomeUnknownError" in result.stdout


def test_a_lone_answer_to_a_bulk_refill_is_an_unknown_outcome_on_stderr(panel):
    orders = place(panel, 2)
    panel.settle()
    panel.misbehave(Fault.lone_refill(), action="refill", times=1)
    result = run(["refill", *map(str, orders)], panel)
    assert result.exit_code == 5
    (error,) = result.stderr.splitlines()
    assert error.startswith("smmapi: error: refill: the panel may have carried it out")


@pytest.mark.parametrize(
    "args",
    [["nonsense"], ["status", "--bogus", "1"], ["add", "--link", LINK], ["demo", "--orders", "0"]],
    ids=["command", "option", "required-option", "range"],
)
def test_usage_errors_are_one_line_with_exit_code_2(panel, args):
    result = run(args, panel)
    assert result.exit_code == 2
    assert_one_error_line(result, "--help')")


class Interrupting(httpx.AsyncBaseTransport):
    """A transport where the user presses Ctrl-C while the request is out."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt


def test_ctrl_c_exits_130_without_a_traceback(panel):
    result = run(["balance"], panel, transport=Interrupting())
    assert result.exit_code == 130
    assert result.stderr.strip() == "smmapi: interrupted"


# -- the key -------------------------------------------------------------------------------

EVERY_COMMAND = [
    ["balance"],
    ["services"],
    ["products"],
    ["add", "--service", "101", "--link", LINK, "--quantity", "1000"],
    ["add-product-order", "--product", "1", "--quantity", "1", "--require", "me@example.com"],
    ["status", "10001", "99"],
    ["status", "10001", "--watch", "--interval", "0.01"],
    ["refill", "10001"],
    ["refill-status", "501"],
    ["cancel", "10001"],
    ["product-order-status", "70001"],
]


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["table", "json"])
@pytest.mark.parametrize("key", [PANEL_KEY, PANEL_KEY + "-but-wrong"], ids=["right-key", "wrong-key"])
@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda args: "-".join(args[:2]))
def test_the_key_never_appears_in_any_output(panel, args, key, json_flag):
    place(panel, 1)
    result = run([*args, *json_flag, "--key", key], panel, transport=FastClock(panel))
    assert PANEL_KEY not in result.output
    assert PANEL_KEY not in result.stdout + result.stderr
    assert result.exit_code in (0, 3), result.output


def test_the_key_never_appears_when_the_panel_is_unreachable(panel):
    panel.misbehave(Fault.refused())
    result = run(["add", "--service", "101", "--link", LINK, "--quantity", "1000", "--json"], panel)
    assert result.exit_code == 4
    assert PANEL_KEY not in result.output


# -- the demo ------------------------------------------------------------------------------


def test_demo_places_and_follows_every_order():
    result = run(["demo", "--orders", "20", "--speed", "3000"])
    assert result.exit_code == 0, result.output
    assert "20 orders, by final status" in result.stdout
    assert "Lookups asked" in result.stdout
    assert "HTTP requests sent" in result.stdout


def test_demo_as_json():
    result = run(["demo", "--orders", "20", "--speed", "3000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["placed"] == 20
    assert report["unfinished"] == 0
    assert sum(report["final"].values()) == 20
    assert len(report["by_type"]) >= 5
    assert report["requests_by_action"]["add"] == 20
    assert report["lookups"] > report["requests_by_action"]["status"]
    assert Decimal(report["balance_after"]) < Decimal(report["balance_before"])


def test_demo_report_names_what_went_wrong():
    report = _demo.Report(
        orders=3, placed=2, refused={"PanelError": 1}, first_refusal="No (PanelError)", by_kind={},
        unfinished=0, lookups=0, requests=0, requests_by_action={}, ids_per_request=0.0, seconds=0.0,
        panel_seconds=0.0, balance_before=Decimal(1), balance_after=Decimal(1), currency=None,
    )  # fmt: skip
    assert not report.ok
    assert report.problem() == "1 of 3 orders were refused: No (PanelError)"


def test_demo_writes_money_with_the_panels_own_precision():
    assert _demo.same_places(Decimal("600.0000"), Decimal("545.71720")) == ["600.00000", "545.71720"]
    assert _demo.same_places(Decimal(1200), Decimal("0.5")) == ["1,200.0", "0.5"]


def test_demo_serve_serves_the_fake_panel_until_stopped():
    seen: dict[str, Any] = {}

    def try_it(server: uvicorn.Server, url: str) -> None:
        def client_side() -> None:
            async def main() -> None:
                with anyio.fail_after(10):
                    while not server.started:  # noqa: ASYNC110  (uvicorn has a flag, no event)
                        await anyio.sleep(0.01)
                    async with smmapi.AsyncClient(url, "fake-panel-key-for-tests-only") as client:
                        seen["balance"] = await client.balance()
                        seen["order"] = await client.add(service=101, link=LINK, quantity=100)

            try:
                anyio.run(main)
            finally:
                server.should_exit = True

        threading.Thread(target=client_side, daemon=True).start()

    result = run(["demo", "--serve", "--port", "0"], seams=Seams(on_serve=try_it))
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:" in result.stdout
    assert "export SMMAPI_KEY=fake-panel-key-for-tests-only" in result.stdout
    assert seen["balance"].currency == "USD"
    assert seen["order"] == 10_001


def test_demo_serve_on_a_port_in_use_fails_with_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["demo", "--serve", "--port", str(port)])
    assert result.exit_code == 1
    assert_one_error_line(result, f"cannot listen on 127.0.0.1:{port}")


def test_python_m_smmapi_demo_runs_for_real():
    result = subprocess.run(
        [sys.executable, "-m", "smmapi", "demo", "--orders", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "50 orders, by final status" in result.stdout
    assert "Lookups asked" in result.stdout
    assert "Time" in result.stdout


def test_probe_reports_the_forms_read_and_asks_nothing_but_reads(panel):
    (order,) = place(panel, 1)
    before = len(panel.requests)
    found = run_json(["probe", "--order", str(order)], panel)
    status = found["actions"][0]
    assert status == {
        "action": "status",
        "exists": True,
        "single": True,
        "bulk": True,
        "whole_list": False,
        "limit": 100,
        "note": "",
    }
    assert found["bulk"] == {"status": True}
    assert {r.action for r in panel.requests[before:]} <= {"status", "refill_status", "product_order_status"}
    text = run(["probe", "--order", str(order)], panel)
    assert text.exit_code == 0
    assert "the defaults fit it" in text.stdout


def test_a_tally_forgets_an_orders_passing_error_once_it_answers():
    tally = Tally(total=1)
    tally.see(smmapi.FailedUpdate(1, smmapi.PanelError("Service is temporarily unavailable")))
    assert tally.detail() == "error 1"
    tally.see(
        smmapi.Update(
            1, smmapi.OrderStatus(order=1, status=smmapi.OrderState.COMPLETED, status_text="Completed")
        )
    )
    assert tally.errors == {}
    assert tally.detail() == "Completed 1"
    assert tally.final == {1}
