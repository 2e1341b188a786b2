"""The blocking client as a user writes it; checked by mypy --strict, never run."""

from decimal import Decimal

import smmapi


def use() -> None:
    with smmapi.Client("https://panel.example/api/v2", "fake-key", timeout=10.0, batch_window=0) as client:
        money: Decimal = client.balance().balance
        order: int = client.add(service=1, link="https://example.com", quantity=100)
        status: smmapi.OrderStatus = client.status(order)
        many: dict[int, smmapi.OrderStatus | smmapi.SmmError] = client.statuses([order, 2])
        refill: int = client.refill(order)
        refill_status: smmapi.RefillStatus = client.refill_status(refill)
        client.cancel(order)
        product_order: int = client.add_product_order(product=1, quantity=1, require="me@example.com")
        stats: smmapi.Stats = client.stats()
        seen = (money, status, many, refill_status, product_order, stats)
        assert seen
        with client.watch([order], interval=30, max_interval=600) as watch:
            for update in watch:
                if update.error is None:
                    state: smmapi.OrderState = update.value.status  # narrowed: no assert
                    assert state
        refills: smmapi.SyncWatch[smmapi.RefillStatus] = client.watch_refills([refill])
        refills.close()
        # A typo is never a different paid order, and a wrong type is caught before running.
        client.add(service=1, lnk="https://example.com", quantity=100)  # type: ignore[call-arg]
        client.status("123")  # type: ignore[arg-type]
        smmapi.Client("https://panel.example/api/v2", "fake-key", batch_windw=0)  # type: ignore[call-arg]
    client.close()
