"""The public API as a user writes it; checked by mypy --strict, never run."""

from decimal import Decimal

import httpx
import smmapi
from opentelemetry import metrics, trace


async def use() -> None:
    async with smmapi.AsyncClient("https://panel.example/api/v2", "fake-key", timeout=10.0) as client:
        balance: smmapi.Balance = await client.balance()
        money: Decimal = balance.balance
        services: list[smmapi.Service] = await client.services(refresh=True)
        rate: Decimal = services[0].rate
        order: int = await client.add(service=services[0].id, link="https://example.com", quantity=100)
        status: smmapi.OrderStatus = await client.status(order)
        final: bool = status.status.is_final
        many: dict[int, smmapi.OrderStatus | smmapi.SmmError] = await client.statuses([order, 2])
        refill: int = await client.refill(order)
        refills: dict[int, int | smmapi.SmmError] = await client.refills(range(1, 10))
        refill_status: smmapi.RefillStatus = await client.refill_status(refill)
        await client.cancel(order)
        cancels: dict[int, smmapi.SmmError | None] = await client.cancels({1, 2})
        products: list[smmapi.Product] = await client.products()
        product_order: int = await client.add_product_order(product=1, quantity=1, require="me@example.com")
        product_status: smmapi.ProductOrderStatus = await client.product_order_status(product_order)
        seen = (money, rate, final, many, refills, refill_status, cancels, products, product_status)
        assert seen
        async with client.watch([order]) as updates:
            async for update in updates:
                if update.error is None:
                    state: smmapi.OrderState = update.value.status  # narrowed: no assert
                    assert state
                else:
                    error: smmapi.SmmError = update.error
                    gone: int | None = update.id
                    assert error or gone
        await client.add(service=1, lnk="https://example.com", quantity=100)  # type: ignore[call-arg]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"balance": "1.00"})

    other = smmapi.AsyncClient(
        "https://panel.example/api/v2", "fake-key", transport=httpx.MockTransport(answer)
    )
    await other.aclose()

    traced = smmapi.AsyncClient(
        "https://panel.example/api/v2",
        "fake-key",
        tracer_provider=trace.NoOpTracerProvider(),
        meter_provider=metrics.NoOpMeterProvider(),
    )
    await traced.aclose()
    untraced = smmapi.AsyncClient("https://panel.example/api/v2", "fake-key", telemetry=False)
    await untraced.aclose()
    bounded = smmapi.AsyncClient(
        "https://panel.example/api/v2", "fake-key", max_answer_bytes=64 * 1024 * 1024, trust_env=True
    )
    await bounded.aclose()
