"""The scheduled-report sweep over a real database: on 1 January at 07:00 Vietnam time the
commune's staff get the fourth quarter's report (the text, with how to get the files), the
half year's and the year's, under keys that make them go once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.decisions.report_schedule import parse_schedule
from bot.dialogs.reports import send_due_reports
from bot.messages import Text
from storage.models import Role
from storage.uow import UnitOfWork
from tests.conftest import Database, database_settings
from tests.helpers import add_person
from tests.reports.test_storage import _seed

SCHEDULE = """
send_at = "07:00"
[[recipients]]
area = "87-MH"
spans = ["quarter", "half", "year"]
roles = ["commune_staff"]
"""


async def test_the_new_year_sweep(database: Database) -> None:
    await _seed(database)
    staff = await add_person(
        database.sessions, "telegram", "55", "Cán bộ xã", Role.COMMUNE_STAFF, "87-MH"
    )
    settings = database_settings(database)
    schedule = parse_schedule(SCHEDULE)
    now = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    async with UnitOfWork(database.sessions) as uow:
        early = await uow.run(
            lambda work: send_due_reports(
                work, settings, datetime(2026, 12, 31, 23, tzinfo=UTC), schedule
            )
        )
        sent = await uow.run(lambda work: send_due_reports(work, settings, now, schedule))
        # The next minute's sweep finds them queued: nothing is worked out or written again.
        again = await uow.run(
            lambda work: send_due_reports(work, settings, now + timedelta(minutes=1), schedule)
        )
        queued = await uow.outbox.known(m.dedupe_key for m in [*early, *sent])
        await uow.commit()
    assert again == []
    assert queued == {m.dedupe_key for m in [*early, *sent]}
    async with UnitOfWork(database.sessions) as uow:
        assert (await uow.outbox.counts()).pending == 6
    assert {m.dedupe_key for m in early} == {
        "report:87-MH:2026-Q3:" + str(staff.id),
        "report:87-MH:2026-H1:" + str(staff.id),
        "report:87-MH:2025:" + str(staff.id),
    }
    keys = {m.dedupe_key: m for m in sent}
    assert set(keys) == {
        f"report:87-MH:2026-Q4:{staff.id}",
        f"report:87-MH:2026-H2:{staff.id}",
        f"report:87-MH:2026:{staff.id}",
    }
    q4 = keys[f"report:87-MH:2026-Q4:{staff.id}"]
    assert q4.user_id == staff.id and q4.not_before == now
    assert isinstance(q4.message, Text)
    assert "quý 4/2026 — Xã Mỹ Hòa" in q4.message.text
    assert "1 người đã có việc làm; 1 người đã đi học nghề" in q4.message.text
    assert "Gõ /baocao quy 4 2026 87-MH để nhận tệp Excel và Word" in q4.message.text
