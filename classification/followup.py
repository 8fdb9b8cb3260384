"""What the follow-up of support records, as data: the kinds of contact, the programmes and
the outcomes (``classification/followup.toml``), and which labour groups are followed.

The groups are the rule set's: every group but the stable one is on a list the commune
acts on (the export's group sheets), and the no-capacity group is visited regularly.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from classification.ruleset import Frozen, RuleFileError, RuleSet, Text
from classification.vocabulary import MEMBER_CHOICES

FOLLOWUP_FILE = Path(__file__).resolve().parent / "followup.toml"
CODE_PATTERN = r"^[a-z0-9_]{1,32}$"


class Item(Frozen):
    id: str = Field(pattern=CODE_PATTERN)
    label: Text


class FollowupData(Frozen):
    version: str
    kinds: tuple[Item, ...] = Field(min_length=1)
    programmes: tuple[Item, ...] = Field(min_length=1)
    outcomes: tuple[Item, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> FollowupData:
        for name in ("kinds", "programmes", "outcomes"):
            ids = [item.id for item in getattr(self, name)]
            duplicates = sorted({code for code in ids if ids.count(code) > 1})
            if duplicates:
                raise ValueError(f"{name}: duplicate ids {duplicates}")
        kinds = {item.id for item in self.kinds}
        absent = [code for code in MEMBER_CHOICES["support_needs"] if code not in kinds]
        if absent:
            raise ValueError(f"kinds: the form's support_needs codes are missing: {absent}")
        return self

    def label(self, table: str, code: str, lang: str) -> str:
        """The label of ``code`` in ``table`` ("kinds", …); a code no longer listed is
        shown as stored."""
        for item in getattr(self, table):
            if item.id == code:
                return str(item.label.vi if lang == "vi" else item.label.en)
        return code


def load_followup_from_path(path: Path | str) -> FollowupData:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path}: cannot read the follow-up file: {exc}") from exc
    try:
        return FollowupData.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(f"{path}: invalid follow-up file:\n{exc}") from exc


@cache
def followup_data() -> FollowupData:
    """The bundled file, loaded once per process."""
    return load_followup_from_path(FOLLOWUP_FILE)


def support_groups(rules: RuleSet) -> tuple[str, ...]:
    """The groups whose members are on a list the commune acts on: all but the stable one."""
    return tuple(g.id for g in rules.labour_groups if g.id != rules.grouping.stable_group)


def no_capacity_group(rules: RuleSet) -> str:
    """The group of people without labour capacity, who are visited regularly."""
    return rules.grouping.no_capacity_group
