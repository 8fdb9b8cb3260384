"""Pure questionnaire engine over XLSForm forms (no chat platform, no database).

Typical turn of the chat layer::

    form = load_bundled_form()
    step = next_step(form, answers, today=today, prefill=roster)
    parsed = parse_answer(step, text)            # Parsed | Invalid
    problem = validate(form, answers, step.path, parsed.value, today=today)
    answers = set_answer(answers, step.path, parsed.value)
"""

from forms.answers import get_answer, has_answer, remove_answer, set_answer
from forms.engine import (
    answered_questions,
    apply_calculations,
    drop_irrelevant,
    next_step,
    previous_question,
    question_at,
    validate,
    visible_questions,
)
from forms.model import (
    HOUSEHOLD_CODE,
    Answers,
    AnswerValue,
    Choice,
    Done,
    Field,
    FieldType,
    Form,
    FormError,
    Invalid,
    Parsed,
    Path,
    Question,
    Step,
    Text,
)
from forms.parsing import parse_answer
from forms.xlsform import (
    BUNDLED_FORM,
    current_form,
    load_bundled_form,
    load_form,
    parse_workbook,
)

__all__ = [
    "BUNDLED_FORM",
    "HOUSEHOLD_CODE",
    "AnswerValue",
    "Answers",
    "Choice",
    "Done",
    "Field",
    "FieldType",
    "Form",
    "FormError",
    "Invalid",
    "Parsed",
    "Path",
    "Question",
    "Step",
    "Text",
    "answered_questions",
    "apply_calculations",
    "current_form",
    "drop_irrelevant",
    "get_answer",
    "has_answer",
    "load_bundled_form",
    "load_form",
    "next_step",
    "parse_answer",
    "parse_workbook",
    "previous_question",
    "question_at",
    "remove_answer",
    "set_answer",
    "validate",
    "visible_questions",
]
