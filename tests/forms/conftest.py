"""Builds small XLSForm workbooks on disk so each test states exactly the form it needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from forms.model import Form
from forms.xlsform import parse_workbook

TODAY = date(2025, 10, 1)
VI, EN = "label::Vietnamese (vi)", "label::English (en)"

Rows = Sequence[dict[str, Any]]


def write_workbook(
    path: Path,
    survey: Rows,
    choices: Rows = (),
    settings: dict[str, Any] | None = None,
    extra_sheets: Sequence[str] = (),
) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    sheets: list[tuple[str, Rows]] = [("survey", survey)]
    if choices:
        sheets.append(("choices", choices))
    sheets.append(("settings", [settings or {"form_id": "fixture", "version": "1"}]))
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        header: list[str] = []
        for row in rows:
            header += [key for key in row if key not in header]
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(column) for column in header])
    for title in extra_sheets:
        workbook.create_sheet(title).append(["list_name", "name"])
    workbook.save(path)
    return path


MakeForm = Callable[..., Form]


@pytest.fixture
def make_form(tmp_path: Path) -> MakeForm:
    counter = iter(range(10_000))

    def build(survey: Rows, choices: Rows = (), **kwargs: Any) -> Form:
        path = write_workbook(tmp_path / f"form{next(counter)}.xlsx", survey, choices, **kwargs)
        return parse_workbook(path)

    return build


def q(kind: str, name: str, label: str | None = None, **columns: Any) -> dict[str, Any]:
    """A survey row; the English label defaults to the Vietnamese one."""
    row: dict[str, Any] = {"type": kind, "name": name}
    if label is not None:
        row[VI] = label
        row[EN] = columns.pop("en", label)
    row.update({key.replace("__", "::"): value for key, value in columns.items()})
    return row


def c(list_name: str, name: str, vi: str, en: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"list_name": list_name, "name": name, VI: vi, EN: en or vi, **extra}


YES_NO = [c("yn", "yes", "Có", "Yes"), c("yn", "no", "Không", "No")]
