"""Pure classification core: labour groups, deprivation indicators and household status.

Everything here is a pure function of plain answers (dicts keyed by the form's field names),
a reference date supplied by the caller, and a versioned rule set loaded from
``classification/rules/<version>.toml``. No database, network or clock.
"""

from classification.age import (
    ReferenceRule,
    RetirementPoint,
    ReviewDates,
    YearsMonths,
    age_at,
    retirement_point,
)
from classification.deprivation import (
    IndicatorResult,
    IndicatorState,
    MissingAnswer,
    evaluate_indicators,
)
from classification.household import (
    HouseholdResult,
    HouseholdStatus,
    SupportReferral,
    classify_household,
)
from classification.labour import MemberOutcome, MemberResult, classify_member
from classification.reasons import Reason
from classification.render import (
    render_household_result,
    render_indicator_result,
    render_member_result,
    render_reason,
)
from classification.ruleset import (
    RuleFileError,
    RuleSet,
    RuleSetRef,
    UnknownVersionError,
    available_versions,
    load_rule_set,
    load_rule_set_from_path,
    resolve_rules,
    rules_for,
    versions_applying_to,
)

__all__ = [
    "HouseholdResult",
    "HouseholdStatus",
    "IndicatorResult",
    "IndicatorState",
    "MemberOutcome",
    "MemberResult",
    "MissingAnswer",
    "Reason",
    "ReferenceRule",
    "RetirementPoint",
    "ReviewDates",
    "RuleFileError",
    "RuleSet",
    "RuleSetRef",
    "SupportReferral",
    "UnknownVersionError",
    "YearsMonths",
    "age_at",
    "available_versions",
    "classify_household",
    "classify_member",
    "evaluate_indicators",
    "load_rule_set",
    "load_rule_set_from_path",
    "render_household_result",
    "render_indicator_result",
    "render_member_result",
    "render_reason",
    "resolve_rules",
    "retirement_point",
    "rules_for",
    "versions_applying_to",
]
