"""/export: the workbook's sheets, headers, code + label columns, 0/1 columns."""

from __future__ import annotations

from forms import load_bundled_form
from tests.exports.conftest import Commune
from tests.exports.helpers import command, documents, table, workbook

SHEETS = [
    "Hộ gia đình",
    "Thành viên",
    "Không có việc làm",
    "Không muốn đi làm",
    "Việc làm không ổn định",
    "Không có khả năng lao động",
    "Thiếu hụt",
    "Tổng hợp",
]


def choice_label(list_name: str, code: str) -> str:
    form = load_bundled_form()
    return next(c.label.get("vi") for c in form.choices[list_name] if c.name == code)


async def test_workbook_has_every_sheet_with_vietnamese_headers(commune: Commune) -> None:
    replies = await commune.conversation.handle(command("/export", commune.staff))
    [document] = documents(replies)
    assert document.filename == "rasoat-87-MH-2026.xlsx"
    assert "8 hộ" in document.caption
    book = workbook(document)
    assert book.sheetnames == SHEETS
    households = table(book, "Hộ gia đình")
    assert [h["Mã hộ"] for h in households] == [f"HH-00{n}" for n in range(1, 9)]
    first = households[0]
    # Codes and Vietnamese labels side by side.
    assert first["Khu vực (nông thôn/thành thị) (mã)"] == "rural"
    assert first["Khu vực (nông thôn/thành thị)"] == choice_label("area_type", "rural")
    assert first["Diện hộ (mã)"] == "poor" and first["Diện hộ"] == "hộ nghèo"
    assert first["Kết quả phân loại (mã)"] == "poor"
    assert first["Kết quả phân loại"] == "Hộ nghèo"
    # select_multiple: the codes, the labels, then one 0/1 column per choice.
    assert first["Phương tiện tiếp cận thông tin (mã)"] == "tv smartphone"
    tv = choice_label("info_devices", "tv")
    assert first[f"Phương tiện tiếp cận thông tin: {tv}"] == 1
    assert first[f"Phương tiện tiếp cận thông tin: {choice_label('info_devices', 'radio')}"] == 0
    assert first["D1 Việc làm"] == 1
    statuses = {h["Mã hộ"]: h["Tình trạng phỏng vấn (mã)"] for h in households}
    assert statuses["HH-005"] == "in_progress" and statuses["HH-006"] == "not_started"
    assert households[5]["Tình trạng phỏng vấn"] == "chưa phỏng vấn"


async def test_member_rows_repeat_the_household(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export", commune.staff)))
    members = table(workbook(document), "Thành viên")
    # Six interviewed households: three of four members, three of three.
    assert len(members) == 3 * 4 + 3 * 3
    for row in members:
        assert row["Mã hộ"] and row["Mã ấp"] and row["Ấp"] and row["Diện hộ (mã)"]
    hung = members[0]
    assert (hung["Mã hộ"], hung["Mã ấp"], hung["Ấp"]) == ("HH-001", "87-MH-A1", "Ấp 1")
    assert hung["Họ tên"] == "Nguyễn Văn Hùng" and hung["STT thành viên"] == 1
    assert hung["Tình trạng việc làm (mã)"] == "looking"
    assert hung["Tình trạng việc làm"] == choice_label("employment_status", "looking")
    assert hung["Nhóm (mã)"] == "no_job"
    assert hung["Tuổi"] == 52
    training = choice_label("support_needs", "vocational_training")
    assert hung[f"Nhu cầu hỗ trợ: {training}"] == 1
    assert hung[f"Nhu cầu hỗ trợ: {choice_label('support_needs', 'loan')}"] == 0
    child = members[2]
    # Not asked: blank, not 0.
    assert child[f"Nhu cầu hỗ trợ: {training}"] is None
    assert hung["Ngày sinh"].year == 1974


async def test_one_sheet_per_support_group_with_the_support_wished(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export", commune.staff)))
    book = workbook(document)
    no_job = book["Không có việc làm"]
    assert no_job["A1"].value.startswith("Nhóm lao động không có việc làm")
    assert "Kết nối tham gia các lớp dạy nghề" in no_job["A2"].value
    rows = table(book, "Không có việc làm")
    names = sorted({row["Họ tên"] for row in rows})
    assert names == ["Nguyễn Văn Hùng", "Võ Thị Hoa"]
    hung = next(row for row in rows if row["Họ tên"] == "Nguyễn Văn Hùng")
    training = choice_label("support_needs", "vocational_training")
    assert training in hung["Nhu cầu hỗ trợ"]
    assert hung["Nghề muốn học"] == "may công nghiệp"
    assert "Người phụ trách" in hung
    unstable = table(book, "Việc làm không ổn định")
    assert {row["Họ tên"] for row in unstable} == {"Trần Thị Lan"}
    assert unstable[0]["Loại hỗ trợ sản xuất (mã)"] == "livestock"
    assert {row["Họ tên"] for row in table(book, "Không muốn đi làm")} == {"Phạm Văn Tư"}
    assert {row["Họ tên"] for row in table(book, "Không có khả năng lao động")} == {"Lê Thị Bảy"}


async def test_deprivations_and_summary(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export", commune.staff)))
    rows = table(workbook(document), "Thiếu hụt")
    first = [row for row in rows if row["Mã hộ"] == "HH-001"]
    assert first[0]["Mã chỉ số"] == "D1"
    employment = first[0]
    assert employment["Chỉ số thiếu hụt"] == "Việc làm"
    assert "Phòng Lao động - Thương binh và Xã hội" in employment["Cơ quan phụ trách"]
    assert "Dự án 4" in employment["Dự án, chính sách hỗ trợ"]
    assert "Nguyễn Văn Hùng" in employment["Chi tiết"]
    rows = table(workbook(document), "Tổng hợp")
    poor = next(row for row in rows if row["Chỉ tiêu"] == "Tổng số hộ nghèo")
    assert poor["Số lượng"] == 5
    labels = [row["Chỉ tiêu"] for row in rows]
    assert any("Lao động không có việc làm" in (label or "") for label in labels)


async def test_every_sheet_is_set_up_for_a4_printing(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export", commune.staff)))
    book = workbook(document)
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert setup.paperSize == 9, sheet.title  # A4
        # fitToWidth is left out of the file when it is 1, the format's default.
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        header_row = 4 if sheet.title in SHEETS[2:6] else 1
        assert sheet.print_title_rows == f"${header_row}:${header_row}", sheet.title
        assert sheet.freeze_panes == f"A{header_row + 1}", sheet.title
        assert sheet.oddFooter.left.text == "Xã Mỹ Hòa 2026", sheet.title
        assert sheet.oddFooter.right.text == "Trang &P/&N", sheet.title
        assert sheet.oddHeader.center.text == "&A", sheet.title
        assert sheet.print_options.gridLines, sheet.title
    assert book["Tổng hợp"].page_setup.orientation == "landscape"
    no_job = book["Không có việc làm"]
    assert no_job.page_setup.orientation == "landscape"
    # A printed list is what people read; the codes and 0/1 columns follow, unprinted.
    headers = [cell.value for cell in no_job[4]]
    printed = headers[: headers.index("Ghi chú") + 1]
    assert printed[:3] == ["Mã hộ", "Ấp", "Chủ hộ"]
    assert not [h for h in printed if h.endswith("(mã)") or ": " in h]
    assert "Mã ấp" in headers[len(printed) :]
    last = no_job.max_row
    assert no_job.print_area == f"'Không có việc làm'!$A$1:${_letter(len(printed))}${last}"


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)
