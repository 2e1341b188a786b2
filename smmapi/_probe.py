"""Ask a panel, with reads only, which forms of the actions asked by ID it reads.

``smmapi probe`` runs it. Writes (refill, cancel) are never sent: what reads show is reported,
and the options that pin it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from ._errors import ACCOUNT_ERRORS, PanelError, SmmError, UnknownIdError
from ._lookups import PRODUCT_ORDER_STATUS, REFILL_STATUS, STATUS, Spec, bulk_limit
from ._wire import Wire

__all__ = ["ActionProbe", "probe"]

#: IDs no panel has handed out yet, to ask beside the caller's own.
_UNKNOWN: Final = tuple(999_999_999_999_999_000 + n for n in range(99))


@attrs.frozen
class ActionProbe:
    """What a probe found for one action.

    ``exists``: the panel has the action (``False``: "This action is Invalid" or no JSON);
    ``single``/``bulk``: whether it reads ``order=ID`` / ``orders=1,2`` (``None``: not known,
    for lack of an ID of yours); ``whole_list``: it refuses a bulk request holding one unknown
    ID; ``limit``: the most IDs one bulk request may carry, as far as probed.
    """

    action: str
    exists: bool | None
    single: bool | None = None
    bulk: bool | None = None
    whole_list: bool | None = None
    limit: int | None = None
    note: str = ""


async def _ask(wire: Wire, spec: Spec, fields: Mapping[str, str], ids: int) -> Any:
    try:
        return await wire.post(spec.action, fields, ids=ids)
    except SmmError as error:
        if isinstance(error, ACCOUNT_ERRORS):
            raise
        return error


def _keyed(spec: Spec, answer: Any, key: int) -> bool:
    if isinstance(answer, SmmError):
        return False
    try:
        items = spec.split(answer, [key, _UNKNOWN[0]])
    except SmmError:
        return False
    return items is not None and not isinstance(items.get(key), SmmError)


async def probe_action(wire: Wire, spec: Spec, known: int | None) -> ActionProbe:
    """Probe one read action, with one ID of the caller's own if given."""
    assert spec.single is not None  # noqa: S101  (only the actions with both forms are probed)
    if known is None:
        answer = await _ask(wire, spec, {spec.single: str(_UNKNOWN[0])}, 1)
        exists = isinstance(answer, UnknownIdError) or not isinstance(answer, SmmError)
        return ActionProbe(spec.action, exists, note="pass an ID of yours to probe its forms")
    single = await _ask(wire, spec, {spec.single: str(known)}, 1)
    if isinstance(single, SmmError):
        exists = isinstance(single, UnknownIdError)
        note = f"{spec.single}={known} was refused ({single}): is it one of yours?"
        return ActionProbe(spec.action, exists, single=False, note=note)
    pair = await _ask(wire, spec, {spec.bulk: f"{known},{_UNKNOWN[0]}"}, 2)
    if not _keyed(spec, pair, known):
        alone = await _ask(wire, spec, {spec.bulk: str(known)}, 1)
        if _keyed(spec, alone, known):
            return ActionProbe(spec.action, True, single=True, bulk=True, whole_list=True)
        return ActionProbe(spec.action, True, single=True, bulk=False)
    full = await _ask(wire, spec, {spec.bulk: ",".join(map(str, (known, *_UNKNOWN)))}, 100)
    limit = 100
    if isinstance(full, PanelError):
        limit = bulk_limit(str(full)) or 50
    return ActionProbe(spec.action, True, single=True, bulk=True, whole_list=False, limit=limit)


async def probe(
    wire: Wire, *, order: int | None, refill: int | None, product_order: int | None
) -> list[ActionProbe]:
    """Probe the actions asked by ID, with the caller's own IDs where given."""
    return [
        await probe_action(wire, STATUS, order),
        await probe_action(wire, REFILL_STATUS, refill),
        await probe_action(wire, PRODUCT_ORDER_STATUS, product_order),
    ]


def pins(found: list[ActionProbe]) -> dict[str, bool]:
    """The ``AsyncClient(bulk=...)`` mapping that pins what was found."""
    return {item.action: item.bulk for item in found if item.bulk is not None}
