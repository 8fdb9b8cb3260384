"""What the loader accepts, and how it refuses what the engine does not implement."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.model import FieldType, FormError
from forms.xlsform import load_form, parse_workbook
from tests.forms.conftest import YES_NO, MakeForm, c, q, write_workbook


def test_tree_types_labels_and_settings(make_form: MakeForm) -> None:
    form = make_form(
        [
            q("begin group", "g", "Nhóm", relevant="${a} = 'yes'"),
            q("select_one yn", "a", "Có không?", en="Yes or no?"),
            q("end group", ""),
            q("begin repeat", "people", "Người", repeat_count="2"),
            q("select_multiple yn", "m", "Nhiều"),
            q("acknowledge", "ack", "Đồng ý"),
            q("end repeat", ""),
        ],
        YES_NO,
        settings={
            "form_id": "demo",
            "form_title": "Demo",
            "version": "3",
            "default_language": "English (en)",
        },
    )
    assert (form.form_id, form.title, form.version, form.default_language) == (
        "demo",
        "Demo",
        "3",
        "en",
    )
    assert form.fields["a"].label.vi == "Có không?"
    assert form.fields["a"].label.en == "Yes or no?"
    assert form.fields["a"].relevant == ("${a} = 'yes'",)  # group relevance is inherited
    assert form.fields["m"].type is FieldType.SELECT_MULTIPLE
    assert form.fields["m"].repeats == ("people",)
    assert form.repeats["people"].repeat_count == "2"
    assert [ch.name for ch in form.choices["yn"]] == ["yes", "no"]
    assert "meta" not in form.fields and "instanceID" not in form.fields


def _refusal(tmp_path: Path, survey: list[dict[str, object]], **kwargs: object) -> FormError:
    path = write_workbook(tmp_path / "bad.xlsx", survey, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(FormError) as caught:
        parse_workbook(path)
    return caught.value


@pytest.mark.parametrize("kind", ["geopoint", "image", "time", "range", "select_one_from_file x"])
def test_unsupported_type_is_refused_with_row(tmp_path: Path, kind: str) -> None:
    error = _refusal(tmp_path, [q("text", "a", "A"), q("text", "b", "B"), q(kind, "bad", "X")])
    assert (error.key, error.sheet, error.row, error.column) == (
        "forms.load.unsupported_type",
        "survey",
        4,
        "type",
    )
    assert error.value == kind
    assert "dòng 4" in error.text("vi") and "row 4" in error.text("en")


def test_unsupported_column_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("text", "a", "A", read_only="yes")])
    assert (error.key, error.sheet, error.row, error.column) == (
        "forms.load.unsupported_column",
        "survey",
        1,
        "read_only",
    )


def test_unsupported_language_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [{"type": "text", "name": "a", "label::French (fr)": "A"}])
    assert error.key == "forms.load.unsupported_language"
    assert error.column == "label::French (fr)"


def test_unsupported_settings_column_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("text", "a", "A")], settings={"form_id": "x", "style": "pages"})
    assert (error.key, error.sheet, error.column) == (
        "forms.load.unsupported_column",
        "settings",
        "style",
    )


def test_unsupported_sheet_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("text", "a", "A")], extra_sheets=["external_choices"])
    assert (error.key, error.sheet) == ("forms.load.unsupported_sheet", "external_choices")


def test_choice_filter_columns_are_accepted(make_form: MakeForm) -> None:
    form = make_form(
        [q("select_one yn", "a", "A", choice_filter="group = 'x'")],
        [c("yn", "yes", "Có", group="x"), c("yn", "no", "Không", group="y")],
    )
    assert form.choices["yn"][0].extra == (("group", "x"),)


def test_duplicate_name_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("text", "a", "A"), q("integer", "a", "A again")])
    assert (error.key, error.row) == ("forms.load.duplicate_name", 3)


def test_bad_expression_is_refused_with_row_and_column(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("integer", "a", "A"), q("integer", "b", "B", constraint=". >")])
    assert (error.key, error.row, error.column) == ("forms.load.bad_expression", 3, "constraint")


def test_pyxform_errors_become_form_errors(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("begin group", "g", "G"), q("text", "a", "A")])
    assert error.key == "forms.load.pyxform_error"
    assert error.text("vi").startswith("Biểu mẫu có lỗi")


def test_unknown_reference_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, [q("integer", "a", "A", relevant="${ghost} > 1")])
    assert error.key in ("forms.load.pyxform_error", "forms.load.unknown_reference")
    assert "ghost" in error.reason


def test_load_form_caches_until_file_changes(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "f.xlsx", [q("text", "a", "A")])
    first = load_form(path)
    assert load_form(path) is first
    write_workbook(path, [q("text", "a", "A"), q("text", "b", "B")])
    assert "b" in load_form(path).fields


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FormError) as caught:
        load_form(tmp_path / "missing.xlsx")
    assert caught.value.key == "forms.load.unreadable"
