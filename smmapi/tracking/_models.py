"""What the journal holds: tracked orders and their changes, and how their parts are stored as JSON."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

import smmapi

__all__ = [
    "ACTIONS",
    "STATES",
    "Action",
    "Change",
    "State",
    "TrackedOrder",
    "error_from_json",
    "error_to_json",
    "row_status",
    "status_from_json",
    "status_to_json",
]

#: ``sending``: the intent is stored and the request may be on its way; ``placed``: the panel
#: accepted it; ``refused``: the panel said no (nothing was placed); ``unknown``: it may or may
#: not have reached the panel; ``abandoned``: the user reconciled an unknown write and found nothing.
State = Literal["sending", "placed", "refused", "unknown", "abandoned"]
STATES: Final[tuple[State, ...]] = ("sending", "placed", "refused", "unknown", "abandoned")

#: The writes a tracker journals: an order, a refill of it, a cancel of it.
Action = Literal["add", "refill", "cancel"]
ACTIONS: Final[tuple[Action, ...]] = ("add", "refill", "cancel")

Status = smmapi.OrderStatus | smmapi.RefillStatus


def _utc(seconds: float | None) -> datetime.datetime | None:
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _error_key(error: smmapi.SmmError | None) -> Any:
    """What makes two stored errors equal: their kind and message (exceptions compare by identity)."""
    return None if error is None else (type(error), error.args)


@attrs.frozen
class TrackedOrder:
    """One write in the journal: an order (``action="add"``), or a refill or cancel of one.

    ``order`` is the panel's order ID (``None`` until it is known), ``refill`` the refill's ID
    of a refill; ``state`` is one of ``"sending"``, ``"placed"``, ``"refused"``, ``"unknown"``
    and ``"abandoned"``; ``status`` the latest status seen (an :class:`~smmapi.OrderStatus`, or
    a :class:`~smmapi.RefillStatus` for a refill); ``error`` the :class:`~smmapi.SmmError` of a
    refusal or an unknown outcome; ``fields`` what was asked (never the key). The times are UTC.

    Example::

        placed = await tracker.add(ref="chat42:msg7", service=1, link=link, quantity=1000)
        if placed.state == "placed":
            print(placed.order, placed.status)
    """

    ref: str
    action: Action
    state: State
    fields: Mapping[str, Any]
    order: int | None = None
    refill: int | None = None
    status: Status | None = None
    error: smmapi.SmmError | None = attrs.field(default=None, eq=_error_key)
    final: bool = False
    asked_at: datetime.datetime | None = None
    answered_at: datetime.datetime | None = None
    seen_at: datetime.datetime | None = None


@attrs.frozen
class Change:
    """A change of a tracked order's (or refill's) status, as stored, with its cursor.

    Persist ``cursor`` and pass it back as ``tracker.changes(after=cursor)`` to go on from here
    after a restart.

    Example::

        async for change in tracker.changes(after=last_cursor):
            notify(change.ref, change.status.status)
            last_cursor = change.cursor
    """

    cursor: int
    ref: str
    action: Action
    order: int
    status: Status
    seen_at: datetime.datetime


def status_to_json(status: Status) -> str:
    """A status as JSON text: the fields it was made of, money as text."""
    data = attrs.asdict(status, recurse=False)
    data.pop("order", None)
    data.pop("refill", None)
    data["status"] = status.status_text
    del data["status_text"]
    data["extra"] = dict(status.extra)
    return json.dumps(data, default=str, sort_keys=True)  # a Decimal as its text


def status_from_json(text: str, *, action: str, order: int | None, refill: int | None) -> Status:
    """The status :func:`status_to_json` stored."""
    data = json.loads(text, parse_float=Decimal)
    state_text = data.pop("status")
    extra = data.pop("extra", {})
    if action == "refill":
        return smmapi.RefillStatus(
            refill=refill or 0,
            status=smmapi.RefillState.parse(state_text),
            status_text=state_text,
            extra=extra,
        )
    if data.get("charge") is not None:  # money was stored as text
        data["charge"] = Decimal(data["charge"])
    return smmapi.OrderStatus(
        order=order or 0,
        status=smmapi.OrderState.parse(state_text),
        status_text=state_text,
        extra=extra,
        **data,
    )


def error_to_json(error: smmapi.SmmError) -> str:
    """An error as JSON text: its class's public name, message and attributes (as pickling keeps them)."""
    state = {name: value for name, value in vars(error).items() if _jsonable(value)}
    return json.dumps(
        {"type": type(error).__name__, "args": [str(arg) for arg in error.args], "state": state}
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def error_from_json(text: str) -> smmapi.SmmError:
    """The error :func:`error_to_json` stored, rebuilt without its ``__init__``, as unpickling does."""
    data = json.loads(text)
    kind = getattr(smmapi, data["type"], smmapi.SmmError)
    if not (isinstance(kind, type) and issubclass(kind, smmapi.SmmError)):
        kind = smmapi.SmmError
    error: smmapi.SmmError = kind.__new__(kind)
    error.args = tuple(data["args"])
    error.__dict__.update(data["state"])
    return error


def row_status(row: Mapping[str, Any]) -> Status | None:
    """The status a journal or changes row stores, if any."""
    text = row["status"]
    if text is None:
        return None
    return status_from_json(text, action=row["action"], order=row["order_id"], refill=row["refill_id"])


def tracked(row: Mapping[str, Any]) -> TrackedOrder:
    """A journal row (a mapping of its columns) as a :class:`TrackedOrder`."""
    action = row["action"]
    return TrackedOrder(
        ref=row["ref"],
        action=action,
        state=row["state"],
        fields=json.loads(row["fields"]),
        order=row["order_id"],
        refill=row["refill_id"],
        status=row_status(row),
        error=_error(row, action),
        final=bool(row["final"]),
        asked_at=_utc(row["asked_at"]),
        answered_at=_utc(row["answered_at"]),
        seen_at=_utc(row["seen_at"]),
    )


def _error(row: Mapping[str, Any], action: str) -> smmapi.SmmError | None:
    if row["error"] is not None:
        return error_from_json(row["error"])
    if row["state"] == "unknown":  # its tracker stopped between sending and storing the answer
        fields = {name: str(value) for name, value in json.loads(row["fields"]).items()}
        return smmapi.OutcomeUnknownError(
            f"{action}: the tracker stopped before it stored the answer; reconcile, then resolve or abandon",
            action=action,
            fields=fields,
        )
    return None


def change(row: Mapping[str, Any]) -> Change:
    """A row of the changes table as a :class:`Change`."""
    action = row["action"]
    seen_at, status = _utc(row["seen_at"]), row_status(row)
    assert seen_at is not None  # noqa: S101  (the columns are NOT NULL)
    assert status is not None  # noqa: S101
    return Change(
        cursor=row["cursor"],
        ref=row["ref"],
        action=action,
        order=row["order_id"],
        status=status,
        seen_at=seen_at,
    )
