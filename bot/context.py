"""What a dialog handler is given: the transaction, the user, the message and the clock.

A turn (:class:`DialogContext`) is synchronous: its reads and writes are one function over
the turn's :class:`~storage.uow.Work`. Work a turn hands back as ``Deferred`` runs after the
commit, on the event loop, with a :class:`Later` (an asynchronous unit of work of its own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.messages import Incoming
from bot.settings import Settings
from locales.catalog import translate
from storage.rows import Person
from storage.uow import UnitOfWork, Work

# Shows a transient status line ("Đang xuất… 40%") while a long handler runs.
Progress = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class Context:
    """What every handler knows: the message, who sent it, the settings and the time."""

    incoming: Incoming
    user: Person | None
    settings: Settings
    now: datetime

    @property
    def locale(self) -> str:
        if self.user is not None:
            return self.user.locale
        return self.settings.locale

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)


@dataclass(slots=True)
class DialogContext(Context):
    uow: Work
    # The replies of this person's previous turn are not known to have reached them (a
    # crash or a failed send): their typed text may answer a question they never saw.
    reply_lost: bool = False


@dataclass(slots=True)
class Later(Context):
    """A Deferred's context: after the turn's commit, in a transaction of its own."""

    uow: UnitOfWork
    # Set by channels that can show a status message before the replies arrive.
    progress: Progress | None = None
