"""/summary's decisions: which area and year a request or a button names, whether the
person may see it, and what to show.

The shell loads the area tree (and the default year) and hands over who is asking; what
comes back is a reply, or the report to build after the commit (``Show``,
``ShowVillages``), which the shell runs as ``Deferred`` work. The tree is anything shaped
like ``exports.stats.AreaTree``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.messages import Choice, Choices, Notice, Outgoing, Text
from forms.parsing import ascii_int
from locales.catalog import translate
from storage.text import fold

CALLBACK = "sm"
FULL = "s"
VILLAGES = "v"
MAX_BUTTONS = 8
YEAR = re.compile(r"^(19|20|21)[0-9][0-9]$")
# Folded phrases asking for the per-village lines.
DETAIL_WORDS = ("chi tiet", "chitiet", "theo ap", "theoap", "theo xa", "villages", "detail")
# The example of an area code given to someone assigned none.
EXAMPLE_CODE = "87-MH"


class Node(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent_id(self) -> int | None: ...


class Tree(Protocol):
    @property
    def nodes(self) -> Mapping[int, Node]: ...
    @property
    def children(self) -> Mapping[int | None, Sequence[int]]: ...
    def subtree(self, root: int) -> list[int]: ...


N = TypeVar("N", bound=Node)


@dataclass(frozen=True, slots=True)
class Request:
    query: str
    year: int | None
    villages: bool


def parse_args(args: str) -> Request:
    """ "Ấp 1 2024 theo ấp" -> Request("Ấp 1", 2024, True); order does not matter."""
    words = args.split()
    villages = False
    folded = [fold(word) for word in words]
    kept: list[str] = []
    index = 0
    while index < len(words):
        pair = " ".join(folded[index : index + 2])
        if pair in DETAIL_WORDS:
            villages, index = True, index + 2
            continue
        if folded[index] in DETAIL_WORDS:
            villages, index = True, index + 1
            continue
        kept.append(words[index])
        index += 1
    year = None
    for word in reversed(kept):
        if YEAR.match(word):
            year = int(word)
            kept.remove(word)
            break
    return Request(" ".join(kept), year, villages)


def find_areas(nodes: Sequence[N], query: str) -> list[N]:
    """The areas ``query`` names: an exact code; else, comparing accent-free names, the
    exact name, then names holding it as whole words ("my hoa" for "Xã Mỹ Hòa", "ap" for
    "Ấp 1" but not for "Tháp Mười"), then as word starts ("thap m")."""
    wanted = fold(query)
    if not wanted:
        return []
    by_code = [node for node in nodes if node.code.lower() == query.strip().lower()]
    if by_code:
        return by_code
    padded = f" {wanted} "
    prefix = re.compile(r"(^|\s)" + re.escape(wanted))
    names = [(node, fold(node.name)) for node in nodes]
    for matches in (
        lambda name: name == wanted,
        lambda name: padded in f" {name} ",
        lambda name: prefix.search(name) is not None,
    ):
        found = [node for node, name in names if matches(name)]
        if found:
            return sorted(found, key=lambda node: node.code)
    return []


@dataclass(frozen=True, slots=True)
class AreaRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: an admin sees every area, anyone else their areas and what lies below."""

    admin: bool
    areas: tuple[AreaRef, ...]
    locale: str

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)


def allowed(tree: Tree, viewer: Viewer) -> set[int] | None:
    """The area ids ``viewer`` may see; None: all of them."""
    if viewer.admin:
        return None
    return {area_id for area in viewer.areas for area_id in tree.subtree(area.id)}


# -- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    replies: tuple[Outgoing, ...]
    refused: str | None = None
    """The code of an area the viewer was refused, to audit."""


@dataclass(frozen=True, slots=True)
class Show:
    """The area's report, built after the commit; ``villages``: with a line per child."""

    node_id: int
    year: int
    villages: bool


@dataclass(frozen=True, slots=True)
class ShowVillages:
    """The line per child area alone (the report's button)."""

    node_id: int
    year: int


Decision = Reply | Show | ShowVillages


def asked(request: Request, year: int, tree: Tree, viewer: Viewer) -> Decision:
    """/summary with its arguments parsed; ``year``: the request's, else the default one."""
    scope = allowed(tree, viewer)
    if request.query:
        matches = find_areas(list(tree.nodes.values()), request.query)
        if not matches:
            example = viewer.areas[0].code if viewer.areas else EXAMPLE_CODE
            text = viewer.t("summary.unknown_area", query=request.query, example=example, year=year)
            return Reply((Text(text),))
        visible = [node for node in matches if scope is None or node.id in scope]
        if not visible:
            return _refuse(viewer, matches[0])
    else:
        visible = _own_areas(tree, viewer)
        if not visible:
            return Reply((Text(viewer.t("summary.no_area")),))
    if len(visible) > 1:
        mode = VILLAGES if request.villages else FULL
        buttons = tuple(
            Choice(f"{node.name} ({node.code})", f"{CALLBACK}:{node.id}:{year}:{mode}")
            for node in visible[:MAX_BUTTONS]
        )
        return Reply((Choices(viewer.t("summary.pick_area", year=year), buttons),))
    return Show(visible[0].id, year, request.villages)


@dataclass(frozen=True, slots=True)
class Button:
    area_id: int
    year: int
    villages: bool


def parse_button(data: str) -> Button | None:
    """An area or per-village button's data; None when it is not one (forged, or of an
    older version)."""
    verb, _, rest = data.partition(":")
    parts = rest.split(":")
    if verb != CALLBACK or len(parts) != 3:
        return None
    area_id = ascii_int(parts[0])
    if area_id is None or not YEAR.fullmatch(parts[1]):
        return None
    return Button(area_id, int(parts[1]), parts[2] == VILLAGES)


def stale(locale: str) -> Reply:
    return Reply((Notice(translate("fallback.stale_button", locale)),))


def pressed(button: Button, tree: Tree, viewer: Viewer) -> Decision:
    """A button's area checked again against the tree and the viewer's scope: its data is
    never trusted."""
    node = tree.nodes.get(button.area_id)
    if node is None:
        return stale(viewer.locale)
    scope = allowed(tree, viewer)
    if scope is not None and node.id not in scope:
        return _refuse(viewer, node)
    if button.villages:
        return ShowVillages(node.id, button.year)
    return Show(node.id, button.year, False)


def _own_areas(tree: Tree, viewer: Viewer) -> list[Node]:
    if viewer.areas:
        return [tree.nodes[area.id] for area in viewer.areas if area.id in tree.nodes]
    if viewer.admin:
        return [tree.nodes[area_id] for area_id in tree.children.get(None, [])]
    return []


def _refuse(viewer: Viewer, node: Node) -> Reply:
    own = ", ".join(f"{area.name} ({area.code})" for area in viewer.areas) or "—"
    text = viewer.t("summary.refused", area=f"{node.name} ({node.code})", areas=own)
    return Reply((Text(text),), refused=node.code)
