"""Reading sheets and cells: no database needed."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.imports import AREA_COLUMNS, ROSTER_COLUMNS, ImportFailed, RowError, values
from storage.imports.tabular import header_key, read_table
from storage.models import HouseholdCategory
from tests.imports.files import AREA_HEADER_EN, AREA_HEADER_VI, keys, write_csv, write_xlsx

ROW = ("87", "Tỉnh Đồng Tháp", "tỉnh", "", "")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Mã hộ", "ma ho"),
        ("MÃ HỘ (*)", "ma ho"),
        ("  ma_ho ", "ma ho"),
        ("Họ tên thành viên", "ho ten thanh vien"),
        ("Đơn vị", "don vi"),
    ],
)
def test_header_key_ignores_accents_case_and_punctuation(header: str, expected: str) -> None:
    assert header_key(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        AREA_HEADER_VI,
        AREA_HEADER_EN,
        ("MA", "TEN", "CAP", "MA CAP TREN", "TONG SO HO"),
        ("Tổng số hộ", "Mã cấp trên", "Cấp", "Tên", "Mã"),
    ],
)
def test_vietnamese_english_and_unaccented_headers_in_any_order(
    tmp_path: Path, header: tuple[str, ...]
) -> None:
    by_name = dict(zip(AREA_HEADER_VI, ROW, strict=True))
    english = dict(zip(AREA_HEADER_EN, AREA_HEADER_VI, strict=True))
    canonical = {header_key(name): name for name in AREA_HEADER_VI}
    row = [by_name[canonical.get(header_key(name)) or english[name]] for name in header]
    table = read_table(write_csv(tmp_path / "a.csv", header, [row]), AREA_COLUMNS)
    assert table.rows[0].cells["code"] == "87"
    assert table.rows[0].cells["name"] == "Tỉnh Đồng Tháp"
    assert table.rows[0].cells["parent_code"] is None


def test_bom_and_semicolon(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", AREA_HEADER_VI, [ROW], delimiter=";", bom=True)
    table = read_table(path, AREA_COLUMNS)
    assert table.headers["code"] == "Mã"
    assert table.rows[0].cells["name"] == "Tỉnh Đồng Tháp"


def test_utf16_tab_separated_from_excel_unicode_text(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    text = "\t".join(AREA_HEADER_VI) + "\r\n" + "\t".join(ROW) + "\r\n"
    path.write_bytes(text.encode("utf-16"))
    assert read_table(path, AREA_COLUMNS).rows[0].cells["level"] == "tỉnh"


def test_decomposed_unicode_is_stored_composed(tmp_path: Path) -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Tỉnh Đồng Tháp")
    path = write_csv(tmp_path / "a.csv", AREA_HEADER_VI, [("87", decomposed, "tỉnh", "", "")])
    assert read_table(path, AREA_COLUMNS).rows[0].cells["name"] == "Tỉnh Đồng Tháp"


def test_legacy_encoding_is_a_clear_error_with_its_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        AREA_HEADER_EN,
        [("87", "Tinh", "tinh", "", ""), ("88", "Tháp", "tinh", "", "")],
        encoding="cp1258",
    )
    with pytest.raises(ImportFailed) as failure:
        read_table(path, AREA_COLUMNS)
    assert keys(failure.value) == [(3, None, "imports.not_utf8")]
    assert "CSV UTF-8" in failure.value.errors[0].render()


def test_title_rows_above_the_header_keep_excel_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "DANH SÁCH ĐỊA BÀN,,,,\n\n" + ",".join(AREA_HEADER_VI) + "\n" + ",".join(ROW) + "\n",
        encoding="utf-8",
    )
    table = read_table(path, AREA_COLUMNS)
    assert table.header_row == 3
    assert [row.number for row in table.rows] == [4]


def test_blank_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", AREA_HEADER_VI, [ROW, ("", "", "", "", ""), ROW])
    assert [row.number for row in read_table(path, AREA_COLUMNS).rows] == [2, 4]


def test_quoted_cell_with_a_line_break_is_one_excel_row(tmp_path: Path) -> None:
    row = ("88", "Tỉnh\nmới", "tỉnh", "", "")
    path = write_csv(tmp_path / "a.csv", AREA_HEADER_VI, [row, ROW])
    assert [r.number for r in read_table(path, AREA_COLUMNS).rows] == [2, 3]


def test_xlsx_first_sheet_with_title_and_typed_cells(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        AREA_HEADER_VI,
        [(87, "Tỉnh Đồng Tháp", "tỉnh", None, 3520.0)],
        title="Danh sách",
    )
    table = read_table(path, AREA_COLUMNS)
    assert table.header_row == 2
    assert table.rows[0].number == 3
    assert table.rows[0].cells["code"] == 87
    assert values.text(table.rows[0].cells["code"]) == "87"
    assert values.count(table.rows[0].cells["total_households"]) == 3520


def test_missing_columns_are_all_reported_on_the_header_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ("Mã", "Tên", "Ghi chú"), [("87", "Tỉnh", "x")])
    with pytest.raises(ImportFailed) as failure:
        read_table(path, AREA_COLUMNS)
    assert keys(failure.value) == [
        (1, None, "imports.missing_column"),
        (1, None, "imports.missing_column"),
    ]
    assert failure.value.errors[0].render() == "Dòng 1: thiếu cột bắt buộc 'Cấp' (hoặc 'level')"
    assert failure.value.errors[0].render("en") == (
        "Row 1: required column 'level' (or 'Cấp') is missing"
    )


def test_duplicate_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", (*AREA_HEADER_VI, "code"), [(*ROW, "88")])
    with pytest.raises(ImportFailed) as failure:
        read_table(path, AREA_COLUMNS)
    assert keys(failure.value) == [(1, "code", "imports.duplicate_column")]


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("a.txt", b"code,name\n", "imports.unsupported_format"),
        ("a.xls", b"\xd0\xcf\x11\xe0", "imports.xls_not_supported"),
        ("a.xlsx", b"not a zip", "imports.unreadable_xlsx"),
        ("a.csv", b"", "imports.empty_file"),
        ("a.csv", b"\n,,,\n", "imports.empty_file"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, key: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFailed) as failure:
        read_table(path, AREA_COLUMNS)
    assert keys(failure.value) == [(None, None, key)]
    assert failure.value.errors[0].render()[0].isupper()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as failure:
        read_table(tmp_path / "nope.csv", ROSTER_COLUMNS)
    assert keys(failure.value) == [(None, None, "imports.file_not_found")]


def test_failure_text_lists_every_error_and_cuts_long_lists() -> None:
    errors = [RowError(row, "Mã", "imports.required", {}) for row in range(2, 80)]
    failure = ImportFailed(errors)
    text = failure.render(limit=3)
    assert text.splitlines()[0].startswith("Không nhập được tệp: có 78 lỗi")
    assert text.splitlines()[1] == "- Dòng 2, cột 'Mã': ô này không được để trống"
    assert text.splitlines()[-1] == "… và 75 lỗi khác."
    assert len(failure.render(limit=None).splitlines()) == 79


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12/3/1985", (date(1985, 3, 12), 1985)),
        ("1/12/1985", (date(1985, 12, 1), 1985)),
        ("12-03-1985", (date(1985, 3, 12), 1985)),
        ("12.03.1985", (date(1985, 3, 12), 1985)),
        ("1985-03-12", (date(1985, 3, 12), 1985)),
        ("1985-03-12 00:00:00", (date(1985, 3, 12), 1985)),
        ("1985", (None, 1985)),
        (1985, (None, 1985)),
        (1985.0, (None, 1985)),
        (31118, (date(1985, 3, 12), 1985)),
        (datetime(1985, 3, 12), (date(1985, 3, 12), 1985)),
        (date(1985, 3, 12), (date(1985, 3, 12), 1985)),
        ("31/2/1985", None),
        ("3/1985", None),
        ("12/3/85", None),
        ("khoảng 1985", None),
        (1985.5, None),
    ],
)
def test_birth_formats(cell: values.Cell, expected: tuple[date | None, int] | None) -> None:
    birth = values.birth(cell)
    assert (None if birth is None else (birth.birth_date, birth.year)) == expected


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_any_day_first_date_reads_back(day: date) -> None:
    birth = values.birth(f"{day.day}/{day.month}/{day.year:04d}")
    assert birth is not None and birth.birth_date == day


@pytest.mark.parametrize(
    ("birth", "problem"),
    [
        (values.Birth(date(2024, 6, 2), 2024), "imports.birth_in_future"),
        (values.Birth(None, 2025), "imports.birth_in_future"),
        (values.Birth(date(2024, 6, 1), 2024), None),
        (values.Birth(None, 2024), None),
        (values.Birth(date(1904, 6, 1), 1904), None),
        (values.Birth(date(1903, 6, 2), 1903), None),
        (values.Birth(date(1903, 6, 1), 1903), "imports.birth_too_old"),
        (values.Birth(None, 1903), "imports.birth_too_old"),
    ],
)
def test_birth_plausibility(birth: values.Birth, problem: str | None) -> None:
    assert values.birth_problem(birth, today=date(2024, 6, 1)) == problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hộ nghèo", HouseholdCategory.POOR),
        ("Nghèo", HouseholdCategory.POOR),
        ("HO NGHEO", HouseholdCategory.POOR),
        ("poor", HouseholdCategory.POOR),
        ("Hộ cận nghèo", HouseholdCategory.NEAR_POOR),
        ("cận nghèo", HouseholdCategory.NEAR_POOR),
        ("near_poor", HouseholdCategory.NEAR_POOR),
        ("hộ mới thoát nghèo", HouseholdCategory.ESCAPED),
        ("thoát nghèo", HouseholdCategory.ESCAPED),
        ("escaped", HouseholdCategory.ESCAPED),
        ("khá", None),
    ],
)
def test_categories(text: str, expected: HouseholdCategory | None) -> None:
    assert values.category(text) == expected


def test_sexes_and_relations() -> None:
    assert [values.sex(s) for s in ("Nam", "nữ", "NU", "male", "Female", "x")] == [
        "male",
        "female",
        "female",
        "male",
        "female",
        None,
    ]
    spec = {
        "chủ hộ": "head",
        "Vợ": "spouse",
        "chồng": "spouse",
        "con": "child",
        "cha": "parent",
        "mẹ": "parent",
        "cháu": "grandchild",
        "anh": "sibling",
        "chị": "sibling",
        "em": "sibling",
        "khác": "other",
        "spouse": "spouse",
        "hàng xóm": None,
    }
    assert {text: values.relation(text) for text in spec} == spec


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("880", 880), ("3.520", 3520), ("3,520", 3520), (3520, 3520), (12.5, None), ("-1", None)],
)
def test_counts(cell: values.Cell, expected: int | None) -> None:
    assert values.count(cell) == expected


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_cached_fold_is_exactly_storage_fold(text: str) -> None:
    from storage.text import fold

    assert values.cached_fold(text) == fold(text)


@pytest.mark.parametrize("name", ["Nguyễn Văn Ánh", "ĐẶNG HỮU THẮNG", "Lê  Thị\tMai", "Ngô Tư"])
def test_cached_fold_on_vietnamese_names(name: str) -> None:
    from storage.text import fold

    assert values.cached_fold(name) == fold(name)
