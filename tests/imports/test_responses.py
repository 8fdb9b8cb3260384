"""Importing questionnaires filled on paper, in ODK or in Kobo, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from forms import Done, Invalid, load_bundled_form, next_step
from forms.codec import assemble
from storage.imports import ImportFailed, import_areas, import_roster
from storage.imports.responses import import_responses
from storage.imports.responses_answers import cell_value
from storage.models import Answer, AuditEntry, Household, Interview, InterviewStatus
from tests.imports.files import AREA_HEADER_EN, ROSTER_HEADER_EN, TREE, write_csv
from tests.imports.responses_files import (
    HouseholdData,
    kobo_export,
    kobo_labels_export,
    member_rows,
    odk_export,
)

Sessions = async_sessionmaker[AsyncSession]
YEAR = 2025
TODAY = date(2025, 6, 1)
FORM = load_bundled_form()
KOBO_MAIN = "Phiếu rà soát hộ nghèo, hộ cận"

ROSTER = [
    ("H001", "AP1", "Trần Công Hải", "hộ nghèo", "Trần Công Hải", "nam", "11/6/1974", "chủ hộ"),
    ("H002", "AP2", "Đặng Hữu Thắng", "cận nghèo", "Đặng Hữu Thắng", "nam", "1971", "chủ hộ"),
    ("H003", "AP2", "Võ Thị Hằng", "hộ nghèo", "Võ Thị Hằng", "nữ", "1982", "chủ hộ"),
]

HOUSE = {
    "category": "poor",
    "area_type": "rural",
    "house_wall": "durable",
    "house_column": "durable",
    "house_roof": "not_durable",
    "floor_area_m2": Decimal("42.5"),
    "water_source": "drilled_well",
    "latrine": "semi_septic",
    "info_devices": ["tv", "smartphone"],
    "waste_disposal": "collected",
    "income_per_capita_month": 1500000,
    "housing_difficulty": "yes",
}
ADULT = {
    "health_insurance": "yes",
    "education_level": "primary",
    "vocational_level": "none",
    "uses_internet": "yes",
    "pension_or_allowance": "no",
}
H001_MEMBERS: list[dict[str, Any]] = [
    {
        "name": "Trần Công Hải",
        "sex": "male",
        "birth_known": "full_date",
        "birth_date": date(1974, 6, 11),
        "relation": "head",
        "labour_capacity": "yes",
        "employment_status": "employed",
        "job_stable": "no",
        "wants_expand": "yes",
        "support_needs": ["loan", "production_support"],
        "production_support_kinds": ["livestock"],
        **ADULT,
        "education_level": "lower_secondary",
    },
    {
        "name": "Lê Thị Mai",
        "sex": "female",
        "birth_known": "year_only",
        "birth_year": 1976,
        "relation": "spouse",
        "labour_capacity": "yes",
        "employment_status": "homemaker",
        "support_needs": ["vocational_training"],
        "training_trade": "May mặc",
        **ADULT,
        "uses_internet": "no",
    },
    {
        "name": "Trần Minh Bình",
        "sex": "male",
        "birth_known": "full_date",
        "birth_date": date(2007, 1, 25),
        "relation": "child",
        "labour_capacity": "yes",
        "employment_status": "studying",
        "in_school": "yes",
        "school_level": "upper_secondary",
        "onjob_training": "no",
        **ADULT,
    },
    {
        "name": "Trần Thị Lan",
        "sex": "female",
        "birth_known": "full_date",
        "birth_date": date(2015, 9, 2),
        "relation": "child",
        "health_insurance": "yes",
        "in_school": "yes",
        "school_level": "primary",
        "uses_internet": "yes",
        "malnourished": "no",
    },
    {
        "name": "Nguyễn Thị Tư",
        "sex": "female",
        "birth_known": "year_only",
        "birth_year": 1940,
        "relation": "parent",
        "labour_capacity": "no",
        "incapacity_reason": "old_age",
        **ADULT,
        "education_level": "none",
        "uses_internet": "no",
        "pension_or_allowance": "yes",
    },
]


def households() -> list[HouseholdData]:
    return [
        HouseholdData("H001", {**HOUSE, "member_count": 5}, copy.deepcopy(H001_MEMBERS)),
        HouseholdData(
            "H002",
            {**HOUSE, "category": "near_poor", "info_devices": ["phone"], "member_count": 1},
            [
                {
                    "name": "Đặng Hữu Thắng",
                    "sex": "male",
                    "birth_known": "year_only",
                    "birth_year": 1971,
                    "relation": "head",
                    "labour_capacity": "yes",
                    "employment_status": "employed",
                    "job_stable": "yes",
                    "wants_expand": "no",
                    **ADULT,
                }
            ],
        ),
        HouseholdData(
            "H003",
            # Income is optional: left empty, it is stored as skipped.
            {**HOUSE, "income_per_capita_month": None, "member_count": 2},
            [
                {
                    "name": "Võ Thị Hằng",
                    "sex": "female",
                    "birth_known": "year_only",
                    "birth_year": 1982,
                    "relation": "head",
                    "labour_capacity": "yes",
                    "employment_status": "no_job",
                    **ADULT,
                },
                {
                    "name": "Võ Văn Tí",
                    "sex": "male",
                    "birth_known": "full_date",
                    "birth_date": date(2023, 2, 1),
                    "relation": "child",
                    "health_insurance": "yes",
                    "malnourished": "yes",
                },
            ],
        ),
    ]


# Exactly what the chat would have stored for H001: calculations included, and the one
# optional question asked but left empty absent here because none was.
EXPECTED_H001: dict[str, Any] = {
    "household_code": "H001",
    **HOUSE,
    "member_count": 5,
    "members": [
        {**H001_MEMBERS[0], "member_no": 1, "age": 50},
        {**H001_MEMBERS[1], "member_no": 2, "age": 49},
        {**H001_MEMBERS[2], "member_no": 3, "age": 18},
        {**H001_MEMBERS[3], "member_no": 4, "age": 9},
        {**H001_MEMBERS[4], "member_no": 5, "age": 85},
    ],
}


@pytest.fixture
async def roster(sessions: Sessions, tmp_path: Path) -> None:
    await import_areas(sessions, write_csv(tmp_path / "areas.csv", AREA_HEADER_EN, TREE))
    await import_roster(
        sessions, write_csv(tmp_path / "roster.csv", ROSTER_HEADER_EN, ROSTER), year=YEAR
    )


async def run(sessions: Sessions, path: Path) -> Any:
    return await import_responses(sessions, path, year=YEAR, reference_date=TODAY)


async def stored(sessions: Sessions) -> dict[str, dict[str, Any]]:
    """Each household's completed interview, as engine answers plus its metadata."""
    async with sessions() as session:
        query = (
            select(Interview, Household.code)
            .join(Household, Household.id == Interview.household_id)
            .where(Interview.status == InterviewStatus.COMPLETED)
        )
        found: dict[str, dict[str, Any]] = {}
        for interview, code in (await session.execute(query)).all():
            rows = await session.execute(
                select(Answer.path, Answer.value).where(Answer.interview_id == interview.id)
            )
            found[code] = {
                "answers": assemble(FORM, [(path, value) for path, value in rows]),
                "source": interview.source,
                "collaborator": interview.collaborator_id,
                "form": (interview.form_id, interview.form_version),
                "prefill": interview.prefill,
                "completed": interview.completed_at is not None,
            }
        return found


async def audit(sessions: Sessions) -> list[AuditEntry]:
    async with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == "responses.imported")
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def interview_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(Interview.id))).all())


def located(failure: ImportFailed) -> list[tuple[str | None, int | None, str | None, str]]:
    return [
        (getattr(error, "sheet", None), error.row, error.column, error.message_key)
        for error in failure.errors
    ]


# -- valid files -------------------------------------------------------------------------


async def test_a_kobo_export_stores_what_the_chat_would_have(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    path = kobo_export(tmp_path / "kobo.xlsx", households())
    result = await run(sessions, path)

    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert result.details["members"] == 8
    found = await stored(sessions)
    assert set(found) == {"H001", "H002", "H003"}
    assert found["H001"]["answers"] == EXPECTED_H001
    assert found["H001"]["source"] == "import:kobo.xlsx"
    assert found["H001"]["collaborator"] is None
    assert found["H001"]["form"] == (FORM.form_id, FORM.version)
    assert found["H001"]["prefill"] == {}
    assert found["H001"]["completed"]
    h003 = found["H003"]["answers"]
    assert "income_per_capita_month" in h003 and h003["income_per_capita_month"] is None
    # Relevant but left empty (no job, no support asked for): stored as skipped.
    assert "support_needs" in h003["members"][0] and h003["members"][0]["support_needs"] is None
    for household in found.values():
        assert isinstance(next_step(FORM, household["answers"], today=TODAY), Done)

    (entry,) = await audit(sessions)
    assert entry.details["file"] == "kobo.xlsx"
    assert (entry.details["created"], entry.details["updated"], entry.details["unchanged"]) == (
        3,
        0,
        0,
    )
    assert "3" in result.render("vi") and "3" in result.render("en")


@pytest.mark.parametrize(("language", "joiner"), [("vi", " "), ("en", ", ")])
async def test_kobos_labels_export_stores_the_same_as_its_codes(
    sessions: Sessions, roster: None, tmp_path: Path, language: str, joiner: str
) -> None:
    path = kobo_labels_export(tmp_path / "labels.xlsx", households(), language, joiner=joiner)
    result = await run(sessions, path)

    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert (await stored(sessions))["H001"]["answers"] == EXPECTED_H001
    # The same answers as codes: nothing to change.
    again = await run(sessions, kobo_export(tmp_path / "labels.xlsx", households()))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


async def test_an_odk_export_and_split_choice_columns_read_the_same(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    await run(sessions, odk_export(tmp_path / "odk.xlsx", households()))
    from_odk = {code: item["answers"] for code, item in (await stored(sessions)).items()}
    assert from_odk["H001"] == EXPECTED_H001

    # The same answers from Kobo with one 0/1 column per choice: identical, so unchanged.
    split = kobo_export(tmp_path / "split.xlsx", households(), split_multiple=True)
    result = await run(sessions, split)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    # Kobo's default: both the joined column and the 0/1 ones; the joined one is read.
    both = kobo_export(tmp_path / "both.xlsx", households(), split_multiple=True, keep_joined=True)
    result = await run(sessions, both)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)


async def test_importing_again_changes_nothing_and_a_corrected_file_replaces(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    path = kobo_export(tmp_path / "xa_my_hoa.xlsx", households())
    await run(sessions, path)
    before = await stored(sessions)

    again = await run(sessions, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert again.details["answers"] == 0
    assert await stored(sessions) == before
    assert await interview_count(sessions) == 3

    corrected = households()
    corrected[1].answers["latrine"] = "septic"
    result = await run(sessions, kobo_export(tmp_path / "xa_my_hoa.xlsx", corrected))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    after = await stored(sessions)
    assert after["H002"]["answers"]["latrine"] == "septic"
    assert after["H001"] == before["H001"]
    assert await interview_count(sessions) == 3
    assert len(await audit(sessions)) == 3


# -- errors ------------------------------------------------------------------------------


async def test_every_error_is_reported_at_once_and_nothing_is_written(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    data = households()
    h001, h002, h003 = data
    h001.answers["floor_area_m2"] = 0  # constraint, with the form's own message
    h001.answers["water_source"] = "river"  # not a choice code
    h001.answers["latrine"] = None  # required
    h001.members[1]["birth_date"] = date(1976, 1, 1)  # year_only: birth date not asked
    h001.members[2]["birth_year"] = "khoảng 2000"  # not a year (and not relevant)
    h001.members[4]["birth_year"] = "năm 19x0"  # unreadable: its dependants stay quiet
    h002.answers["member_count"] = 2  # but one member row
    h003.answers["info_devices"] = ["tv", "none"]  # constraint on a select_multiple
    h003.members[1]["relation"] = "head"  # a second head
    data.append(HouseholdData("H999", {**HOUSE, "member_count": 1}, [h002.members[0]]))
    path = kobo_export(tmp_path / "errors.xlsx", data)
    rows = member_rows(data)

    with pytest.raises(ImportFailed) as failure:
        await run(sessions, path)

    members = "members"
    assert located(failure.value) == [
        (KOBO_MAIN, 2, "household/floor_area_m2", "imports.responses.invalid_answer"),
        (KOBO_MAIN, 2, "household/water_source", "imports.responses.invalid_answer"),
        (KOBO_MAIN, 2, "household/latrine", "imports.responses.missing_answer"),
        (KOBO_MAIN, 3, "household/member_count", "imports.responses.repeat_size_mismatch"),
        (KOBO_MAIN, 4, "household/info_devices", "imports.responses.invalid_answer"),
        (KOBO_MAIN, 5, "household/household_code", "imports.responses.unknown_household"),
        (members, rows[("H001", 1)], "members/birth_date", "imports.responses.not_relevant"),
        (members, rows[("H001", 2)], "members/birth_year", "imports.responses.invalid_answer"),
        (members, rows[("H001", 4)], "members/birth_year", "imports.responses.invalid_answer"),
        # Only the second head, as the chat would have refused it.
        (members, rows[("H003", 1)], "members/relation", "imports.responses.invalid_answer"),
    ]
    text = failure.value.render("vi", limit=None)
    assert "Trang tính 'members', dòng 6, cột 'members/birth_year'" in text
    assert "Diện tích phải lớn hơn 0 và không quá 1.000 m²." in text
    assert "giá trị 'river' không hợp lệ: đây không phải mã lựa chọn" in text
    assert "cùng với thiết bị khác." in text
    assert "Mỗi hộ chỉ có một chủ hộ." in text
    assert "hộ 'H999' không có trong danh sách rà soát năm 2025" in text
    english = failure.value.render("en", limit=None)
    assert "The area must be above 0 and at most 1,000 m²." in english
    assert "Sheet 'members', row 6, column 'members/birth_year'" in english

    assert await interview_count(sessions) == 0
    assert await audit(sessions) == []


async def test_problems_with_the_shape_of_the_file(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    data = households()
    data.append(HouseholdData("H001", {**HOUSE, "member_count": 1}, [data[1].members[0]]))
    # An unknown column is an error only when it holds something.
    notes: dict[str, Sequence[object]] = {
        "ghi_chu": [None, None, None, "xem lại"],
        "STT": [None] * 4,
    }
    path = kobo_export(tmp_path / "shape.xlsx", data, extra_columns=notes)
    # A member row pointing at a submission the household sheet does not have.
    workbook = load_workbook(path)
    sheet = workbook["members"]
    orphan = [cell.value for cell in sheet[2]]
    orphan[-2] = 99
    sheet.append(orphan)
    workbook.save(path)
    last_row = sheet.max_row

    with pytest.raises(ImportFailed) as failure:
        await run(sessions, path)
    assert located(failure.value) == [
        (KOBO_MAIN, 1, "ghi_chu", "imports.responses.unknown_column"),
        (KOBO_MAIN, 5, "household/household_code", "imports.responses.duplicate_household"),
        ("members", last_row, "_parent_index", "imports.responses.orphan_row"),
    ]


async def test_a_file_without_codes_or_links_is_refused_up_front(
    sessions: Sessions, tmp_path: Path
) -> None:
    workbook = Workbook()
    main = workbook.active
    assert main is not None
    main.append(["category", "member_count"])
    main.append(["poor", 1])
    members = workbook.create_sheet("thanh_vien")
    members.append(["name"])
    members.append(["Nguyễn Văn A"])
    workbook.save(tmp_path / "bare.xlsx")

    with pytest.raises(ImportFailed) as failure:
        await run(sessions, tmp_path / "bare.xlsx")
    assert [key for *_, key in located(failure.value)] == [
        "imports.responses.missing_code_column",
        "imports.responses.missing_link_column",
    ]

    (tmp_path / "answers.csv").write_text("household_code\nH001\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, tmp_path / "answers.csv")
    assert [key for *_, key in located(failure.value)] == ["imports.responses.xlsx_only"]


# -- households interviewed another way --------------------------------------------------


async def test_a_household_interviewed_in_the_chat_is_not_overwritten(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    await run(sessions, kobo_export(tmp_path / "first.xlsx", households()))
    now = datetime.now(UTC)
    async with sessions() as session:
        ids = dict((await session.execute(select(Household.code, Household.id))).all())
        # H001 was (in fact) done in the chat with the same answers; H002 in the chat with
        # other answers; H003 has a chat interview still open.
        await session.execute(
            update(Interview).where(Interview.household_id == ids["H001"]).values(source="chat")
        )
        await session.execute(
            update(Interview).where(Interview.household_id == ids["H002"]).values(source="chat")
        )
        await session.execute(
            update(Interview)
            .where(Interview.household_id == ids["H003"])
            .values(status=InterviewStatus.CANCELLED)
        )
        session.add(
            Interview(
                household_id=ids["H003"],
                collaborator_id=None,
                form_id=FORM.form_id,
                form_version=FORM.version,
                status=InterviewStatus.IN_PROGRESS,
                prefill={},
                source="chat",
                started_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    before = await stored(sessions)

    changed = households()
    changed[1].answers["housing_difficulty"] = "no"
    path = kobo_export(tmp_path / "second.xlsx", changed)
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, path)
    assert located(failure.value) == [
        (KOBO_MAIN, 3, "household/household_code", "imports.responses.interviewed_in_chat"),
        (KOBO_MAIN, 4, "household/household_code", "imports.responses.open_interview"),
    ]
    assert "hộ 'H002' đã được phỏng vấn qua chat" in failure.value.render("vi")
    assert await stored(sessions) == before

    # Identical answers are no conflict, whatever their source.
    without_open = households()[:2]
    result = await run(sessions, kobo_export(tmp_path / "third.xlsx", without_open))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)


async def test_a_household_imported_from_another_file_is_not_overwritten(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    await run(sessions, odk_export(tmp_path / "odk.xlsx", households()[:1]))
    changed = households()[:1]
    changed[0].members[0]["health_insurance"] = "no"
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, kobo_export(tmp_path / "kobo.xlsx", changed))
    assert located(failure.value) == [
        (KOBO_MAIN, 2, "household/household_code", "imports.responses.imported_from_other_file")
    ]
    assert "'odk.xlsx'" in failure.value.render("vi")


# -- cells (no database) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cell", "expected"),
    [
        ("floor_area_m2", 42.5, Decimal("42.5")),
        ("floor_area_m2", "42.125", Decimal("42.125")),
        ("income_per_capita_month", "1.500.000", 1500000),
        ("income_per_capita_month", 1500000.0, 1500000),
        ("birth_date", datetime(1985, 3, 12), date(1985, 3, 12)),
        ("birth_date", "1985-03-12", date(1985, 3, 12)),
        ("birth_date", "12/3/1985", date(1985, 3, 12)),
        ("birth_date", 31118, date(1985, 3, 12)),
        ("birth_year", 1985, 1985),
        ("sex", "female", "female"),
        ("sex", "Nữ", "female"),
        ("info_devices", "tv  smartphone", ["tv", "smartphone"]),
        ("info_devices", "Điện thoại thông minh, Ti vi", ["tv", "smartphone"]),
        ("name", 101, "101"),
        # Labels hold commas and spaces themselves: the longest known label is taken.
        ("info_devices", "Ti vi, Đài, radio", ["tv", "radio"]),
        ("info_devices", "Đài, radio Ti vi", ["tv", "radio"]),
        ("info_devices", "ti vi; dai, radio; dien thoai thuong", ["tv", "radio", "phone"]),
        ("info_devices", "TV, Radio, Basic phone", ["tv", "radio", "phone"]),
        ("category", "Hộ cận nghèo", "near_poor"),
        ("category", "near-poor household", "near_poor"),
        ("support_needs", "Vay vốn Học nghề", ["vocational_training", "loan"]),
    ],
)
def test_cells_become_engine_values(name: str, cell: Any, expected: Any) -> None:
    assert cell_value(FORM, FORM.fields[name], cell) == expected


@pytest.mark.parametrize(
    ("name", "cell", "key"),
    [
        # A bare number is a position in the chat, never in a file of codes.
        ("sex", "2", "imports.responses.unknown_choice"),
        ("info_devices", "tv radios", "imports.responses.unknown_choice_part"),
        ("member_count", 2.5, "forms.not_an_integer"),
        ("birth_date", "31/2/1985", "forms.invalid_date"),
        ("floor_area_m2", "rộng", "forms.not_a_number"),
    ],
)
def test_unreadable_cells_say_why(name: str, cell: Any, key: str) -> None:
    result = cell_value(FORM, FORM.fields[name], cell)
    assert getattr(result, "key", None) == key


def test_an_unknown_label_among_several_is_named() -> None:
    result = cell_value(FORM, FORM.fields["info_devices"], "Ti vi, Máy giặt; Đài, radio")
    assert isinstance(result, Invalid)
    assert result.text("vi").startswith("không có lựa chọn nào là 'Máy giặt' (các lựa chọn: ")
    assert "radio “Đài, radio”" in result.text("vi")


async def test_interviews_imported_before_the_roster_get_one_error_with_the_fix(
    sessions: Sessions, tmp_path: Path
) -> None:
    path = kobo_export(tmp_path / "kobo.xlsx", households())
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, path)

    assert located(failure.value) == [(None, None, None, "imports.responses.no_roster")]
    text = failure.value.render("vi")
    assert "Chưa có danh sách hộ rà soát năm 2025" in text
    assert "3 hộ của tệp" in text
    assert "rasoat roster import TỆP --year 2025" in text
    assert await interview_count(sessions) == 0


async def test_a_file_of_no_household_on_the_roster_gets_one_error(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    data = households()
    for number, household in enumerate(data, start=901):
        household.code = f"H{number}"
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, kobo_export(tmp_path / "kobo.xlsx", data))

    assert located(failure.value) == [(None, None, None, "imports.responses.none_on_roster")]
    assert "danh sách rà soát năm 2025 (3 hộ)" in failure.value.render("vi")


async def test_an_empty_member_count_is_missing_not_zero_members(
    sessions: Sessions, roster: None, tmp_path: Path
) -> None:
    data = households()
    data[0].answers["member_count"] = None
    with pytest.raises(ImportFailed) as failure:
        await run(sessions, kobo_export(tmp_path / "kobo.xlsx", data))

    assert located(failure.value) == [
        (KOBO_MAIN, 2, "household/member_count", "imports.responses.missing_answer")
    ]
    assert "0 thành viên" not in failure.value.render("vi")
