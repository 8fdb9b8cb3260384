"""What a dialog handler is given: the transaction, the user, the message and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.i18n import translate
from bot.messages import Incoming
from bot.settings import Settings
from storage.models import User
from storage.uow import UnitOfWork


@dataclass(slots=True)
class DialogContext:
    uow: UnitOfWork
    incoming: Incoming
    user: User | None
    settings: Settings
    now: datetime

    @property
    def locale(self) -> str:
        if self.user is not None:
            return self.user.locale
        return self.settings.locale

    def t(self, key: str, /, **params: object) -> str:
        return translate(key, self.locale, **params)
