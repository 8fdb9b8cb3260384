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
