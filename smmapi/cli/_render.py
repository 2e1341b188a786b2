"""How results look: stable JSON for scripts, rich tables and progress for people."""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import click
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from .. import FailedUpdate, OrderState, OutcomeUnknownError, RefillState, SmmError, Update

__all__ = [
    "Tally",
    "emit_json",
    "error_json",
    "error_line",
    "jsonable",
    "make_progress",
    "state_text",
    "table",
    "text",
]


def jsonable(value: Any) -> Any:  # noqa: PLR0911  (one return per kind of value)
    """``value`` as plain JSON: Decimals as strings (exact), enums as their text, errors as objects.

    Value objects become objects of their fields, ``extra`` included, so a script sees every field
    the client read.
    """
    if isinstance(value, enum.Enum):  # before str: a status is a str enum
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, SmmError):
        return error_json(value)
    if attrs.has(type(value)):
        return {field.name: jsonable(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def error_json(error: SmmError) -> dict[str, Any]:
    """An error as ``{"error": text, "type": "UnknownIdError"}``.

    An unknown outcome also names what was sent (``action``, ``fields``; never the key), to
    reconcile by.
    """
    data: dict[str, Any] = {"error": str(error), "type": type(error).__name__}
    if isinstance(error, OutcomeUnknownError):
        data["action"] = error.action
        data["fields"] = dict(error.fields)
    return data


def error_line(error: SmmError) -> str:
    """An error for people: its text and its kind."""
    return f"{error} ({type(error).__name__})"


def emit_json(data: Any) -> None:
    """Print one JSON document on one line of stdout (so a stream of them is JSON Lines)."""
    click.echo(json.dumps(jsonable(data), separators=(",", ":")))


def text(value: Any) -> str:
    """A cell of a table: nothing for ``None``, ``yes`` for a true flag, the value's text otherwise."""
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    return str(value)


def state_text(state: OrderState | RefillState, panel_text: str) -> str:
    """A status for people: the canonical spelling, or the panel's own when it is not one we know."""
    return panel_text if state.value == "Unknown" else state.value


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[RenderableType]],
    *,
    title: str | None = None,
    numbers: Collection[int] = (0,),
) -> Table:
    """A table with these column headers and rows; the columns ``numbers`` hold figures.

    Figures are right-aligned and never wrapped: on a narrow terminal the texts wrap instead.
    """
    grid = Table(title=title, title_justify="left", header_style="bold")
    for index, column in enumerate(columns):
        if index in numbers:
            grid.add_column(column, justify="right", no_wrap=True)
        else:
            grid.add_column(column)
    for row in rows:
        grid.add_row(*row)
    return grid


def make_progress(*, disable: bool = False, console: Console | None = None) -> Progress:
    """A live progress display: a bar, done of total, time, and a line of detail."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True)),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        # The detail wraps on a narrow terminal (the other columns may not: they matter more), and
        # is not markup: it quotes the panel's own status texts.
        TextColumn("{task.fields[detail]}", markup=False, table_column=Column()),
        console=console,
        disable=disable,
    )


#: The statuses come in this order in a tally; others (a panel's own) after them.
_ORDER: dict[str, int] = {}
for _state in (*OrderState, *RefillState):
    _ORDER.setdefault(_state.value, len(_ORDER))
del _state


@attrs.define
class Tally:
    """The latest of each followed ID, seen through a watch's updates; a line of counts for people."""

    total: int
    latest: dict[int, Any] = attrs.Factory(dict)
    errors: dict[int, SmmError] = attrs.Factory(dict)
    final: set[int] = attrs.Factory(set)
    #: The last failure of a whole round (the watch goes on after one).
    trouble: SmmError | None = None
    # Kept as updates come, not counted again for each: a demo sees thousands of updates.
    _counts: Counter[str] = attrs.Factory(Counter)

    def see(self, update: Update[Any] | FailedUpdate) -> None:
        """Take one update into account."""
        if update.id is None:
            self.trouble = update.error
            return
        self.trouble = None
        previous = self.latest.get(update.id)
        if previous is not None:
            self._counts[state_text(previous.status, previous.status_text)] -= 1
        elif update.id in self.errors:
            self._counts["error"] -= 1
        if update.error is not None:
            self.latest.pop(update.id, None)
            self.errors[update.id] = update.error
            self._counts["error"] += 1
        else:  # an order's passing error is forgotten once it answers again
            self.errors.pop(update.id, None)
            self.latest[update.id] = update.value
            self._counts[state_text(update.value.status, update.value.status_text)] += 1
        if update.final:
            self.final.add(update.id)

    def detail(self) -> str:
        """The counts as one line, ``Completed 80 · In progress 12``, then any trouble."""
        counts = sorted(
            ((status, count) for status, count in self._counts.items() if count),
            key=lambda item: (_ORDER.get(item[0], len(_ORDER)), item[0]),
        )
        line = " · ".join(f"{status} {count}" for status, count in counts)
        if self.trouble is not None:
            line += f"  (retrying: {error_line(self.trouble)})"
        return line
