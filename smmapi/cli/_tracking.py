"""``smmapi orders`` and ``smmapi track``: the journal of :mod:`smmapi.tracking` from a terminal."""

from __future__ import annotations

import datetime
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import click

from .. import AsyncClient, SmmError
from .._config import DEFAULT_WATCH_INTERVAL, DEFAULT_WATCH_MAX_INTERVAL
from ..tracking import Change, TrackedOrder, Tracker
from ..tracking._models import ACTIONS, STATES, tracked
from ..tracking._sqlite import SQLiteStore
from ..tracking._store import PAGE_SIZE
from ..tracking._tracker import open_store
from ._app import Session, _console, _panel_command, cli
from ._exits import ExitCode, Failure
from ._render import emit_json, error_line, jsonable, state_text, table, text

__all__ = ["orders", "track"]

_DB_HELP = "The journal: a SQLite file or a postgresql:// DSN."


def _when(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _entry_json(entry: TrackedOrder) -> dict[str, Any]:
    """A journal entry as plain JSON: times in ISO 8601, the status as its fields, the error as an object."""
    return {
        "ref": entry.ref,
        "action": entry.action,
        "state": entry.state,
        "order": entry.order,
        "refill": entry.refill,
        "final": entry.final,
        "status": jsonable(entry.status),
        "error": None if entry.error is None else jsonable(entry.error),
        "fields": dict(entry.fields),
        "asked_at": _when(entry.asked_at),
        "answered_at": _when(entry.answered_at),
        "seen_at": _when(entry.seen_at),
    }


def _status_cell(entry: TrackedOrder) -> str:
    if entry.error is not None and entry.state != "placed":
        return error_line(entry.error)
    if entry.status is None:
        return ""
    return state_text(entry.status.status, entry.status.status_text)


def _shown(db: str) -> str:
    """``db`` as the command prints it: a DSN's password masked."""
    parts = urlsplit(db)
    if parts.password is None:
        return db
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def _database_said(error: Exception, db: str) -> str:
    """What the database said, its DSN's password masked should the driver quote it."""
    text = str(error)
    password = urlsplit(db).password
    if password:
        for form in {password, unquote(password)}:
            text = text.replace(form, "***")
    return text


def _database_error(error: Exception) -> bool:
    """Whether ``error`` is the journal's database's own: a file that is no database, no server."""
    psycopg = sys.modules.get("psycopg")  # imported by the PostgreSQL store, if it was opened
    if psycopg is not None and isinstance(error, psycopg.Error):
        return True
    return isinstance(error, OSError | sqlite3.Error)


def _journal(db: str, **filters: Any) -> list[TrackedOrder]:
    """Every entry of the journal at ``db`` that passes ``filters``, read without tracking."""
    store = open_store(db)
    if isinstance(store, SQLiteStore) and not Path(db).is_file():
        raise Failure(f"no journal at {_shown(db)} (a SQLite file, or a postgresql:// DSN)", ExitCode.USAGE)
    try:
        store.open(0, tracking=False)
    except Exception as error:
        if not _database_error(error):
            raise
        said = _database_said(error, db)
        raise Failure(f"cannot open the journal at {_shown(db)}: {said}", ExitCode.FAILURE) from None
    entries: list[TrackedOrder] = []
    try:
        after = 0
        while True:
            rows = store.rows(after_id=after, limit=PAGE_SIZE, **filters)
            entries.extend(tracked(row) for row in rows)
            if len(rows) < PAGE_SIZE:
                return entries
            after = rows[-1]["id"]
    finally:
        store.close()


@cli.command()
@click.option("--db", required=True, envvar="SMMAPI_DB", show_envvar=True, metavar="PATH|DSN", help=_DB_HELP)
@click.option("--state", type=click.Choice(STATES), help="Only entries in this state.")
@click.option("--final/--not-final", default=None, help="Only orders whose status is final (or not).")
@click.option(
    "--action",
    type=click.Choice([*ACTIONS, "all"]),
    default="add",
    show_default=True,
    help="Orders (add), their refills or cancels, or all.",
)
@click.option("--since", type=click.DateTime(), help="Only entries asked at or after this time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of the entries.")
def orders(
    *,
    db: str,
    state: str | None,
    final: bool | None,
    action: str,
    since: datetime.datetime | None,
    as_json: bool,
) -> None:
    """List the journal of a tracker: each ref, its state, its order and latest status.

    "unknown" entries may or may not have reached the panel: reconcile them, then record what
    you found with Tracker.resolve() or Tracker.abandon().
    """
    moment = None if since is None else since.replace(tzinfo=since.tzinfo or datetime.UTC).timestamp()
    entries = _journal(db, state=state, final=final, action=None if action == "all" else action, since=moment)
    if as_json:
        emit_json([_entry_json(entry) for entry in entries])
        return
    rows = (
        [
            entry.ref,
            entry.action,
            entry.state,
            text(entry.refill if entry.action == "refill" else entry.order),
            _status_cell(entry),
            text(_when(entry.asked_at)),
        ]
        for entry in entries
    )
    _console().print(table(("Ref", "Action", "State", "ID", "Status", "Asked (UTC)"), rows, numbers=(3,)))


def _change_line(change: Change) -> str:
    status = change.status
    return f"{change.ref}: {change.action} {change.order} {state_text(status.status, status.status_text)}"


@cli.command()
@_panel_command
@click.option("--db", required=True, envvar="SMMAPI_DB", show_envvar=True, metavar="PATH|DSN", help=_DB_HELP)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=DEFAULT_WATCH_INTERVAL,
    show_default=True,
    help="Seconds between two looks at an order that changed...",
)
@click.option(
    "--max-interval",
    type=click.FloatRange(min=0),
    default=DEFAULT_WATCH_MAX_INTERVAL,
    show_default=True,
    help="...doubling while it does not, up to this.",
)
def track(session: Session, *, db: str, interval: float, max_interval: float) -> None:
    """Run a tracking worker on a journal until stopped (Ctrl-C): it follows every placed order.

    Prints each change as it is stored (JSON Lines with --json). With a PostgreSQL journal,
    run as many workers as you like: they share the orders due.
    """

    async def follow(tracker: Tracker) -> None:
        cursor = await tracker._call(tracker._store.last_cursor)  # noqa: SLF001  (only new changes)
        if not session.as_json:
            _console().print(f"Tracking the orders of {_shown(db)}; Ctrl-C stops.")
        async for change in tracker.changes(after=cursor):
            if session.as_json:
                emit_json(
                    {
                        "cursor": change.cursor,
                        "ref": change.ref,
                        "action": change.action,
                        "order": change.order,
                        "status": change.status,
                        "seen_at": _when(change.seen_at),
                    }
                )
            else:
                _console().print(_change_line(change))

    async def work(client: AsyncClient) -> None:
        # Ctrl-C is taken here rather than as the event loop's KeyboardInterrupt, which can be
        # lost while a store call runs in its thread: the tracker then closes cleanly (its
        # leases given back) before the command ends as interrupted.
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async with (
                Tracker(client, db, interval=interval, max_interval=max_interval) as tracker,
                anyio.create_task_group() as group,
            ):
                group.start_soon(follow, tracker)
                async for _ in signals:
                    group.cancel_scope.cancel()
                    break
        raise KeyboardInterrupt

    try:
        session.run(work)
    except SmmError as error:  # the store's own errors (a locked file, a newer schema)
        session.fail_with(error)
    except Exception as error:
        if not _database_error(error):
            raise
        said = _database_said(error, db)
        session.fail(f"the journal at {_shown(db)} failed: {said}", ExitCode.FAILURE, type(error).__name__)
