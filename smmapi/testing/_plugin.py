"""The pytest plugin (entry point ``smmapi``): ``smm_panel`` and ``smm_client`` fixtures.

``smm_client`` is an async fixture that works under both async test plugins:

- anyio's plugin (``@pytest.mark.anyio``, asyncio and trio) runs any ``async def`` fixture of a
  test that uses the ``anyio_backend`` fixture;
- pytest-asyncio in strict mode (its default) runs only fixtures it marked itself
  (``@pytest_asyncio.fixture``), whichever test asks for them.

So the fixture is declared with ``pytest_asyncio.fixture`` when pytest-asyncio is installed,
and :func:`pytest_fixture_setup` below hands anyio's tests an unmarked twin, so that exactly one
plugin runs it and on the test's own event loop. pytest-asyncio's *auto* mode would claim the
twin too: with it, use anyio's tests or pytest-asyncio's, not both in one run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest

from smmapi import AsyncClient

from ._asgi import FakePanel

__all__ = ["pytest_configure", "pytest_fixture_setup", "smm_client"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``smm_panel`` marker (its keywords go to :class:`FakePanel`)."""
    config.addinivalue_line(
        "markers", "smm_panel(**options): options for the smm_panel fixture's FakePanel, e.g. balance=..."
    )


@pytest.fixture(name="smm_panel")
def _smm_panel(request: pytest.FixtureRequest) -> FakePanel:
    """A fresh :class:`~smmapi.testing.FakePanel` for one test.

    ``@pytest.mark.smm_panel(...)`` passes its keywords to the panel; to change it for many
    tests, override this fixture in your ``conftest.py``.

    Example::

        @pytest.mark.smm_panel(balance="0.50", seed=7)
        async def test_a_poor_account_cannot_order(smm_client): ...
    """
    marker = request.node.get_closest_marker("smm_panel")
    return FakePanel(**(marker.kwargs if marker is not None else {}))


async def _open_client(smm_panel: FakePanel) -> AsyncIterator[AsyncClient]:
    """An :class:`smmapi.AsyncClient` on ``smm_panel``, closed at teardown."""
    async with AsyncClient(
        smm_panel.url,
        smm_panel.key,
        transport=smm_panel.transport(),
        batch_window=0,
        retry_backoff=0,
    ) as client:
        yield client


async def _smm_client(smm_panel: FakePanel) -> AsyncIterator[AsyncClient]:
    """An :class:`smmapi.AsyncClient` talking to ``smm_panel`` in process, closed at teardown.

    Its batch window and retry backoff are 0, so your tests never wait. It runs on your test's
    event loop under anyio's plugin (asyncio or trio) or pytest-asyncio (strict mode).

    Example::

        @pytest.mark.anyio
        async def test_an_order_completes(smm_panel, smm_client):
            order = await smm_client.add(service=101, link="https://instagram.com/p/1", quantity=100)
            smm_panel.settle()
            assert (await smm_client.status(order)).status.is_final
    """
    async for client in _open_client(smm_panel):
        yield client


def _async_fixture(name: str) -> Callable[[Callable[..., Any]], Any]:
    """pytest-asyncio's fixture decorator if it is installed, else pytest's (for anyio's plugin)."""
    try:
        import pytest_asyncio  # noqa: PLC0415  (optional: anyio's plugin alone is enough)
    except ImportError:  # pragma: no cover
        return pytest.fixture(name=name)
    return pytest_asyncio.fixture(name=name)


smm_client = _async_fixture("smm_client")(_smm_client)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Give anyio's tests the unmarked twin of ``smm_client``, which only anyio's plugin runs.

    ``tryfirst``: this wraps both plugins' own hooks, so they see the swap whatever their order.
    """
    if fixturedef.func is not _smm_client or "anyio_backend" not in request.fixturenames:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixturedef, "func", _open_client)
        return (yield)
