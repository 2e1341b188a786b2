"""A stateful fake SMM panel to test your own code against, and a pytest plugin that serves it.

The fake keeps an account like a real panel (catalogue, balance, orders, refills, cancels,
product orders) over a clock your test moves, answers in the real shapes, records every request
and misbehaves on demand. It is a plain ASGI app: ``panel.transport()`` serves it in process to
httpx, and any ASGI server can serve it on a port. It shares no code with the smmapi client, so
the two cannot share a bug.

Example::

    from smmapi.testing import FakePanel, Fault

    panel = FakePanel(seed=1)
    panel.misbehave(Fault.status(503), action="status", times=1)
    async with smmapi.AsyncClient(panel.url, panel.key, transport=panel.transport()) as client:
        order = await client.add(service=101, link="https://instagram.com/p/1", quantity=1000)
        panel.settle()
        status = await client.status(order)   # the first try gets a 503; the retry succeeds

With pytest, the ``smm_panel`` and ``smm_client`` fixtures hand you both.
"""

from __future__ import annotations

from ._asgi import DEFAULT_KEY, DEFAULT_URL, FakePanel, PanelRequest
from ._catalogue import DEFAULT_PRODUCTS, DEFAULT_SERVICES, ORDER_TYPES, FakeProduct, FakeService
from ._dialects import MAX_IDS, Dialect
from ._faults import Fault, FaultRule, When
from ._json import NumberStyle
from ._panel import FakeOrder, FakeProductOrder, FakeRefill, Outcomes

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SERVICES",
    "DEFAULT_URL",
    "MAX_IDS",
    "ORDER_TYPES",
    "Dialect",
    "FakeOrder",
    "FakePanel",
    "FakeProduct",
    "FakeProductOrder",
    "FakeRefill",
    "FakeService",
    "Fault",
    "FaultRule",
    "NumberStyle",
    "Outcomes",
    "PanelRequest",
    "When",
]

# Tracebacks and docs show the public path, smmapi.testing.X, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
