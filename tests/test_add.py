"""`add` and `add_product_order`: the exact form of every order type, shape checks, and the answers."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
import smmapi

from conftest import KEY

LINK = "https://example.com/p/1"


@pytest.fixture(name="ordering")
def _ordering(panel):
    """A panel that places every order as 99999."""
    panel.answers["add"] = {"order": 99999}
    panel.answers["add_product_order"] = {"order": 99999}
    return panel


FORMS = [
    pytest.param(
        {"service": 1, "link": LINK, "quantity": 1000},
        {"service": "1", "link": LINK, "quantity": "1000"},
        id="default",
    ),
    pytest.param(
        {"service": 1, "link": LINK, "quantity": 100, "runs": 10, "interval": 30},
        {"service": "1", "link": LINK, "quantity": "100", "runs": "10", "interval": "30"},
        id="default-drip-feed",
    ),
    pytest.param(
        {"service": 7, "link": LINK},
        {"service": "7", "link": LINK},
        id="package",
    ),
    pytest.param(
        {"service": 2, "link": LINK, "comments": ["Nice!", "Great post", "Wow"]},
        {"service": "2", "link": LINK, "comments": "Nice!\nGreat post\nWow"},
        id="custom-comments-list",
    ),
    pytest.param(
        {"service": 2, "link": LINK, "comments": ("Nice!", "Great post")},
        {"service": "2", "link": LINK, "comments": "Nice!\nGreat post"},
        id="custom-comments-tuple",
    ),
    pytest.param(
        {"service": 2, "link": LINK, "comments": "Nice!\nGreat post"},
        {"service": "2", "link": LINK, "comments": "Nice!\nGreat post"},
        id="custom-comments-text",
    ),
    pytest.param(
        {"service": 3, "link": LINK, "usernames": ["alice", "bob"]},
        {"service": "3", "link": LINK, "usernames": "alice\nbob"},
        id="mentions-custom-list",
    ),
    pytest.param(
        {"service": 3, "link": LINK, "quantity": 100, "usernames": ["alice"], "hashtags": ["#a", "#b"]},
        {"service": "3", "link": LINK, "quantity": "100", "usernames": "alice", "hashtags": "#a\n#b"},
        id="mentions-with-hashtags",
    ),
    pytest.param(
        {"service": 3, "link": LINK, "quantity": 100, "hashtag": "#summer"},
        {"service": "3", "link": LINK, "quantity": "100", "hashtag": "#summer"},
        id="mentions-hashtag",
    ),
    pytest.param(
        {"service": 3, "link": LINK, "quantity": 100, "username": "alice"},
        {"service": "3", "link": LINK, "quantity": "100", "username": "alice"},
        id="mentions-user-followers",
    ),
    pytest.param(
        {"service": 3, "link": LINK, "quantity": 100, "media": "https://example.com/p/2"},
        {"service": "3", "link": LINK, "quantity": "100", "media": "https://example.com/p/2"},
        id="mentions-media-likers",
    ),
    pytest.param(
        {"service": 4, "link": LINK, "quantity": 100, "username": "alice"},
        {"service": "4", "link": LINK, "quantity": "100", "username": "alice"},
        id="comment-likes",
    ),
    pytest.param(
        {"service": 5, "link": LINK, "quantity": 100, "answer_number": 2},
        {"service": "5", "link": LINK, "quantity": "100", "answer_number": "2"},
        id="poll",
    ),
    pytest.param(
        {"service": 6, "link": LINK, "quantity": 100, "groups": ["group1", "group2"]},
        {"service": "6", "link": LINK, "quantity": "100", "groups": "group1\ngroup2"},
        id="invites-from-groups",
    ),
    pytest.param(
        {"service": 8, "link": LINK, "quantity": 100, "keywords": ["buy shoes", "red shoes"]},
        {"service": "8", "link": LINK, "quantity": "100", "keywords": "buy shoes\nred shoes"},
        id="seo-keywords",
    ),
    pytest.param(
        {
            "service": 9,
            "username": "alice",
            "min_per_post": 100,
            "max_per_post": 200,
            "posts": 10,
            "old_posts": 2,
            "delay": 30,
            "expiry": datetime.date(2025, 3, 7),
        },
        {
            "service": "9",
            "username": "alice",
            "min": "100",
            "max": "200",
            "posts": "10",
            "old_posts": "2",
            "delay": "30",
            "expiry": "07/03/2025",
        },
        id="subscriptions",
    ),
    pytest.param(
        {
            "service": 9,
            "username": "alice",
            "min_per_post": 100,
            "max_per_post": 100,
            "posts": 0,
            "delay": 0,
        },
        {"service": "9", "username": "alice", "min": "100", "max": "100", "posts": "0", "delay": "0"},
        id="subscriptions-zero-delay-equal-bounds",
    ),
    pytest.param(
        {
            "service": 9,
            "username": "alice",
            "min_per_post": 1,
            "max_per_post": 2,
            "expiry": datetime.datetime(2026, 12, 31, 23, 59, tzinfo=datetime.UTC),
        },
        {"service": "9", "username": "alice", "min": "1", "max": "2", "expiry": "31/12/2026"},
        id="subscriptions-expiry-datetime",
    ),
    pytest.param(
        {"service": 9, "username": "alice", "min_per_post": 1, "max_per_post": 2, "expiry": "31/12/2026"},
        {"service": "9", "username": "alice", "min": "1", "max": "2", "expiry": "31/12/2026"},
        id="subscriptions-expiry-text",
    ),
    pytest.param(
        {
            "service": 1,
            "link": LINK,
            "quantity": 1000,
            "extra_fields": {"country": "US", "speed": 5, "price": Decimal("1.50")},
        },
        {
            "service": "1",
            "link": LINK,
            "quantity": "1000",
            "country": "US",
            "speed": "5",
            "price": "1.50",
        },
        id="extra-fields-as-strings",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("options", "form"), FORMS)
async def test_add_sends_exactly_the_form(ordering, client, options, form):
    await client.add(**options)

    assert ordering.requests == [{"key": KEY, "action": "add", **form}]


SHAPE_ERRORS = [
    pytest.param({"quantity": 0}, id="quantity-zero"),
    pytest.param({"quantity": -100}, id="quantity-negative"),
    pytest.param({"quantity": 1.5}, id="quantity-float"),
    pytest.param({"quantity": 100.0}, id="quantity-whole-float"),
    pytest.param({"quantity": "100"}, id="quantity-text"),
    pytest.param({"quantity": Decimal(100)}, id="quantity-decimal"),
    pytest.param({"quantity": True}, id="quantity-bool"),
    pytest.param({"quantity": [100]}, id="quantity-list"),
    pytest.param({"service": 0}, id="service-zero"),
    pytest.param({"service": True}, id="service-bool"),
    pytest.param({"link": ""}, id="link-empty"),
    pytest.param({"link": "   "}, id="link-blank"),
    pytest.param({"link": ["https://example.com/p/1"]}, id="link-list"),
    pytest.param({"link": None}, id="no-link-no-username"),
    pytest.param({"runs": 10}, id="runs-without-interval"),
    pytest.param({"interval": 30}, id="interval-without-runs"),
    pytest.param({"runs": 0, "interval": 30}, id="runs-zero"),
    pytest.param({"runs": [10], "interval": 30}, id="runs-list"),
    pytest.param({"runs": 10, "interval": [30]}, id="interval-list"),
    pytest.param({"quantity": None, "runs": 10, "interval": 30}, id="drip-feed-without-quantity"),
    pytest.param({"answer_number": [1]}, id="answer_number-list"),
    pytest.param({"answer_number": "2"}, id="answer_number-text"),
    pytest.param({"posts": [5]}, id="posts-list"),
    pytest.param({"posts": -1}, id="posts-negative"),
    pytest.param({"delay": 1.5}, id="delay-float"),
    pytest.param({"min_per_post": 200, "max_per_post": 100}, id="min-over-max"),
    pytest.param({"min_per_post": 100}, id="min-without-max"),
    pytest.param({"max_per_post": 100}, id="max-without-min"),
    pytest.param({"min_per_post": [1], "max_per_post": 100}, id="min-list"),
    pytest.param({"comments": ["ok", "two\nlines"]}, id="comment-with-newline"),
    pytest.param({"comments": ["ok", "two\r\nlines"]}, id="comment-with-crlf"),
    pytest.param({"comments": []}, id="comments-empty"),
    pytest.param({"comments": ["ok", ""]}, id="comment-empty"),
    pytest.param({"comments": 5}, id="comments-number"),
    pytest.param({"comments": ["ok", 5]}, id="comment-number"),
    pytest.param({"usernames": ["alice", "bob\ncarol"]}, id="username-with-newline"),
    pytest.param({"hashtag": ""}, id="hashtag-empty"),
    pytest.param({"expiry": ""}, id="expiry-empty"),
    pytest.param({"extra_fields": {"key": "other-key"}}, id="extra-key"),
    pytest.param({"extra_fields": {"action": "cancel"}}, id="extra-action"),
    pytest.param({"extra_fields": {"quantity": "5000"}}, id="extra-overrides-quantity"),
    pytest.param({"extra_fields": {"link": "https://other.example"}}, id="extra-overrides-link"),
    pytest.param({"extra_fields": {"service": "2"}}, id="extra-overrides-service"),
    pytest.param({"extra_fields": {"": "x"}}, id="extra-empty-name"),
    pytest.param({"extra_fields": {"flag": True}}, id="extra-bool-value"),
    pytest.param({"extra_fields": {"list": ["a"]}}, id="extra-list-value"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("change", SHAPE_ERRORS)
async def test_add_shape_error_sends_nothing(ordering, client, change):
    options: dict[str, Any] = {"service": 1, "link": LINK, "quantity": 1000, **change}

    with pytest.raises(smmapi.ValidationError):
        await client.add(**options)

    assert ordering.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "extra_fields",
    [
        pytest.param({"runs": "10"}, id="runs"),
        pytest.param({"interval": "30"}, id="interval"),
        pytest.param({"min": "1"}, id="min"),
        pytest.param({"max": "2"}, id="max"),
        pytest.param({"comments": "a\nb"}, id="comments"),
        pytest.param({"answer_number": "1"}, id="answer_number"),
    ],
)
async def test_add_extra_fields_may_not_carry_a_standard_field(ordering, client, extra_fields):
    with pytest.raises(smmapi.ValidationError):
        await client.add(service=1, link=LINK, quantity=100, extra_fields=extra_fields)

    assert ordering.requests == []


def test_validation_error_is_a_value_error():
    assert issubclass(smmapi.ValidationError, ValueError)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"quantiy": 1000}, id="typo-quantiy"),
        pytest.param({"min": 1, "max": 2}, id="wire-name-min-max"),
        pytest.param({"order_type": "default"}, id="unknown-keyword"),
    ],
)
async def test_add_unknown_keyword_is_a_type_error(ordering, client, options):
    with pytest.raises(TypeError):
        await client.add(service=1, link=LINK, **options)

    assert ordering.requests == []


@pytest.mark.asyncio
async def test_add_takes_no_positional_arguments(ordering, client):
    with pytest.raises(TypeError):
        await client.add(1, LINK, 1000)  # type: ignore[misc]

    assert ordering.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "order"),
    [
        pytest.param({"order": 99999}, 99999, id="number"),
        pytest.param({"order": "23501"}, 23501, id="text"),
        pytest.param({"status": "success", "order": 151}, 151, id="with-status-success"),
        pytest.param({"Order": 42}, 42, id="title-case"),
    ],
)
async def test_add_reads_the_order_id(panel, client, answer, order):
    panel.answers["add"] = answer

    result = await client.add(service=1, link=LINK, quantity=1000)

    assert result == order
    assert type(result) is int


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"status": "success"}, id="no-order"),
        pytest.param({"order": "abc"}, id="order-not-numeric"),
        pytest.param({"order": "12.5"}, id="order-fraction"),
        pytest.param({"order": None}, id="order-null"),
        pytest.param({"order": {"id": 1}}, id="order-object"),
        pytest.param([], id="list"),
        pytest.param("ok", id="text"),
    ],
)
async def test_add_answer_without_an_order_id_is_outcome_unknown(panel, client, answer):
    panel.answers["add"] = answer

    with pytest.raises(smmapi.OutcomeUnknownError) as caught:
        await client.add(service=1, link=LINK, quantity=1000)

    assert caught.value.action == "add"
    assert dict(caught.value.fields) == {"service": "1", "link": LINK, "quantity": "1000"}
    assert caught.value.answer == answer
    assert panel.actions() == ["add"]


@pytest.mark.asyncio
async def test_add_outcome_unknown_fields_never_hold_the_key(panel, client):
    panel.answers["add"] = {"status": "success"}

    with pytest.raises(smmapi.OutcomeUnknownError) as caught:
        await client.add(service=1, link=LINK, quantity=1000, extra_fields={"country": "US"})

    assert "key" not in caught.value.fields
    assert KEY not in caught.value.fields.values()
    assert caught.value.fields["country"] == "US"


@pytest.mark.asyncio
async def test_add_panel_refusal_raises_its_error(panel, client):
    panel.answers["add"] = {"error": "Not enough funds on balance"}

    with pytest.raises(smmapi.InsufficientFundsError, match="Not enough funds on balance"):
        await client.add(service=1, link=LINK, quantity=1000)


# -- add_product_order ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "form"),
    [
        pytest.param(
            {"product": 1, "quantity": 2, "require": "me@example.com"},
            {"product": "1", "quantity": "2", "require": "me@example.com"},
            id="with-require",
        ),
        pytest.param({"product": 3, "quantity": 1}, {"product": "3", "quantity": "1"}, id="without-require"),
    ],
)
async def test_add_product_order_sends_exactly_the_form(ordering, client, options, form):
    await client.add_product_order(**options)

    assert ordering.requests == [{"key": KEY, "action": "add_product_order", **form}]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"product": 0, "quantity": 1}, id="product-zero"),
        pytest.param({"product": True, "quantity": 1}, id="product-bool"),
        pytest.param({"product": "1", "quantity": 1}, id="product-text"),
        pytest.param({"product": 1, "quantity": 0}, id="quantity-zero"),
        pytest.param({"product": 1, "quantity": -1}, id="quantity-negative"),
        pytest.param({"product": 1, "quantity": 1.5}, id="quantity-float"),
        pytest.param({"product": 1, "quantity": True}, id="quantity-bool"),
        pytest.param({"product": 1, "quantity": [1]}, id="quantity-list"),
        pytest.param({"product": 1, "quantity": 1, "require": ""}, id="require-empty"),
        pytest.param({"product": 1, "quantity": 1, "require": 5}, id="require-number"),
    ],
)
async def test_add_product_order_shape_error_sends_nothing(ordering, client, options):
    with pytest.raises(smmapi.ValidationError):
        await client.add_product_order(**options)

    assert ordering.requests == []


@pytest.mark.asyncio
async def test_add_product_order_unknown_keyword_is_a_type_error(ordering, client):
    with pytest.raises(TypeError):
        await client.add_product_order(product=1, quantity=1, requires="me@example.com")

    assert ordering.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "order"),
    [
        pytest.param({"order": 99999}, 99999, id="number"),
        pytest.param({"order": "23501"}, 23501, id="text"),
        pytest.param({"status": "success", "order": 151}, 151, id="with-status-success"),
    ],
)
async def test_add_product_order_reads_the_order_id(panel, client, answer, order):
    panel.answers["add_product_order"] = answer

    assert await client.add_product_order(product=1, quantity=1) == order


@pytest.mark.asyncio
async def test_add_product_order_answer_without_an_order_id_is_outcome_unknown(panel, client):
    panel.answers["add_product_order"] = {"order": "n/a"}

    with pytest.raises(smmapi.OutcomeUnknownError) as caught:
        await client.add_product_order(product=1, quantity=2, require="me@example.com")

    assert caught.value.action == "add_product_order"
    assert dict(caught.value.fields) == {"product": "1", "quantity": "2", "require": "me@example.com"}
    assert caught.value.answer == {"order": "n/a"}
