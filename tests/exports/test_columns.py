"""Column headers come from the rule file or the form's labels, never with a ${...} left in."""

from __future__ import annotations

from datetime import UTC

import pytest

from classification import load_rule_set
from exports.export_sheets import Layout
from exports.export_summary import summary_sheet
from forms import load_bundled_form


@pytest.mark.parametrize("version", ["2022-2025", "2027-2030"])
def test_no_header_shows_a_form_reference(version: str) -> None:
    layout = Layout(load_bundled_form(), load_rule_set(version), UTC)
    headers = [c.header for sheet in [*layout.sheets, summary_sheet()] for c in sheet.columns]
    assert [h for h in headers if "$" in h or "{" in h or "}" in h] == []


def test_a_member_question_names_the_member_generically() -> None:
    layout = Layout(load_bundled_form(), load_rule_set("2022-2025"), UTC)
    headers = [c.header for c in layout.by_key["members"].columns]
    # The form's label "Biết ngày sinh đầy đủ của ${name} hay chỉ biết năm sinh?", with the
    # member's name replaced by the form's own word for a member ("Thành viên").
    label = "Biết ngày sinh đầy đủ của thành viên hay chỉ biết năm sinh?"
    assert label in headers
    assert f"{label} (mã)" in headers
