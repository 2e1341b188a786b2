"""The ``smmapi`` command: its configuration, its commands, and how errors and Ctrl-C end it."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio
import attrs
import click
import httpx
from rich.console import Console, RenderableType
from rich.text import Text

from .. import (
    AsyncClient,
    OrderStatus,
    ProductOrderStatus,
    RefillStatus,
    SmmError,
    TransportError,
    ValidationError,
    Watch,
    WatchTimeoutError,
    __version__,
)
from .._config import DEFAULT_WATCH_INTERVAL
from .._forms import ADD_FIELDS
from .._options import check_url
from .._probe import pins
from . import version_line
from ._exits import ExitCode, Failure, exit_code, severity
from ._render import (
    Tally,
    emit_json,
    error_json,
    error_line,
    jsonable,
    make_progress,
    state_text,
    table,
    text,
    transport_line,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["Seams", "cli"]

T = TypeVar("T")

_HELP = """\
Use an SMM panel (API v2) from your terminal, or try smmapi on a fake one: smmapi demo.

\b
Configuration (a command's --url and --key win over the environment):
  export SMMAPI_URL=https://panel.example/api/v2
  export SMMAPI_KEY=...   (prefer this to --key: a key on the command line
                           lands in your shell history and in the process list)

Every command takes --json for one line of JSON on stdout: Decimals as strings,
statuses as their text, errors as {"error": "...", "type": "UnknownIdError"}.
Commands given several IDs send them in bulk and show a result or an error for each.

\b
Exit codes:
  0    done
  1    anything else failed (a demo order never ended, a port in use)
  2    usage: a bad option or argument, or no URL or key
  3    the panel refused (PanelError): bad key, not enough funds, unknown ID
  4    the panel could not be reached or read: connection, timeout, HTTP
       status, or an answer that is not the API's (HTML, bad JSON)
  5    outcome unknown: a paid write may have reached the panel; check
       before you send it again
  130  interrupted (Ctrl-C)
With several IDs, the exit code is the most serious of their errors."""

_KEY_HELP = (
    "Your API key. Prefer the SMMAPI_KEY environment variable: a key given here is saved in"
    " your shell history and visible to other users in the process list. It is never printed."
)


@attrs.define
class Seams:
    """What tests put in place of the network, handed to the command as click's ``obj``.

    Users never see it: the command runs with ``Seams()``, the real network and a real server.
    """

    #: The httpx transport every client of the command sends through (``None``: the network).
    transport: httpx.AsyncBaseTransport | None = None
    #: More keywords for :class:`~smmapi.AsyncClient` (``retry_backoff=0``, so tests never wait).
    client_options: Mapping[str, Any] = attrs.Factory(dict)
    #: Called with the server and its URL once ``demo --serve`` listens, before it serves.
    on_serve: Callable[[uvicorn.Server, str], None] | None = None


def _console() -> Console:
    """A console on the current stdout (made per command, as test runners swap stdout).

    No markup: what it prints quotes the panel (``"[Refill 30D]"`` in a name is no style).
    """
    return Console(markup=False, highlight=False)


@contextlib.contextmanager
def _client_log(level: int = logging.WARNING) -> Iterator[None]:
    """Show the client's log records of ``level`` and up on stderr, as ``smmapi: warning: ...``.

    The client logs, for one, a paid write that completed after Ctrl-C: the order exists. The
    handler lives only as long as the command, on the stderr of that moment (tests swap it).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_LogFormatter())
    logger = logging.getLogger("smmapi")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _LogFormatter(logging.Formatter):
    """``smmapi: warning: message``: the shape of the command's other messages."""

    def format(self, record: logging.LogRecord) -> str:
        """One line for a record."""
        return f"smmapi: {record.levelname.lower()}: {record.getMessage()}"


def _one_line(error: click.UsageError) -> Failure:
    """A usage error as one line, pointing at the help of the command it is about."""
    hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return Failure(error.format_message() + hint, ExitCode.USAGE)


class _Group(click.Group):
    """click's group, but every error is one line with its own exit code, and Ctrl-C is 130."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the group's own options, with usage errors on one line."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise  # shows the help, which is what a bare `smmapi` asks for
        except click.UsageError as error:
            raise _one_line(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; usage errors on one line, Ctrl-C as exit code 130 without a traceback."""
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _one_line(error) from None
        except KeyboardInterrupt:
            click.echo("\nsmmapi: interrupted", err=True)
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None


@attrs.define
class Session:
    """One command's view of the panel: where it is, the key, how to print, what tests injected."""

    url: str | None
    key: str | None = attrs.field(repr=False)
    as_json: bool
    allow_http: bool
    seams: Seams
    #: HTTP requests the command's client sent, retries included (known once it has run).
    requests: int = 0

    def fail(self, message: str, code: int, kind: str) -> NoReturn:
        """End the command with an error (also as JSON on stdout with ``--json``)."""
        if self.as_json:
            emit_json({"error": message, "type": kind})
        raise Failure(message, code)

    def fail_with(self, error: SmmError) -> NoReturn:
        """End the command with an error of the client."""
        if self.as_json:
            emit_json(error_json(error))
        raise Failure(self.explain(error), exit_code(error))

    def explain(self, error: SmmError) -> str:
        """An error of the client for people; one that never reached the panel names its host."""
        if isinstance(error, TransportError) and self.url:
            return transport_line(error, url=self.url, requests=self.requests)
        return error_line(error)

    def run(self, work: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """Run ``work`` with a client of the panel; an error of the client ends the command."""
        if not self.url:
            self.fail("no panel URL: set SMMAPI_URL or pass --url", ExitCode.USAGE, "UsageError")
        if not self.key:
            self.fail(
                "no API key: set SMMAPI_KEY (safer than --key, which others can see in the process list)",
                ExitCode.USAGE,
                "UsageError",
            )
        url, key = self.url, self.key
        self._check_url(url)

        async def main() -> T:
            client = AsyncClient(
                url,
                key,
                allow_http=self.allow_http,
                transport=self.seams.transport,
                **self.seams.client_options,
            )
            try:
                async with client:
                    return await work(client)
            finally:
                self.requests = client.stats().requests

        try:
            with _client_log():
                return anyio.run(main)
        except SmmError as error:
            self.fail_with(error)

    def _check_url(self, url: str) -> None:
        """Refuse plain http as the client would, with the command's advice instead of the client's."""
        try:
            check_url(url, allow_http=self.allow_http)
        except ValidationError as refused:
            try:
                check_url(url, allow_http=True)
            except ValidationError:
                self.fail_with(refused)  # not a panel's URL at all
            self.fail(
                f"refusing plain http to {httpx.URL(url).host}: the key would travel unencrypted;"
                " use an https URL, or pass --allow-http (or set SMMAPI_ALLOW_HTTP=1) if you must",
                ExitCode.USAGE,
                type(refused).__name__,
            )


def _panel_command(func: Callable[..., None]) -> Callable[..., None]:
    """Give a command the panel options (``--url``, ``--key``, ``--json``) as a :class:`Session`."""

    def command(
        seams: Seams | None,
        /,
        url: str | None,
        key: str | None,
        as_json: bool,
        allow_http: bool,
        **options: Any,
    ) -> None:
        func(Session(url, key, as_json, allow_http, seams or Seams()), **options)

    functools.update_wrapper(command, func)  # click takes the command's name and help from it
    # click lists a command's options in reverse order of this list: these come last in --help,
    # after the command's own.
    params: list[click.Parameter] = command.__dict__.setdefault("__click_params__", [])
    params[:0] = [
        click.Option(["--json", "as_json"], is_flag=True, help="Print one line of JSON (see smmapi --help)."),
        click.Option(
            ["--allow-http"],
            is_flag=True,
            envvar="SMMAPI_ALLOW_HTTP",
            show_envvar=True,
            help="Send to a plain http:// URL that is not loopback: the key travels unencrypted.",
        ),
        click.Option(["--key"], envvar="SMMAPI_KEY", show_envvar=True, metavar="KEY", help=_KEY_HELP),
        click.Option(
            ["--url"],
            envvar="SMMAPI_URL",
            show_envvar=True,
            metavar="URL",
            help="The panel's API v2 endpoint.",
        ),
    ]
    return click.pass_obj(command)


@click.group(cls=_Group, help=_HELP, no_args_is_help=True, context_settings={"max_content_width": 100})
@click.version_option(__version__, prog_name="smmapi", message=version_line())
def cli() -> None:
    """The ``smmapi`` command group (its help is ``_HELP``)."""


# -- account and catalogue -----------------------------------------------------------------


@cli.command()
@_panel_command
def balance(session: Session) -> None:
    """Show the account's balance."""
    result = session.run(lambda client: client.balance())
    if session.as_json:
        emit_json(result)
    else:
        _console().print(f"{result.balance} {result.currency or ''}".rstrip())


#: A service's flags, as its table names them.
_ALLOWS = (("refill", "refill"), ("cancel", "cancel"), ("drip-feed", "dripfeed"))


@cli.command()
@_panel_command
@click.option("--category", metavar="TEXT", help="Only services whose category contains TEXT (any case).")
@click.option("--search", metavar="TEXT", help="Only services whose name contains TEXT (any case).")
def services(session: Session, category: str | None, search: str | None) -> None:
    """List the panel's services (rate is per 1,000)."""
    found = session.run(lambda client: client.services())
    if category:
        found = [s for s in found if category.casefold() in (s.category or "").casefold()]
    if search:
        found = [s for s in found if search.casefold() in s.name.casefold()]
    if session.as_json:
        emit_json(found)
        return
    columns = ("ID", "Service", "Category", "Type", "Rate", "Min", "Max", "Allows")
    rows = (
        [
            str(s.id),
            s.name,
            text(s.category),
            text(s.type),
            str(s.rate),
            str(s.min),
            str(s.max),
            ", ".join(name for name, allowed in _ALLOWS if getattr(s, allowed)),
        ]
        for s in found
    )
    _console().print(
        table(columns, rows, title=f"{len(found)} services (rate per 1,000)", numbers=(0, 4, 5, 6))
    )


@cli.command()
@_panel_command
def products(session: Session) -> None:
    """List the panel's products (rate is per unit)."""
    found = session.run(lambda client: client.products())
    if session.as_json:
        emit_json(found)
        return
    columns = ("ID", "Product", "Category", "Rate", "Min", "Max", "Stock", "Needs")
    rows = (
        [
            str(p.id),
            p.name,
            text(p.category),
            str(p.rate),
            str(p.min),
            str(p.max),
            text(p.inventory),
            text(p.require),
        ]
        for p in found
    )
    _console().print(
        table(columns, rows, title=f"{len(found)} products (rate per unit)", numbers=(0, 3, 4, 5, 6))
    )


# -- orders --------------------------------------------------------------------------------


def _many(values: tuple[str, ...]) -> str | list[str] | None:
    """A repeatable option for the client: absent, one text (which may hold lines), or a list."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _fields(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """``--field NAME=VALUE`` options as a mapping."""
    fields = {}
    for value in values:
        name, sep, field = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}")
        fields[name] = field
    return fields


_LIST = " Repeat it for each one."


def _add_options(func: Callable[..., None]) -> Callable[..., None]:
    """One option per keyword of ``client.add``, from the one list of them (``AddFields``)."""
    for field in reversed(ADD_FIELDS):
        name = "--" + field.name.replace("_", "-")
        if field.kind == "extra":
            option = click.option(
                "--field",
                "extra_fields",
                multiple=True,
                callback=_fields,
                metavar="NAME=VALUE",
                help=field.field.help + _LIST,
            )
        elif field.kind == "lines":
            option = click.option(name, multiple=True, help=field.field.help + _LIST)
        elif field.kind == "count":
            option = click.option(name, type=int, help=field.field.help)
        elif field.kind == "date":
            option = click.option(name, metavar="D/M/Y", help=field.field.help)
        else:
            option = click.option(name, help=field.field.help)
        func = option(func)
    return func


@cli.command()
@_panel_command
@click.option("--service", type=int, required=True, help="The service ID (see smmapi services).")
@_add_options
def add(session: Session, **options: Any) -> None:
    """Place an order (a paid write, never sent twice) and print its ID."""
    for field in ADD_FIELDS:
        if field.kind == "lines":
            options[field.name] = _many(options[field.name])
    order = session.run(lambda client: client.add(**options))
    _placed(session, "Order", order)


@cli.command("add-product-order")
@_panel_command
@click.option("--product", type=int, required=True, help="The product ID (see smmapi products).")
@click.option("--quantity", type=int, required=True, help="How many units.")
@click.option("--require", help="What the product needs from you (an account, an e-mail).")
def add_product_order(session: Session, product: int, quantity: int, require: str | None) -> None:
    """Order a product (a paid write, never sent twice) and print the order's ID."""
    order = session.run(
        lambda client: client.add_product_order(product=product, quantity=quantity, require=require)
    )
    _placed(session, "Product order", order)


def _placed(session: Session, what: str, order: int) -> None:
    """Print a new order's ID alone on stdout, so ``order=$(smmapi add ...)`` needs no ``--json``.

    People see what it is on stderr, just above it.
    """
    if session.as_json:
        emit_json({"order": order})
    else:
        click.echo(f"{what} placed, ID:", err=True)
        click.echo(order)


# -- by ID ---------------------------------------------------------------------------------


def _split_ids(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> tuple[int, ...]:
    """IDs given as separate arguments (``1 2``), joined by commas (``1,2``), or both (``1, 2``)."""
    ids = []
    for value in values:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise click.BadParameter(f"{value!r} holds no ID")
        for item in items:
            if not item.isdecimal() or not int(item):
                raise click.BadParameter(f"{item!r} is not an ID (a whole number of at least 1)")
            ids.append(int(item))
    return tuple(ids)


_ids = click.argument("ids", metavar="ID...", nargs=-1, required=True, callback=_split_ids)


def _report(
    session: Session,
    *,
    noun: str,
    results: Mapping[int, Any],
    columns: Sequence[str],
    row: Callable[[int, Any], Sequence[RenderableType]],
    as_json: Callable[[int, Any], Any],
    printed: bool = False,
) -> None:
    """Print a result or an error per ID; end with the most serious error's exit code, if any.

    With ``--json``: one object keyed by ID, each value a result or an error object. For people:
    a table with a line per ID, even when every ID failed, then one line on stderr.
    """
    errors = {key: session.explain(value) for key, value in results.items() if isinstance(value, SmmError)}
    if session.as_json and not printed:
        emit_json(
            {str(key): value if key in errors else as_json(key, value) for key, value in results.items()}
        )
    elif not session.as_json:
        if len(errors) == len(results):  # no result to show: the ID and its error only
            columns = (columns[0], "Error")
        blank: list[RenderableType] = [""] * (len(columns) - 2)
        rows = (
            [str(key), Text(errors[key], style="red"), *blank] if key in errors else row(key, value)
            for key, value in results.items()
        )
        _console().print(table(columns, rows))
    if errors:
        worst_key, worst = max(((key, results[key]) for key in errors), key=lambda item: severity(item[1]))
        message = (
            errors[worst_key]
            if len(errors) == len(results) and len(set(errors.values())) == 1
            else f"{len(errors)} of {len(results)} {noun}s failed; {noun} {worst_key}: {errors[worst_key]}"
        )
        raise Failure(message, exit_code(worst))


@attrs.frozen
class _Lookup:
    """One kind of ID a command looks up (orders, refills, product orders), and how it shows."""

    noun: str
    id_field: str
    many: Callable[[AsyncClient, list[int]], Awaitable[Mapping[int, Any]]]
    watch: Callable[[AsyncClient, list[int], float, float | None], Watch[Any]]
    columns: tuple[str, ...]
    row: Callable[[Any], Sequence[RenderableType]]


def _order_row(status: OrderStatus) -> list[str]:
    return [
        str(status.order),
        state_text(status.status, status.status_text),
        text(status.charge),
        text(status.start_count),
        text(status.remains),
        text(status.currency),
    ]


def _refill_row(status: RefillStatus) -> list[str]:
    return [str(status.refill), state_text(status.status, status.status_text)]


def _product_order_row(status: ProductOrderStatus) -> list[str]:
    return [
        str(status.order),
        state_text(status.status, status.status_text),
        text(status.charge),
        text(status.refund),
        text(status.note),
        text(status.result),
    ]


_ORDERS = _Lookup(
    "order",
    "order",
    lambda client, ids: client.statuses(ids),
    lambda client, ids, interval, timeout: client.watch(ids, interval=interval, timeout=timeout),
    ("Order", "Status", "Charge", "Start count", "Remains", "Currency"),
    _order_row,
)
_REFILLS = _Lookup(
    "refill",
    "refill",
    lambda client, ids: client.refill_statuses(ids),
    lambda client, ids, interval, timeout: client.watch_refills(ids, interval=interval, timeout=timeout),
    ("Refill", "Status"),
    _refill_row,
)
_PRODUCT_ORDERS = _Lookup(
    "product order",
    "order",
    lambda client, ids: client.product_order_statuses(ids),
    lambda client, ids, interval, timeout: client.watch_product_orders(
        ids, interval=interval, timeout=timeout
    ),
    ("Order", "Status", "Charge", "Refund", "Note", "Result"),
    _product_order_row,
)


async def _follow(
    session: Session,
    kind: _Lookup,
    client: AsyncClient,
    ids: list[int],
    *,
    interval: float,
    limit: float | None,
) -> Tally:
    """Follow IDs until each is final (or unknown): a progress bar, or JSON Lines with ``--json``.

    An ID still not final after ``limit`` seconds gets the watch's ``WatchTimeoutError``.
    """
    tally = Tally(total=len(ids))
    plural = f"{kind.noun}s" if len(ids) > 1 else kind.noun
    with make_progress(disable=session.as_json) as progress:
        task = progress.add_task(f"Following {len(ids)} {plural}", total=len(ids), detail="")
        try:
            async with kind.watch(client, ids, interval, limit) as updates:
                async for update in updates:
                    tally.see(update)
                    progress.update(task, completed=len(tally.final), detail=tally.detail())
                    if session.as_json:
                        if update.error is not None:
                            emit_json({kind.id_field: update.id, **error_json(update.error)})
                        else:
                            emit_json({**jsonable(update.value), "final": update.final})
        except WatchTimeoutError as error:
            tally.errors.update(dict.fromkeys(error.unfinished, error))
    return tally


def _look_up(
    session: Session,
    kind: _Lookup,
    ids: Sequence[int],
    *,
    watch: bool,
    interval: float,
    limit: float | None,
) -> None:
    """Look IDs up once in bulk, or follow them until final; then report each."""
    wanted = list(dict.fromkeys(ids))

    async def work(client: AsyncClient) -> Mapping[int, Any]:
        if not watch:
            return await kind.many(client, wanted)
        tally = await _follow(session, kind, client, wanted, interval=interval, limit=limit)
        return {key: tally.errors.get(key, tally.latest.get(key)) for key in wanted}

    results = session.run(work)
    _report(
        session,
        noun=kind.noun,
        results=results,
        columns=kind.columns,
        row=lambda _, value: kind.row(value),
        as_json=lambda _, value: value,
        printed=watch,
    )


def _lookup_command(name: str, kind: _Lookup, summary: str) -> None:
    """Add the command that looks ``kind`` up by ID, with ``--watch``."""

    @_panel_command
    @_ids
    @click.option(
        "--watch", is_flag=True, help=f"Follow each {kind.noun} until it is final, with a progress bar."
    )
    @click.option(
        "--interval",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        default=DEFAULT_WATCH_INTERVAL,
        show_default=True,
        help="With --watch: seconds between looks at an ID that changes (doubling while it does not).",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        default=None,
        help=f"With --watch: give up after this long; each {kind.noun} not final by then is an error.",
    )
    def command(
        session: Session, ids: tuple[int, ...], watch: bool, interval: float, timeout: float | None
    ) -> None:
        _look_up(session, kind, ids, watch=watch, interval=interval, limit=timeout)

    command.__doc__ = summary
    cli.command(name)(command)


_lookup_command("status", _ORDERS, "Show where orders stand (any number of IDs, sent in bulk).")
_lookup_command(
    "refill-status", _REFILLS, "Show where refills stand (any number of refill IDs, sent in bulk)."
)
_lookup_command(
    "product-order-status",
    _PRODUCT_ORDERS,
    "Show where product orders stand (any number of IDs, sent in bulk).",
)


@cli.command()
@_panel_command
@_ids
def refill(session: Session, ids: tuple[int, ...]) -> None:
    """Ask for refills of orders (a write, never sent twice) and print each refill's ID."""
    results = session.run(lambda client: client.refills(ids))
    _report(
        session,
        noun="order",
        results=results,
        columns=("Order", "Refill"),
        row=lambda order, refill_id: [str(order), str(refill_id)],
        as_json=lambda order, refill_id: {"order": order, "refill": refill_id},
    )


@cli.command()
@_panel_command
@_ids
def cancel(session: Session, ids: tuple[int, ...]) -> None:
    """Ask the panel to cancel orders (a write, never sent twice)."""
    results = session.run(lambda client: client.cancels(ids))
    _report(
        session,
        noun="order",
        results=results,
        columns=("Order", "Cancel"),
        row=lambda order, _: [str(order), "accepted"],
        as_json=lambda order, _: {"order": order, "accepted": True},
    )


# -- what the panel reads ------------------------------------------------------------------


def _yes(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


@cli.command()
@_panel_command
@click.option("--order", type=int, metavar="ID", help="An order of yours, to probe the status forms with.")
@click.option("--refill", type=int, metavar="ID", help="A refill of yours, to probe refill_status with.")
@click.option("--product-order", type=int, metavar="ID", help="A product order of yours.")
def probe(session: Session, order: int | None, refill: int | None, product_order: int | None) -> None:
    """Show which forms the panel reads, with reads only: nothing is ordered, refilled or cancelled.

    Prints, for each action asked by ID, whether it exists, whether the single form (order=ID)
    and the bulk form (orders=1,2) are read, whether one unknown ID makes it refuse a whole bulk
    request, its bulk limit, and the AsyncClient(bulk=...) option that pins what was found.
    """
    found = session.run(
        lambda client: client._probe(order=order, refill=refill, product_order=product_order)  # noqa: SLF001
    )
    pinned = pins(found)
    if session.as_json:
        emit_json({"actions": [attrs.asdict(item) for item in found], "bulk": pinned})
        return
    columns = ("Action", "Exists", "order=ID", "orders=1,2", "Whole-list check", "Bulk limit", "Note")
    rows = (
        [
            item.action,
            _yes(item.exists),
            _yes(item.single),
            _yes(item.bulk),
            _yes(item.whole_list),
            "" if item.limit is None else str(item.limit),
            item.note,
        ]
        for item in found
    )
    _console().print(table(columns, rows, title="What the panel reads"))
    if not pinned:
        _console().print("Pass --order (and --refill) with IDs of your own to probe the forms.")
    elif all(pinned.values()):
        _console().print("The panel reads every bulk form probed: the defaults fit it.")
    else:
        _console().print(f"Pin it: smmapi.AsyncClient(url, key, bulk={pinned!r})")


# -- the demo ------------------------------------------------------------------------------


@cli.command()
@click.option("--orders", type=click.IntRange(min=1), default=300, show_default=True, help="How many orders.")
@click.option(
    "--speed",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="How many times faster than yours the fake panel's clock runs.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the orders' outcomes.")
@click.option("--serve", is_flag=True, help="Serve the fake panel on 127.0.0.1 instead, until Ctrl-C.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="With --serve: the port."
)
@click.option("--json", "as_json", is_flag=True, help="Print one line of JSON (see smmapi --help).")
@click.pass_obj
def demo(
    seams: Seams | None, *, orders: int, speed: float, seed: int, serve: bool, port: int, as_json: bool
) -> None:
    """Try smmapi on a fake panel in this process: no network, no key.

    Places a few hundred orders of several types, follows each until it is final with a live
    progress bar, and sums up: orders by final status, lookups asked beside HTTP requests
    sent, time taken. With --serve, serves the fake panel for your own tries instead.
    """
    from . import _demo  # noqa: PLC0415  (the demo's imports are not needed by the other commands)

    if serve:
        _demo.serve(port=port, speed=speed, seed=seed, as_json=as_json, on_serve=(seams or Seams()).on_serve)
        return
    # Warnings of the client are about the fake panel's orders here: not worth a line.
    with _client_log(logging.ERROR):
        report = _demo.run(orders=orders, speed=speed, seed=seed, console=None if as_json else _console())
    if as_json:
        emit_json(report.as_json())
    if not report.ok:
        raise Failure(report.problem(), ExitCode.FAILURE)


# The journal's commands (smmapi orders, smmapi track) live in a module of their own.
from . import _tracking  # noqa: E402, F401
