"""The converter's looseness rules, the bulk-answer splitters, and a property test over any JSON."""

import contextlib
import json
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import quote_plus, urlencode

import attrs
import cattrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from smmapi import (
    AuthenticationError,
    Balance,
    OrderState,
    OrderStatus,
    PanelError,
    Product,
    ProductOrderStatus,
    RefillState,
    RefillStatus,
    Service,
    SmmError,
    UnknownIdError,
    UnreadableAnswerError,
)
from smmapi import _convert as convert_module
from smmapi._convert import (
    answer_id,
    make_converter,
    read_catalogue,
    read_id,
    read_order_status,
    split_by_id,
    split_list,
    structure,
)
from smmapi._secret import Secret
from smmapi._wire import UNREADABLE, _encode, _form_value, parse_json

MODELS = [Balance, Service, Product, OrderStatus, ProductOrderStatus, RefillStatus]


def wire(text: str) -> Any:
    """JSON as the wire parses it: no float on the way."""
    return json.loads(text, parse_float=Decimal)


@pytest.fixture(name="converter")
def _converter() -> cattrs.Converter:
    return make_converter()


def service(**fields: Any) -> dict[str, Any]:
    return {"service": 1, "name": "Followers", "rate": "0.90", "min": "50", "max": "10000", **fields}


def status(**fields: Any) -> dict[str, Any]:
    return {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", **fields}


def product(**fields: Any) -> dict[str, Any]:
    return {"product": 1, "name": "Netflix", "rate": 2.5, "min": 1, "max": 10, **fields}


# -- the converter ----------------------------------------------------------------------------


def test_each_call_makes_a_new_converter():
    assert make_converter() is not make_converter()


def test_converter_leaves_the_global_converter_alone():
    before = cattrs.global_converter.get_structure_hook(int)
    make_converter()
    assert cattrs.global_converter.get_structure_hook(int) is before


def test_numbers_as_strings_and_json_numbers_in_one_answer(converter):
    answer = wire('{"charge": "0.27819", "start_count": 3572, "status": "Partial", "remains": "157"}')
    result = structure(converter, answer, OrderStatus, order=1)
    assert (result.charge, result.start_count, result.remains) == (Decimal("0.27819"), 3572, 157)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('"10"', id="string"),
        pytest.param("10", id="json-int"),
        pytest.param("10.0", id="json-float-whole"),
        pytest.param('"10.0"', id="string-whole-decimal"),
        pytest.param('" 10 "', id="string-with-spaces"),
    ],
)
def test_count_reads_as_int(converter, text):
    result = structure(converter, wire(f'{{"status": "Pending", "remains": {text}}}'), OrderStatus, order=1)
    assert result.remains == 10
    assert type(result.remains) is int


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('"10.5"', id="string"),
        pytest.param("10.5", id="json-float"),
        pytest.param('"ten"', id="word"),
        pytest.param("true", id="boolean"),
        pytest.param("[10]", id="list"),
    ],
)
def test_count_that_is_not_whole_is_refused(converter, text):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, wire(f'{{"status": "Pending", "remains": {text}}}'), OrderStatus, order=1)


@pytest.mark.parametrize(
    "field",
    [pytest.param(name, id=name) for name in ("min", "max")],
)
def test_required_count_of_service_reads_from_strings(converter, field):
    result = structure(converter, service(**{field: "77"}), Service)
    assert getattr(result, field) == 77


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"0.27819"', "0.27819", id="string"),
        pytest.param("1.44219", "1.44219", id="json-number"),
        pytest.param("0", "0", id="json-zero"),
        pytest.param('"0.0000001"', "0.0000001", id="seven-decimals"),
        pytest.param('"0.90"', "0.90", id="trailing-zero-kept"),
        pytest.param('"70.00000000"', "70.00000000", id="eight-decimals"),
        pytest.param("700000", "700000", id="json-big-int"),
        pytest.param("0.1", "0.1", id="not-binary-float"),
    ],
)
def test_money_is_exact(converter, text, expected):
    result = structure(converter, wire(f'{{"balance": {text}}}'), Balance)
    assert type(result.balance) is Decimal
    assert result.balance.as_tuple() == Decimal(expected).as_tuple()


def test_money_from_a_python_float_reads_its_shortest_spelling(converter):
    assert structure(converter, {"balance": 0.1}, Balance).balance == Decimal("0.1")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="boolean"),
        pytest.param("abc", id="word"),
        pytest.param("NaN", id="nan-text"),
        pytest.param("Infinity", id="infinity-text"),
        pytest.param(float("nan"), id="json-NaN"),
        pytest.param(float("inf"), id="json-Infinity"),
        pytest.param([], id="list"),
        pytest.param({}, id="object"),
        pytest.param(None, id="null"),
    ],
)
def test_money_that_is_not_an_amount_is_refused(converter, value):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, {"balance": value}, Balance)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("-2", -2, id="string"),
        pytest.param(-2, -2, id="json-int"),
        pytest.param("0", 0, id="zero"),
    ],
)
def test_remains_may_be_negative(converter, value, expected):
    assert structure(converter, status(remains=value), OrderStatus, order=1).remains == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Unknown", id="Unknown"),
        pytest.param("unknown", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
        pytest.param("N/A", id="n-a"),
    ],
)
def test_remains_not_known_is_none(converter, value):
    assert structure(converter, status(remains=value), OrderStatus, order=1).remains is None


def test_start_count_null_is_none(converter):
    assert (
        structure(
            converter, wire('{"status": "Pending", "start_count": null}'), OrderStatus, order=1
        ).start_count
        is None
    )


def test_missing_optional_fields_are_none(converter):
    result = structure(converter, {"status": "Pending"}, OrderStatus, order=1)
    assert (result.charge, result.start_count, result.remains, result.currency) == (None, None, None, None)


def test_count_longer_than_python_reads_is_refused(converter):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, status(remains="9" * 5000), OrderStatus, order=1)


def test_count_in_exponent_notation_beyond_any_count_is_refused(converter):
    # int(Decimal("1e100000")) builds a 100,001-digit number; "1e1000000" blocks for ~30 s.
    with pytest.raises(UnreadableAnswerError):
        structure(converter, status(remains="1e100000"), OrderStatus, order=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1", True, id="string-1"),
        pytest.param("0", False, id="string-0"),
        pytest.param(1, True, id="int-1"),
        pytest.param(0, False, id="int-0"),
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param("true", True, id="string-true"),
        pytest.param("false", False, id="string-false"),
        pytest.param("True", True, id="string-True"),
        pytest.param("yes", True, id="yes"),
        pytest.param("no", False, id="no"),
        pytest.param(None, False, id="null"),
    ],
)
def test_flag_reads_loose_booleans(converter, value, expected):
    result = structure(converter, service(refill=value), Service)
    assert result.refill is expected


@pytest.mark.parametrize(
    "value",
    [pytest.param(2, id="two"), pytest.param("maybe", id="word"), pytest.param([], id="list")],
)
def test_flag_that_is_not_a_boolean_is_refused(converter, value):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, service(dripfeed=value), Service)


def test_missing_flags_are_false(converter):
    result = structure(converter, service(), Service)
    assert (result.refill, result.cancel, result.dripfeed) == (False, False, False)


def test_fields_no_model_names_are_kept_in_extra(converter):
    result = structure(converter, service(desc="Description", per_url="0.10"), Service)
    assert dict(result.extra) == {"desc": "Description", "per_url": "0.10"}


def test_extra_is_read_only(converter):
    result = structure(converter, service(desc="Description"), Service)
    with pytest.raises(TypeError):
        result.extra["desc"] = "changed"  # type: ignore[index]


def test_extra_takes_no_part_in_equality(converter):
    assert structure(converter, service(desc="a"), Service) == structure(
        converter, service(desc="b"), Service
    )


def test_title_cased_keys_are_read(converter):
    answer = {"Service": 1, "Name": "Followers", "Rate": "0.90", "Min": "50", "Max": "10000", "Refill": True}
    result = structure(converter, answer, Service)
    assert (result.id, result.name, result.rate, result.min, result.max, result.refill) == (
        1,
        "Followers",
        Decimal("0.90"),
        50,
        10000,
        True,
    )
    assert dict(result.extra) == {}


def test_key_with_a_bracketed_note_is_read(converter):
    answer = service()
    del answer["rate"]
    answer["rate [Other currency Separate Ticket request]"] = "0.90"
    assert structure(converter, answer, Service).rate == Decimal("0.90")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" USD", "USD", id="leading-space"),
        pytest.param("USD ", "USD", id="trailing-space"),
        pytest.param("TRY", "TRY", id="plain"),
        pytest.param("   ", None, id="blank"),
    ],
)
def test_currency_is_stripped(converter, value, expected):
    assert structure(converter, {"balance": "1", "currency": value}, Balance).currency == expected


def test_service_id_as_string_is_read(converter):
    assert structure(converter, service(service="697"), Service).id == 697


def test_product_id_is_read_from_product(converter):
    result = structure(converter, product(product="5"), Product)
    assert (result.id, result.rate) == (5, Decimal("2.5"))


def test_product_optional_fields(converter):
    result = structure(
        converter, product(inventory=0, status="Out of stock", require="Your account"), Product
    )
    assert (result.inventory, result.status, result.require) == (0, "Out of stock", "Your account")


def test_text_sent_as_a_number_is_kept_as_text(converter):
    assert structure(converter, service(name=123), Service).name == "123"


def test_missing_required_field_is_refused_naming_it(converter):
    answer = service()
    del answer["rate"]
    with pytest.raises(UnreadableAnswerError, match="rate"):
        structure(converter, answer, Service)


def test_unreadable_message_shows_only_the_start_of_the_answer(converter):
    with pytest.raises(UnreadableAnswerError) as caught:
        structure(converter, {"balance": "x" * 1000}, Balance)
    assert "x" * 150 in str(caught.value)
    assert "x" * 300 not in str(caught.value)


def test_answer_that_is_not_an_object_is_refused(converter):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, ["Completed"], OrderStatus, order=1)


# -- statuses ---------------------------------------------------------------------------------

ORDER_SPELLINGS = [
    ("Pending", OrderState.PENDING),
    ("pending", OrderState.PENDING),
    ("Processing", OrderState.PROCESSING),
    ("In progress", OrderState.IN_PROGRESS),
    ("In Progress", OrderState.IN_PROGRESS),
    ("in_progress", OrderState.IN_PROGRESS),
    ("inprogress", OrderState.IN_PROGRESS),
    ("IN-PROGRESS", OrderState.IN_PROGRESS),
    ("Completed", OrderState.COMPLETED),
    ("Complete", OrderState.COMPLETED),
    ("Partial", OrderState.PARTIAL),
    ("Canceled", OrderState.CANCELED),
    ("Cancelled", OrderState.CANCELED),
    ("Order Cancelled", OrderState.CANCELED),
    ("Refunded", OrderState.REFUNDED),
    ("Failed", OrderState.FAILED),
    ("Fail", OrderState.FAILED),
    ("Error", OrderState.FAILED),
]


@pytest.mark.parametrize(("text", "state"), [pytest.param(t, s, id=t) for t, s in ORDER_SPELLINGS])
def test_order_status_spelling(converter, text, state):
    result = structure(converter, {"status": text}, OrderStatus, order=1)
    assert result.status is state
    assert result.status_text == text


@pytest.mark.parametrize(("text", "state"), [pytest.param(t, s, id=t) for t, s in ORDER_SPELLINGS])
def test_product_order_status_spelling(converter, text, state):
    assert structure(converter, {"status": text}, ProductOrderStatus, order=1).status is state


@pytest.mark.parametrize(
    ("text", "state"),
    [
        pytest.param(t, s, id=t)
        for t, s in [
            ("Pending", RefillState.PENDING),
            ("In progress", RefillState.IN_PROGRESS),
            ("in_progress", RefillState.IN_PROGRESS),
            ("Completed", RefillState.COMPLETED),
            ("Complete", RefillState.COMPLETED),
            ("Rejected", RefillState.REJECTED),
            ("Canceled", RefillState.CANCELED),
            ("Cancelled", RefillState.CANCELED),
        ]
    ],
)
def test_refill_status_spelling(converter, text, state):
    result = structure(converter, {"status": text}, RefillStatus, refill=1)
    assert result.status is state
    assert result.status_text == text


@pytest.mark.parametrize(
    "model", [pytest.param(m, id=m.__name__) for m in (OrderStatus, ProductOrderStatus, RefillStatus)]
)
def test_unknown_status_spelling_is_unknown_and_keeps_the_text(converter, model):
    ids = {"refill": 1} if model is RefillStatus else {"order": 1}
    result = structure(converter, {"status": "Awaiting"}, model, **ids)
    assert result.status == "Unknown"
    assert result.status_text == "Awaiting"


@pytest.mark.parametrize(
    "value",
    [pytest.param(None, id="null"), pytest.param(1, id="number"), pytest.param({"a": 1}, id="object")],
)
def test_status_that_is_not_text_is_refused(converter, value):
    with pytest.raises(UnreadableAnswerError):
        structure(converter, {"status": value}, OrderStatus, order=1)


# -- IDs the client fills in --------------------------------------------------------------------


def test_asked_id_fills_the_result(converter):
    assert structure(converter, {"status": "Pending"}, OrderStatus, order=7).order == 7


def test_asked_id_wins_over_an_echoed_one(converter):
    result = structure(converter, {"order": "99", "status": "Pending"}, OrderStatus, order=7)
    assert result.order == 7
    assert "order" not in result.extra


def test_asked_id_wins_over_a_title_cased_echo(converter):
    result = structure(converter, {"Order": 99, "Status": "Pending"}, OrderStatus, order=7)
    assert result.order == 7
    assert dict(result.extra) == {}


def test_asked_refill_id_wins_over_a_title_cased_echo(converter):
    result = structure(converter, {"Refill": 99, "Status": "Completed"}, RefillStatus, refill=7)
    assert result.refill == 7


# -- split_by_id ------------------------------------------------------------------------------


def test_split_by_id_gives_each_asked_id_its_item():
    result = split_by_id({"1": {"status": "Completed"}, "10": {"status": "Pending"}}, [1, 10])
    assert result == {1: {"status": "Completed"}, 10: {"status": "Pending"}}


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"error": "Incorrect order ID"}, id="error"),
        pytest.param({"Error": "Incorrect order ID"}, id="Error"),
        pytest.param("Incorrect order ID", id="bare-string"),
    ],
)
def test_split_by_id_reads_a_per_item_error(item):
    result = split_by_id({"1": {"status": "Completed"}, "2": item}, [1, 2])
    assert isinstance(result[2], UnknownIdError)
    assert str(result[2]) == "Incorrect order ID"


def test_split_by_id_per_item_error_text_is_sorted_into_its_kind():
    assert isinstance(split_by_id({"1": {"error": "Invalid API key"}}, [1])[1], AuthenticationError)


def test_split_by_id_other_per_item_error_is_a_panel_error():
    error = split_by_id({"1": {"error": "Ошибка"}}, [1])[1]
    assert type(error) is PanelError


@pytest.mark.parametrize(
    "empty", [pytest.param(None, id="null"), pytest.param("", id="empty"), pytest.param(False, id="false")]
)
def test_split_by_id_empty_error_field_beside_the_data_is_no_error(empty):
    item = {"status": "Completed", "error": empty}
    assert split_by_id({"1": item}, [1]) == {1: item}


def test_split_by_id_missing_id_gets_an_error_naming_it():
    result = split_by_id({"1": {"status": "Completed"}}, [1, 424242])
    assert isinstance(result[424242], UnreadableAnswerError)
    assert "424242" in str(result[424242])


def test_split_by_id_ignores_ids_nobody_asked():
    assert list(split_by_id({"1": {}, "2": {}, "3": {}}, [2])) == [2]


def test_split_by_id_keeps_the_asked_order():
    assert list(split_by_id({"1": {}, "2": {}, "3": {}}, [3, 1, 2])) == [3, 1, 2]


def test_split_by_id_single_form_answers_a_lone_id():
    answer = {"charge": "2.5", "status": "Completed"}
    assert split_by_id(answer, [5]) == {5: answer}


def test_split_by_id_single_form_for_several_ids_is_keyed_by_none_of_them():
    assert split_by_id({"charge": "2.5", "status": "Completed"}, [5, 6]) is None


def test_split_by_id_answer_keyed_by_other_ids_is_keyed_by_none_of_them():
    assert split_by_id({"7": {"status": "Completed"}}, [5, 6]) is None


@pytest.mark.parametrize(
    "answer", [pytest.param([], id="list"), pytest.param("text", id="text"), pytest.param(None, id="null")]
)
def test_split_by_id_refuses_an_answer_that_is_not_an_object(answer):
    with pytest.raises(UnreadableAnswerError):
        split_by_id(answer, [1])


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("9" * 5000, id="too-long"),
        pytest.param("ord_01HG9X", id="ulid"),
    ],
)
def test_split_by_id_ignores_a_key_that_is_not_an_id(key):
    result = split_by_id({key: {"status": "Completed"}, "1": {"status": "Pending"}}, [1])
    assert result == {1: {"status": "Pending"}}


# -- split_list -------------------------------------------------------------------------------


def refills(answer: Any, ids: list[int]) -> dict[int, Any]:
    return split_list(answer, ids, id_field="order", value_field="refill")


def test_split_list_gives_each_asked_id_its_item():
    result = refills([{"order": 1, "refill": 1}, {"order": 2, "refill": "2"}], [1, 2])
    assert result == {1: {"order": 1, "refill": 1}, 2: {"order": 2, "refill": "2"}}


def test_split_list_lowers_the_keys_of_items():
    result = split_list([{"Order": 2, "Cancel": 1}], [2], id_field="order", value_field="cancel")
    assert result == {2: {"order": 2, "cancel": 1}}


@pytest.mark.parametrize(
    "error",
    [
        pytest.param({"error": "Incorrect order ID"}, id="error"),
        pytest.param({"Error": "Incorrect order ID"}, id="Error"),
    ],
)
def test_split_list_reads_a_nested_error(error):
    result = refills([{"order": 1, "refill": 1}, {"order": 3, "refill": error}], [1, 3])
    assert isinstance(result[3], UnknownIdError)


def test_split_list_reads_an_error_beside_the_id():
    result = refills([{"order": 3, "error": "Incorrect order ID"}], [3])
    assert isinstance(result[3], UnknownIdError)


def test_split_list_missing_id_gets_an_error_naming_it():
    result = refills([{"order": 1, "refill": 1}], [1, 424242])
    assert isinstance(result[424242], UnreadableAnswerError)
    assert "424242" in str(result[424242])


def test_split_list_ignores_ids_nobody_asked():
    assert list(refills([{"order": 1, "refill": 1}, {"order": 2, "refill": 2}], [2])) == [2]


def test_split_list_keeps_the_asked_order():
    answer = [{"order": 1, "refill": 1}, {"order": 2, "refill": 2}]
    assert list(refills(answer, [2, 1])) == [2, 1]


def test_split_list_lone_object_answers_a_lone_id():
    assert refills({"refill": "1"}, [5]) == {5: {"refill": "1", "order": 5}}


def test_split_list_lone_object_for_several_ids_is_keyed_by_none_of_them():
    assert refills({"refill": "1"}, [123, 456, 789]) is None


def test_split_list_naming_none_of_the_ids_is_keyed_by_none_of_them():
    assert refills([{"order": 7, "refill": 1}], [123, 456]) is None


def test_split_list_skips_items_that_are_not_objects():
    assert refills(["x", 1, None, {"order": 1, "refill": 1}], [1]) == {1: {"order": 1, "refill": 1}}


@pytest.mark.parametrize(
    "answer", [pytest.param("text", id="text"), pytest.param(1, id="number"), pytest.param(None, id="null")]
)
def test_split_list_refuses_an_answer_that_is_neither_list_nor_object(answer):
    with pytest.raises(UnreadableAnswerError):
        refills(answer, [1])


@pytest.mark.parametrize(
    "value",
    [pytest.param("\u00b2", id="superscript-two"), pytest.param("9" * 5000, id="too-long")],
)
def test_split_list_item_with_an_id_that_is_not_one_is_skipped(value):
    result = refills([{"order": value, "refill": 5}, {"order": 1, "refill": 1}], [1])
    assert result == {1: {"order": 1, "refill": 1}}


# -- read_id ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "field", "expected"),
    [
        pytest.param({"order": 99999}, "order", 99999, id="int"),
        pytest.param({"order": "23501"}, "order", 23501, id="string"),
        pytest.param({"refill": "1"}, "refill", 1, id="refill-string"),
        pytest.param({"Order": 32}, "order", 32, id="title-case"),
        pytest.param({"status": "success", "order": 151}, "order", 151, id="beside-status"),
        pytest.param(wire('{"order": 10.0}'), "order", 10, id="whole-json-float"),
    ],
)
def test_read_id(answer, field, expected):
    assert read_id(answer, field) == expected


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"refill": "ref_01HG9XAZQM..."}, id="ulid"),
        pytest.param({}, id="missing"),
        pytest.param({"refill": None}, id="null"),
        pytest.param({"refill": True}, id="boolean"),
        pytest.param({"refill": "10.5"}, id="fraction"),
        pytest.param({"refill": {"error": "x"}}, id="object"),
        pytest.param([{"refill": 1}], id="list"),
        pytest.param("1", id="text"),
        pytest.param({"refill": "\u00b2"}, id="superscript-two"),
        pytest.param({"refill": "9" * 5000}, id="too-long"),
        pytest.param({"refill": "9" * 19}, id="nineteen-digits"),
        pytest.param({"refill": 10**18}, id="nineteen-digit-number"),
        pytest.param({"refill": 0}, id="zero"),
        pytest.param({"refill": "0"}, id="zero-text"),
        pytest.param({"refill": -5}, id="negative"),
        pytest.param({"refill": "-5"}, id="negative-text"),
        pytest.param({"refill": "+5"}, id="plus-sign"),
        pytest.param({"refill": "5e3"}, id="exponent-text"),
        pytest.param(wire('{"refill": 5e3}'), id="exponent-number"),
        pytest.param({"refill": 5, "REFILL": 6}, id="two-cases"),
        pytest.param({"refill": 5, "error": "x"}, id="beside-an-error"),
    ],
)
def test_read_id_refuses_an_answer_without_an_id(answer):
    with pytest.raises(UnreadableAnswerError):
        read_id(answer, "refill")


# -- read_catalogue ---------------------------------------------------------------------------


def test_read_catalogue_reads_a_list(converter):
    assert [s.id for s in read_catalogue(converter, [service(service=1), service(service="2")], Service)] == [
        1,
        2,
    ]


@pytest.mark.parametrize("key", [pytest.param("data", id="data"), pytest.param("Data", id="Data")])
def test_read_catalogue_reads_a_data_envelope(converter, key):
    result = read_catalogue(converter, {"status": "success", key: [product()]}, Product)
    assert [p.id for p in result] == [1]


def test_read_catalogue_empty_data_text_is_an_empty_catalogue(converter):
    assert read_catalogue(converter, {"status": "success", "data": "Empty Data"}, Service) == []


@pytest.mark.parametrize(
    "answer",
    [pytest.param(service(), id="lone-object"), pytest.param("x", id="text"), pytest.param(None, id="null")],
)
def test_read_catalogue_refuses_an_answer_that_is_not_a_list(converter, answer):
    with pytest.raises(UnreadableAnswerError):
        read_catalogue(converter, answer, Service)


def test_read_catalogue_refuses_an_entry_that_does_not_fit(converter):
    with pytest.raises(UnreadableAnswerError):
        read_catalogue(converter, [service(), {"service": 2}], Service)


# -- any JSON ---------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "status",
        "Status",
        "charge",
        "remains",
        "start_count",
        "currency",
        "order",
        "Order",
        "refill",
        "cancel",
        "error",
        "Error",
        "service",
        "product",
        "rate",
        "min",
        "max",
        "name",
        "balance",
        "data",
        "1",
        "2",
        "123",
        "\u00b2",
    ]
) | st.text(max_size=8)
TEXTS = (
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-2",
            "10.5",
            "1e3",
            "Unknown",
            "Completed",
            "In progress",
            "true",
            "NaN",
            "Infinity",
            " USD",
            "Incorrect order ID",
            "\u00b2",
        ]
    )
    | st.text()
)
#: Numbers of any length and magnitude a hostile panel may send, as the wire parses them.
HUGE_NUMBERS = st.integers(-(10**400), 10**400) | st.builds(
    lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
    st.integers(-(10**60), 10**60),
    st.integers(-999_999_999_999_999_900, 999_999_999_999_999_900),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.floats()
    | HUGE_NUMBERS
    | TEXTS
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=20,
)
#: Converters hold no state; one serves every example.
CONVERTER = make_converter()
IDS = st.lists(st.sampled_from([1, 2, 123, 456]) | st.integers(1, 10**6), max_size=4, unique=True)


@given(
    text=st.text()
    | st.binary().map(lambda raw: raw.decode("latin-1"))
    | JSON.map(lambda v: json.dumps(v, default=str))
)
@example(text="[" * 5000 + "]" * 5000)
@example(text='{"order": 1E+99999999999999999999}')
@example(text="1" * 5000)
def test_any_text_parses_or_is_unreadable(text):
    try:
        expected = json.loads(text, parse_float=Decimal)
    except (ValueError, ArithmeticError, RecursionError):
        expected = UNREADABLE

    answer = parse_json(text)

    assert (answer is UNREADABLE) == (expected is UNREADABLE)


@given(text=st.text() | st.lists(st.integers(1, 10**18 - 1)).map(lambda ids: ",".join(map(str, ids))))
@example(text="1,2,3")
@example(text="12,\u0661")
@example(text="a,b c")
@example(text="")
def test_a_form_value_is_quoted_as_quote_plus_quotes_it(text):
    # The wire tells a list of IDs at once; any other text goes through quote_plus itself.
    assert _form_value(text) == quote_plus(text)


@given(fields=st.dictionaries(st.text(min_size=1), st.text()))
@example(fields={"orders": "1,2,3", "extra field[]": "a b&c=d"})
def test_the_form_is_written_as_urlencode_writes_it(fields):
    key = Secret("fake-key-for-tests-0000")
    assert (
        _encode(key, "status", fields)
        == urlencode({"key": key.reveal(), "action": "status", **fields}).encode()
    )


@pytest.mark.parametrize("model", [pytest.param(m, id=m.__name__) for m in MODELS])
@given(answer=JSON)
@example(answer={"balance": Decimal("1E+999999999999999999"), "currency": "USD"})
@example(answer={"balance": 10**4000, "currency": "USD"})
@example(answer={"charge": "1", "status": "Completed", "remains": 10**4000})
def test_any_json_structures_or_raises_smm_error(model, answer):
    filled = {"order": 1} if model in (OrderStatus, ProductOrderStatus) else {}
    filled = {"refill": 1} if model is RefillStatus else filled
    with contextlib.suppress(SmmError):
        structure(CONVERTER, answer, model, **filled)


@pytest.mark.parametrize("model", [pytest.param(m, id=m.__name__) for m in (OrderStatus, ProductOrderStatus)])
@given(answer=JSON, ids=IDS)
@example(answer={"\u00b2": None}, ids=[])
def test_any_json_splits_by_id_or_raises_smm_error(model, answer, ids):
    try:
        result = split_by_id(answer, ids)
    except SmmError:
        return
    if result is None:  # keyed by none of the IDs: the client asks them again or reports each
        assert ids
        return
    assert list(result) == ids
    for key, item in result.items():
        if not isinstance(item, SmmError):
            with contextlib.suppress(SmmError):
                structure(CONVERTER, item, model, order=key)


@pytest.mark.parametrize(
    ("id_field", "value_field"),
    [
        pytest.param("order", "refill", id="refill"),
        pytest.param("order", "cancel", id="cancel"),
        pytest.param("refill", "status", id="refill-status"),
    ],
)
@given(answer=JSON, ids=IDS)
@example(answer=[{"order": "\u00b2", "refill": "\u00b2"}], ids=[1])
def test_any_json_splits_as_a_list_or_raises_smm_error(id_field, value_field, answer, ids):
    try:
        result = split_list(answer, ids, id_field=id_field, value_field=value_field)
    except SmmError:
        return
    if result is None:  # keyed by none of the IDs: the client asks them again or reports each
        assert ids
        return
    assert list(result) == ids
    for key, item in result.items():
        if isinstance(item, SmmError):
            continue
        with contextlib.suppress(SmmError):
            if value_field == "status":
                structure(CONVERTER, item, RefillStatus, refill=key)
            elif value_field == "refill":
                read_id(item, "refill")


@pytest.mark.parametrize("field", ["order", "refill"])
@given(answer=JSON)
@example(answer={"order": "\u00b2", "refill": "\u00b2"})
def test_any_json_reads_an_id_or_raises_smm_error(field, answer):
    with contextlib.suppress(SmmError):
        read_id(answer, field)


@pytest.mark.parametrize("model", [pytest.param(m, id=m.__name__) for m in (Service, Product)])
@given(answer=JSON)
def test_any_json_reads_a_catalogue_or_raises_smm_error(model, answer):
    with contextlib.suppress(SmmError):
        read_catalogue(CONVERTER, answer, model)


# -- the fast path of a status item: the same result as the full rules, or none ---------------

#: What panels put in a status item's fields, the odd among the common.
LOOSE_VALUES = st.one_of(
    st.sampled_from(
        ["0.27819", "157", "0", "-5", " 12 ", "10.0", "1e3", "", "Unknown", "N/A", "NaN", "\u00b2"]
    ),
    st.sampled_from(["In progress", "Completed", "in_progress", "Order Cancelled", "Processing ", "Weird"]),
    st.from_regex(r"\A-?[0-9]{1,20}(\.[0-9]{1,8})?\Z"),
    st.text(max_size=8),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
#: Field names: each as most panels spell it, in other cases or with a note, and names we do not model.
LOOSE_NAMES = st.sampled_from(
    [
        *("status", "charge", "start_count", "remains", "currency"),
        *(
            "Status",
            "CHARGE",
            "remains[note]",
            " currency",
            "order",
            "error",
            "service",
            "status_text",
            "extra",
        ),
    ]
)
LOOSE_ITEMS = st.one_of(
    st.dictionaries(LOOSE_NAMES, LOOSE_VALUES, max_size=7),
    st.builds(
        status,
        status=st.sampled_from(["In progress", "Completed", "Partial", "Pending", "Canceled", "Whatever"]),
        currency=st.sampled_from(["USD", " EUR ", "", None]),
        charge=st.from_regex(r"\A[0-9]{1,4}\.[0-9]{1,5}\Z") | st.decimals(places=3, allow_nan=False),
        remains=st.integers(min_value=-5, max_value=10**6).map(str) | st.integers(min_value=-5, max_value=50),
    ),
    LOOSE_VALUES,
)


def full_rules(item: Any, order: int) -> Any:
    try:
        return structure(CONVERTER, item, OrderStatus, order=order)
    except UnreadableAnswerError:
        return "unreadable"


@given(item=LOOSE_ITEMS, order=st.integers(min_value=1, max_value=10**18 - 1))
@example(item=status(), order=1)
@example(item={"status": "Completed", "remains": "\u00b2"}, order=1)
@example(item={"status": "Completed", "charge": " 1.50 ", "currency": " "}, order=1)
@example(item={"status": "Completed", "charge": "1E+999999999999999999"}, order=1)
@example(item={"status": "Completed", "charge": "0.0000000000000000000001"}, order=1)
@example(item={"status": "Completed", "remains": 10**30}, order=1)
@example(item={"status": "Completed", "charge": "1E-19"}, order=1)
@example(item={"status": "Completed", "charge": "1e5"}, order=1)
@example(item={"status": "Completed", "charge": "1234567890123456789"}, order=1)
@example(item={"status": "Completed", "charge": "123456789012345678"}, order=1)
@example(item={"status": "Completed", "charge": "-0.5"}, order=1)
@example(item={"status": "Completed", "charge": "NaN"}, order=1)
@example(item={"status": "Completed", "charge": "-Infinity"}, order=1)
@example(item={"status": "Completed", "charge": " 1.5 "}, order=1)
@example(item={"status": "Completed", "charge": "1_000"}, order=1)
@example(item={"status": "Completed", "charge": "0.000000000000000001"}, order=1)
@example(item={"status": "Completed", "charge": "\u0661.5"}, order=1)
@example(item={"status": "Completed", "charge": ".5"}, order=1)
@example(item={"status": "Completed", "charge": "5."}, order=1)
def test_the_fast_path_reads_a_status_item_exactly_as_the_full_rules(item, order):
    fast = read_order_status(item, order)
    if fast is None:
        return
    full = full_rules(item, order)
    assert repr(fast) == repr(full)  # every field with its type and digits, extra included
    assert [type(value) for value in attrs.astuple(fast, recurse=False)] == [
        type(value) for value in attrs.astuple(full, recurse=False)
    ]


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(status(), id="strings"),
        pytest.param(status(currency="USD"), id="with-currency"),
        pytest.param(
            wire('{"charge": 0.27, "start_count": 10, "status": "Completed", "remains": 0}'), id="numbers"
        ),
        pytest.param(
            {"status": "Pending", "charge": "", "start_count": None, "remains": "Unknown"}, id="unknowns"
        ),
    ],
)
def test_the_common_shapes_of_a_status_item_take_the_fast_path(item):
    fast = read_order_status(item, 7)
    assert fast is not None
    assert repr(fast) == repr(full_rules(item, 7))


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(status(Status="Completed"), id="name-in-another-case"),
        pytest.param(status(order=5), id="order-field"),
        pytest.param(status(note="kept in extra"), id="unmodelled-field"),
        pytest.param(status(remains="10.5"), id="unreadable-value"),
        pytest.param(status(status=None), id="no-status-text"),
        pytest.param([status()], id="not-an-object"),
    ],
)
def test_any_other_status_item_takes_the_full_rules(item):
    assert read_order_status(item, 7) is None


def _outcomes(split):
    """A split's outcomes, errors told by their type and text (each split makes its own)."""
    if split is None:
        return None
    return {
        key: (type(value), str(value)) if isinstance(value, Exception) else value
        for key, value in split.items()
    }


_ASKED = st.lists(st.sampled_from([1, 7, 12, 10**18 - 1, 0, 10**18]), min_size=1, max_size=4)
_ITEMS = st.sampled_from(
    [{"status": "Pending"}, {"error": "Incorrect order ID"}, "Incorrect order ID", None, [1]]
)


@given(
    ids=_ASKED,
    keys=st.lists(st.sampled_from(["1", "7", "12", "012", " 7", "999999999999999999", "0", "x"]), max_size=4),
    items=st.lists(_ITEMS, min_size=4, max_size=4),
    by_asked=st.booleans(),
)
@example(
    ids=[1, 1, 1],
    keys=["1", "1 "],
    items=["Incorrect order ID", {"status": "Pending"}, None, None],
    by_asked=False,
)
def test_an_answer_keyed_by_the_asked_ids_splits_as_the_full_reading_splits_it(ids, keys, items, by_asked):
    # split_by_id looks the asked IDs up in an answer keyed by exactly them; any answer splits so.
    names = [str(key) for key in ids] if by_asked else keys
    answer = dict(zip(names, items, strict=False))
    try:
        fast = _outcomes(split_by_id(answer, ids))
    except SmmError as error:
        fast = type(error)
    with mock.patch.object(convert_module, "_split_plain", return_value=None):
        try:
            full = _outcomes(split_by_id(answer, ids))
        except SmmError as error:
            full = type(error)
    assert fast == full


@given(raw=st.from_regex(r"\A[0-9]{1,20}\Z") | st.text(max_size=6))
@example(raw="0")
@example(raw="\u00b2")
@example(raw="0012")
def test_a_bulk_answer_is_keyed_by_answer_ids_reading_of_each_key(raw):
    item = {"status": "Pending"}
    other = 10**18 - 1
    asked = int(raw) if raw.isascii() and raw.isdigit() else 1
    result = split_by_id({raw: item, str(other): item}, list(dict.fromkeys([asked, other])))
    assert result is not None
    assert (result[asked] is item) == (answer_id(raw) == asked)
