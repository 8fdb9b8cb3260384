"""/export csv (UTF-8 with BOM, one file per sheet) and /report (section II as .docx)."""

from __future__ import annotations

import csv
import io
import zipfile

from docx import Document as WordDocument
from sqlalchemy import select, update

from exports.csv_export import ENCODING
from storage.models import Answer, Household
from tests.conftest import Database
from tests.exports.conftest import Commune
from tests.exports.helpers import command, documents

BOM = b"\xef\xbb\xbf"


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(BOM)
    return list(csv.DictReader(io.StringIO(content.decode(ENCODING), newline="")))


async def test_csv_is_a_zip_of_one_bom_file_per_sheet(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/export csv", commune.staff)))
    assert document.filename == "rasoat-87-MH-2026.zip"
    archive = zipfile.ZipFile(io.BytesIO(document.content))
    assert archive.namelist() == [
        "ho-gia-dinh.csv",
        "thanh-vien.csv",
        "khong-co-viec-lam.csv",
        "khong-muon-di-lam.csv",
        "viec-lam-khong-on-dinh.csv",
        "khong-co-kha-nang-lao-dong.csv",
        "thieu-hut.csv",
        "tong-hop.csv",
    ]
    members = read_csv(archive.read("thanh-vien.csv"))
    assert len(members) == 21
    hung = members[0]
    assert hung["Mã hộ"] == "HH-001" and hung["Ấp"] == "Ấp 1" and hung["Diện hộ"] == "hộ nghèo"
    assert hung["Họ tên"] == "Nguyễn Văn Hùng"
    assert hung["Ngày sinh"] == "1974-06-11"
    households = read_csv(archive.read("ho-gia-dinh.csv"))
    assert households[0]["Phương tiện tiếp cận thông tin (mã)"] == "tv smartphone"
    # The workbook's title lines are not in the CSV: the header is the first line.
    group = archive.read("khong-co-viec-lam.csv").decode(ENCODING)
    assert group.startswith("Mã hộ,")


async def test_csv_of_one_sheet(commune: Commune) -> None:
    replies = await commune.conversation.handle(command("/export csv thanh-vien", commune.staff))
    [document] = documents(replies)
    assert document.filename == "rasoat-87-MH-2026-thanh-vien.csv"
    assert len(read_csv(document.content)) == 21
    replies = await commune.conversation.handle(command("/export csv 87-MH-A2 members", "k1"))
    [document] = documents(replies)
    assert {row["Mã hộ"] for row in read_csv(document.content)} == {"HH-007", "HH-008"}


async def test_report_is_section_two_in_the_plans_wording(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/report 87-MH", "k1")))
    assert document.filename.endswith(".docx")
    paragraphs = [p.text for p in WordDocument(io.BytesIO(document.content)).paragraphs]
    text = "\n".join(paragraphs)
    assert paragraphs[0] == "II. NỘI DUNG THỰC HIỆN"
    assert paragraphs[1].startswith(
        "1. Kết quả rà soát phân loại hộ nghèo, hộ cận nghèo cuối năm 2026"
    )
    assert "a) Tổng số hộ nghèo: 05 hộ" in text
    assert "b) Tổng số hộ cận nghèo: 03 hộ" in text
    assert "- Khả năng lao động:" in text and "- Tình trạng việc làm:" in text
    assert "2. Giải pháp thực hiện" in paragraphs
    assert "- Qua thống kê, trên địa bàn xã còn" in text
    assert "+ Nhóm lao động không có việc làm, có nhu cầu học nghề" in text
    assert "Hằng năm tổ chức đối thoại chính sách giảm nghèo" in text
    assert "Vận động các nguồn lực hỗ trợ nhà ở cho hộ nghèo" in text


async def test_csv_cells_never_become_formulas(commune: Commune, database: Database) -> None:
    # Names and typed answers are whatever people typed; a spreadsheet opening the CSV must
    # show them as text, never run them (OWASP CSV injection).
    link = '=HYPERLINK("http://example.invalid","Bấm vào đây")'
    command_text = "+cmd|' /C calc'!A0"
    async with database.sessions.begin() as session:
        await session.execute(
            update(Household).where(Household.code == "HH-001").values(head_name=link)
        )
        trade = await session.scalar(
            select(Answer).where(Answer.path.like("%training_trade")).order_by(Answer.id)
        )
        assert trade is not None
        trade.value = command_text
    replies = await commune.conversation.handle(command("/export csv", commune.staff))
    archive = zipfile.ZipFile(io.BytesIO(documents(replies)[0].content))
    households = read_csv(archive.read("ho-gia-dinh.csv"))
    first = next(row for row in households if row["Mã hộ"] == "HH-001")
    assert first["Chủ hộ"] == "'" + link
    members = read_csv(archive.read("thanh-vien.csv"))
    cells = [value for row in members for value in row.values()]
    assert "'" + command_text in cells
    assert command_text not in cells
    # Numbers are not text: they keep their value and stay numbers.
    assert first["Diện tích nhà ở"] == "36"
    for row in households + members:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


async def test_report_is_an_a4_vietnamese_administrative_document(commune: Commune) -> None:
    [document] = documents(await commune.conversation.handle(command("/report 87-MH", "k1")))
    word = WordDocument(io.BytesIO(document.content))
    for section in word.sections:
        # Decree 30/2020 (Appendix I): A4; top and bottom 20-25 mm, left 30-35, right 15-20.
        assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
        assert 20 <= round(section.top_margin.mm) <= 25
        assert 20 <= round(section.bottom_margin.mm) <= 25
        assert 30 <= round(section.left_margin.mm) <= 35
        assert 15 <= round(section.right_margin.mm) <= 20
    normal = word.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert 13 <= normal.font.size.pt <= 14
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    styles = word.styles.element
    defaults = styles.find(f"{w}docDefaults/{w}rPrDefault/{w}rPr")
    for rpr in (defaults, normal.element.find(f"{w}rPr")):
        assert rpr.find(f"{w}lang").get(f"{w}val") == "vi-VN"
        assert rpr.find(f"{w}rFonts").get(f"{w}eastAsia") == "Times New Roman"
    assert word.core_properties.language == "vi-VN"
