"""The journal's store: one schema and one set of queries, over SQLite or PostgreSQL.

A store is synchronous (the standard library's ``sqlite3`` and psycopg's blocking API); the
tracker calls it in a worker thread, one call at a time, which works on asyncio and trio alike.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

import smmapi

__all__ = ["SCHEMA_VERSION", "Row", "SchemaVersionError", "Store"]

#: The version of the tables below; a store records it, and refuses a newer one.
SCHEMA_VERSION: Final = 1
#: Rows read at a time when listing the journal or its changes.
PAGE_SIZE: Final = 500

Row = Mapping[str, Any]

#: The tables, in SQL both databases read; ``{serial}`` is each one's auto-numbered key.
SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS smmapi_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS smmapi_journal (
        id {serial} PRIMARY KEY,
        ref TEXT NOT NULL,                 -- the caller's name for the write
        action TEXT NOT NULL,              -- add, refill or cancel
        fields TEXT NOT NULL,              -- JSON: what was asked (never the key)
        state TEXT NOT NULL,               -- sending, placed, refused, unknown, abandoned
        order_id BIGINT,
        refill_id BIGINT,
        status TEXT,                       -- JSON: the latest status seen
        error TEXT,                        -- JSON: the error of a refusal or an unknown outcome
        final INTEGER NOT NULL DEFAULT 0,  -- 1: the status will change no more
        asked_at DOUBLE PRECISION NOT NULL,
        answered_at DOUBLE PRECISION,
        seen_at DOUBLE PRECISION,
        due_at DOUBLE PRECISION,           -- when to poll next; NULL: not polled
        poll_interval DOUBLE PRECISION,
        owner BIGINT,                      -- the tracker sending it, while it is sending
        leased_by BIGINT,                  -- the tracker polling it this round
        lease_until DOUBLE PRECISION,
        UNIQUE (ref, action)
    )""",
    "CREATE INDEX IF NOT EXISTS smmapi_journal_due ON smmapi_journal (due_at) WHERE due_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS smmapi_journal_unresolved ON smmapi_journal (state)"
    " WHERE state IN ('sending', 'unknown')",
    """CREATE TABLE IF NOT EXISTS smmapi_changes (
        cursor {serial} PRIMARY KEY,
        ref TEXT NOT NULL,
        action TEXT NOT NULL,
        order_id BIGINT NOT NULL,
        refill_id BIGINT,
        status TEXT NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL
    )""",
)


class SchemaVersionError(smmapi.SmmError, RuntimeError):
    """The store was made by a newer smmapi, whose tables this one cannot read safely.

    Example::

        try:
            async with Tracker(client, "orders.db") as tracker:
                ...
        except SchemaVersionError:
            print("upgrade smmapi")
    """


class Store(abc.ABC):
    """The journal in a database: what the tracker asks of SQLite and PostgreSQL alike.

    Subclasses connect, run a transaction, and say who else may be writing; every query is here.
    ``shared`` stores have other trackers writing beside this one (PostgreSQL).
    """

    #: Auto-numbered key type in this database's SQL.
    serial: str = "INTEGER"
    #: Appended to the query that takes due orders for a round.
    lock_rows: str = ""
    #: Whether trackers in other processes write to this store too.
    shared: bool = False
    #: Run before storing changes, where writers are many: cursors are numbered at insert but
    #: seen at commit, so one writer of changes at a time keeps a reader that saw cursor N from
    #: later finding a smaller one committed.
    changes_lock: str | None = None

    def __init__(self) -> None:
        #: Rows written (inserted or updated) through this store: the bench reads it.
        self.rows_written = 0

    # -- what each database does its own way --------------------------------------------

    @abc.abstractmethod
    def open(self, owner: int, *, tracking: bool) -> None:
        """Connect and make the tables; ``tracking``: this tracker sends writes (``owner``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Disconnect; calling it again does nothing."""

    @abc.abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; its rows, if it returns any."""

    @abc.abstractmethod
    def _execute_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each set of parameters."""

    @abc.abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """A transaction that takes the write lock at once (SQLite) or is serialisable enough (PostgreSQL)."""

    @abc.abstractmethod
    def release_orphans(self) -> int:
        """Mark ``unknown`` the writes left ``sending`` by trackers that are gone; how many."""

    # -- the schema ---------------------------------------------------------------------

    def _make_schema(self) -> None:
        with self._transaction():
            for statement in SCHEMA:
                self._execute(statement.format(serial=self.serial))
            rows = self._execute("SELECT version FROM smmapi_schema")
            if not rows:
                self._execute("INSERT INTO smmapi_schema (version) VALUES (?)", (SCHEMA_VERSION,))
                return
            version = max(row["version"] for row in rows)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the journal's schema is version {version}, newer than this smmapi's {SCHEMA_VERSION}:"
                " upgrade smmapi to use it"
            )

    # -- the journal ----------------------------------------------------------------------

    def insert_intent(
        self, ref: str, action: str, fields: str, *, order_id: int | None, now: float, owner: int
    ) -> tuple[Row, bool]:
        """Store an intent; the row, and whether it is new (``False``: the ref was used before)."""
        with self._transaction():
            rows = self._execute(
                "INSERT INTO smmapi_journal (ref, action, fields, state, order_id, asked_at, owner)"
                " VALUES (?, ?, ?, 'sending', ?, ?, ?) ON CONFLICT (ref, action) DO NOTHING RETURNING *",
                (ref, action, fields, order_id, now, owner),
            )
            if rows:
                self.rows_written += 1
                return rows[0], True
            existing = self.get(ref, action)
        assert existing is not None  # noqa: S101  (the conflict was with this row)
        return existing, False

    def forget_intent(self, ref: str, action: str, owner: int) -> None:
        """Remove an intent that was never sent (bad input, a closed client, no connection)."""
        with self._transaction():
            self._execute(
                "DELETE FROM smmapi_journal WHERE ref = ? AND action = ? AND owner = ? AND state = 'sending'",
                (ref, action, owner),
            )

    def record_answer(
        self,
        ref: str,
        action: str,
        owner: int,
        *,
        state: str,
        now: float,
        order_id: int | None = None,
        refill_id: int | None = None,
        error: str | None = None,
        due_at: float | None = None,
        poll_interval: float | None = None,
    ) -> Row:
        """Store the answer to a write this tracker sent; the row as it stands after."""
        with self._transaction():
            rows = self._execute(
                "UPDATE smmapi_journal SET state = ?, order_id = COALESCE(?, order_id), refill_id = ?,"
                " error = ?, answered_at = ?, due_at = ?, poll_interval = ?, owner = NULL"
                " WHERE ref = ? AND action = ? AND owner = ? AND state IN ('sending', 'unknown') RETURNING *",
                (state, order_id, refill_id, error, now, due_at, poll_interval, ref, action, owner),
            )
            self.rows_written += len(rows)
            row = rows[0] if rows else self.get(ref, action)
        assert row is not None  # noqa: S101  (journal rows are never deleted once sent)
        return row

    def settle(
        self,
        ref: str,
        action: str,
        *,
        state: str,
        now: float,
        order_id: int | None = None,
        refill_id: int | None = None,
        due_at: float | None = None,
        poll_interval: float | None = None,
    ) -> Row | None:
        """Record what the user found for an ``unknown`` write; ``None`` if it is not unknown."""
        with self._transaction():
            rows = self._execute(
                "UPDATE smmapi_journal SET state = ?, order_id = COALESCE(?, order_id),"
                " refill_id = COALESCE(?, refill_id), answered_at = ?, due_at = ?, poll_interval = ?"
                " WHERE ref = ? AND action = ? AND state = 'unknown' RETURNING *",
                (state, order_id, refill_id, now, due_at, poll_interval, ref, action),
            )
        self.rows_written += len(rows)
        return rows[0] if rows else None

    def get(self, ref: str, action: str) -> Row | None:
        """The journal's row for this write, or ``None``."""
        rows = self._execute("SELECT * FROM smmapi_journal WHERE ref = ? AND action = ?", (ref, action))
        return rows[0] if rows else None

    def rows(
        self,
        *,
        after_id: int,
        limit: int,
        action: str | None = None,
        state: str | None = None,
        final: bool | None = None,
        since: float | None = None,
    ) -> list[Row]:
        """Journal rows in the order they were asked, from ``after_id`` on, filtered."""
        where = ["id > ?"]
        params: list[Any] = [after_id]
        for column, value in (("action", action), ("state", state), ("final", final)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(int(value) if isinstance(value, bool) else value)
        if since is not None:
            where.append("asked_at >= ?")
            params.append(since)
        return self._execute(
            f"SELECT * FROM smmapi_journal WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",  # noqa: S608  (column names are ours)
            (*params, limit),
        )

    # -- tracking -----------------------------------------------------------------------

    def lease_due(self, *, now: float, worker: int, lease_until: float, limit: int) -> list[Row]:
        """Take the orders due now that nobody holds, for one round, until ``lease_until``."""
        with self._transaction():
            rows = self._execute(
                "UPDATE smmapi_journal SET leased_by = ?, lease_until = ? WHERE id IN ("  # noqa: S608  (our SQL)
                " SELECT id FROM smmapi_journal"
                " WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
                f" ORDER BY due_at LIMIT ?{self.lock_rows})"
                " RETURNING id, ref, action, order_id, refill_id, status, poll_interval",
                (worker, lease_until, now, now, limit),
            )
        self.rows_written += len(rows)
        return rows

    def write_back(
        self, worker: int, polled: Sequence[Sequence[Any]], changes: Sequence[Sequence[Any]]
    ) -> None:
        """Store a round: each polled row's news and lease released, and every change seen.

        ``polled``: (status, error, final, seen_at, due_at, poll_interval, id) per row;
        ``changes``: (ref, action, order_id, refill_id, status, seen_at) per change.
        """
        with self._transaction():
            if changes:
                if self.changes_lock:
                    self._execute(self.changes_lock)
                self._execute_many(
                    "INSERT INTO smmapi_changes (ref, action, order_id, refill_id, status, seen_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    changes,
                )
            self._execute_many(
                "UPDATE smmapi_journal SET status = COALESCE(?, status), error = ?, final = ?,"
                " seen_at = COALESCE(?, seen_at), due_at = ?, poll_interval = ?, leased_by = NULL,"
                " lease_until = NULL WHERE id = ? AND leased_by = ?",
                [(*row, worker) for row in polled],
            )
        self.rows_written += len(changes) + len(polled)

    def release_leases(self, worker: int) -> None:
        """Give back the orders this worker holds (it is stopping): others may poll them at once."""
        with self._transaction():
            self._execute(
                "UPDATE smmapi_journal SET leased_by = NULL, lease_until = NULL WHERE leased_by = ?",
                (worker,),
            )

    def next_due(self) -> float | None:
        """When some order will next be due (or its lease end), or ``None`` if nothing is tracked."""
        rows = self._execute(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > due_at"
            " THEN lease_until ELSE due_at END) AS due FROM smmapi_journal WHERE due_at IS NOT NULL"
        )
        due: float | None = rows[0]["due"] if rows else None
        return due

    def last_cursor(self) -> int:
        """The cursor of the last change stored, or 0."""
        rows = self._execute("SELECT MAX(cursor) AS last FROM smmapi_changes")
        return int(rows[0]["last"] or 0)

    def changes(self, *, after: int, limit: int) -> list[Row]:
        """Stored changes after the cursor ``after``, in order."""
        return self._execute(
            "SELECT * FROM smmapi_changes WHERE cursor > ? ORDER BY cursor LIMIT ?", (after, limit)
        )


@functools.cache
def to_format_style(sql: str) -> str:
    """A query with ``?`` placeholders in the ``%s`` style psycopg reads."""
    return sql.replace("%", "%%").replace("?", "%s")
