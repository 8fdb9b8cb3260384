"""Writing ODK Central and KoboToolbox style XLSX exports of the bundled form for the tests.

Households are given as engine values (codes, dates, lists of codes, numbers); the
writers turn them into cells the way each tool exports them. A value that is a plain
string is written as is, so tests can put anything in a cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

HOUSEHOLD_FIELDS = (
    "category",
    "area_type",
    "house_wall",
    "house_column",
    "house_roof",
    "floor_area_m2",
    "water_source",
    "latrine",
    "info_devices",
    "waste_disposal",
    "income_per_capita_month",
    "housing_difficulty",
    "member_count",
)
MEMBER_FIELDS = (
    "name",
    "sex",
    "birth_known",
    "birth_date",
    "birth_year",
    "relation",
    "age",
    "labour_capacity",
    "incapacity_reason",
    "employment_status",
    "job_stable",
    "wants_expand",
    "support_needs",
    "training_trade",
    "production_support_kinds",
    "health_insurance",
    "in_school",
    "school_level",
    "education_level",
    "vocational_level",
    "onjob_training",
    "uses_internet",
    "malnourished",
    "pension_or_allowance",
)
LABOUR_GROUP = frozenset(MEMBER_FIELDS[7:15])
SUPPORT_CODES = (
    "vocational_training",
    "job_referral",
    "overseas_work",
    "loan",
    "production_support",
)


@dataclass
class HouseholdData:
    code: str
    answers: dict[str, object]
    members: list[dict[str, object]] = field(default_factory=list)


def _kobo_cell(value: object) -> object:
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _odk_cell(value: object) -> object:
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        # A real date cell, as a spreadsheet opened and saved by Excel has.
        return datetime(value.year, value.month, value.day)
    if isinstance(value, Decimal):
        return float(value)
    return value


def kobo_export(
    path: Path,
    households: Sequence[HouseholdData],
    *,
    split_multiple: bool = False,
    keep_joined: bool = False,
    extra_columns: dict[str, Sequence[object]] | None = None,
) -> Path:
    """Kobo's "XML values and headers" export: group paths joined by "/", ``_index`` and
    ``_parent_index``; with ``split_multiple`` a 0/1 column per choice of support_needs,
    after the joined column (Kobo's default) or, without ``keep_joined``, instead of it."""
    workbook = Workbook()
    main = workbook.active
    assert main is not None
    main.title = "Phiếu rà soát hộ nghèo, hộ cận"  # Kobo cuts the form title to 31
    main.append(
        [
            "start",
            "end",
            "household/household_code",
            *(f"household/{name}" for name in HOUSEHOLD_FIELDS),
            *(extra_columns or {}),
            "_id",
            "_uuid",
            "_submission_time",
            "__version__",
            "_index",
        ]
    )
    member_header = [
        f"members/labour/{name}" if name in LABOUR_GROUP else f"members/{name}"
        for name in MEMBER_FIELDS
    ]
    if split_multiple:
        position = member_header.index("members/labour/support_needs")
        member_header[position + keep_joined : position + 1] = [
            f"members/labour/support_needs/{code}" for code in SUPPORT_CODES
        ]
    members = workbook.create_sheet("members")
    members.append(
        [*member_header, "_index", "_parent_table_name", "_parent_index", "_submission__id"]
    )
    member_index = 0
    for index, household in enumerate(households, start=1):
        extra = [values[index - 1] for values in (extra_columns or {}).values()]
        main.append(
            [
                "2025-05-02T08:00:00.000+07:00",
                "2025-05-02T08:20:00.000+07:00",
                household.code,
                *(_kobo_cell(household.answers.get(name)) for name in HOUSEHOLD_FIELDS),
                *extra,
                1000 + index,
                f"uuid-{index}",
                "2025-05-02T01:21:00",
                "vABC",
                index,
            ]
        )
        for member in household.members:
            member_index += 1
            cells: list[object] = []
            for name in MEMBER_FIELDS:
                value = member.get(name)
                if name == "support_needs" and split_multiple:
                    if keep_joined:
                        cells.append(_kobo_cell(value))
                    chosen = value if isinstance(value, list) else []
                    cells += [
                        None if value is None else int(code in chosen) for code in SUPPORT_CODES
                    ]
                else:
                    cells.append(_kobo_cell(value))
            members.append([*cells, member_index, "rasoat_household", index, 1000 + index])
    workbook.save(path)
    return path


def odk_export(path: Path, households: Sequence[HouseholdData]) -> Path:
    """ODK Central's export opened in Excel: groups joined by "-", ``KEY``/``PARENT_KEY``,
    the repeat sheet named ``<form id>-<repeat>``, dates as date cells."""
    workbook = Workbook()
    main = workbook.active
    assert main is not None
    main.title = "rasoat_household"
    main.append(
        [
            "SubmissionDate",
            "household_code",
            *(f"household-{name}" for name in HOUSEHOLD_FIELDS),
            "meta-instanceID",
            "KEY",
            "SubmitterID",
            "SubmitterName",
            "ReviewState",
        ]
    )
    members = workbook.create_sheet("rasoat_household-members")
    members.append(
        [
            *(f"labour-{name}" if name in LABOUR_GROUP else name for name in MEMBER_FIELDS),
            "PARENT_KEY",
            "KEY",
        ]
    )
    for index, household in enumerate(households, start=1):
        key = f"uuid:0000-{index:04d}"
        main.append(
            [
                datetime(2025, 5, 2, 8, 0),
                household.code,
                *(_odk_cell(household.answers.get(name)) for name in HOUSEHOLD_FIELDS),
                key,
                key,
                7,
                "ctv_my_hoa",
                None,
            ]
        )
        for position, member in enumerate(household.members, start=1):
            members.append(
                [
                    *(_odk_cell(member.get(name)) for name in MEMBER_FIELDS),
                    key,
                    f"{key}/members[{position}]",
                ]
            )
    workbook.save(path)
    return path


def member_rows(households: Sequence[HouseholdData]) -> dict[tuple[str, int], int]:
    """(household code, 0-based member index) -> the member's Excel row number."""
    rows: dict[tuple[str, int], int] = {}
    number = 1
    for household in households:
        for index in range(len(household.members)):
            number += 1
            rows[(household.code, index)] = number
    return rows


def kobo_labels_export(
    path: Path, households: Sequence[HouseholdData], language: str = "vi", *, joiner: str = " "
) -> Path:
    """Kobo's default "Labels" export: each header is the question's label with its group
    labels before it ("Thông tin hộ/Hộ có bao nhiêu nhân khẩu…?"), each choice written
    as its label (several joined by ``joiner``), and a "<question>/<choice>" 0/1 column
    per choice of a several-answer question after the joined one. Labels are the bundled
    form's own, so the file is the one Kobo makes of the form as shipped."""
    from openpyxl import load_workbook

    from forms import BUNDLED_FORM, FieldType, load_bundled_form

    form = load_bundled_form()

    def text(label: Any) -> str:
        return str(label.get(language))

    def header(name: str, groups: Sequence[str]) -> str:
        return "/".join([*groups, text(form.fields[name].label)])

    def cells(name: str, value: object) -> list[object]:
        field_ = form.fields[name]
        labels = {c.name: text(c.label) for c in form.choices.get(field_.list_name or "", ())}
        if field_.type is FieldType.SELECT_ONE and isinstance(value, str):
            return [labels[value]]
        if field_.type is FieldType.SELECT_MULTIPLE:
            chosen = value if isinstance(value, list) else []
            joined = joiner.join(labels[code] for code in chosen) if value is not None else None
            return [joined, *(None if value is None else int(code in chosen) for code in labels)]
        return [_kobo_cell(value)]

    def headers(name: str, groups: Sequence[str]) -> list[str]:
        field_ = form.fields[name]
        own = [header(name, groups)]
        if field_.type is FieldType.SELECT_MULTIPLE:
            choices = form.choices[field_.list_name or ""]
            own += [f"{own[0]}/{text(choice.label)}" for choice in choices]
        return own

    # Groups only scope relevance in the loaded form; their labels are the sheet's.
    survey = list(load_workbook(BUNDLED_FORM, read_only=True)["survey"].values)
    label = survey[0].index("label::Vietnamese (vi)" if language == "vi" else "label::English (en)")
    groups = {
        str(row[1]): str(row[label])
        for row in survey[1:]
        if str(row[0]).replace("_", " ") == "begin group"
    }
    household_group, labour = [groups["household"]], groups["labour"]
    workbook = Workbook()
    main = workbook.active
    assert main is not None
    main.title = "Phiếu rà soát hộ nghèo, hộ cận"
    household_names = ("household_code", *HOUSEHOLD_FIELDS)
    main.append(
        [
            *(h for name in household_names for h in headers(name, household_group)),
            "_id",
            "_uuid",
            "_index",
        ]
    )
    members = workbook.create_sheet("members")
    member_groups = {name: [labour] if name in LABOUR_GROUP else [] for name in MEMBER_FIELDS}
    answerable = [name for name in MEMBER_FIELDS if form.fields[name].answerable]
    members.append(
        [
            *(h for name in answerable for h in headers(name, member_groups[name])),
            "_index",
            "_parent_table_name",
            "_parent_index",
        ]
    )
    member_index = 0
    for index, household in enumerate(households, start=1):
        answers = {"household_code": household.code, **household.answers}
        row = [c for name in household_names for c in cells(name, answers.get(name))]
        main.append([*row, 1000 + index, f"uuid-{index}", index])
        for member in household.members:
            member_index += 1
            row = [c for name in answerable for c in cells(name, member.get(name))]
            members.append([*row, member_index, "rasoat_household", index])
    workbook.save(path)
    return path
