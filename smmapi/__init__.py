"""An async client for the SMM panel API v2.

Example::

    import smmapi

    async with smmapi.AsyncClient("https://panel.example/api/v2", key) as client:
        print(await client.balance())
"""

__version__ = "0.1.0.dev0"

from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:  # at run time, __getattr__ imports the same names on first use
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

#: The private modules the public names come from (the imports above), imported together.
_SOURCES = ("_client", "_errors", "_forms", "_lookups", "_models", "_stats", "_watch")
#: Names whose module is imported only when they are used: the blocking client brings asyncio and
#: a portal thread, which async code has no need of.
_ON_THEIR_OWN = {"Client": "_sync", "SyncWatch": "_sync"}


# At run time only: to type checkers, smmapi has the names imported above and no others.
if not _TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """Import the public names on first use, all at once (PEP 562).

        ``import smmapi`` alone (which ``smmapi --version`` does) then costs next to nothing, and
        after the first use every name is a plain attribute, as if imported eagerly.
        """
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib  # noqa: PLC0415  (only when the names are first used)

        for source in (*_SOURCES, *([_ON_THEIR_OWN[name]] if name in _ON_THEIR_OWN else [])):
            module = importlib.import_module(f".{source}", __name__)
            for public in set(__all__).intersection(vars(module)):
                value = vars(module)[public]
                # Tracebacks and docs show the public path, smmapi.X, not the private module.
                if isinstance(value, type) or callable(value):
                    value.__module__ = __name__
                globals()[public] = value
        return globals()[name]
