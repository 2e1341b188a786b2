"""What the fake panel sells: service and product definitions, and a default catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

__all__ = ["DEFAULT_PRODUCTS", "DEFAULT_SERVICES", "ORDER_TYPES", "FakeProduct", "FakeService"]

#: The order types the fake panel knows, each with the form fields an ``add`` of it needs
#: (beyond ``service``). ``quantity`` is the count ordered; types without it count something else
#: (see :class:`FakeService`).
ORDER_TYPES: Final[Mapping[str, tuple[str, ...]]] = {
    "Default": ("link", "quantity"),
    "Package": ("link",),
    "Custom Comments": ("link", "comments"),
    "Custom Comments Package": ("link", "comments"),
    "Mentions": ("link", "quantity", "usernames"),
    "Mentions with Hashtags": ("link", "quantity", "usernames", "hashtags"),
    "Mentions Custom List": ("link", "usernames"),
    "Mentions Hashtag": ("link", "quantity", "hashtag"),
    "Mentions User Followers": ("link", "quantity", "username"),
    "Mentions Media Likers": ("link", "quantity", "media"),
    "Comment Likes": ("link", "quantity", "username"),
    "Poll": ("link", "quantity", "answer_number"),
    "Invites from Groups": ("link", "quantity", "groups"),
    "SEO": ("link", "quantity", "keywords"),
    "Subscriptions": ("username", "min", "max", "delay"),
}


def _money(value: Decimal | str | int) -> Decimal:
    # Floats are refused: a price must be exact, and 0.1 as a float is not.
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"a price must be a Decimal, str or int, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"a price must be a finite amount of at least 0, not {value!r}")
    return amount


def _check_type(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in ORDER_TYPES:
        raise ValueError(f"unknown order type {value!r}; the fake panel knows {sorted(ORDER_TYPES)}")


def _check_limits(instance: FakeService | FakeProduct, _: attrs.Attribute[int], value: int) -> None:
    if not 1 <= instance.min <= value:
        raise ValueError(f"need 1 <= min <= max, got min={instance.min} max={value}")


@attrs.frozen
class FakeService:
    """One service of the fake panel's catalogue.

    ``rate`` is the price per 1,000 (a ``Decimal``, ``str`` or ``int``; never a float). What is
    counted depends on ``type`` (one of :data:`ORDER_TYPES`): ``quantity`` for most types, the
    number of comments (or usernames) for Custom Comments (Mentions Custom List), one package
    for Package and Custom Comments Package (whose ``rate`` is the package's price), and
    ``max`` times ``posts`` for Subscriptions. ``dripfeed`` allows ``runs``/``interval`` on Default
    services.

    Example::

        views = FakeService(101, "YouTube Views", "Default", "YouTube", rate="2.50", min=100, max=100_000)
        panel = FakePanel(services=[views])
    """

    id: int
    name: str
    type: str = attrs.field(validator=_check_type)
    category: str
    rate: Decimal = attrs.field(converter=_money)
    min: int
    max: int = attrs.field(validator=_check_limits)
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False


@attrs.frozen
class FakeProduct:
    """One product of the fake panel's catalogue (accounts, keys, subscriptions).

    ``rate`` is the price per unit. ``inventory`` is how many units are in stock (``None``: made
    to order, never runs out). ``require`` is the prompt for what a buyer must send along
    (``None``: nothing). A completed order's ``result`` holds one fake credential per unit.

    Example::

        keys = FakeProduct(7, "Game key", rate="9.99", min=1, max=5, category="Games", inventory=3)
        panel = FakePanel(products=[keys])
    """

    id: int
    name: str
    rate: Decimal = attrs.field(converter=_money)
    min: int
    max: int = attrs.field(validator=_check_limits)
    category: str
    require: str | None = None
    inventory: int | None = None
    type: str = "Auto"


#: The services a :class:`FakePanel` sells unless told otherwise: several Default services (some
#: with drip-feed, refill or cancel) and one of each other common order type.
DEFAULT_SERVICES: Final[tuple[FakeService, ...]] = (
    FakeService(101, "Instagram Followers [Refill 30D] [Max 100K]", "Default", "Instagram Followers",
                "0.90", 50, 100_000, refill=True, cancel=True, dripfeed=True),
    FakeService(102, "Instagram Likes [Instant] [No Refill]", "Default", "Instagram Likes",
                "0.12", 10, 50_000, cancel=True, dripfeed=True),
    FakeService(103, "YouTube Views [Non Drop] [Refill 90D]", "Default", "YouTube Views",
                "2.50", 200, 1_000_000, refill=True),
    FakeService(104, "Telegram Post Views [Last Post]", "Default", "Telegram",
                "0.02", 10, 3_000_000),
    FakeService(201, "Instagram Package: 1000 Likes + 5000 Impressions", "Package", "Instagram Packages",
                "4.20", 1, 1),
    FakeService(301, "Instagram Custom Comments [Real Accounts]", "Custom Comments", "Instagram Comments",
                "8.00", 10, 1500, cancel=True),
    FakeService(302, "YouTube Custom Comments Package [10 Comments]", "Custom Comments Package",
                "YouTube Comments", "3.00", 1, 1),
    FakeService(401, "Instagram Mentions [Usernames]", "Mentions", "Instagram Mentions",
                "2.00", 100, 20_000),
    FakeService(402, "Instagram Mentions [Usernames + Hashtags]", "Mentions with Hashtags",
                "Instagram Mentions", "2.40", 100, 20_000),
    FakeService(403, "Instagram Mentions [Custom List]", "Mentions Custom List", "Instagram Mentions",
                "3.00", 10, 5000),
    FakeService(404, "Instagram Mentions [From Hashtag]", "Mentions Hashtag", "Instagram Mentions",
                "1.80", 100, 20_000),
    FakeService(405, "Instagram Mentions [User Followers]", "Mentions User Followers",
                "Instagram Mentions", "1.80", 100, 20_000),
    FakeService(406, "Instagram Mentions [Media Likers]", "Mentions Media Likers", "Instagram Mentions",
                "1.80", 100, 20_000),
    FakeService(501, "Instagram Comment Likes", "Comment Likes", "Instagram Comments",
                "3.50", 20, 5000, refill=True, cancel=True),
    FakeService(601, "Telegram Poll Votes", "Poll", "Telegram", "1.20", 10, 100_000, cancel=True),
    FakeService(701, "Instagram Auto Likes [Subscription]", "Subscriptions", "Instagram Auto Likes",
                "0.15", 50, 10_000),
)  # fmt: skip

#: The products a :class:`FakePanel` sells unless told otherwise; one is out of stock.
DEFAULT_PRODUCTS: Final[tuple[FakeProduct, ...]] = (
    FakeProduct(1, "Netflix Premium 1 Month", "2.50", 1, 10, "Netflix",
                require="Input your account e-mail", inventory=40),
    FakeProduct(2, "YouTube Premium 1 Month", "5", 1, 1, "YouTube",
                require="Input your account e-mail", inventory=0),
    FakeProduct(3, "Facebook Account 5000 Friends", "0.50", 1, 2, "Facebook", type="Service"),
    FakeProduct(4, "Spotify Premium Key 1 Month", "1.25", 1, 50, "Spotify", inventory=500),
)  # fmt: skip
