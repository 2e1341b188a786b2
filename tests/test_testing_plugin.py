"""The pytest plugin smmapi registers: smm_panel and smm_client in a user's own test suite.

Each test runs a small user suite with pytester, in process, with warnings as errors.
"""

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

USER_SUITE = """
import pytest
import smmapi

seen = []


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


async def follow(panel, client):
    order = await client.add(service=101, link="https://instagram.com/p/1", quantity=1000)
    panel.settle()
    seen.append(client)
    return await client.status(order)


@pytest.mark.anyio
async def test_on_anyio(smm_panel, smm_client):
    assert (await follow(smm_panel, smm_client)).status.is_final


@pytest.mark.asyncio
async def test_on_pytest_asyncio(smm_panel, smm_client):
    assert (await follow(smm_panel, smm_client)).status.is_final


def test_every_client_was_closed_at_teardown():
    assert len(seen) == 3
    assert all("state=closed" in repr(client) for client in seen)
"""


@pytest.fixture(name="suite")
def _suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_SUITE)
    return pytester


def test_the_client_fixture_runs_under_anyio_and_pytest_asyncio(suite):
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["anyio.pytest_plugin", "pytest_asyncio.plugin"], id="anyio-first"),
        pytest.param(["pytest_asyncio.plugin", "anyio.pytest_plugin"], id="pytest-asyncio-first"),
    ],
)
def test_the_client_fixture_runs_whichever_plugin_loads_first(suite, monkeypatch, order):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = [arg for name in [*order, "smmapi.testing._plugin"] for arg in ("-p", name)]
    suite.runpytest("-p", "no:cacheprovider", *plugins).assert_outcomes(passed=4)


def test_the_panel_fixture_takes_options_from_a_marker(pytester):
    pytester.makeini(INI + "addopts = --strict-markers\n")
    pytester.makepyfile(
        """
        from decimal import Decimal

        import pytest


        @pytest.mark.smm_panel(balance="0.50", currency="EUR", seed=3)
        def test_marked(smm_panel):
            assert (smm_panel.balance, smm_panel.currency) == (Decimal("0.50"), "EUR")


        def test_fresh(smm_panel):
            assert smm_panel.balance == 100
            assert smm_panel.requests == []
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_client_retries_at_once_and_sends_each_lookup_without_waiting(pytester):
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import anyio
        import pytest
        from smmapi.testing import Fault


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @pytest.mark.anyio
        async def test_retries(smm_panel, smm_client):
            smm_panel.misbehave(Fault.status(503), action="balance", times=2)
            with anyio.fail_after(5):
                await smm_client.balance()
            assert len(smm_panel.requests_for("balance")) == 3
            assert smm_client.stats().retries == 2
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
