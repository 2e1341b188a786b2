"""``smmapi demo``: a fake panel in this process, a few hundred orders followed until final.

The fake panel's clock follows real time, sped up (``FakePanel(speed=...)``), so orders progress
while the demo watches them (and while someone tries the served panel by hand).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from rich.console import Console, Group
from rich.table import Table

from .. import AsyncClient, SmmError
from ..testing import FakePanel
from ..tracking import Tracker
from ._exits import ExitCode, Failure
from ._render import Tally, emit_json, make_progress, table

if TYPE_CHECKING:
    import uvicorn

__all__ = ["Report", "run", "same_places", "serve"]


#: Panel seconds between two looks at an order that changed, and the most between two looks;
#: divided by the speed, they are the watch's real intervals.
_WATCH_INTERVAL = 15.0
_WATCH_MAX_INTERVAL = 120.0
#: Orders placed at once: the client's own concurrency limit would queue more anyway.
_PLACERS = 10
#: Money per order on the demo's account: enough for the dearest order in the mix.
_FUNDS_PER_ORDER = Decimal(10)


@attrs.frozen
class _Recipe:
    """One type of order the demo places, and the fields of its ``i``-th order."""

    kind: str
    fields: Callable[[int], dict[str, Any]]


# One order of each type the default fake catalogue sells, its fields as the client names them.
_RECIPES = (
    _Recipe(
        "Default", lambda i: {"service": 101, "link": f"https://instagram.com/demo{i}", "quantity": 1000}
    ),
    _Recipe(
        "Default, drip-feed",
        lambda i: {
            "service": 102,
            "link": f"https://instagram.com/p/{i}",
            "quantity": 500,
            "runs": 2,
            "interval": 1,
        },
    ),
    _Recipe("Default", lambda i: {"service": 103, "link": f"https://youtu.be/demo{i}", "quantity": 2000}),
    _Recipe("Default", lambda i: {"service": 104, "link": f"https://t.me/demo/{i}", "quantity": 5000}),
    _Recipe("Package", lambda i: {"service": 201, "link": f"https://instagram.com/p/{i}"}),
    _Recipe(
        "Custom Comments",
        lambda i: {
            "service": 301,
            "link": f"https://instagram.com/p/{i}",
            "comments": [f"Great post! #{n}" for n in range(10)],
        },
    ),
    _Recipe(
        "Mentions",
        lambda i: {
            "service": 401,
            "link": f"https://instagram.com/p/{i}",
            "quantity": 100,
            "usernames": ["alice", "bob", "carol"],
        },
    ),
    _Recipe(
        "Comment Likes",
        lambda i: {
            "service": 501,
            "link": f"https://instagram.com/p/{i}",
            "quantity": 50,
            "username": "alice",
        },
    ),
    _Recipe(
        "Poll",
        lambda i: {"service": 601, "link": f"https://t.me/demo/{i}", "quantity": 100, "answer_number": 2},
    ),
    _Recipe(
        "Subscriptions",
        lambda i: {
            "service": 701,
            "username": f"demo{i}",
            "min_per_post": 50,
            "max_per_post": 100,
            "delay": 0,
        },
    ),
)


@attrs.frozen
class Report:
    """What a demo run did: its orders, their final statuses, the client's figures, the time."""

    orders: int
    placed: int
    #: Orders the panel did not take, by error type, and the first such error's text.
    refused: Mapping[str, int]
    first_refusal: str | None
    #: Final statuses of the orders placed, by order type.
    by_kind: Mapping[str, Mapping[str, int]]
    unfinished: int
    lookups: int
    requests: int
    requests_by_action: Mapping[str, int]
    ids_per_request: float
    seconds: float
    panel_seconds: float
    balance_before: Decimal
    balance_after: Decimal
    currency: str | None
    #: The tracker's journal of the orders: entries by state.
    journal: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def final(self) -> Counter[str]:
        """How many orders ended in each final status."""
        total: Counter[str] = Counter()
        for statuses in self.by_kind.values():
            total.update(statuses)
        return total

    @property
    def ok(self) -> bool:
        """Whether every order was placed and followed until final."""
        return self.placed == self.orders and self.unfinished == 0

    def problem(self) -> str:
        """What went wrong, for the error line."""
        if self.placed != self.orders:
            return f"{self.orders - self.placed} of {self.orders} orders were refused: {self.first_refusal}"
        return f"{self.unfinished} of {self.placed} orders did not reach a final status"

    def as_json(self) -> dict[str, Any]:
        """The report for ``--json``."""
        return {
            "orders": self.orders,
            "placed": self.placed,
            "refused": dict(self.refused),
            "final": dict(sorted(self.final.items())),
            "by_type": {kind: dict(sorted(counts.items())) for kind, counts in self.by_kind.items()},
            "unfinished": self.unfinished,
            "lookups": self.lookups,
            "requests": self.requests,
            "requests_by_action": dict(sorted(self.requests_by_action.items())),
            "ids_per_request": round(self.ids_per_request, 1),
            "seconds": round(self.seconds, 2),
            "panel_seconds": round(self.panel_seconds),
            "balance_before": self.balance_before,
            "balance_after": self.balance_after,
            "currency": self.currency,
            "journal": dict(sorted(self.journal.items())),
        }

    def summary(self) -> Group:
        """The report for people: a table of final statuses by type, then the figures."""
        statuses = [status for status, _ in self.final.most_common()]
        by_kind = Table("Order type", "Orders", *statuses, title=f"{self.placed} orders, by final status",
                        title_justify="left", header_style="bold", show_footer=True)  # fmt: skip
        for column in by_kind.columns[1:]:
            column.justify = "right"
        for kind, counts in self.by_kind.items():
            by_kind.add_row(kind, f"{sum(counts.values()):,}", *(f"{counts.get(s, 0):,}" for s in statuses))
        by_kind.columns[0].footer = "All"
        by_kind.columns[1].footer = f"{self.placed:,}"
        for column, status in zip(by_kind.columns[2:], statuses, strict=True):
            column.footer = f"{self.final[status]:,}"
        actions = ", ".join(f"{action} {n:,}" for action, n in sorted(self.requests_by_action.items()))
        currency = f" {self.currency}" if self.currency else ""
        figures = table(
            ("", ""),
            [
                ("Lookups asked", f"{self.lookups:,}"),
                ("HTTP requests sent", f"{self.requests:,} ({actions})"),
                ("IDs per bulk request", f"{self.ids_per_request:.1f}"),
                ("Balance", " → ".join(same_places(self.balance_before, self.balance_after)) + currency),
                (
                    "Journal (SQLite)",
                    ", ".join(f"{state} {n:,}" for state, n in sorted(self.journal.items())),
                ),
                ("Time", f"{self.seconds:.1f} s ({self.panel_seconds / 60:.0f} min on the panel's clock)"),
            ],
            numbers=(),
        )
        figures.show_header = False
        return Group(by_kind, figures)


@contextlib.asynccontextmanager
async def _journal(client: AsyncClient) -> AsyncIterator[Tracker]:
    """A tracker on a temporary SQLite file: each order is journaled under its ref before it is sent."""
    with tempfile.TemporaryDirectory(prefix="smmapi-demo-") as folder:
        async with Tracker(client, f"{folder}/orders.db", track=False) as tracker:
            yield tracker


def same_places(*amounts: Decimal) -> list[str]:
    """Amounts of money written with as many decimals as the most precise: the panel's own."""
    places = max(max(0, -int(amount.as_tuple().exponent)) for amount in amounts)
    return [f"{amount:,.{places}f}" for amount in amounts]


def run(*, orders: int, speed: float, seed: int, console: Console | None) -> Report:
    """Run the demo; ``console`` shows the progress and the summary (``None``: show nothing)."""
    return anyio.run(functools.partial(_run, orders=orders, speed=speed, seed=seed, console=console))


async def _run(*, orders: int, speed: float, seed: int, console: Console | None) -> Report:
    started = time.monotonic()
    panel = FakePanel(seed=seed, balance=_FUNDS_PER_ORDER * orders, speed=speed)
    transport = panel.transport()
    if console is not None:
        console.print(
            "A fake panel runs in this process (no network, no key);"
            f" its clock runs {speed:g}x faster than yours."
        )
    placed: dict[int, str] = {}
    refused: Counter[str] = Counter()
    first_refusal: list[str] = []
    async with AsyncClient(panel.url, panel.key, transport=transport) as client, _journal(client) as tracker:
        before = await client.balance()
        with make_progress(disable=console is None, console=console) as progress:
            placing = progress.add_task("Placing orders", total=orders, detail="")
            jobs = iter(range(orders))

            async def place() -> None:
                for i in jobs:  # one iterator shared by the placers: each order is placed once
                    recipe = _RECIPES[i % len(_RECIPES)]
                    entry = await tracker.add(ref=f"demo:{i}", **recipe.fields(i))
                    if entry.order is not None:
                        placed[entry.order] = recipe.kind
                    else:  # refused, or unknown: a demo just counts it
                        error = entry.error or SmmError(entry.state)
                        refused[type(error).__name__] += 1
                        first_refusal[:] = first_refusal or [f"{error} ({type(error).__name__})"]
                    progress.advance(placing)

            async with anyio.create_task_group() as placers:
                for _ in range(min(_PLACERS, orders)):
                    placers.start_soon(place)

            tally = Tally(total=len(placed))
            following = progress.add_task("Following orders", total=len(placed), detail="")
            watch = client.watch(
                placed, interval=_WATCH_INTERVAL / speed, max_interval=_WATCH_MAX_INTERVAL / speed
            )
            async with watch as updates:
                async for update in updates:
                    tally.see(update)
                    stats = client.stats()
                    asked = stats.requests_by_action.get("status", 0)
                    progress.update(
                        following,
                        completed=len(tally.final),
                        detail=f"{tally.detail()} | {stats.lookups:,} lookups in {asked:,} requests",
                    )
        after = await client.balance()
        stats = client.stats()
        journal: Counter[str] = Counter([entry.state async for entry in tracker.orders()])
    by_kind: dict[str, Counter[str]] = {}
    for order, kind in placed.items():
        status = tally.latest.get(order)
        if order in tally.final and status is not None:
            by_kind.setdefault(kind, Counter())[str(status.status.value)] += 1
    report = Report(
        orders=orders,
        placed=len(placed),
        refused=dict(refused),
        first_refusal=first_refusal[0] if first_refusal else None,
        by_kind=by_kind,
        unfinished=sum(1 for order in placed if order not in tally.final or order in tally.errors),
        lookups=stats.lookups,
        requests=stats.requests,
        requests_by_action=stats.requests_by_action,
        ids_per_request=stats.ids_per_request,
        seconds=time.monotonic() - started,
        panel_seconds=panel.now,
        balance_before=before.balance,
        balance_after=after.balance,
        currency=before.currency,
        journal=journal,
    )
    if console is not None:
        console.print(report.summary())
    return report


def serve(
    *,
    port: int,
    speed: float,
    seed: int,
    as_json: bool,
    on_serve: Callable[[uvicorn.Server, str], None] | None = None,
) -> None:
    """Serve a fake panel on ``127.0.0.1:port`` (0: any free port) with uvicorn until Ctrl-C."""
    import uvicorn  # noqa: PLC0415  (only --serve needs a server)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
    except OSError as error:
        listener.close()
        raise Failure(f"cannot listen on 127.0.0.1:{port}: {error.strerror}", ExitCode.FAILURE) from None
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/v2"
    panel = FakePanel(seed=seed, url=url, speed=speed)
    # log_config=None: uvicorn leaves logging alone; only its warnings and errors reach stderr.
    config = uvicorn.Config(panel, log_config=None, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if as_json:
        emit_json({"url": url, "key": panel.key, "speed": speed})
    else:
        console = Console(markup=False, highlight=False)
        console.print(f"A fake panel serves at {url}; its clock runs {speed:g}x faster than yours.")
        console.print("Try it from another terminal:\n")
        console.print(f"  export SMMAPI_URL={url}", soft_wrap=True)
        console.print(f"  export SMMAPI_KEY={panel.key}", soft_wrap=True)
        console.print("  smmapi services\n")
        console.print("Press Ctrl-C to stop.")
    if on_serve is not None:
        on_serve(server, url)
    with listener:
        server.run(sockets=[listener])
