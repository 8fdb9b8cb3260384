"""What a dialog handler is given: the transaction, the user, the message and the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.messages import Incoming
from bot.settings import Settings
from locales.catalog import translate
from storage.models import User
from storage.uow import UnitOfWork

# Shows a transient status line ("Đang xuất… 40%") while a long handler runs.
Progress = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class DialogContext:
    uow: UnitOfWork
    incoming: Incoming
    user: User | None
    settings: Settings
    now: datetime
    # Set by channels that can show a status message before the replies arrive.
    progress: Progress | None = None
    # The replies of this person's previous turn are not known to have reached them (a
    # crash or a failed send): their typed text may answer a question they never saw.
    reply_lost: bool = False

    @property
    def locale(self) -> str:
        if self.user is not None:
            return self.user.locale
        return self.settings.locale

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)
