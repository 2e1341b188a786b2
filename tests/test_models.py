"""The status enums and the frozen value objects."""

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from smmapi import (
    Balance,
    OrderState,
    OrderStatus,
    Product,
    ProductOrderStatus,
    RefillState,
    RefillStatus,
    Service,
    Stats,
)

#: Every state with its canonical spelling and whether it is final, as DESIGN.md says.
ORDER_STATES = {
    OrderState.PENDING: ("Pending", False),
    OrderState.PROCESSING: ("Processing", False),
    OrderState.IN_PROGRESS: ("In progress", False),
    OrderState.COMPLETED: ("Completed", True),
    OrderState.PARTIAL: ("Partial", True),
    OrderState.CANCELED: ("Canceled", True),
    OrderState.REFUNDED: ("Refunded", True),
    OrderState.FAILED: ("Failed", True),
    OrderState.UNKNOWN: ("Unknown", False),
}
REFILL_STATES = {
    RefillState.PENDING: ("Pending", False),
    RefillState.IN_PROGRESS: ("In progress", False),
    RefillState.COMPLETED: ("Completed", True),
    RefillState.REJECTED: ("Rejected", True),
    RefillState.CANCELED: ("Canceled", True),
    RefillState.UNKNOWN: ("Unknown", False),
}
ENUMS = [pytest.param(OrderState, id="order"), pytest.param(RefillState, id="refill")]
ALL_STATES = [
    pytest.param(state, id=f"{type(state).__name__}.{state.name}")
    for table in (ORDER_STATES, REFILL_STATES)
    for state in table
]


def row(state: OrderState | RefillState) -> tuple[str, bool]:
    """The spelling and finality DESIGN.md gives ``state`` (the enums' members share spellings)."""
    return (ORDER_STATES if type(state) is OrderState else REFILL_STATES)[state]


def test_order_state_table_names_every_member():
    assert set(ORDER_STATES) == set(OrderState)


def test_refill_state_table_names_every_member():
    assert set(REFILL_STATES) == set(RefillState)


@pytest.mark.parametrize("state", ALL_STATES)
def test_state_equals_its_canonical_spelling(state):
    spelling = row(state)[0]
    assert state == spelling
    assert spelling == state


@pytest.mark.parametrize("state", ALL_STATES)
def test_state_is_a_str_that_prints_its_spelling(state):
    spelling = row(state)[0]
    assert isinstance(state, str)
    assert (str(state), f"{state}", json.dumps(state)) == (spelling, spelling, json.dumps(spelling))


@pytest.mark.parametrize("state", ALL_STATES)
def test_state_hashes_like_its_spelling(state):
    assert {row(state)[0]: "found"}[state] == "found"


@pytest.mark.parametrize("state", ALL_STATES)
def test_is_final(state):
    assert state.is_final is row(state)[1]


@pytest.mark.parametrize("state", ALL_STATES)
def test_parse_canonical_spelling_gives_the_member(state):
    assert type(state).parse(row(state)[0]) is state


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("In Progress", id="title-case"),
        pytest.param("in_progress", id="snake-case"),
        pytest.param("inprogress", id="joined"),
        pytest.param("IN-PROGRESS", id="kebab-upper"),
        pytest.param(" in  progress ", id="extra-spaces"),
    ],
)
@pytest.mark.parametrize(
    "enum", [pytest.param(OrderState, id="order"), pytest.param(RefillState, id="refill")]
)
def test_parse_ignores_case_spaces_underscores_and_hyphens(enum, text):
    assert enum.parse(text) is enum.IN_PROGRESS


@pytest.mark.parametrize(
    ("text", "state"),
    [
        pytest.param("Cancelled", OrderState.CANCELED, id="Cancelled"),
        pytest.param("Order Cancelled", OrderState.CANCELED, id="Order-Cancelled"),
        pytest.param("Complete", OrderState.COMPLETED, id="Complete"),
        pytest.param("Fail", OrderState.FAILED, id="Fail"),
        pytest.param("Error", OrderState.FAILED, id="Error"),
    ],
)
def test_order_state_parse_understands_aliases(text, state):
    assert OrderState.parse(text) is state


@pytest.mark.parametrize(
    ("text", "state"),
    [
        pytest.param("Cancelled", RefillState.CANCELED, id="Cancelled"),
        pytest.param("Complete", RefillState.COMPLETED, id="Complete"),
    ],
)
def test_refill_state_parse_understands_aliases(text, state):
    assert RefillState.parse(text) is state


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Awaiting", id="other-word"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("\u23f3", id="emoji"),
        pytest.param("\u0432 \u043f\u0440\u043e\u0446\u0435\u0441\u0441\u0435", id="russian"),
    ],
)
@pytest.mark.parametrize(
    "enum", [pytest.param(OrderState, id="order"), pytest.param(RefillState, id="refill")]
)
def test_parse_unknown_spelling_is_unknown(enum, text):
    assert enum.parse(text) is enum.UNKNOWN


# -- value objects ----------------------------------------------------------------------------


def make(model: type, **extra: Any) -> Any:
    """A valid instance of ``model`` with ``extra``."""
    fields: dict[str, Any] = {
        Balance: {"balance": Decimal("68.6868"), "currency": "USD"},
        Service: {"id": 1, "name": "Followers", "rate": Decimal("0.90"), "min": 50, "max": 10000},
        Product: {"id": 1, "name": "Netflix", "rate": Decimal("2.5"), "min": 1, "max": 10},
        OrderStatus: {"order": 1, "status": OrderState.PARTIAL, "status_text": "Partial"},
        ProductOrderStatus: {"order": 1, "status": OrderState.COMPLETED, "status_text": "Completed"},
        RefillStatus: {"refill": 1, "status": RefillState.COMPLETED, "status_text": "Completed"},
    }[model]
    return model(**fields, extra=extra)


MODELS = [
    pytest.param(model, id=model.__name__)
    for model in (Balance, Service, Product, OrderStatus, ProductOrderStatus, RefillStatus)
]


@pytest.mark.parametrize("model", MODELS)
def test_value_object_is_frozen(model):
    value = make(model)
    first = attrs.fields(model)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(value, first, getattr(value, first))


@pytest.mark.parametrize("model", MODELS)
def test_extra_cannot_be_replaced(model):
    value = make(model)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        value.extra = {}


@pytest.mark.parametrize("model", MODELS)
def test_extra_is_read_only(model):
    value = make(model, desc="Description")
    with pytest.raises(TypeError):
        value.extra["desc"] = "changed"


@pytest.mark.parametrize("model", MODELS)
def test_extra_is_a_copy_of_what_was_given(model):
    given = {"desc": "Description"}
    value = model(**attrs.asdict(make(model), recurse=False) | {"extra": given})
    given["desc"] = "changed"
    assert dict(value.extra) == {"desc": "Description"}


@pytest.mark.parametrize("model", MODELS)
def test_extra_defaults_to_empty(model):
    fields = attrs.asdict(make(model), recurse=False)
    del fields["extra"]
    assert dict(model(**fields).extra) == {}


@pytest.mark.parametrize("model", MODELS)
def test_extra_takes_no_part_in_equality(model):
    assert make(model, desc="a") == make(model, per_url="0.10")


@pytest.mark.parametrize("model", MODELS)
def test_extra_takes_no_part_in_hash(model):
    assert hash(make(model, desc="a")) == hash(make(model, per_url="0.10"))


@pytest.mark.parametrize("model", MODELS)
def test_value_objects_with_different_fields_differ(model):
    first = attrs.fields(model)[0].name
    value = make(model)
    other = attrs.evolve(value, **{first: 2 if first != "balance" else Decimal("2")})
    assert value != other


@pytest.mark.parametrize("model", MODELS)
def test_repr_shows_extra_as_a_dict(model):
    assert "extra={'desc': 'Description'}" in repr(make(model, desc="Description"))


def test_extra_is_keyword_only():
    with pytest.raises(TypeError):
        Balance(Decimal("1"), "USD", {"desc": "x"})  # type: ignore[misc]


def test_stats_print_as_a_plain_value_that_evaluates_back():
    stats = Stats(lookups=3, ids_sent=3, requests=1, requests_by_action={"status": 1}, bulk_requests=1)
    assert repr(stats) == (
        "Stats(lookups=3, ids_sent=3, requests=1, requests_by_action={'status': 1}, bulk_requests=1,"
        " item_errors=0, request_failures=0, retries=0)"
    )
    assert eval(repr(stats), {"Stats": Stats}) == stats  # noqa: S307  (our own repr)
