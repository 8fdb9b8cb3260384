"""A scripted collaborator who interviews one household through any channel.

The driver reads which question the bot is asking from what the bot sent, recognising
it by its wording in the form file (read with openpyxl, never through the engine under
test), picks the scripted answer, and gives it the way a person would on that channel:
pressing the button with the choice's label on Telegram, typing the button's number in the
terminal, or typing text. It records every answer it believes was accepted, so a test can
compare the stored answers with what was said.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogs.interview import DIALOG
from storage.models import Area, Household, HouseholdCategory, Interview, Member, User
from storage.text import fold
from storage.uow import UnitOfWork

HOUSEHOLD_CODE = "HH-TEST"

# The household as the collaborator finds it: (name, sex, birth date or year, relation).
ROSTER: list[tuple[str, str, date | int, str]] = [
    ("Nguyễn Văn Hùng", "male", date(1974, 6, 11), "head"),
    ("Trần Thị Lan", "female", 1978, "spouse"),
    ("Nguyễn Văn Nam", "male", date(2008, 2, 3), "child"),
    ("Nguyễn Thị Mai", "female", date(2015, 9, 20), "child"),
    ("Lê Thị Bảy", "female", 1950, "parent"),
]

HOUSEHOLD_ANSWERS: dict[str, Any] = {
    "area_type": "rural",
    "house_wall": "not_durable",
    "house_column": "durable",
    "house_roof": "not_durable",
    "floor_area_m2": "36",
    "water_source": "drilled_well",
    "latrine": "septic",
    "info_devices": ["tv", "smartphone"],
    "waste_disposal": "collected",
    "income_per_capita_month": "1,2 triệu",
    "housing_difficulty": "yes",
}

MEMBER_ANSWERS: list[dict[str, Any]] = [
    {
        "labour_capacity": "yes",
        "employment_status": "looking",
        "support_needs": ["vocational_training", "job_referral"],
        "training_trade": "may công nghiệp",
        "health_insurance": "yes",
        "education_level": "lower_secondary",
        "vocational_level": "none",
        "uses_internet": "yes",
        "pension_or_allowance": "no",
    },
    {
        "labour_capacity": "yes",
        "employment_status": "employed",
        "job_stable": "no",
        "wants_expand": "yes",
        "support_needs": ["loan", "production_support"],
        "production_support_kinds": ["livestock"],
        "health_insurance": "no",
        "education_level": "primary",
        "vocational_level": "none",
        "uses_internet": "yes",
        "pension_or_allowance": "no",
    },
    {
        "labour_capacity": "yes",
        "employment_status": "studying",
        "health_insurance": "yes",
        "in_school": "yes",
        "school_level": "upper_secondary",
        "education_level": "lower_secondary",
        "vocational_level": "none",
        "onjob_training": "no",
        "uses_internet": "yes",
        "pension_or_allowance": "no",
    },
    {
        "health_insurance": "yes",
        "in_school": "yes",
        "school_level": "primary",
        "uses_internet": "no",
        "malnourished": "no",
    },
    {
        "labour_capacity": "no",
        "incapacity_reason": "old_age",
        "health_insurance": "yes",
        "education_level": "none",
        "vocational_level": "none",
        "uses_internet": "no",
        "pension_or_allowance": "no",
    },
]

# Roster questions are confirmed with the "keep" button rather than retyped (when asked:
# a confirmed roster answers them).
ROSTER_FIELDS = {"name", "sex", "birth_known", "birth_date", "birth_year", "relation"}


@dataclass(frozen=True)
class Typed:
    """An answer typed as text, not picked from the choices."""

    text: str


# What the collaborator is asked after confirming the roster, in order, as the bot words
# it (a piece of each question), with the answer given: a choice's label, several labels,
# or typed text. Written out by hand from the household above rather than taken from the
# engine under test, so a walk fails as soon as the bot asks anything else.
Expected = tuple[str, str | list[str] | Typed]
HOUSEHOLD_SCRIPT: list[Expected] = [
    ("Hộ ở khu vực nào?", "Nông thôn"),
    ("Tường nhà", "Không bền chắc"),
    ("Cột nhà", "Bền chắc"),
    ("Mái nhà", "Không bền chắc"),
    ("Tổng diện tích ở", Typed("36")),
    ("Nguồn nước sinh hoạt", "Giếng khoan"),
    ("loại nhà tiêu", "Tự hoại"),
    ("phương tiện tiếp cận thông tin", ["Ti vi", "Điện thoại thông minh"]),
    ("Rác thải sinh hoạt", "Được thu gom"),
    ("Thu nhập bình quân", Typed("1,2 triệu")),
    ("khó khăn về nhà ở", "Có"),
]
MEMBER_SCRIPTS: list[list[Expected]] = [
    [  # 52 years old, looking for work
        ("còn khả năng lao động", "Có"),
        ("Tình trạng việc làm", "Đang tìm việc làm"),
        ("cần hỗ trợ gì", ["Học nghề", "Giới thiệu việc làm"]),
        ("muốn học nghề gì", Typed("may công nghiệp")),
        ("bảo hiểm y tế", "Có"),
        ("Trình độ học vấn", "Tốt nghiệp trung học cơ sở"),
        ("đào tạo nghề, chuyên môn", "Chưa qua đào tạo"),
        ("điện thoại, internet", "Có"),
        ("lương hưu", "Không"),
    ],
    [  # born 1978, an unstable job
        ("còn khả năng lao động", "Có"),
        ("Tình trạng việc làm", "Có việc làm"),
        ("có ổn định không", "Không"),
        ("mở rộng sản xuất", "Có"),
        ("cần hỗ trợ gì", ["Vay vốn", "Hỗ trợ phát triển sản xuất"]),
        ("hỗ trợ sản xuất loại nào", ["Con giống (gia súc, gia cầm, thủy sản)"]),
        ("bảo hiểm y tế", "Không"),
        ("Trình độ học vấn", "Tốt nghiệp tiểu học"),
        ("đào tạo nghề, chuyên môn", "Chưa qua đào tạo"),
        ("điện thoại, internet", "Có"),
        ("lương hưu", "Không"),
    ],
    [  # 18, at upper secondary school
        ("còn khả năng lao động", "Có"),
        ("Tình trạng việc làm", "Đang đi học"),
        ("bảo hiểm y tế", "Có"),
        ("đang đi học không", "Có"),
        ("đang học cấp nào", "Trung học phổ thông"),
        ("Trình độ học vấn", "Tốt nghiệp trung học cơ sở"),
        ("đào tạo nghề, chuyên môn", "Chưa qua đào tạo"),
        ("tại nơi làm việc", "Không"),
        ("điện thoại, internet", "Có"),
        ("lương hưu", "Không"),
    ],
    [  # 11, at primary school: no labour questions
        ("bảo hiểm y tế", "Có"),
        ("đang đi học không", "Có"),
        ("đang học cấp nào", "Tiểu học"),
        ("điện thoại, internet", "Không"),
        ("suy dinh dưỡng", "Không"),
    ],
    [  # born 1950, unable to work
        ("còn khả năng lao động", "Không"),
        ("Vì sao", "Tuổi già"),
        ("bảo hiểm y tế", "Có"),
        ("Trình độ học vấn", "Chưa tốt nghiệp tiểu học"),
        ("đào tạo nghề, chuyên môn", "Chưa qua đào tạo"),
        ("điện thoại, internet", "Không"),
        ("lương hưu", "Không"),
    ],
]


def scripted_household(code: str, area_id: int, year: int) -> Household:
    """The ROSTER household, as the commune's list holds it (also used by the benchmark)."""
    household = Household(
        code=code,
        review_year=year,
        area_id=area_id,
        head_name=ROSTER[0][0],
        head_name_search=fold(ROSTER[0][0]),
        category=HouseholdCategory.POOR,
    )
    for position, (name, sex, birth, relation) in enumerate(ROSTER):
        household.members.append(
            Member(
                position=position,
                full_name=name,
                sex=sex,
                birth_date=birth if isinstance(birth, date) else None,
                birth_year=birth if isinstance(birth, int) else None,
                relation=relation,
            )
        )
    return household


async def seed_household(sessions: async_sessionmaker[AsyncSession], year: int) -> int:
    async with UnitOfWork(sessions) as uow:
        village = await uow.areas.by_code("87-MH-A1")
        assert isinstance(village, Area)
        household = scripted_household(HOUSEHOLD_CODE, village.id, year)
        uow.session.add(household)
        await uow.commit()
        return household.id


class Surface(Protocol):
    """One chat channel as a person sees it."""

    async def type(self, text: str) -> list[str]: ...

    async def press(self, data: str) -> list[str]: ...

    def buttons(self) -> list[tuple[str, str]]: ...


# -- the questionnaire as its file words it ------------------------------------------------

FORM = Path(__file__).resolve().parent.parent / "forms" / "household.xlsx"
MEMBERS = "members"
# What each member's questions carry above them, as the bot words it.
MEMBER_HEADER = re.compile(r"Thành viên (\d+)/\d+")
ASKED_TYPES = {"text", "integer", "decimal", "date", "select_one", "select_multiple"}
# A choice's marks on a button: ✔ the current answer, ✅ toggled on.
MARKS = re.compile(r"^[✔✅]\s*")


@dataclass(frozen=True)
class Label:
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True)
class Choice:
    name: str
    label: str  # Vietnamese, as on the button


@dataclass(frozen=True)
class FormRow:
    """One question row of the survey sheet, read with openpyxl."""

    name: str
    type: str  # "select_one", "integer", ... without the list name
    label: Label  # with ${…} references unfilled
    choices: tuple[Choice, ...]
    default: str | None
    in_members: bool

    def pattern(self) -> re.Pattern[str]:
        """A whole line of a message that asks this question, names filled in."""
        escaped = re.escape(self.label.vi)
        return re.compile("^" + re.sub(r"\\\$\\\{\w+\\\}", ".+?", escaped) + "$", re.MULTILINE)


@dataclass(frozen=True)
class Question:
    """The question the collaborator is answering, as the form file words it."""

    path: tuple[str | int, ...]
    type: str
    label: Label  # the member's name filled in
    choices: tuple[Choice, ...] = ()
    default: str | None = None

    @property
    def name(self) -> str:
        return str(self.path[-1])


@cache
def form_rows() -> dict[str, FormRow]:
    """The bundled form's questions by name, in the survey sheet's order."""
    book = openpyxl.load_workbook(FORM, read_only=True)
    survey = list(book["survey"].iter_rows(values_only=True))
    choice_rows = list(book["choices"].iter_rows(values_only=True))
    book.close()
    head = [str(cell) for cell in survey[0]]
    chead = [str(cell) for cell in choice_rows[0]]

    def cell(row: tuple[Any, ...], columns: list[str], column: str) -> str:
        value = row[columns.index(column)] if column in columns else None
        return "" if value is None else str(value)

    lists: dict[str, list[Choice]] = {}
    for row in choice_rows[1:]:
        if row[0]:
            lists.setdefault(str(row[0]), []).append(
                Choice(cell(row, chead, "name"), cell(row, chead, "label::Vietnamese (vi)"))
            )
    rows: dict[str, FormRow] = {}
    repeats = 0
    for row in survey[1:]:
        kind, _, list_name = cell(row, head, "type").partition(" ")
        if kind == "begin" and list_name == "repeat":
            repeats += 1
        elif kind == "end" and list_name == "repeat":
            repeats -= 1
        elif kind in ASKED_TYPES:
            name = cell(row, head, "name")
            rows[name] = FormRow(
                name=name,
                type=kind,
                label=Label(
                    cell(row, head, "label::Vietnamese (vi)"),
                    cell(row, head, "label::English (en)"),
                ),
                choices=tuple(lists.get(list_name, ())),
                default=cell(row, head, "default") or None,
                in_members=repeats > 0,
            )
    return rows


def _question(row: FormRow, member: int | None, who: str = "") -> Question:
    path: tuple[str | int, ...] = (row.name,) if member is None else (MEMBERS, member, row.name)

    def filled(text: str) -> str:
        return re.sub(r"\$\{name\}", who, text)

    return Question(
        path, row.type, Label(filled(row.label.vi), filled(row.label.en)), row.choices, row.default
    )


def asked_in(text: str) -> Question | None:
    """The question a message asks: the form label that makes a whole line of it (the
    member's from the header above it), or None (a list, a notice, a summary)."""
    found = [(row, match) for row in form_rows().values() if (match := row.pattern().search(text))]
    if not found:
        return None
    row, match = max(found, key=lambda item: len(item[0].label.vi))
    if not row.in_members:
        return _question(row, None)
    header = MEMBER_HEADER.search(text)
    assert header is not None, f"a member's question without its member: {text!r}"
    index = int(header.group(1)) - 1
    # The name the label shows, read back from the line the label made.
    before, _, after = row.label.vi.partition("${name}")
    line = match.group(0)
    who = line[len(before) : len(line) - len(after)] if "${name}" in row.label.vi else ""
    return _question(row, index, who)


def scripted_order() -> list[tuple[str | int, ...]]:
    """The questions the scripted answers cover, in the form file's order: what the bot is
    expected to ask, one after the other, once the roster is confirmed."""
    rows = list(form_rows().values())
    order: list[tuple[str | int, ...]] = [
        (row.name,) for row in rows if not row.in_members and row.name in HOUSEHOLD_ANSWERS
    ]
    for index, answers in enumerate(MEMBER_ANSWERS):
        order += [(MEMBERS, index, row.name) for row in rows if row.name in answers]
    return order


def expected_after(path: tuple[str | int, ...] | None) -> Question | None:
    """The scripted question that follows ``path`` in the form file (the first one when
    ``path`` is None); None after the last."""
    rows = form_rows()
    names = list(rows)

    def rank(at: tuple[str | int, ...]) -> tuple[int, int]:
        if at[0] == MEMBERS:
            return (1 + int(at[1]), names.index(str(at[2])))
        return (0, names.index(str(at[0])))

    for following in scripted_order():
        if path is None or rank(following) > rank(path):
            if following[0] != MEMBERS:
                return _question(rows[str(following[0])], None)
            index = int(following[1])
            return _question(rows[str(following[2])], index, ROSTER[index][0])
    return None


def typed_value(kind: str, text: str) -> Any:
    """What a typed answer means, as the script's author reads it ("1,2 triệu" is
    1 200 000): numbers in the Vietnamese way, a decimal comma, "triệu" for millions."""
    if kind not in ("integer", "decimal"):
        return text
    digits, millions = text, 1
    if digits.endswith(" triệu"):
        digits, millions = digits.removesuffix(" triệu"), 1_000_000
    value = Decimal(digits.replace(".", "").replace(",", ".")) * millions
    if kind == "integer":
        assert value == value.to_integral_value(), text
        return int(value)
    return value


def path_key(path: tuple[str | int, ...]) -> str:
    """The key answers are stored under ("members/0/name")."""
    return "/".join(str(part) for part in path)


def roster_value(path: tuple[str | int, ...]) -> Any:
    """What the confirmed roster stored at ``path`` (from ROSTER, as written above)."""
    if path == ("category",):
        return "poor"
    if path == ("member_count",):
        return len(ROSTER)
    assert path[0] == MEMBERS, path
    name, sex, birth, relation = ROSTER[int(path[1])]
    known = {"name": name, "sex": sex, "relation": relation}
    if isinstance(birth, date):
        known |= {"birth_known": "full_date", "birth_date": birth}
    else:
        known |= {"birth_known": "year_only", "birth_year": birth}
    return known[str(path[2])]


# -- the collaborator ------------------------------------------------------------------------


@dataclass
class Collaborator:
    """Answers what the bot shows, recognising each question by its wording in the form
    file; the database tells it only whether an interview is open and how many answers
    were taken (the interview's step), never which question comes next."""

    surface: Surface
    sessions: async_sessionmaker[AsyncSession]
    platform: str
    user_id: str
    # What the driver said, by path key, as the value it expects stored.
    said: dict[str, Any] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    # The last question the bot showed, and the interview's step when it showed it.
    shown: Question | None = None
    shown_at: int | None = None

    async def _open_step(self) -> int | None:
        """The step of the interview this collaborator has open, if any."""
        async with UnitOfWork(self.sessions) as uow:
            user = await uow.users.by_platform_id(self.platform, self.user_id)
            assert isinstance(user, User)
            state = await uow.dialogs.get(user)
            if state is None or state.dialog != DIALOG:
                return None
            interview = await uow.interviews.get(int(state.state["interview_id"]))
            assert isinstance(interview, Interview)
            return interview.step

    async def _read(self, replies: list[str]) -> list[str]:
        """Note the newest question among ``replies``, as a person reads their screen."""
        for text in reversed(replies):
            question = asked_in(text)
            if question is not None:
                self.shown, self.shown_at = question, await self._open_step()
                break
        return replies

    async def current(self) -> tuple[int, Question] | None:
        """The interview's step counter and the question being asked, if one is open.

        The question is the last one shown; when an answer was taken since and its next
        question never arrived (a lost reply), the one the script expects after it."""
        step = await self._open_step()
        if step is None:
            return None
        question = self.shown
        if question is None or step != self.shown_at:
            question = expected_after(None if question is None else question.path)
            assert question is not None, "an interview open after the last scripted question"
        return step, question

    async def question(self) -> Question:
        current = await self.current()
        assert current is not None, "no interview is open"
        return current[1]

    def _button_for(self, verb: str) -> str:
        for _label, data in self.surface.buttons():
            if data.split(":")[0] == verb:
                return data
        raise AssertionError(f"no {verb} button in {self.surface.buttons()}")

    def _choice_button(self, verb: str, label: str) -> str:
        found = [
            data
            for shown, data in self.surface.buttons()
            if data.split(":")[0] == verb and MARKS.sub("", shown).strip() == label
        ]
        assert len(found) == 1, (verb, label, self.surface.buttons())
        return found[0]

    async def say(self, text: str) -> list[str]:
        replies = await self.surface.type(text)
        self.transcript += [f"> {text}", *replies]
        return await self._read(replies)

    async def tap(self, data: str) -> list[str]:
        replies = await self.surface.press(data)
        self.transcript += [f"[{data}]", *replies]
        return await self._read(replies)

    async def give(self, question: Question, wanted: Any) -> list[str]:
        """Answer ``question`` with ``wanted`` (a choice code, list of codes, or typed text),
        pressing the buttons whose labels the form file gives those codes."""
        key = path_key(question.path)
        labels = {choice.name: choice.label for choice in question.choices}
        if question.type == "select_one":
            replies = await self.tap(self._choice_button("a", labels[wanted]))
            self.said[key] = wanted
        elif question.type == "select_multiple":
            for code in wanted:
                await self.tap(self._choice_button("t", labels[code]))
            replies = await self.tap(self._button_for("d"))
            self.said[key] = [code for code in labels if code in wanted]
        else:
            replies = await self.say(str(wanted))
            self.said[key] = typed_value(question.type, str(wanted))
        return replies

    async def confirm_roster(self) -> list[str]:
        """Press "✔ Đúng, bắt đầu": the roster's values become the household's answers."""
        replies = await self.tap(self._button_for_suffix(":ok"))
        self.said |= {"category": "poor", "member_count": len(ROSTER)}
        for index, (name, sex, birth, relation) in enumerate(ROSTER):
            member = f"members/{index}/"
            self.said |= {member + "name": name, member + "sex": sex, member + "relation": relation}
            if isinstance(birth, date):
                self.said |= {member + "birth_known": "full_date", member + "birth_date": birth}
            else:
                self.said |= {member + "birth_known": "year_only", member + "birth_year": birth}
        return replies

    def _button_for_suffix(self, suffix: str) -> str:
        found = [data for _label, data in self.surface.buttons() if data.endswith(suffix)]
        assert len(found) == 1, (suffix, self.surface.buttons())
        return found[0]

    async def pick(self, label: str) -> list[str]:
        """Press the choice with this label (marked "✔ …" when it is the suggested one)."""
        found = [d for shown, d in self.surface.buttons() if shown in (label, f"✔ {label}")]
        assert len(found) == 1, (label, self.surface.buttons())
        return await self.tap(found[0])

    async def pick_many(self, labels: list[str]) -> list[str]:
        """Several choices: typed as their numbers where the list is numbered (as the
        prompt says), else toggled one by one and confirmed with "Xong" (a single number
        typed there toggles that choice)."""
        data = {shown: d for shown, d in self.surface.buttons()}
        keys = getattr(self.surface, "key_for", None)
        if keys is not None and len(labels) > 1:
            return await self.say(",".join(keys(data[label]) for label in labels))
        for label in labels:
            await self.tap(data[label])
        return await self.tap(next(d for shown, d in data.items() if shown.startswith("Xong")))

    async def walk(self, script: list[Expected], asked: list[str], member: str = "") -> list[str]:
        """Answer ``script`` in order; ``asked`` is what the bot last sent. Each question
        must be the scripted one (and about ``member``, when given)."""
        for fragment, answer in script:
            question = asked[-1]
            assert fragment in question and member in question, (fragment, member, asked)
            if isinstance(answer, Typed):
                asked = await self.say(answer.text)
            elif isinstance(answer, list):
                asked = await self.pick_many(answer)
            else:
                asked = await self.pick(answer)
        return asked

    async def keep(self, question: Question) -> list[str]:
        """Keep the answer shown (the roster's, or what was said since)."""
        replies = await self.tap(self._button_for("k"))
        key = path_key(question.path)
        self.said[key] = self.said[key] if key in self.said else roster_value(question.path)
        return replies

    def scripted(self, question: Question) -> Any:
        name = question.name
        if question.path[0] == MEMBERS:
            return MEMBER_ANSWERS[int(question.path[1])].get(name)
        return HOUSEHOLD_ANSWERS.get(name)

    async def answer_one(self) -> list[str]:
        question = await self.question()
        if question.name in ROSTER_FIELDS or question.name in {"category", "member_count"}:
            return await self.keep(question)
        wanted = self.scripted(question)
        assert wanted is not None, f"no scripted answer for {question.path}"
        return await self.give(question, wanted)

    async def answer_until(self, stop: Callable[[Question], bool]) -> None:
        while (current := await self.current()) is not None and not stop(current[1]):
            await self.answer_one()

    async def finish(self) -> list[str]:
        """Answer every remaining question; returns the replies to the last answer."""
        replies: list[str] = []
        while await self.current() is not None:
            replies = await self.answer_one()
        return replies


def at_member(index: int, name: str) -> Callable[[Question], bool]:
    def stop(question: Question) -> bool:
        return question.path == (MEMBERS, index, name)

    return stop


def at_field(name: str) -> Callable[[Question], bool]:
    def stop(question: Question) -> bool:
        return question.path == (name,)

    return stop


Action = Callable[[], Awaitable[list[str]]]
