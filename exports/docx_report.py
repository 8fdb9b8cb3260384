"""Section II of the district plan ("II. NỘI DUNG THỰC HIỆN") for an area, as a .docx.

The figures are the district report's (:mod:`exports.summary`); the sentences around them
are the seed plan's own, so the commune can paste the section into its plan unchanged.
Paragraphs are plain (no Word heading styles) so pasting into an existing plan keeps its
look; the page is an administrative document's (Decree 30/2020/NĐ-CP, Appendix I): A4,
margins 20 mm top and bottom, 30 mm left, 15 mm right, Times New Roman 13, and the text
is marked Vietnamese, so Word checks its spelling as Vietnamese.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

from classification import RuleSet
from exports.export_summary import SummaryTally
from exports.summary import (
    CATEGORIES,
    SummaryReport,
    format_count,
    place,
    render_summary,
)
from locales.catalog import translate
from storage.models import HouseholdCategory

LANG = "vi"
FONT = "Times New Roman"
FONT_SIZE = Pt(13)
LANGUAGE = "vi-VN"
PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)  # A4
MARGINS = {"top": Mm(20), "bottom": Mm(20), "left": Mm(30), "right": Mm(15)}
# "a) Tổng số hộ nghèo…": the first line of a category block of the summary text.
CATEGORY_BLOCK = re.compile(r"^[a-z]\) ")
# The groups of II.2 in the plan's order, with the plan's bullet for each.
GROUP_BULLETS = (("no_job", "+"), ("unwilling", "+"), ("unstable_or_expand", "-"))


@dataclass(frozen=True)
class Paragraph:
    text: str
    bold: bool = False
    italic: bool = False
    indent: bool = True


def t(key: str, /, **params: object) -> str:
    return translate(key, LANG, **params)


def section_two(report: SummaryReport, tally: SummaryTally, rules: RuleSet) -> list[Paragraph]:
    """The section as paragraphs; pure, so the wording is tested without Word."""
    where = place(report, LANG)
    standard = rules.title.vi[:1].lower() + rules.title.vi[1:]
    paragraphs = [
        Paragraph(t("docx.heading"), bold=True, indent=False),
        Paragraph(t("docx.results", year=report.year, standard=standard), bold=True),
    ]
    if 0 < report.interviewed < report.households:
        paragraphs.append(
            Paragraph(
                t(
                    "docx.coverage",
                    done=format_count(report.interviewed),
                    total=format_count(report.households),
                ),
                italic=True,
            )
        )
    paragraphs += [Paragraph(line) for line in _category_lines(report)]
    poor = report.counts(HouseholdCategory.POOR)
    near_poor = report.counts(HouseholdCategory.NEAR_POOR)
    escaped = report.counts(HouseholdCategory.ESCAPED)
    # The group counts below include every category, so the escaped are named as well
    # (as /summary does): the sentences then add up to the lists.
    seeking = [
        t(
            "docx.seeking",
            place=where,
            poor=format_count(poor.seeking),
            near_poor=format_count(near_poor.seeking),
        )
    ]
    if escaped.seeking:
        seeking.append(t("docx.seeking_escaped", count=format_count(escaped.seeking)))
    paragraphs += [
        Paragraph(t("docx.solutions"), bold=True),
        Paragraph(" ".join([*seeking, t("docx.grouping")])),
    ]
    for group_id, bullet in GROUP_BULLETS:
        group = rules.groups_by_id.get(group_id)
        if group is None:
            continue
        paragraphs.append(
            Paragraph(
                t(
                    "docx.group",
                    bullet=bullet,
                    group=group.label.vi,
                    count=format_count(tally.group_total(group_id)),
                    support=group.support.vi,
                )
            )
        )
    paragraphs.append(Paragraph(t("docx.dialogue")))
    paragraphs += [
        Paragraph(
            t(
                "docx.indicator",
                indicator=f"[{indicator.id[1:]}] {indicator.name.vi}",
                count=format_count(tally.deprived[indicator.id]),
            )
        )
        for indicator in rules.indicators
        if tally.deprived[indicator.id]
    ]
    unable = [
        t(
            "docx.unable",
            poor=format_count(poor.unable),
            near_poor=format_count(near_poor.unable),
        )
    ]
    if escaped.unable:
        unable.append(t("docx.unable_escaped", count=format_count(escaped.unable)))
    paragraphs.append(Paragraph(" ".join([*unable, t("docx.unable_plan")])))
    housing = tally.housing_difficulty[HouseholdCategory.POOR.value]
    paragraphs.append(
        Paragraph(t("docx.housing", place=where, count=format_count(housing) if housing else "0"))
    )
    return paragraphs


def _category_lines(report: SummaryReport) -> list[str]:
    """The a), b), c) blocks of the district summary text, in its own wording."""
    lines: list[str] = []
    escaped = report.counts(HouseholdCategory.ESCAPED).households
    blocks = [b.split("\n") for b in render_summary(report, LANG).split("\n\n")]
    wanted = [block for block in blocks if block and CATEGORY_BLOCK.match(block[0])]
    for category, block in zip(CATEGORIES, wanted, strict=False):
        # The seed plan reports only the poor and near-poor; the escaped only when there are.
        if category is HouseholdCategory.ESCAPED and not escaped:
            continue
        lines += block
    return lines


def write_docx(path: Path, paragraphs: Sequence[Paragraph], *, title: str = "") -> Path:
    document = administrative_document(Document(), title=title)
    for item in paragraphs:
        paragraph = document.add_paragraph()
        if item.indent:
            paragraph.paragraph_format.first_line_indent = Cm(1)
        run = paragraph.add_run(item.text)
        run.bold = item.bold
        run.italic = item.italic
    document.save(str(path))
    return path


def administrative_document(document: WordDocument, *, title: str = "") -> WordDocument:
    """``document`` laid out as an administrative one (Decree 30/2020): A4, the margins,
    Times New Roman 13 marked Vietnamese; the periodic report shares it."""
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = FONT_SIZE
    style.paragraph_format.space_after = Pt(6)
    _administrative_page(document)
    if title:
        document.core_properties.title = title
    document.core_properties.author = "rasoat"
    document.core_properties.language = LANGUAGE
    return document


def _administrative_page(document: WordDocument) -> None:
    for section in document.sections:
        section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
        section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
        section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    # The template's defaults say en-US and theme fonts, and every run inherits them: the
    # language and the font of every script are set where all styles start from.
    properties = [document.styles["Normal"].element.get_or_add_rPr()]
    defaults = document.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        properties += defaults.findall(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    for rpr in properties:
        fonts = rpr.get_or_add_rFonts()
        for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(theme), None)
        for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(script), FONT)
        lang = rpr.find(qn("w:lang"))
        if lang is None:
            # Last in the run properties' schema order among what these styles hold.
            lang = OxmlElement("w:lang")
            rpr.append(lang)
        lang.set(qn("w:val"), LANGUAGE)
