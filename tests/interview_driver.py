"""A scripted collaborator who interviews one household through any channel.

The driver reads which question the bot is asking from the database (the same engine
the bot uses), picks the scripted answer, and gives it the way a person would on that
channel: pressing a button on Telegram, typing the button's number in the terminal, or
typing text. It records every answer it believes was accepted, so a test can compare
the stored answers with what was said.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogs.interview import DIALOG
from bot.interview.session import InterviewSession
from classification.age import DEFAULT_REFERENCE
from forms import Done, FieldType, Question
from forms.codec import key_path, path_key
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


@dataclass
class Collaborator:
    surface: Surface
    sessions: async_sessionmaker[AsyncSession]
    platform: str
    user_id: str
    # The bot's reference date for this year's review (the default rule): the same ages.
    today: date = field(default_factory=lambda: DEFAULT_REFERENCE.on(datetime.now(UTC).year))
    # What the driver said, by path key, as the engine value it expects stored.
    said: dict[str, Any] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)

    async def current(self) -> tuple[int, Question | Done] | None:
        """The interview's step counter and the question the bot is asking, if any."""
        async with UnitOfWork(self.sessions) as uow:
            user = await uow.users.by_platform_id(self.platform, self.user_id)
            assert isinstance(user, User)
            state = await uow.dialogs.get(user)
            if state is None or state.dialog != DIALOG:
                return None
            interview = await uow.interviews.get(int(state.state["interview_id"]))
            assert isinstance(interview, Interview)
            session = await InterviewSession.load(uow, interview, self.today)
            at = state.state.get("at")
            return interview.step, session.step(key_path(at) if at else None)

    async def question(self) -> Question:
        current = await self.current()
        assert current is not None, "no interview is open"
        step = current[1]
        assert isinstance(step, Question), step
        return step

    def _button(self, prefix: str) -> str:
        for _label, data in self.surface.buttons():
            if data.startswith(prefix):
                return data
        raise AssertionError(f"no button {prefix!r} in {self.surface.buttons()}")

    def _button_for(self, verb: str, index: int | None = None) -> str:
        for _label, data in self.surface.buttons():
            parts = data.split(":")
            if parts[0] == verb and (index is None or parts[-1] == str(index)):
                return data
        raise AssertionError(f"no {verb}:{index} button in {self.surface.buttons()}")

    async def say(self, text: str) -> list[str]:
        replies = await self.surface.type(text)
        self.transcript += [f"> {text}", *replies]
        return replies

    async def tap(self, data: str) -> list[str]:
        replies = await self.surface.press(data)
        self.transcript += [f"[{data}]", *replies]
        return replies

    async def give(self, question: Question, wanted: Any) -> list[str]:
        """Answer ``question`` with ``wanted`` (a choice code, list of codes, or typed text)."""
        key = path_key(question.path)
        kind = question.type
        if kind is FieldType.SELECT_ONE:
            index = [c.name for c in question.choices].index(wanted)
            replies = await self.tap(self._button_for("a", index))
            self.said[key] = wanted
        elif kind is FieldType.SELECT_MULTIPLE:
            codes = [c.name for c in question.choices]
            for code in wanted:
                await self.tap(self._button_for("t", codes.index(code)))
            replies = await self.tap(self._button_for("d"))
            self.said[key] = [code for code in codes if code in wanted]
        else:
            replies = await self.say(str(wanted))
            self.said[key] = _expected(kind, str(wanted))
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
        replies = await self.tap(self._button_for("k"))
        value = question.value if question.value is not None else question.default
        self.said[path_key(question.path)] = value
        return replies

    def scripted(self, question: Question) -> Any:
        name = question.name
        if question.path[0] == "members":
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
        while True:
            current = await self.current()
            assert current is not None
            step = current[1]
            if isinstance(step, Done) or stop(step):
                return
            await self.answer_one()

    async def finish(self) -> list[str]:
        """Answer every remaining question; returns the replies to the last answer."""
        replies: list[str] = []
        while (current := await self.current()) is not None:
            assert isinstance(current[1], Question)
            replies = await self.answer_one()
        return replies


def _expected(kind: FieldType, text: str) -> Any:
    from decimal import Decimal

    from forms.parsing import parse_number

    if kind in (FieldType.INTEGER, FieldType.DECIMAL):
        number = parse_number(text)
        assert number is not None
        return int(number) if kind is FieldType.INTEGER else Decimal(number)
    return text


def at_member(index: int, name: str) -> Callable[[Question], bool]:
    def stop(question: Question) -> bool:
        return question.path == ("members", index, name)

    return stop


def at_field(name: str) -> Callable[[Question], bool]:
    def stop(question: Question) -> bool:
        return question.path == (name,)

    return stop


Action = Callable[[], Awaitable[list[str]]]
