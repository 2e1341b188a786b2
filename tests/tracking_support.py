"""What the tracker's test modules share: a tracker on the fake panel, and reading its changes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import smmapi
from smmapi.testing import FakePanel, Outcomes
from smmapi.tracking import Change, Tracker

#: Every order and refill completes: for tests of one path through the lifecycle.
SURE = Outcomes(partial=0, canceled=0, refill_rejected=0)
LINK = "https://instagram.com/p/Cx1"
#: Seconds any one tracker a test opens may stay open.
LIMIT = 20


@asynccontextmanager
async def opened(
    fake: FakePanel, db: Path | str, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any
) -> AsyncIterator[Tracker]:
    """A tracker (``interval=0`` unless given) on a client of the fake panel, bounded in time."""
    with anyio.fail_after(LIMIT):
        async with (
            smmapi.AsyncClient(
                fake.url, fake.key, transport=transport or fake.transport(), retry_backoff=0, batch_window=0
            ) as client,
            Tracker(client, db, **{"interval": 0, **options}) as tracker,
        ):
            yield tracker


def adds(fake: FakePanel) -> int:
    """How many add requests the panel received."""
    return len(fake.requests_for("add"))


async def final_changes(tracker: Tracker, count: int) -> list[Change]:
    """The changes from the first, up to the one that makes ``count`` of them final."""
    seen = []
    async for change in tracker.changes(after=0):
        seen.append(change)
        if sum(c.status.status.is_final for c in seen) == count:
            return seen
    raise AssertionError("the feed ended")


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Both backends."""
    return str(request.param)


@pytest.fixture(name="fake")
def fake() -> FakePanel:
    """A fake panel where every order completes."""
    return FakePanel(outcomes=SURE)
