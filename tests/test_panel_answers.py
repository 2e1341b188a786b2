"""Every answer of tests/data/panel-answers.json, sent through a real AsyncClient.

Each item gets an explicit expectation below, keyed by its index in the file and a readable name.
The test IDs come from the file, so an item added without an expectation fails, and each
expectation names its item's action and source, so an item inserted in the middle (which
shifts the indexes) fails too instead of being checked against another item's expectation.

The mock panel answers the item's body whatever form it was sent (single ``order=`` or bulk
``orders=``), so these tests hold when single lookups are coalesced into bulk requests.
"""

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest
import smmapi
from smmapi import (
    AuthenticationError,
    Balance,
    InsufficientFundsError,
    OrderState,
    OrderStatus,
    OutcomeUnknownError,
    PanelError,
    ProductOrderStatus,
    RateLimitedError,
    RefillState,
    RefillStatus,
    Service,
    UnknownIdError,
    UnreadableAnswerError,
)

from conftest import PANEL_ANSWERS, Panel

ANSWERS: list[dict[str, Any]] = json.loads(PANEL_ANSWERS.read_text(encoding="utf-8"))["answers"]

D = Decimal

#: The wire action each client method sends.
ACTION_OF = {
    "balance": "balance",
    "services": "services",
    "products": "products",
    "add": "add",
    "add_product_order": "add_product_order",
    "status": "status",
    "statuses": "status",
    "refill": "refill",
    "refills": "refill",
    "refill_status": "refill_status",
    "refill_statuses": "refill_status",
    "cancel": "cancel",
    "cancels": "cancel",
    "product_order_status": "product_order_status",
    "product_order_statuses": "product_order_status",
}
WRITES = frozenset({"add", "add_product_order", "refill", "cancel"})

ADD = {"service": 1, "link": "https://example.com/p/1", "quantity": 1000}
DRIP_FEED = {**ADD, "runs": 2, "interval": 7}
PRODUCT_ORDER = {"product": 1, "quantity": 1, "require": "me@example.com"}


@attrs.frozen
class Raises:
    """The error expected: exactly this class, its text containing ``match``."""

    cls: type[smmapi.SmmError]
    match: str = ""
    status_code: int | None = None


@attrs.frozen
class Case:
    """What calling ``method(*args, **kwargs)`` against an item's answer must give."""

    name: str
    source: str  # a fragment of the item's source: guards against shifted indexes
    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    expected: Any
    list_body: bool = False  # the item is one element of a list answer, as its note says

    @property
    def action(self) -> str:
        return ACTION_OF[self.method]


def case(
    name: str,
    source: str,
    method: str,
    *args: Any,
    expected: Any,
    list_body: bool = False,
    **kwargs: Any,
) -> Case:
    return Case(name, source, method, args, kwargs, expected, list_body)


def unreadable(method: str, *args: Any, name: str, source: str, **kwargs: Any) -> Case:
    """A body that is not JSON: the read raises UnreadableAnswerError, a write OutcomeUnknownError."""
    cls = OutcomeUnknownError if ACTION_OF[method] in WRITES else UnreadableAnswerError
    return case(name, source, method, *args, expected=Raises(cls), **kwargs)


def order_status(order: int, status: OrderState, text: str, **fields: Any) -> OrderStatus:
    return OrderStatus(order=order, status=status, status_text=text, **fields)


JAP_PARTIAL = {"charge": D("0.27819"), "start_count": 3572, "remains": 157}
JAP_IN_PROGRESS = {"charge": D("1.44219"), "start_count": 234, "remains": 10}

PANELSEND_EXTRA = {
    "desc [Separate Ticket Request]": "Description",
    "description [Separate Ticket Request]": "Description",
    "name_lang [Separate Ticket Request]": {"ru": "RU Description", "en": "EN Description"},
    "cat_lang [Separate Ticket Request]": {"ru": "RU Category Name", "en": "EN Category Name"},
    "category_lang [Separate Ticket Request]": {"ru": "RU Category Name", "en": "EN Category Name"},
    "desc_lang [Separate Ticket Request]": {"ru": "RU Description", "en": "EN Description"},
    "description_lang [Separate Ticket Request]": {"ru": "RU Description", "en": "EN Description"},
}
SMARTPANEL_CATEGORY = "Instagram - Followers [Guaranteed/Refill] - Less Drops \u2b50"
PRODUCT_RESULT = "c85c1d1a-9ef3-4d01-8c58-3dfaf3bbc78e"

EXPECTED: dict[int, Case] = {
    0: case(
        "1dg-services",
        "1dg.me",
        "services",
        expected=[
            Service(
                id=1,
                name="Youtube views",
                rate=D("2.5"),
                min=200,
                max=10000,
                type="Default",
                category="Youtube",
                refill=True,
            ),
            Service(
                id=2,
                name="Facebook comments",
                rate=D("4"),
                min=10,
                max=1500,
                type="Custom Comments",
                category="Facebook",
                refill=False,
            ),
        ],
    ),
    1: case("1dg-add", "1dg.me", "add", **ADD, expected=99999),
    2: case(
        "1dg-status-negative-remains",
        "1dg.me",
        "status",
        1,
        expected=order_status(
            1, OrderState.COMPLETED, "Completed", charge=D("2.5"), start_count=168, remains=-2
        ),
    ),
    3: case(
        "1dg-bulk-status",
        "1dg.me",
        "statuses",
        [123, 456, 789],
        expected={
            123: order_status(123, OrderState.PARTIAL, "Partial", **JAP_PARTIAL),
            456: Raises(UnknownIdError, "Incorrect order ID"),
            789: order_status(789, OrderState.IN_PROGRESS, "In progress", **JAP_IN_PROGRESS),
        },
    ),
    4: case("1dg-balance", "1dg.me", "balance", expected=Balance(balance=D("68.6868"), currency="USD")),
    5: case("1dg-refill", "1dg.me", "refill", 1, expected=1),
    6: case(
        "1dg-bulk-refill-lone-object",
        "1dg.me",
        "refills",
        [123, 456, 789],
        expected={
            123: Raises(OutcomeUnknownError),
            456: Raises(OutcomeUnknownError),
            789: Raises(OutcomeUnknownError),
        },
    ),
    7: case(
        "1dg-refill-status",
        "1dg.me",
        "refill_status",
        1,
        expected=RefillStatus(refill=1, status=RefillState.COMPLETED, status_text="Completed"),
    ),
    # The form says refills=123,456,789 but the documented answer is about refills 1, 2 and 3:
    # we ask for the IDs the answer is about.
    8: case(
        "1dg-bulk-refill-status",
        "1dg.me",
        "refill_statuses",
        [1, 2, 3],
        expected={
            1: RefillStatus(refill=1, status=RefillState.COMPLETED, status_text="Completed"),
            2: RefillStatus(refill=2, status=RefillState.REJECTED, status_text="Rejected"),
            3: Raises(UnknownIdError, "Incorrect refill ID"),
        },
    ),
    9: unreadable("products", name="1dg-products-missing-commas", source="1dg.me"),
    10: case("1dg-add-product-order", "1dg.me", "add_product_order", **PRODUCT_ORDER, expected=99999),
    11: case(
        "1dg-product-order-status",
        "1dg.me",
        "product_order_status",
        1,
        expected=ProductOrderStatus(
            order=1,
            status=OrderState.COMPLETED,
            status_text="Completed",
            charge=D("7.5"),
            result=PRODUCT_RESULT,
        ),
    ),
    12: case(
        "1dg-bulk-product-order-status",
        "1dg.me",
        "product_order_statuses",
        [123, 456, 789, 688],
        expected={
            123: ProductOrderStatus(
                order=123,
                status=OrderState.COMPLETED,
                status_text="Completed",
                charge=D("7.5"),
                result=PRODUCT_RESULT,
            ),
            456: Raises(UnknownIdError, "Incorrect order ID"),
            789: ProductOrderStatus(
                order=789,
                status=OrderState.CANCELED,
                status_text="Canceled",
                charge=D("0"),
                note="Out of stock",
            ),
            688: ProductOrderStatus(
                order=688,
                status=OrderState.PARTIAL,
                status_text="Partial",
                charge=D("5.6"),
                note="",
                refund=D("0.4"),
            ),
        },
    ),
    13: unreadable("services", name="smmpanels-store-services-trailing-commas", source="smmpanels.store"),
    14: case("smmpanels-store-refill-success-text", "smmpanels.store", "refill", 1, expected=12345),
    15: case(
        "smmpanels-store-refill-refused",
        "smmpanels.store",
        "refill",
        1,
        expected=Raises(PanelError, "Order not eligible for refill."),
    ),
    16: case(
        "followeran-services-string-ids",
        "followeran.com",
        "services",
        expected=[
            Service(
                id=3,
                name="Service 1",
                rate=D("95200"),
                min=20,
                max=30,
                type="default",
                category="Category 1",
                dripfeed=False,
                extra={"desc": "Description 1"},
            ),
            Service(
                id=9,
                name="Service 2",
                rate=D("12000"),
                min=50,
                max=100,
                type="default",
                category="Category 22",
                dripfeed=False,
                extra={"desc": "Description 2"},
            ),
        ],
    ),
    17: case("followeran-add-status-success", "followeran.com", "add", **ADD, expected=151),
    18: case(
        "followeran-status-echoes-order",
        "followeran.com",
        "status",
        1526,
        expected=order_status(
            1526, OrderState.COMPLETED, "Completed", charge=D("5400"), start_count=300, remains=0
        ),
    ),
    19: case(
        "followeran-balance-json-number",
        "followeran.com",
        "balance",
        expected=Balance(balance=D("12.3"), currency="USD", extra={"status": "success"}),
    ),
    20: unreadable("balance", name="noderip-balance-js-literal", source="panel-rip/node-sdk"),
    21: unreadable("services", name="noderip-services-js-console", source="panel-rip/node-sdk"),
    22: unreadable("status", 1, name="noderip-status-js-console", source="panel-rip/node-sdk"),
    23: unreadable("add", name="noderip-add-js-literal", source="panel-rip/node-sdk", **ADD),
    24: case(
        "smmtglux-any-incorrect-order-id",
        "smmtglux",
        "status",
        1,
        expected=Raises(UnknownIdError, "Incorrect order ID"),
    ),
    25: case(
        "smmtglux-any-invalid-key",
        "smmtglux",
        "balance",
        expected=Raises(AuthenticationError, "Invalid API key"),
    ),
    26: case(
        "smmtglux-balance-one-decimal",
        "smmtglux",
        "balance",
        expected=Balance(balance=D("25.0"), currency="USD"),
    ),
    27: case(
        "smmbot-refill-disabled",
        "ps-updates/SMM-BOT",
        "refill",
        1,
        expected=Raises(PanelError, "Refill is disabled for this service"),
    ),
    28: case(
        "smmbot-refill-not-completed",
        "ps-updates/SMM-BOT",
        "refill",
        1,
        expected=Raises(PanelError, "The refill task is not completed for this order"),
    ),
    29: case(
        "jap-services",
        "justanotherpanel.com",
        "services",
        expected=[
            Service(
                id=1,
                name="Followers",
                rate=D("0.90"),
                min=50,
                max=10000,
                type="Default",
                category="First Category",
                refill=True,
                cancel=True,
            ),
            Service(
                id=2,
                name="Comments",
                rate=D("8"),
                min=10,
                max=1500,
                type="Custom Comments",
                category="Second Category",
                refill=False,
                cancel=True,
            ),
        ],
    ),
    30: case("jap-add", "justanotherpanel.com", "add", **ADD, expected=23501),
    31: case(
        "jap-status",
        "justanotherpanel.com",
        "status",
        1,
        expected=order_status(1, OrderState.PARTIAL, "Partial", **JAP_PARTIAL, currency="USD"),
    ),
    32: case(
        "jap-bulk-status",
        "justanotherpanel.com",
        "statuses",
        [1, 10, 100],
        expected={
            1: order_status(1, OrderState.PARTIAL, "Partial", **JAP_PARTIAL, currency="USD"),
            10: Raises(UnknownIdError, "Incorrect order ID"),
            100: order_status(100, OrderState.IN_PROGRESS, "In progress", **JAP_IN_PROGRESS, currency="USD"),
        },
    ),
    33: case(
        "jap-bulk-refill",
        "justanotherpanel.com",
        "refills",
        [1, 2, 3],
        expected={1: 1, 2: 2, 3: Raises(UnknownIdError, "Incorrect order ID")},
    ),
    34: case(
        "smmrise-bulk-refill-status",
        "smmrise.com",
        "refill_statuses",
        [1, 2, 3],
        expected={
            1: RefillStatus(refill=1, status=RefillState.COMPLETED, status_text="Completed"),
            2: RefillStatus(refill=2, status=RefillState.REJECTED, status_text="Rejected"),
            3: Raises(UnknownIdError, "Refill not found"),
        },
    ),
    35: case(
        "smmrise-cancel",
        "smmrise.com",
        "cancels",
        [9, 2],
        expected={9: Raises(UnknownIdError, "Incorrect order ID"), 2: None},
    ),
    36: case(
        "smmrise-balance",
        "smmrise.com",
        "balance",
        expected=Balance(balance=D("100.84292"), currency="USD"),
    ),
    37: case("smmserver-add-string-id", "smmserver.life", "add", **DRIP_FEED, expected=23501),
    38: case(
        "smmserver-status-trailing-zeros",
        "smmserver.life",
        "status",
        1,
        expected=order_status(
            1,
            OrderState.COMPLETED,
            "Completed",
            charge=D("0.03300"),
            start_count=1691,
            remains=0,
            currency="USD",
        ),
    ),
    39: case(
        "smmserver-bulk-refill-invalid-request",
        "smmserver.life",
        "refills",
        [1, 2, 3],
        expected={1: 1, 2: 2, 3: Raises(PanelError, "Invalid Request")},
    ),
    40: unreadable("services", name="lunasmm-services-python-booleans", source="lunasmm.net"),
    41: case(
        "lunasmm-cancel-titlecase",
        "lunasmm.net",
        "cancels",
        [9, 2],
        expected={9: Raises(UnknownIdError, "Incorrect Order ID"), 2: None},
    ),
    42: case(
        "lunasmm-bulk-status-titlecase",
        "lunasmm.net",
        "statuses",
        [1, 10, 100],
        expected={
            1: order_status(1, OrderState.PARTIAL, "Partial", **JAP_PARTIAL, currency="USD"),
            10: Raises(UnknownIdError, "Incorrect Order ID"),
            100: order_status(100, OrderState.IN_PROGRESS, "In Progress", **JAP_IN_PROGRESS, currency="USD"),
        },
    ),
    # IDs are ints: a refill ID such as "ref_01HG9XAZQM..." cannot be returned, and the refill
    # may have been made, so the caller must reconcile.
    43: case("notpanel-refill-ulid", "notpanel.com", "refill", 1, expected=Raises(OutcomeUnknownError)),
    44: case(
        "notpanel-add-http-400",
        "notpanel.com",
        "add",
        **ADD,
        expected=Raises(PanelError, "Missing required parameter: service", status_code=400),
    ),
    45: case(
        "undrctrl-bulk-refill-one-item",
        "undrctrl.id",
        "refills",
        [1, 2, 3],
        expected={1: 1, 2: Raises(OutcomeUnknownError), 3: Raises(OutcomeUnknownError)},
    ),
    46: case("quanhaiying-refill-int", "quanhaiying.com", "refill", 1, expected=1),
    47: case(
        "notpanel-status-snake-case",
        "notpanel.com",
        "status",
        1,
        expected=order_status(
            1,
            OrderState.IN_PROGRESS,
            "in_progress",
            charge=D("0.50"),
            start_count=1234,
            remains=650,
            currency="USD",
        ),
    ),
    48: case(
        "panelsend-services-annotated-keys",
        "panelsend.com",
        "services",
        expected=[
            Service(
                id=1,
                name="Followers",
                rate=D("0.90"),
                min=50,
                max=10000,
                type="Default",
                category="First Category",
                refill=True,
                cancel=False,
                dripfeed=True,
                extra=PANELSEND_EXTRA,
            ),
            Service(
                id=2,
                name="Comments",
                rate=D("8"),
                min=10,
                max=15000,
                type="Custom Comments",
                category="Second Category",
                refill=False,
                cancel=True,
                dripfeed=False,
                extra=PANELSEND_EXTRA,
            ),
        ],
    ),
    49: case(
        "smmtglux-services-rate-limit-200",
        "SmmTGlux/smm-api-php",
        "services",
        expected=Raises(RateLimitedError, "Rate limit exceeded. Slow down.", status_code=200),
    ),
    50: unreadable("services", name="smmtglux-services-html", source="SmmTGlux/smm-api-php"),
    51: case(
        "smmtglux-balance-seven-decimals",
        "SmmTGlux/smm-api-php",
        "balance",
        expected=Balance(balance=D("0.0000001"), currency="USD"),
    ),
    52: case(
        "probot-status-null-start-count",
        "saud552/ProBot",
        "status",
        1,
        expected=order_status(
            1,
            OrderState.COMPLETED,
            "Completed",
            charge=D("0.14"),
            start_count=None,
            remains=0,
            currency="USD",
        ),
    ),
    53: case(
        "followeran-services-one-item",
        "Followeran",
        "services",
        list_body=True,
        expected=[
            Service(
                id=697,
                name="...",
                rate=D("700000"),
                min=1000,
                max=1000,
                type="default",
                category="\u0641\u0627\u0644\u0648\u0648\u0631 \u0627\u06cc\u0631\u0627\u0646\u06cc",
                refill=False,
                cancel=False,
                dripfeed=False,
                extra={
                    "service_rate": "3.110",
                    "desc": "",
                    "template_link": "",
                    "brand": "\u0627\u06cc\u0646\u0633\u062a\u0627\u06af\u0631\u0627\u0645",
                },
            )
        ],
    ),
    54: case(
        "followeran-status-extra-fields",
        "followeran.ir",
        "status",
        8598432,
        expected=order_status(
            8598432,
            OrderState.COMPLETED,
            "Completed",
            charge=D("250"),
            start_count=None,
            remains=0,
            extra={
                "created_at": "1404-08-23 00:27:49",
                "service": 637,
                "service_name": "\u0628\u0627\u0632\u062f\u06cc\u062f \u062a\u0644\u06af\u0631\u0627\u0645"
                " (5 \u067e\u0633\u062a \u0622\u062e\u0631)",
            },
        ),
    ),
    55: case(
        "thesmmstore-refill-without-id",
        "thesmmstore.com",
        "refill",
        1,
        expected=Raises(OutcomeUnknownError),
    ),
    56: case("thesmmstore-cancel-single-form", "thesmmstore.com", "cancel", 1, expected=None),
    57: case(
        "thesmmstore-services-number-rate",
        "thesmmstore.com",
        "services",
        expected=[
            Service(
                id=694,
                name="Instagram Followers Real [Recommend]\U0001f525 [Max-100k] R30 (AR) With"
                " [refill button/Cancel button] INSTANT",
                rate=D("3.5"),
                min=50,
                max=100000,
                type="default",
                category="Instagram Followers [ Guaranteed ]",
                extra={
                    "service_id": 2,
                    "desc": "R30 + Auto Refill\r\nRefill Button Activated\r\nBEST SERVICE\r\n"
                    "10% drop Ratio\r\nInstant Start\r\nRecommend \U0001f525",
                },
            ),
            Service(
                id=695,
                name="Instagram [REAL] followers [ALMOST NON-DROP] Max-5k [All Real Accounts]"
                "\U0001f525 R30 (SuperInstant) ",
                rate=D("4.5"),
                min=50,
                max=5000,
                type="default",
                category="Instagram Followers [ Guaranteed ]",
                extra={
                    "service_id": 2,
                    "desc": "Max Drop 5% or NON Drop\r\nAll Real Accounts\r\nSuper Instant\r\n"
                    "[5k\u00d710=50k]",
                },
            ),
        ],
    ),
    58: case(
        "smmbros-add-incorrect-service-type",
        "smmbros.in",
        "add",
        **ADD,
        expected=Raises(PanelError, "incorrect service type"),
    ),
    59: unreadable("balance", name="smmbros-balance-trailing-comma", source="smmbros.in"),
    60: unreadable("refill", 1, name="smmbros-refill-unquoted-success", source="smmbros.in"),
    61: case(
        "linkindexingexpert-services-eight-decimals",
        "linkindexingexpert.com",
        "services",
        expected=[
            Service(
                id=1,
                name="Google Indexing Service - Regular",
                rate=D("70.00000000"),
                min=10,
                max=10000,
                category="Link Indexing",
            ),
            Service(
                id=2,
                name="Google Indexing Service - Premium",
                rate=D("100.00000000"),
                min=100,
                max=10000,
                category="Link Indexing",
            ),
        ],
    ),
    62: case(
        "linkindexingexpert-any-action-required",
        "linkindexingexpert.com",
        "balance",
        expected=Raises(PanelError, "The action field is required"),
    ),
    63: case(
        "linkindexingexpert-services-invalid-key",
        "linkindexingexpert.com",
        "services",
        expected=Raises(AuthenticationError, "Invalid api key"),
    ),
    64: case(
        "linkindexingexpert-any-invalid-action",
        "linkindexingexpert.com",
        "balance",
        expected=Raises(PanelError, "Invalid action"),
    ),
    65: case(
        "smmsend-services-dripfeed",
        "smmsend.com",
        "services",
        expected=[
            Service(
                id=1,
                name="Followers",
                rate=D("0.90"),
                min=50,
                max=10000,
                type="Default",
                category="First Category",
                refill=True,
                cancel=False,
                dripfeed=True,
            ),
            Service(
                id=2,
                name="Comments",
                rate=D("8"),
                min=10,
                max=15000,
                type="Custom Comments",
                category="Second Category",
                refill=False,
                cancel=True,
                dripfeed=False,
            ),
        ],
    ),
    66: case(
        "nakrutka-add-i18n-not-enough-funds",
        "plowside/customer-nikita",
        "add",
        **ADD,
        expected=Raises(InsufficientFundsError, "neworder.error.not_enough_funds"),
    ),
    67: case(
        "zefame-add-i18n-incorrect-service",
        "zefame.com",
        "add",
        **ADD,
        expected=Raises(PanelError, "error.incorrect_service_id"),
    ),
    68: case(
        "zefame-add-i18n-link-duplicate",
        "zefame.com",
        "add",
        **ADD,
        expected=Raises(PanelError, "neworder.error.link_duplicate"),
    ),
    69: case(
        "nakrutka-add-i18n-min-quantity",
        "plowside/customer-nikita",
        "add",
        **ADD,
        expected=Raises(PanelError, "neworder.error.min_quantity"),
    ),
    70: case(
        "zefame-add-invalid-key",
        "zefame.com",
        "add",
        **ADD,
        expected=Raises(AuthenticationError, "Invalid API key"),
    ),
    71: case(
        "telesubs-add-duplicate-link",
        "telesubs.com",
        "add",
        **ADD,
        expected=Raises(PanelError, "You have active order with this link."),
    ),
    72: case(
        "wiq-add-titlecase-error",
        "WiQ/GlobalSmm",
        "add",
        **ADD,
        expected=Raises(PanelError, "Service does not exists."),
    ),
    73: case("smartpanel-add-status-success", "SmartPanel", "add", **ADD, expected=32),
    74: case(
        "smartpanel-status-lowercase",
        "SmartPanel",
        "status",
        32,
        expected=order_status(
            32, OrderState.PENDING, "pending", charge=D("0.0360"), start_count=0, remains=0
        ),
    ),
    75: case(
        "smartpanel-services-string-ids",
        "SmartPanel",
        "services",
        expected=[
            Service(
                id=5,
                name="Instagram Followers [15K] ",
                rate=D("1.02"),
                min=500,
                max=10000,
                category=SMARTPANEL_CATEGORY,
            ),
            Service(
                id=9,
                name="Instagram Followers - Max 300k - No refill - 30-40k/Day",
                rate=D("0.04"),
                min=500,
                max=300000,
                category=SMARTPANEL_CATEGORY,
            ),
            Service(
                id=10,
                name="Instagram Followers ( 30 days auto refill ) ( Max 350K ) (Indian Majority )",
                rate=D("1.2"),
                min=100,
                max=350000,
                category=SMARTPANEL_CATEGORY,
            ),
        ],
    ),
    76: case(
        "neofollower-services-dripfeed-int",
        "NeoFollower",
        "services",
        expected=[
            Service(
                id=123,
                name="Example Service",
                rate=D("1.02"),
                min=100,
                max=10000,
                type="default",
                category="Example Category",
                dripfeed=True,
                extra={"desc": ""},
            )
        ],
    ),
    77: case(
        "smartpanel-balance-status-success",
        "SmartPanel",
        "balance",
        expected=Balance(balance=D("0.03"), currency="USD", extra={"status": "success"}),
    ),
    78: case("smartpanel-services-empty-data", "kkoss89/ss1", "services", expected=[]),
    79: case(
        "smartpanel-add-status-error-message",
        "kkoss89/ss1",
        "add",
        **DRIP_FEED,
        expected=Raises(PanelError, "Invalid Interval in minutes"),
    ),
    80: case(
        "smartpanel-add-dripfeed-refused",
        "kkoss89/ss1",
        "add",
        **DRIP_FEED,
        expected=Raises(PanelError, "This services does not support Dripfeed feature!"),
    ),
    81: case(
        "fampage-services-other-types",
        "Fampage",
        "services",
        expected=[
            Service(
                id=1,
                name="Subscribers",
                rate=D("100.00"),
                min=10,
                max=15000,
                type="subscribe",
                category="Instagram profiles. Adds views and small activity.",
                refill=False,
                cancel=True,
            )
        ],
    ),
    82: case(
        "fampage-bulk-status-bare-string-errors",
        "Fampage",
        "statuses",
        [1, 2, 3],
        expected={
            1: order_status(1, OrderState.PARTIAL, "Partial", **JAP_PARTIAL, currency="USD"),
            2: Raises(UnknownIdError, "Incorrect order ID"),
            3: Raises(UnknownIdError, "Incorrect order ID"),
        },
    ),
    83: case("fampage-cancel-ok-true", "Fampage", "cancel", 1, expected=None),
    84: case("fampage-balance", "Fampage", "balance", expected=Balance(balance=D("99.80"), currency="USD")),
    85: unreadable("status", 1242, name="linksindexing-status-unquoted-currency", source="linksindexing.com"),
    86: case(
        "linksindexing-balance-currency-leading-space",
        "linksindexing.com",
        "balance",
        expected=Balance(balance=D("100.84292"), currency="USD"),
    ),
    87: case("linksindexing-add-link-array", "linksindexing.com", "add", **ADD, expected=1242),
    88: case(
        "linksindexing-add-limit",
        "linksindexing.com",
        "add",
        **ADD,
        expected=Raises(PanelError, "Please follow the limit"),
    ),
    89: case(
        "linksindexing-status-invalid-order-id",
        "linksindexing.com",
        "status",
        1,
        expected=Raises(UnknownIdError, "Invalid Order Id"),
    ),
    90: case(
        "linksindexing-services-per-url",
        "linksindexing.com",
        "services",
        expected=[
            Service(
                id=1,
                name="Service Name",
                rate=D("100.00"),
                min=100,
                max=1000,
                category="Category Name",
                extra={"per_url": "0.10"},
            ),
            Service(
                id=2,
                name="Another Service",
                rate=D("200.00"),
                min=50,
                max=500,
                category="Category Name",
                extra={"per_url": "0.20"},
            ),
        ],
    ),
    91: case(
        "pusatpanel-any-incorrect-request",
        "pusatpanelsmm.com",
        "balance",
        expected=Raises(PanelError, "Incorrect request"),
    ),
    92: unreadable("services", name="pusatpanel-services-trailing-commas", source="pusatpanelsmm.com"),
    93: case(
        "dogusmm-status-try",
        "dogusmmpanel.xyz",
        "status",
        1,
        expected=order_status(1, OrderState.PARTIAL, "Partial", **JAP_PARTIAL, currency="TRY"),
    ),
    94: case(
        "dogusmm-balance-try",
        "dogusmmpanel.xyz",
        "balance",
        expected=Balance(balance=D("100.84292"), currency="TRY"),
    ),
    95: case("smmkings-bulk-cancel", "smmkings.com", "cancels", [1], expected={1: None}),
    96: case(
        "smmkings-bulk-refill-i18n-error",
        "smmkings.com",
        "refills",
        [1],
        expected={1: Raises(PanelError, "error.refill_...")},
    ),
    # HTTP 401 says the key was refused, whatever the text: the caller must fix the account,
    # which is what AuthenticationError tells it.
    97: case(
        "laravel-any-suspended-401",
        "Laravel SMM panel",
        "balance",
        expected=Raises(AuthenticationError, "Your account has been suspended.", status_code=401),
    ),
    98: case(
        "laravel-refill-cooldown-422",
        "Laravel SMM panel",
        "refill",
        1,
        expected=Raises(PanelError, "refill was requested less than 24 hours ago", status_code=422),
    ),
    99: case(
        "laravel-refill-status-not-found-422",
        "Laravel SMM panel",
        "refill_status",
        1,
        expected=Raises(UnknownIdError, "Refill not found", status_code=422),
    ),
    # Not an API v2 answer (iPlusView's REST envelope): nothing in it reads as a refill status.
    100: case(
        "iplusview-refill-status-rest-envelope",
        "iplusview.store",
        "refill_status",
        1,
        expected=Raises(UnreadableAnswerError),
    ),
}


def _params(keep: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[Any]:
    params = []
    for index, item in enumerate(ANSWERS):
        if keep(item):
            expected = EXPECTED.get(index)
            name = expected.name if expected else "NO-EXPECTATION"
            params.append(pytest.param(index, id=f"{index:03d}-{name}"))
    return params


def _response(item: dict[str, Any], expected: Case) -> httpx.Response:
    body = item["body"]
    if isinstance(body, str):
        content = body.encode()
    else:
        content = json.dumps([body] if expected.list_body else body).encode()
    return httpx.Response(
        item["http_status"] or 200, content=content, headers={"Content-Type": "application/json"}
    )


def assert_same(actual: Any, expected: Any, where: str = "result") -> None:
    """``actual`` is ``expected`` exactly: same types, Decimal digits, enum members and extras."""
    if isinstance(expected, Raises):
        assert type(actual) is expected.cls, f"{where}: {actual!r} is not a {expected.cls.__name__}"
        assert expected.match in str(actual), where
        if expected.status_code is not None:
            assert actual.status_code == expected.status_code, where
        return
    assert not isinstance(actual, BaseException), f"{where}: {actual!r}"
    if attrs.has(type(expected)):
        assert type(actual) is type(expected), where
        for field in attrs.fields(type(expected)):
            got, want = getattr(actual, field.name), getattr(expected, field.name)
            if field.name == "extra":
                got, want = dict(got), dict(want)
            assert_same(got, want, f"{where}.{field.name}")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected), where
        for key, want in expected.items():
            assert_same(actual[key], want, f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_same(got, want, f"{where}[{index}]")
    elif isinstance(expected, Decimal):
        assert type(actual) is Decimal, where
        assert actual.as_tuple() == expected.as_tuple(), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, OrderState | RefillState):
        assert actual is expected, f"{where}: {actual!r} is not {expected!r}"
    else:
        assert type(actual) is type(expected), f"{where}: {actual!r} != {expected!r}"
        assert actual == expected, where


def test_every_answer_has_an_expectation():
    assert sorted(EXPECTED) == list(range(len(ANSWERS)))


def test_expectation_names_are_unique():
    names = [expected.name for expected in EXPECTED.values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("index", _params())
def test_expectation_matches_its_item(index):
    item, expected = ANSWERS[index], EXPECTED[index]
    assert expected.source in item["source"]
    if item["action"] != "*":
        assert expected.action == item["action"]


@pytest.mark.parametrize("index", _params(lambda item: isinstance(item["body"], str)))
def test_answer_that_is_not_json_is_expected_unreadable(index):
    expected = EXPECTED[index]
    write = expected.action in WRITES
    assert expected.expected == Raises(OutcomeUnknownError if write else UnreadableAnswerError)


@pytest.mark.asyncio
@pytest.mark.parametrize("index", _params())
async def test_panel_answer(index, panel: Panel, make_client: Callable[..., smmapi.AsyncClient]):
    item, expected = ANSWERS[index], EXPECTED[index]
    panel.answers.update(dict.fromkeys(ACTION_OF.values(), lambda _: _response(item, expected)))
    async with make_client() as client:
        method = getattr(client, expected.method)
        try:
            result = await method(*expected.args, **expected.kwargs)
        except smmapi.SmmError as error:
            result = error
    assert_same(result, expected.expected)
    assert set(panel.actions()) == {expected.action}
