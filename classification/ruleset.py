"""Rule sets: one TOML file per version of the poverty standard, validated on load.

Every threshold, code list and user-facing label lives in ``classification/rules/*.toml``;
the code only knows the *kinds* of rule. A rule set is identified by its version id plus a
SHA-256 of the file bytes, so a province that corrects a threshold gets a distinguishable
version in every result it produces.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from classification.age import SexSchedule, YearsMonths
from classification.conditions import Condition, Frozen, check_codes
from classification.vocabulary import ALL_FIELDS, MEMBER_CHOICES

RULES_DIR = Path(__file__).resolve().parent / "rules"

Lang = Literal["vi", "en"]

# Reason texts the code emits under fixed keys; every rule file must define them.
REQUIRED_REASON_KEYS = (
    "age.below_working_age",
    "age.above_retirement",
    "age.from_birth_year",
    "capacity.yes",
    "capacity.no",
    "job_stable.yes",
    "job_stable.no",
    "wants_expand.yes",
    "wants_expand.no",
    "conflict.birth_after_reference",
    "conflict.birth_date_year",
    "conflict.capacity_status",
    "income.unknown",
    "income.above_line",
    "income.within_line",
    "deprivation.poor",
    "deprivation.near_poor",
    "deprivation.undetermined",
    "deprivation.count",
)

# Sentence templates the renderer fills in.
REQUIRED_TEXT_KEYS = (
    "member.grouped",
    "member.needs",
    "member.below_working_age",
    "member.above_working_age",
    "member.incomplete",
    "member.known",
    "member.contradiction",
    "household.line",
    "household.poor",
    "household.near_poor",
    "household.neither",
    "household.unknown_income",
    "household.incomplete",
    "household.missing",
    "indicator.line",
    "indicator.deprived",
    "indicator.not_deprived",
    "indicator.unknown",
    "indicator.missing",
    "indicator.support",
    "missing.member",
)

# Answer fields the renderer may name as missing: the form fields plus the member list itself.
REQUIRED_FIELD_LABELS = (*sorted(ALL_FIELDS), "members")


class RuleFileError(ValueError):
    """A rule file cannot be read or does not validate; the message names file and keys."""


class UnknownVersionError(LookupError):
    """No bundled rule file has this version id."""


class Text(Frozen):
    """A user-facing text in both languages; ``detailed`` is used when a reason has params."""

    vi: str
    en: str
    detailed: Text | None = None

    def get(self, lang: Lang) -> str:
        return self.vi if lang == "vi" else self.en


class LegalRef(Frozen):
    text: str
    confirmed: bool
    source: str = ""


class IncomeLines(Frozen):
    """Monthly per-capita income lines, VND."""

    unit: Literal["VND/person/month"]
    rural: PositiveInt
    urban: PositiveInt
    confirmed: bool
    source: str


class PovertyRule(Frozen):
    poor_min_deprived: PositiveInt
    confirmed: bool
    source: str


class AgeRules(Frozen):
    working_age_min: NonNegativeInt
    working_age_min_confirmed: bool
    birth_year_only_month: int = Field(ge=1, le=12)
    birth_year_only_day: int = Field(ge=1, le=28)
    retirement_upper_bound: Literal["note", "exclude"]
    retirement_upper_bound_confirmed: bool
    notes: str = ""


class RetirementAges(Frozen):
    male: tuple[NonNegativeInt, NonNegativeInt]
    female: tuple[NonNegativeInt, NonNegativeInt]

    @model_validator(mode="after")
    def _months(self) -> RetirementAges:
        for years, months in (self.male, self.female):
            YearsMonths(years, months)
        return self


class RetirementRow(RetirementAges):
    year: int


class RetirementTable(Frozen):
    """Statutory retirement age by sex and calendar year of reaching it."""

    confirmed: bool
    source: str
    before_table: RetirementAges
    years: tuple[RetirementRow, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RetirementTable:
        for previous, row in pairwise(self.years):
            if row.year != previous.year + 1:
                raise ValueError(
                    f"retirement years must be consecutive: {previous.year}, {row.year}"
                )
        for sex in ("male", "female"):
            ages = [getattr(self.before_table, sex)] + [getattr(r, sex) for r in self.years]
            if any(later < earlier for earlier, later in pairwise(ages)):
                raise ValueError(f"{sex} retirement ages must not decrease")
        return self

    def schedule(self, sex: str) -> SexSchedule:
        if sex not in ("male", "female"):
            raise ValueError(f"no retirement schedule for sex {sex!r}")
        return SexSchedule(
            before_table=YearsMonths(*getattr(self.before_table, sex)),
            rows=tuple((row.year, YearsMonths(*getattr(row, sex))) for row in self.years),
        )


class EmploymentStatus(Frozen):
    """One of the seed's seven employment statuses and the labour group it leads to."""

    id: str
    label: Text
    requires_capacity: Literal["yes", "no"]
    group: str  # a labour group id, or "by_job" (decided by job stability / wish to expand)
    phieu_b_option: Text | None = None
    phieu_b_confirmed: bool = False


class SupportNeed(Frozen):
    id: str
    label: Text
    reason: Text


class Choice(Frozen):
    id: str
    label: Text
    reason: Text


class LabourGroup(Frozen):
    id: str
    label: Text
    short: Text
    support: Text
    source: str
    show_needs: bool = False
    required_fields: tuple[str, ...] = ()
    # A group named after alternatives ("unstable job or wanting to expand") is worded
    # after the one that applied: the short wording for a reason key the result carries.
    short_by_reason: dict[str, Text] = Field(default_factory=dict)

    def short_for(self, reason_keys: Sequence[str]) -> Text:
        return next(
            (self.short_by_reason[k] for k in reason_keys if k in self.short_by_reason),
            self.short,
        )


class Grouping(Frozen):
    """Which group the capacity and job answers lead to (the ``by_job`` branch)."""

    no_capacity_group: str
    unstable_group: str
    expand_group: str
    stable_group: str


class SupportChannel(Frozen):
    office: Text
    programme: Text
    source: str
    confirmed: bool


class Indicator(Frozen):
    id: str = Field(pattern=r"^D\d{1,2}$")
    key: str = Field(pattern=r"^[a-z_]+$")
    name: Text
    dimension: Text
    name_confirmed: bool
    status: Literal["confirmed", "secondary", "unconfirmed", "draft"]
    confirmed: bool
    notes: str = ""
    condition: Condition
    texts: dict[str, Text]
    support: tuple[SupportChannel, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.confirmed != (self.status == "confirmed"):
            raise ValueError(f"{self.id}: confirmed must be true exactly when status is confirmed")
        missing = [key for key in self.condition.TEXT_KEYS if key not in self.texts]
        if missing:
            raise ValueError(f"{self.id}: texts missing for {missing}")
        return self


@dataclass(frozen=True)
class RuleSetRef:
    """The identity a result records: version id and content hash of the rule file."""

    id: str
    sha256: str

    def __str__(self) -> str:
        return f"{self.id}@{self.sha256[:12]}"


class RuleSet(Frozen):
    schema_version: Literal[1]
    version: str = Field(pattern=r"^[0-9A-Za-z._-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # set by the loader, not the file
    title: Text
    status_note: str
    applies_to_years: tuple[int, ...]
    legal_basis: tuple[LegalRef, ...]
    income_lines: IncomeLines
    poverty: PovertyRule
    age: AgeRules
    retirement: RetirementTable
    employment_statuses: tuple[EmploymentStatus, ...]
    grouping: Grouping
    labour_groups: tuple[LabourGroup, ...]
    support_needs: tuple[SupportNeed, ...]
    incapacity_reasons: tuple[Choice, ...]
    production_support_kinds: tuple[Choice, ...]
    indicators: tuple[Indicator, ...]
    field_labels: dict[str, Text]
    texts: dict[str, Text]
    reason_texts: dict[str, Text]

    @model_validator(mode="after")
    def _cross_references(self) -> RuleSet:
        _unique("indicators", [i.id for i in self.indicators])
        _unique("indicator keys", [i.key for i in self.indicators])
        _unique("labour_groups", [g.id for g in self.labour_groups])
        group_ids = {g.id for g in self.labour_groups}
        for name, items in (
            ("employment_status", self.employment_statuses),
            ("support_needs", self.support_needs),
            ("incapacity_reason", self.incapacity_reasons),
            ("production_support_kinds", self.production_support_kinds),
        ):
            ids = [item.id for item in items]
            _unique(name, ids)
            check_codes(name, tuple(ids), MEMBER_CHOICES)
            absent = set(MEMBER_CHOICES[name]) - set(ids)
            if absent:
                raise ValueError(f"{name}: no entry for {sorted(absent)}")
        for status in self.employment_statuses:
            if status.group != "by_job" and status.group not in group_ids:
                raise ValueError(f"employment status {status.id}: unknown group {status.group!r}")
        for ref in self.grouping.model_dump().values():
            if ref not in group_ids:
                raise ValueError(f"grouping: unknown group {ref!r}")
        for group in self.labour_groups:
            bad = [f for f in group.required_fields if f not in ALL_FIELDS]
            if bad:
                raise ValueError(f"labour group {group.id}: unknown required_fields {bad}")
            unknown = [k for k in group.short_by_reason if self.reason_text(k) is None]
            if unknown:
                raise ValueError(f"labour group {group.id}: unknown short_by_reason {unknown}")
        _require("field_labels", self.field_labels, REQUIRED_FIELD_LABELS)
        _require("texts", self.texts, REQUIRED_TEXT_KEYS)
        _require("reason_texts", self.reason_texts, REQUIRED_REASON_KEYS)
        return self

    @property
    def ref(self) -> RuleSetRef:
        return RuleSetRef(self.version, self.sha256)

    def income_line(self, area_type: str) -> int:
        return self.income_lines.urban if area_type == "urban" else self.income_lines.rural

    @cached_property
    def statuses_by_id(self) -> dict[str, EmploymentStatus]:
        return {s.id: s for s in self.employment_statuses}

    @cached_property
    def groups_by_id(self) -> dict[str, LabourGroup]:
        return {g.id: g for g in self.labour_groups}

    @cached_property
    def indicators_by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    @cached_property
    def needs_by_id(self) -> dict[str, SupportNeed]:
        return {n.id: n for n in self.support_needs}

    @cached_property
    def _reason_lookup(self) -> dict[str, Text]:
        table = dict(self.reason_texts)
        table.update({f"status.{s.id}": s.label for s in self.employment_statuses})
        table.update({f"wants.{n.id}": n.reason for n in self.support_needs})
        table.update({f"incapacity.{c.id}": c.reason for c in self.incapacity_reasons})
        table.update({f"production_kind.{c.id}": c.reason for c in self.production_support_kinds})
        for indicator in self.indicators:
            table.update({f"{indicator.id}.{k}": text for k, text in indicator.texts.items()})
        return table

    def reason_text(self, key: str) -> Text | None:
        """The text for a reason key ("capacity.yes", "status.looking", "D4.member", ...)."""
        return self._reason_lookup.get(key)

    def text(self, key: str, lang: Lang) -> str:
        return self.texts[key].get(lang)

    def field_label(self, field: str, lang: Lang) -> str:
        label = self.field_labels.get(field)
        return label.get(lang) if label else field


def _unique(what: str, ids: list[str]) -> None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what}: {duplicates}")


def _require(what: str, table: dict[str, Text], keys: tuple[str, ...] | list[str]) -> None:
    absent = [key for key in keys if key not in table]
    if absent:
        raise ValueError(f"{what} missing: {absent}")


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(file)"
        lines.append(f"  {location}: {item['msg']}")
    return "\n".join(lines)


def load_rule_set_from_path(path: Path | str) -> RuleSet:
    """Read and validate one rule file; raises :class:`RuleFileError` with every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read rule file: {exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path}: not valid UTF-8 TOML: {exc}") from exc
    if "sha256" in data:
        raise RuleFileError(f"{path}: 'sha256' is computed by the loader and must not be set")
    data["sha256"] = hashlib.sha256(raw).hexdigest()
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(f"{path}: invalid rule file:\n{_format_errors(exc)}") from exc


def available_versions() -> tuple[str, ...]:
    """Version ids of the bundled rule files, oldest first."""
    return tuple(sorted(path.stem for path in RULES_DIR.glob("*.toml")))


@cache
def load_rule_set(version: str) -> RuleSet:
    """The bundled rule set ``version`` (e.g. "2022-2025"), loaded once per process."""
    if version not in available_versions():
        raise UnknownVersionError(
            f"no rule set {version!r}; available: {', '.join(available_versions())}"
        )
    path = RULES_DIR / f"{version}.toml"
    rule_set = load_rule_set_from_path(path)
    if rule_set.version != version:
        raise RuleFileError(f"{path}: file name says {version!r}, content {rule_set.version!r}")
    return rule_set


def versions_applying_to(year: int) -> tuple[str, ...]:
    """Bundled versions whose legal period covers ``year`` (the caller still chooses one)."""
    return tuple(v for v in available_versions() if year in load_rule_set(v).applies_to_years)


def resolve_rules(spec: str) -> RuleSet:
    """A bundled version ("2027-2030") or a province's own rule file ("rules/dt-2026.toml")."""
    if spec.endswith(".toml"):
        path = Path(spec)
        try:
            stat = path.stat()
        except OSError:
            return load_rule_set_from_path(path)  # raises the loader's own error
        return _rules_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return load_rule_set(spec)


@lru_cache(maxsize=16)
def _rules_file(path: str, modified_ns: int, size: int) -> RuleSet:
    # Read when a member completes; the stat in the key reloads a file edited meanwhile.
    del modified_ns, size
    return load_rule_set_from_path(Path(path))


@lru_cache(maxsize=64)
def _bundled_for(year: int) -> RuleSet:
    # Bundled files ship with the code, so the choice can't change while it runs.
    versions = versions_applying_to(year)
    return load_rule_set(versions[-1] if versions else "2022-2025")


def rules_for(year: int, override: str | None = None) -> RuleSet:
    """The configured rule set, else the latest bundled one that covers the review year."""
    if override:
        return resolve_rules(override)
    return _bundled_for(year)
