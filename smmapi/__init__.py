"""An async client for the SMM panel API v2.

Example::

    import smmapi

    async with smmapi.AsyncClient("https://panel.example/api/v2", key) as client:
        print(await client.balance())
"""

__version__ = "0.1.0.dev0"

from ._client import AsyncClient
from ._errors import (
    AuthenticationError,
    ClientClosedError,
    ConnectError,
    HTTPStatusError,
    InsufficientFundsError,
    OutcomeUnknownError,
    PanelError,
    RateLimitedError,
    RedirectError,
    RequestTimeoutError,
    SmmError,
    TransportError,
    UnknownIdError,
    UnreadableAnswerError,
    ValidationError,
    WatchTimeoutError,
)
from ._forms import AddFields
from ._lookups import ActionDialect
from ._models import (
    Balance,
    OrderState,
    OrderStatus,
    Product,
    ProductOrderStatus,
    RefillState,
    RefillStatus,
    Service,
)
from ._stats import Stats
from ._sync import Client, SyncWatch
from ._watch import FailedUpdate, Update, Watch

__all__ = [
    "ActionDialect",
    "AddFields",
    "AsyncClient",
    "AuthenticationError",
    "Balance",
    "Client",
    "ClientClosedError",
    "ConnectError",
    "FailedUpdate",
    "HTTPStatusError",
    "InsufficientFundsError",
    "OrderState",
    "OrderStatus",
    "OutcomeUnknownError",
    "PanelError",
    "Product",
    "ProductOrderStatus",
    "RateLimitedError",
    "RedirectError",
    "RefillState",
    "RefillStatus",
    "RequestTimeoutError",
    "Service",
    "SmmError",
    "Stats",
    "SyncWatch",
    "TransportError",
    "UnknownIdError",
    "UnreadableAnswerError",
    "Update",
    "ValidationError",
    "Watch",
    "WatchTimeoutError",
    "__version__",
]

# Tracebacks and docs show the public path, smmapi.X, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        _obj.__module__ = __name__
del _name, _obj
