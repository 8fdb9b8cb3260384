"""A whole commune imported as a data collection tool exports it: the lists, the Word report
and /summary must give every support group the same count, and that count must be the one
found by reading the answers themselves.

The answers are random but follow the form (the importer checks every one of them), and
about a third of the members asked "cần hỗ trợ gì" skip it, as the form's hint allows.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook

from classification.age import DEFAULT_REFERENCE
from exports.export_run import Format
from exports.stats import build_report
from exports.summary import render_summary
from storage.models import HouseholdCategory
from storage.uow import UnitOfWork
from tests.conftest import Database
from tests.exports.helpers import table
from tests.exports.random_commune import CATEGORIES, YEAR, Commune, export, load, random_commune

# The support groups and their lists, as the plan names them.
LISTS = {
    "no_job": "Không có việc làm",
    "unwilling": "Không muốn đi làm",
    "unstable_or_expand": "Việc làm không ổn định",
    "no_capacity": "Không có khả năng lao động",
}
DOCX_GROUP = {
    "no_job": "Nhóm lao động không có việc làm",
    "unwilling": "Nhóm lao động không muốn đi làm",
    "unstable_or_expand": "Nhóm lao động đã có việc làm nhưng việc làm không ổn định",
}


def group_of(member: dict[str, Any]) -> str | None:
    """The plan's support group read straight from the answers (not our classifier)."""
    if member.get("labour_capacity") == "no":
        return "no_capacity"
    status = member.get("employment_status")
    if status in ("no_job", "looking"):
        return "no_job"
    if status == "unwilling":
        return "unwilling"
    if status == "employed" and (member["job_stable"] == "no" or member["wants_expand"] == "yes"):
        return "unstable_or_expand"
    return None


def expected_counts(commune: Commune) -> Counter[tuple[str, str]]:
    """(group, category) -> members."""
    counts: Counter[tuple[str, str]] = Counter()
    for household in commune.households:
        for member in household.members:
            group = group_of(member)
            if group is not None:
                counts[(group, commune.categories[household.code])] += 1
    return counts


def counts_in(text: str) -> list[int]:
    """The "N người" figures of a sentence, in order ("1.281" and "04" included)."""
    return [int(n.replace(".", "")) for n in re.findall(r"(\d[\d.]*) người", text)]


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("odk", "xlsx", "docx")}
    for folder in made.values():
        folder.mkdir()
    return made


async def test_lists_report_and_summary_agree_on_every_group(
    database: Database, folders: dict[str, Path]
) -> None:
    # Ages as the bot counts them: at the review's reference date (31/12 by default).
    reference = DEFAULT_REFERENCE.on(YEAR)
    commune = random_commune(reference)
    await load(database, commune, folders["odk"], reference)
    expected = expected_counts(commune)

    def total(group: str) -> int:
        return sum(expected[(group, category)] for category in CATEGORIES)

    def by_category(group: str) -> list[int]:
        return [expected[(group, category)] for category in CATEGORIES]

    # The dataset has what the test is about: every group in every category, and members
    # with no job who skipped the support question.
    assert all(expected[(g, c)] for g in LISTS for c in CATEGORIES)
    skipped = [
        m
        for h in commune.households
        for m in h.members
        if group_of(m) == "no_job" and "support_needs" not in m
    ]
    assert len(skipped) >= 10

    # The lists: one row per member of the group.
    book = load_workbook(io.BytesIO(await export(database, Format.XLSX, folders["xlsx"])))
    for group, title in LISTS.items():
        assert len(table(book, title)) == total(group), group
    members = table(book, "Thành viên")
    assert sum(len(h.members) for h in commune.households) == len(members)
    assert [m["Họ tên"] for m in members if m["Kết quả phân nhóm (mã)"] == "incomplete"] == []

    # The Word report: the group lines, and the sentences per category before them.
    word = WordDocument(io.BytesIO(await export(database, Format.DOCX, folders["docx"])))
    paragraphs = [p.text for p in word.paragraphs]
    for group, opening in DOCX_GROUP.items():
        [line] = [p for p in paragraphs if opening in p]
        assert counts_in(line) == [total(group)], group
    [seeking] = [p for p in paragraphs if p.startswith("- Qua thống kê")]
    assert counts_in(seeking) == by_category("no_job")
    [unable] = [p for p in paragraphs if p.startswith("- Đối với")]
    assert counts_in(unable) == by_category("no_capacity")

    # /summary: the same figures per category, in its numbers and in its text.
    async with UnitOfWork(database.sessions) as uow:
        area = await uow.areas.by_code("87-MH")
        assert area is not None
        report = await build_report(uow, area, YEAR)
    for index, category in enumerate(HouseholdCategory):
        counts = report.counts(category)
        assert counts.seeking == by_category("no_job")[index], category
        assert counts.unable == by_category("no_capacity")[index], category
        assert counts.status("unwilling") == by_category("unwilling")[index], category
    text = render_summary(report).split("\n")
    support = text[text.index("Người cần hỗ trợ:") :]
    assert counts_in(support[1]) + counts_in(support[2]) == by_category("no_job")
