"""The journal in a SQLite file (the standard library's ``sqlite3``, WAL mode): the embedded default."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ._store import Row, Store

__all__ = ["SQLiteStore", "TrackerLockedError"]

import smmapi


class TrackerLockedError(smmapi.SmmError, RuntimeError):
    """Another tracker has this SQLite file open; one tracker at a time may send writes through it.

    Example::

        try:
            async with Tracker(client, "orders.db") as tracker:
                ...
        except TrackerLockedError:
            print("orders.db is in use: stop the other tracker, or use PostgreSQL for many")
    """


class SQLiteStore(Store):
    """A SQLite file, or ``":memory:"``.

    One tracker at a time sends writes through a file (it holds a lock beside it, ``PATH.lock``):
    so on opening, a write still ``sending`` was left by a process that died, and is ``unknown``.
    Readers (``smmapi orders``) need no lock.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None
        self._lock: IO[bytes] | None = None

    def open(self, owner: int, *, tracking: bool) -> None:  # noqa: ARG002  (the file lock is the owner)
        if tracking and self.path != ":memory:":
            self._take_lock()
        try:
            # isolation_level=None: transactions are begun and ended here, explicitly.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.row_factory = sqlite3.Row
            self._connection = connection
            if self.path != ":memory:":
                connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed intent survives a power cut, not only a killed process.
            connection.execute("PRAGMA synchronous=FULL")
            self._make_schema()
            if tracking:
                self.release_orphans()
        except BaseException:
            self.close()  # a store that could not open holds neither its file nor its lock
            raise

    def _take_lock(self) -> None:
        if sys.platform == "win32":  # no flock: one tracker per file is then the user's duty
            return
        import fcntl  # noqa: PLC0415  (POSIX only)

        lock = Path(self.path + ".lock").open("ab")  # noqa: SIM115  (held open while the tracker runs)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise TrackerLockedError(
                f"another tracker has {self.path} open; one tracker at a time per SQLite file"
                " (many workers share a PostgreSQL database instead)"
            ) from None
        self._lock = lock

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise smmapi.ClientClosedError("the journal's store is closed")
        return self._connection

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()

    def _execute_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, params)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._db.in_transaction:  # a read inside a write's transaction
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def release_orphans(self) -> int:
        # This tracker holds the file's lock: whatever is still sending or leased was left by a
        # dead one.
        with self._transaction():
            rows = self._execute(
                "UPDATE smmapi_journal SET state = 'unknown', owner = NULL"
                " WHERE state = 'sending' RETURNING id"
            )
            self._execute(
                "UPDATE smmapi_journal SET leased_by = NULL, lease_until = NULL WHERE leased_by IS NOT NULL"
            )
        self.rows_written += len(rows)
        return len(rows)
