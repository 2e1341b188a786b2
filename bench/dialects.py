"""Requests per lookup on each dialect of real panel software, against the in-process FakePanel.

    python bench/dialects.py [--orders N]

For each dialect it places N orders, settles them, then asks every order's status plus one
unknown ID twice: once through one statuses() call and once through one status() task per ID.
It prints the lookups asked and the requests the panel received for each; no clock is involved.
"""

from __future__ import annotations

import argparse
import math
from decimal import Decimal

import anyio
import smmapi
from smmapi.testing import Dialect, FakePanel, Outcomes

DIALECTS = {
    "textbook": Dialect(),
    "smartpanel": Dialect.SMARTPANEL,
    "boostedsmm": Dialect.BOOSTEDSMM,
    "whole-list": Dialect(whole_list=True),
    "limit-50": Dialect(bulk_limit=50),
}


async def measure(dialect: Dialect, orders: int, via: str) -> tuple[int, int, int]:
    panel = FakePanel(dialect=dialect, balance=Decimal(10**6), outcomes=Outcomes(0, 0, 0))
    async with smmapi.AsyncClient(
        panel.url, panel.key, transport=panel.transport(), retry_backoff=0
    ) as client:
        placed: list[int] = []
        async with anyio.create_task_group() as group:
            for _ in range(orders):

                async def add() -> None:
                    placed.append(
                        await client.add(service=101, link="https://instagram.com/p/1", quantity=1000)
                    )

                group.start_soon(add)
        panel.settle()
        before = len(panel.requests_for("status"))
        asked = [999_999, *placed]  # the unknown ID shares a bulk request with known ones
        results: dict[int, object] = {}
        if via == "statuses":
            results.update(await client.statuses(asked))
        else:

            async def one(order: int) -> None:
                try:
                    results[order] = await client.status(order)
                except smmapi.SmmError as error:
                    results[order] = error

            async with anyio.create_task_group() as group:
                for order in asked:
                    group.start_soon(one, order)
        wrong = sum(not isinstance(results[order], smmapi.OrderStatus) for order in placed) + (
            not isinstance(results[999_999], smmapi.UnknownIdError)
        )
        return len(asked), len(panel.requests_for("status")) - before, wrong


async def main(orders: int) -> None:
    print(f"{'dialect':<12} {'via':<14} {'lookups':>8} {'requests':>9} {'wrong':>6}  floor")
    for name, dialect in DIALECTS.items():
        for via in ("statuses", "status tasks"):
            asked, requests, wrong = await measure(dialect, orders, via)
            floor = asked if not dialect.bulk else math.ceil(asked / min(100, dialect.bulk_limit))
            print(f"{name:<12} {via:<14} {asked:>8} {requests:>9} {wrong:>6}  {floor}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    anyio.run(main, parser.parse_args().orders)
