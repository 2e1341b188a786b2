"""Durable orders: a journal that places each order at most once, and tracking that survives restarts.

Example::

    from smmapi.tracking import Tracker

    async with smmapi.AsyncClient(url, key) as client, Tracker(client, "orders.db") as tracker:
        placed = await tracker.add(ref="chat42:msg7", service=1, link=link, quantity=1000)
        async for change in tracker.changes(after=0):
            print(change.ref, change.status.status)

See the "Durable orders" page of the docs.
"""

from ._models import Change, TrackedOrder
from ._sqlite import TrackerLockedError
from ._store import SCHEMA_VERSION, SchemaVersionError
from ._tracker import Tracker

__all__ = ["SCHEMA_VERSION", "Change", "SchemaVersionError", "TrackedOrder", "Tracker", "TrackerLockedError"]

# Tracebacks and docs show the public path, smmapi.tracking.X, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
