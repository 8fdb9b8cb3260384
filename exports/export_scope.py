"""Who may export what: the area asked for, checked against the user's role and areas.

- a collaborator: only the households they interviewed, in their villages;
- a supervisor or commune staff: their areas and everything below them;
- an admin, or the command line (someone with the server's keys): every area.

A request outside one's scope is refused with a message saying so, and the refusal is
written to the audit log like the exports themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from exports.rows import Selection
from storage.models import Area, Role, User
from storage.uow import UnitOfWork


class ExportRefused(Exception):
    """The request can't be served; ``key`` is the catalog message to show."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Scope:
    # The single area the export is about, when there is one (the summary needs it).
    area: Area | None
    name: str
    code: str
    selection: Selection


async def resolve_scope(
    uow: UnitOfWork, user: User | None, area_code: str | None, year: int
) -> Scope:
    """The households ``user`` may export for ``area_code`` (or for all of their areas)."""
    unrestricted = user is None or user.role is Role.ADMIN
    area = None
    if area_code:
        area = await uow.areas.by_code(area_code.strip())
        if area is None:
            raise ExportRefused("exports.unknown_area", area=area_code.strip())
    if unrestricted:
        roots = [area] if area else [a for a in await uow.areas.all() if a.parent_id is None]
        ids = await uow.areas.subtree_ids(a.id for a in roots)
        return _scope(area, roots, ids, year, None)
    assert user is not None
    if not user.areas:
        raise ExportRefused("exports.no_areas")
    allowed = await uow.areas.subtree_ids(a.id for a in user.areas)
    if area is not None and area.id not in allowed:
        raise ExportRefused("exports.out_of_scope", area=f"{area.name} ({area.code})")
    roots = [area] if area is not None else list(user.areas)
    ids = await uow.areas.subtree_ids(a.id for a in roots) & allowed
    collaborator = user.id if user.role is Role.COLLABORATOR else None
    return _scope(area, roots, ids, year, collaborator)


def _scope(
    area: Area | None, roots: list[Area], ids: set[int], year: int, collaborator: int | None
) -> Scope:
    single = area if area is not None else (roots[0] if len(roots) == 1 else None)
    roots = sorted(roots, key=lambda a: a.code)
    name = single.name if single else ", ".join(a.name for a in roots)
    code = single.code if single else "+".join(a.code for a in roots) or "all"
    return Scope(single, name, code, Selection(frozenset(ids), year, collaborator))
