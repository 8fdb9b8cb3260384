"""The Zalo Official Account's token pairs (table ``zalo_oa_tokens``).

Zalo's refresh token works once. A refresh is three steps: a lease on the current row
(:meth:`ZaloOaTokens.begin_refresh`, committed before Zalo is called, so one process
refreshes at a time and a dead one leaves a trace), Zalo's answer, then
:meth:`ZaloOaTokens.refreshed` in one transaction: the old row marked used and the new pair
inserted. The database never holds a used refresh token as current, nor a new pair beside
a current old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from storage.models import ZaloOaToken

SET = "set"
REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class OaToken:
    """The current pair, as plain values (it crosses threads and outlives its session)."""

    id: int
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    source: str
    created_at: datetime
    refreshing_until: datetime | None
    refused_at: datetime | None


def _plain(row: ZaloOaToken) -> OaToken:
    return OaToken(
        row.id,
        row.access_token,
        row.refresh_token,
        row.access_expires_at,
        row.refresh_expires_at,
        row.source,
        row.created_at,
        row.refreshing_until,
        row.refused_at,
    )


class ZaloOaTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current(self) -> OaToken | None:
        """The pair whose refresh token is not spent (the newest, should there be two)."""
        row = self.session.scalar(
            select(ZaloOaToken)
            .where(ZaloOaToken.used_at.is_(None))
            .order_by(ZaloOaToken.id.desc())
            .limit(1)
        )
        return None if row is None else _plain(row)

    def set(
        self,
        access_token: str,
        refresh_token: str,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        now: datetime,
    ) -> OaToken:
        """The operator's pair (bootstrap, or after Zalo refused a refresh): every other
        row is set aside as used."""
        self._spend(None, now)
        return self._insert(
            access_token, refresh_token, access_expires_at, refresh_expires_at, SET, now
        )

    def begin_refresh(self, token_id: int, worker: str, now: datetime, lease: timedelta) -> bool:
        """Take the right to spend ``token_id``'s refresh token until now + lease; False if
        it is spent, or another process holds a lease that has not run out."""
        result = self.session.execute(
            update(ZaloOaToken)
            .where(
                ZaloOaToken.id == token_id,
                ZaloOaToken.used_at.is_(None),
                or_(
                    ZaloOaToken.refreshing_until.is_(None),
                    ZaloOaToken.refreshing_until <= now,
                ),
            )
            .values(refreshing_by=worker, refreshing_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def refreshed(
        self,
        token_id: int,
        access_token: str,
        refresh_token: str,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        now: datetime,
    ) -> OaToken:
        """Zalo's new pair for ``token_id``'s refresh token: the old row used, the new one
        current, in the caller's one transaction."""
        self._spend(token_id, now)
        return self._insert(
            access_token, refresh_token, access_expires_at, refresh_expires_at, REFRESH, now
        )

    def refused(self, token_id: int, now: datetime) -> None:
        """Zalo refused ``token_id``'s refresh token: kept current (its access token may
        still work until it expires), marked so the operator is told."""
        self._release(token_id, refused_at=now)

    def abandon(self, token_id: int) -> None:
        """A refresh that did not get Zalo's answer (the network, Zalo down): the lease is
        given back so the next try need not wait for it."""
        self._release(token_id)

    def _release(self, token_id: int, **values: datetime) -> None:
        self.session.execute(
            update(ZaloOaToken)
            .where(ZaloOaToken.id == token_id)
            .values(refreshing_by=None, refreshing_until=None, **values)
            .execution_options(synchronize_session=False)
        )

    def _spend(self, token_id: int | None, now: datetime) -> None:
        condition: ColumnElement[bool] = ZaloOaToken.used_at.is_(None)
        if token_id is not None:
            condition = and_(condition, ZaloOaToken.id == token_id)
        self.session.execute(
            update(ZaloOaToken)
            .where(condition)
            .values(used_at=now, refreshing_by=None, refreshing_until=None)
            .execution_options(synchronize_session=False)
        )

    def _insert(
        self,
        access_token: str,
        refresh_token: str,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        source: str,
        now: datetime,
    ) -> OaToken:
        row = ZaloOaToken(
            access_token=access_token,
            refresh_token=refresh_token,
            access_expires_at=access_expires_at,
            refresh_expires_at=refresh_expires_at,
            source=source,
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _plain(row)
