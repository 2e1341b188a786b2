"""Exit codes, and the one-line failure every error of the command turns into."""

from __future__ import annotations

import enum
from typing import IO, Any

import click

from .. import (
    HTTPStatusError,
    OutcomeUnknownError,
    PanelError,
    SmmError,
    TransportError,
    UnreadableAnswerError,
    ValidationError,
)

__all__ = ["ExitCode", "Failure", "exit_code", "severity"]


class ExitCode(enum.IntEnum):
    """What the command's exit status means; scripts rely on these numbers, so they never change."""

    OK = 0
    #: Anything else: a demo order that never ended, a port already in use.
    FAILURE = 1
    #: A bad option or argument, no panel URL or key, or a value the client refused to send.
    USAGE = 2
    #: The panel refused (``PanelError``): a bad key, not enough funds, an unknown ID.
    PANEL = 3
    #: The panel could not be reached or read: transport, HTTP status or unreadable answer.
    TRANSPORT = 4
    #: A paid write may have reached the panel without a usable answer (``OutcomeUnknownError``).
    OUTCOME_UNKNOWN = 5
    #: Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


def exit_code(error: SmmError) -> ExitCode:
    """The exit code an error of the client stands for."""
    if isinstance(error, OutcomeUnknownError):
        return ExitCode.OUTCOME_UNKNOWN
    if isinstance(error, PanelError):
        return ExitCode.PANEL
    if isinstance(error, TransportError | HTTPStatusError | UnreadableAnswerError):
        return ExitCode.TRANSPORT
    if isinstance(error, ValidationError):
        return ExitCode.USAGE
    return ExitCode.FAILURE


def severity(error: SmmError) -> int:
    """How serious an error is, to pick the exit code of several: an unknown outcome first."""
    code = exit_code(error)
    return 0 if code is ExitCode.FAILURE else int(code)


class Failure(click.ClickException):
    """An error shown as one line on stderr, ``smmapi: error: ...``, that exits with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click types it a ClassVar, reads the instance's

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one line (no usage text, no traceback)."""
        # An answer quoted in a message may hold line breaks: the line stays one line.
        line = " ".join(self.format_message().split())
        click.echo(f"smmapi: error: {line}", file=file, err=file is None)
