"""The household list's decisions: which page to show, what a search or a pick does.

A turn that shows a page takes pure steps around the shell's read: ``decide`` says which
page (the state to store and read), ``past_end`` has a page past the end of the list read
again as the last one, ``render`` turns the page read into the reply. Statuses are the
stored values ("completed", "in_progress"), so nothing here needs the storage models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Choice, Choices, Notice, Outgoing, Text
from forms.parsing import ascii_int
from locales.catalog import translate

DIALOG = "households"
PICK = "h"
PAGE = "hp"
PAGE_SIZE = 8
# A search longer than any code or name is cut: it is matched with LIKE.
MAX_QUERY = 50
MARKS = {"completed": " ✅", "in_progress": " ⏳"}


@dataclass(frozen=True, slots=True)
class ListState:
    """The list the collaborator is looking at: the dialog's whole stored state."""

    query: str = ""
    offset: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "offset": self.offset}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListState:
        """Whatever a row holds, a list to show: a damaged value reads as the first page."""
        query, offset = data.get("query"), data.get("offset")
        return cls(
            query=query if isinstance(query, str) else "",
            offset=offset
            if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0
            else 0,
        )


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """/interview, or its menu button."""


@dataclass(frozen=True, slots=True)
class Typed:
    text: str


@dataclass(frozen=True, slots=True)
class Pressed:
    verb: str
    arg: str


Event = Opened | Typed | Pressed


# -- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowPage:
    """Store ``state``, read its page, and show what ``render`` makes of it."""

    state: ListState


@dataclass(frozen=True, slots=True)
class OpenHousehold:
    """Open this household's interview, if it is the collaborator's to interview;
    ``given``: the button's data as pressed, for the audit of a refusal."""

    household_id: int
    given: str


@dataclass(frozen=True, slots=True)
class Reply:
    replies: tuple[Outgoing, ...]


Decision = ShowPage | OpenHousehold | Reply


def decide(state: ListState, event: Event, locale: str) -> Decision:
    """What one event does to the list (``state``: the stored one, or a fresh list)."""
    match event:
        case Opened():
            return ShowPage(ListState())
        case Typed(text):
            # A search by code or head's name, from the first page.
            return ShowPage(ListState(" ".join(text.split())[:MAX_QUERY], 0))
        case Pressed(verb, arg):
            number = ascii_int(arg)
            if number is None or verb not in (PICK, PAGE):
                return Reply((Notice(translate("interview.stale", locale)),))
            if verb == PAGE:
                return ShowPage(ListState(state.query, number))
            return OpenHousehold(number, arg)
    raise AssertionError(event)


def refused(locale: str) -> list[Outgoing]:
    """A household out of the collaborator's areas (or gone) was picked."""
    return [Text(translate("scope.refused", locale))]


# -- the page read ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    code: str
    head_name: str
    status: str | None = None
    """Its interview's status this year, if it has one."""


@dataclass(frozen=True, slots=True)
class Page:
    state: ListState
    rows: Sequence[Row]
    total: int
    """Households matching the search, on every page."""


def past_end(page: Page) -> ListState | None:
    """The last page to read instead, when ``page`` lies past the end of the list (a
    button of a list that has shrunk since, or forged): never an empty page."""
    if page.rows or page.total == 0 or page.state.offset == 0:
        return None
    last = (page.total - 1) // PAGE_SIZE * PAGE_SIZE
    return ListState(page.state.query, last)


def render(page: Page, locale: str) -> list[Outgoing]:
    query, offset, total = page.state.query, page.state.offset, page.total
    if total == 0:
        key = "households.none_found" if query else "households.none"
        return [Text(translate(key, locale, query=query))]
    buttons = [
        Choice(f"{row.code} · {row.head_name}{MARKS.get(row.status or '', '')}", f"{PICK}:{row.id}")
        for row in page.rows
    ]
    if offset > 0:
        buttons.append(Choice("◀", f"{PAGE}:{max(0, offset - PAGE_SIZE)}"))
    if offset + PAGE_SIZE < total:
        buttons.append(Choice("▶", f"{PAGE}:{offset + PAGE_SIZE}"))
    title = translate(
        "households.search_title" if query else "households.title",
        locale,
        query=query,
        first=offset + 1,
        last=min(offset + PAGE_SIZE, total),
        total=total,
    )
    help_text = translate("households.help", locale)
    return [Choices(f"{title}\n{help_text}", tuple(buttons))]
