"""``python -m smmapi``: the ``smmapi`` command (needs the extra ``smmapi[cli]``)."""

from smmapi.cli import main

main()
