"""The ``smmapi`` command: a demo on a fake panel, and everyday calls to a real one.

Install it with the ``cli`` extra (``pip install ".[cli]"`` in a clone of smmapi); ``smmapi --help``
lists the commands.
Importing :mod:`smmapi` never imports this package, so the client needs none of its dependencies.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

#: The extra's packages: a missing one means the extra was not installed.
_EXTRA = frozenset({"click", "rich"})


def version_line() -> str:
    """What ``smmapi --version`` prints."""
    from .. import __version__  # noqa: PLC0415  (the package's __init__ imports nothing heavy)

    return f"smmapi, version {__version__}"


def main() -> None:
    """Run the ``smmapi`` command with the arguments in ``sys.argv``; it always exits."""
    if sys.argv[1:] == ["--version"]:
        # Answered before click, rich and the client (with httpx) are imported: a tenth of the time.
        print(version_line())  # noqa: T201
        sys.exit(0)
    try:
        from ._app import cli  # noqa: PLC0415  (deferred so a missing extra gets a clear message)
    except ModuleNotFoundError as exc:
        if exc.name not in _EXTRA:
            raise
        print(  # noqa: T201  (click is the missing piece, so plain print it is)
            f'smmapi: error: the command needs the "cli" extra ({exc.name} is missing):'
            ' pip install ".[cli]" in a clone of smmapi',
            file=sys.stderr,
        )
        sys.exit(1)
    cli.main(prog_name="smmapi")
