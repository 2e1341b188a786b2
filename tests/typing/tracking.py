"""smmapi.tracking as a user writes it; checked by mypy --strict, never run."""

import datetime

import smmapi
from smmapi.tracking import Change, TrackedOrder, Tracker


async def use(client: smmapi.AsyncClient) -> None:
    async with Tracker(client, "orders.db", interval=5.0, max_interval=60, lease=120) as tracker:
        placed: TrackedOrder = await tracker.add(
            ref="chat42:msg7", service=1, link="https://example.com/p/1", quantity=1000, runs=2, interval=30
        )
        order: int | None = placed.order
        state: str = placed.state
        status: smmapi.OrderStatus | smmapi.RefillStatus | None = placed.status
        error: smmapi.SmmError | None = placed.error
        # add()'s keywords come from AddFields: a typo is a type error, as it is a TypeError at run time.
        await tracker.add(ref="r", service=1, link="https://example.com/p/1", qantity=5)  # type: ignore[call-arg]
        await tracker.add(ref="r", service=1, link="https://example.com/p/1", quantity="5")  # type: ignore[arg-type]
        refill: TrackedOrder = await tracker.refill("chat42:msg7")
        cancel: TrackedOrder = await tracker.cancel("chat42:msg7")
        found: TrackedOrder | None = await tracker.get("chat42:msg7", action="refill")
        lost: list[TrackedOrder] = await tracker.unresolved()
        await tracker.resolve(lost[0].ref, order=123)
        await tracker.abandon(lost[0].ref)
        async for entry in tracker.orders(final=False, since=datetime.datetime.now(datetime.UTC)):
            asked: datetime.datetime | None = entry.asked_at
        async for change in tracker.changes(after=0, follow=False):
            cursor: int = change.cursor
            seen: Change = change
        used = (order, state, status, error, refill, cancel, found, asked, cursor, seen)
        assert used
