"""A collaborator as a person: reads what reached their phone, answers it, waits, tries again.

They know the household from the hand-written scripts of ``tests.interview_driver`` (pieces
of each question's wording and the answer given), never from the engine under test. They
act only on the newest message they received, and look once more before they send text; when
nothing comes back for a while, they do the last thing again (retype the same text, press
the same button), as people do when the bot seems stuck. Each question they answer is
remembered with what they meant, so a test can compare the stored answers with what was
meant for the question that was on their screen.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from locales.catalog import translate
from tests.fakes.telegram import FakeTelegram, Json
from tests.interview_driver import (
    HOUSEHOLD_SCRIPT,
    MEMBER_SCRIPTS,
    ROSTER,
    ROSTER_FIELDS,
    Expected,
    Typed,
)

FORM = Path(__file__).resolve().parents[2] / "forms" / "household.xlsx"
# Answers the confirmed roster stores; they are not asked in this walk.
ROSTER_PATHS = ROSTER_FIELDS | {"household_code", "category", "member_count"}
MEMBER_HEADER = re.compile(r"Thành viên (\d+)/\d+")
# How long a person waits for the bot before doing the same thing again.
PATIENCE = 4.0
# How long it takes them to read a question and type an answer, at least; the bot under
# test is told a little less (READING_TIME_SETTING), as it would be in production.
READING = 1.2
READING_TIME_SETTING = "1"


@dataclass(frozen=True)
class Question:
    """A question as the form file words it: its field, type and choice labels (vi)."""

    name: str
    type: str
    choices: dict[str, str]  # label -> code


def calculated_fields() -> set[str]:
    """The form's calculated fields (stored with the answers, never asked)."""
    book = openpyxl.load_workbook(FORM, read_only=True)
    rows = list(book["survey"].iter_rows(values_only=True))[1:]
    return {str(row[1]) for row in rows if row[0] == "calculate" and row[1]}


def form_questions() -> dict[str, Question]:
    """Each question of the bundled form by its Vietnamese label, read from the file."""
    book = openpyxl.load_workbook(FORM, read_only=True)
    survey = list(book["survey"].iter_rows(values_only=True))
    choice_rows = list(book["choices"].iter_rows(values_only=True))
    head, rows = survey[0], survey[1:]
    label_at = head.index("label::Vietnamese (vi)")
    chead = choice_rows[0]
    clabel = chead.index("label::Vietnamese (vi)")
    lists: dict[str, dict[str, str]] = {}
    for row in choice_rows[1:]:
        if row[0]:
            lists.setdefault(str(row[0]), {})[str(row[clabel])] = str(row[1])
    out: dict[str, Question] = {}
    for row in rows:
        kind, name, label = row[0], row[1], row[label_at]
        if not kind or not name or not label:
            continue
        kind_name, _, list_name = str(kind).partition(" ")
        out[str(label)] = Question(str(name), kind_name, lists.get(list_name, {}))
    return out


def _question_for(piece: str, questions: dict[str, Question]) -> Question:
    """The question a script's piece of wording stands for: the shortest label holding it
    ("còn khả năng lao động" is the capacity question, not "Vì sao … không còn khả năng…")."""
    labels = sorted((label for label in questions if piece in label), key=len)
    return questions[labels[0]]


def _asked(text: str, questions: dict[str, Question]) -> Question | None:
    """The question a message asks: the longest form label found in it, names filled in."""
    found: list[tuple[int, Question]] = []
    for label, question in questions.items():
        if question.type in ("note", "calculate", "begin_group", "begin_repeat"):
            continue
        pattern = re.sub(r"\\\$\\\{\w+\\\}", ".+?", re.escape(label))
        if re.search(pattern, text):
            found.append((len(label), question))
    return max(found, key=lambda item: item[0])[1] if found else None


def expected_answers(questions: dict[str, Question]) -> dict[str, Any]:
    """What the scripts mean, by stored path, as stored (codes, lists of codes, numbers)."""
    out: dict[str, Any] = {}

    def add(prefix: str, script: list[Expected]) -> None:
        for piece, said in script:
            question = _question_for(piece, questions)
            if isinstance(said, Typed):
                value: Any = _typed_value(said.text)
            elif isinstance(said, list):
                value = [question.choices[label] for label in said]
            else:
                value = question.choices[said]
            out[prefix + question.name] = value

    add("", HOUSEHOLD_SCRIPT)
    for index, script in enumerate(MEMBER_SCRIPTS):
        add(f"members/{index}/", script)
    return out


def _typed_value(text: str) -> Any:
    if text == "1,2 triệu":
        return Decimal(1_200_000)
    if re.fullmatch(r"\d+", text):
        return Decimal(text)
    return text


def same_value(stored: Any, meant: Any) -> bool:
    if isinstance(meant, Decimal):
        try:
            return Decimal(str(stored)) == meant
        except ArithmeticError:
            return False
    if isinstance(meant, list):
        return isinstance(stored, list) and sorted(stored) == sorted(meant)
    return bool(stored == meant)


def buttons(message: Json) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    return [
        (str(b.get("text", "")), str(b.get("callback_data", "")))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def _choice_label(text: str) -> str:
    """A button's label without the marks the bot puts on it (✔ the roster's choice)."""
    return re.sub(r"^[✔✅]\s*", "", text).strip()


@dataclass
class Human:
    fake: FakeTelegram
    user_id: int
    # Their households, interviewed one after the other.
    households: list[str]
    head_name: str
    questions: dict[str, Question]
    rng: random.Random
    # Every update they sent, by id (the test checks each was applied once).
    sent: list[int] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    done: bool = False
    acted_on: int = -1
    # The number of the last message they typed: what the bot sent before it was on the
    # screen when they typed it, and is not answered again.
    typed_after: int = 0
    last_action: tuple[str, str] | None = None
    # What they read and did, in order, for a failing test to show.
    trail: list[str] = field(default_factory=list)

    @property
    def chat(self) -> int:
        return self.user_id

    @property
    def household_code(self) -> str:
        return self.households[len(self.finished)]

    def reading(self, action: tuple[str, str] | None) -> float:
        """Seconds before acting on a message: a tap at once, typing after reading (longer
        than the bot's RASOAT_READING_TIME, as for people: see READING)."""
        if action is not None and action[0] == "text":
            return self.rng.uniform(READING, READING + 0.3)
        return self.rng.uniform(0.0, 0.15)

    def describe(self) -> str:
        """Where they are stuck, for a failing test: their last action and what they see."""
        messages = self.fake.messages_to(self.chat)[-4:]
        seen = "\n".join(
            f"  [{m['message_id']}] {str(m.get('text'))[:160]!r} {buttons(m)[:4]}" for m in messages
        )
        return (
            f"{self.user_id} at {self.household_code}, acted on #{self.acted_on} of "
            f"{len(self.fake.messages_to(self.chat))}, last action {self.last_action}:\n{seen}"
        )

    def story(self, household: str) -> str:
        """What they read and did while interviewing ``household``, and what the bot sent."""
        trail = self.trail
        begun = f"begin {household}"
        start = trail.index(begun) if begun in trail else max(len(trail) - 150, 0)
        end = next(
            (i for i in range(start + 1, len(trail)) if trail[i].startswith("begin ")), len(trail)
        )
        did = "\n".join(trail[start:end])
        sent = "\n".join(
            f"  bot #{m['message_id']} {str(m.get('text'))[-70:]!r}"
            for m in self.fake.messages_to(self.chat)
        )
        return f"--- {self.user_id}, {household}:\n{did}\n--- the bot sent:\n{sent}"

    async def run(self, last: asyncio.Event) -> None:
        """Interview the households one by one; once ``last`` is set, the one in hand is
        the last."""
        while len(self.finished) < len(self.households):
            self.done = False
            await self.interview()
            self.finished.append(self.household_code)
            if last.is_set():
                return

    async def interview(self) -> None:
        """Interview the current household until it is finished."""
        self.trail.append(f"begin {self.household_code}")
        await self._act(("text", "/interview"))
        loop = asyncio.get_running_loop()
        since = loop.time()
        while not self.done:
            messages = self.fake.messages_to(self.chat)
            step = self._next(messages)
            if step is not None:
                index, action = step
                self.acted_on = index
                read = messages[index]
                self.trail.append(
                    f"read #{read['message_id']} {str(read.get('text'))[-60:]!r} -> {action}"
                )
                await asyncio.sleep(self.reading(action))
                if action is not None and action[0] == "text" and self._newer_question(index):
                    # Something new came in while they typed: they look before they send.
                    # (A button is pressed at once and names its question: one pressed as
                    # the next question arrives is the bot's to refuse, and stays in.)
                    self.trail.append("a newer message came while typing: read again")
                    continue
                if action is not None:
                    await self._act(action)
                since = loop.time()
            elif loop.time() - since > PATIENCE and self.last_action is not None:
                self.trail.append("nothing came: again")
                await self._act(self.last_action)
                since = loop.time()
            await asyncio.sleep(0.05)

    def _next(self, messages: list[Json]) -> tuple[int, tuple[str, str] | None] | None:
        """The newest message not acted on yet that asks something, and what to do."""
        title = f"{self.household_code} · {self.head_name}"
        ends = (
            translate("interview.finished", household=title),
            translate("interview.already_done", household=title),
        )
        for index in range(len(messages) - 1, self.acted_on, -1):
            message = messages[index]
            if int(message["message_id"]) < self.typed_after:
                break
            text = str(message.get("text") or "")
            if any(end in text for end in ends):
                self.done = True
                return index, None
            action = self._answer(message, text)
            if action is not None:
                return index, action
        return None

    def _newer_question(self, index: int) -> bool:
        """Whether a message newer than the one at ``index`` asks something (or ends the
        interview): a person glances at the screen before pressing send. What arrives after
        that glance is the bot's to tell apart (message numbers, RASOAT_READING_TIME)."""
        step = self._next(self.fake.messages_to(self.chat))
        return step is not None and step[0] > index

    def _answer(self, message: Json, text: str) -> tuple[str, str] | None:
        keyboard = buttons(message)
        for label, data in keyboard:
            if self.household_code in label.upper():
                return ("press", data)
        for _, data in keyboard:
            if data.endswith(":ok"):
                return ("press", data)
        if any(data.startswith("h:") for _, data in keyboard):
            # The village's list, theirs not on this page: searched by its code.
            return ("text", self.household_code)
        header = MEMBER_HEADER.search(text)
        script = MEMBER_SCRIPTS[int(header.group(1)) - 1] if header else HOUSEHOLD_SCRIPT
        question = _asked(text, self.questions)
        if question is None:
            return None
        entries = [
            said for piece, said in script if _question_for(piece, self.questions) == question
        ]
        if not entries:
            return None
        [said] = entries
        if isinstance(said, Typed):
            return ("text", said.text)
        choices = [(label, data) for label, data in keyboard if data.startswith(("a:", "t:"))]
        labels = [_choice_label(label) for label, _ in choices]
        if isinstance(said, list):
            numbers = sorted(labels.index(label) + 1 for label in said)
            return ("text", ",".join(str(n) for n in numbers))
        position = labels.index(said)
        assert question.choices[said]
        if self.rng.random() < 0.3:
            return ("press", choices[position][1])
        return ("text", str(position + 1))

    async def _act(self, action: tuple[str, str]) -> None:
        self.last_action = action
        user = self.fake.user(id=self.user_id, first_name=f"CTV {self.user_id}")
        kind, value = action
        if kind == "text":
            update = await user.send_text(value)
        else:
            message = self._message_with(value)
            update = await user.press(value, message, force=message is None)
        self.sent.append(int(update["update_id"]))
        number = (update.get("message") or {}).get("message_id")
        if isinstance(number, int):
            self.typed_after = number
        self.trail.append(f"sent {action} as update {update['update_id']}, message #{number}")

    def _message_with(self, data: str) -> Json | None:
        for message in reversed(self.fake.messages_to(self.chat)):
            if any(d == data for _, d in buttons(message)):
                return message
        return None


def asked_path(path: str) -> bool:
    """Whether an answer at ``path`` was given to a question (not by the roster or a
    calculation)."""
    name = path.rsplit("/", 1)[-1]
    return name not in ROSTER_PATHS and name not in CALCULATED


HEAD_NAME = ROSTER[0][0]
CALCULATED = calculated_fields()
