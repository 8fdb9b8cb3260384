"""Structured reasons: a code, a value and parameters, rendered to text from the rule file.

Results carry reasons as data (``Reason("status", "looking")``) rather than sentences, so the
same result can be shown in Vietnamese or English, counted in reports, and tested without
depending on wording.
"""

from __future__ import annotations

from dataclasses import dataclass

ParamValue = str | int | float


@dataclass(frozen=True)
class Reason:
    """One reason; its text is looked up under ``key`` ("code.value") in the rule set.

    String parameters are inserted as they are; numbers are formatted for the language
    (so pass years and dates as strings, amounts and counts as numbers).
    """

    code: str
    value: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    @classmethod
    def of(cls, code: str, value: str, **params: ParamValue | None) -> Reason:
        kept = tuple(sorted((k, v) for k, v in params.items() if v is not None))
        return cls(code, value, kept)

    @property
    def key(self) -> str:
        return f"{self.code}.{self.value}"

    @property
    def param_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)
