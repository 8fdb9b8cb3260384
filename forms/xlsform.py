"""Loading an XLSForm workbook into an immutable ``Form``.

pyxform reads the workbook and builds the survey tree (and converts it to an XForm, which
catches everything ODK itself would refuse). Before that, the raw sheets are checked
against the subset of XLSForm this engine implements, so a commune editor gets the sheet,
the row and the reason instead of a form that silently misbehaves in the chat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

from forms.model import Choice, Field, FieldType, Form, FormError, Node, Repeat, Text
from forms.xpath import check_expression

if TYPE_CHECKING:
    from pyxform.xls2json_backends import DefinitionData

SURVEY_COLUMNS = frozenset(
    {
        "type",
        "name",
        "label",
        "hint",
        "constraint_message",
        "required_message",
        "relevant",
        "constraint",
        "calculation",
        "required",
        "default",
        "choice_filter",
        "repeat_count",
        "appearance",
    }
)
TRANSLATABLE_COLUMNS = frozenset({"label", "hint", "constraint_message", "required_message"})
LANGUAGES = {"Vietnamese (vi)": "vi", "English (en)": "en"}
CHOICES_COLUMNS = frozenset({"list_name", "name", "label"})
SETTINGS_COLUMNS = frozenset({"form_id", "form_title", "version", "default_language"})
UNSUPPORTED_SHEETS = frozenset({"external_choices", "entities", "osm"})

PLAIN_TYPES = {
    "text": FieldType.TEXT,
    "integer": FieldType.INTEGER,
    "decimal": FieldType.DECIMAL,
    "date": FieldType.DATE,
    "note": FieldType.NOTE,
    "calculate": FieldType.CALCULATE,
    "acknowledge": FieldType.ACKNOWLEDGE,
}
STRUCTURE_TYPES = frozenset({"begin group", "end group", "begin repeat", "end repeat"})
SELECT_TYPE = re.compile(r"^(select_one|select_multiple)\s+(\S+)$")
JSON_TYPES = {
    **{name: kind for name, kind in PLAIN_TYPES.items()},
    "select one": FieldType.SELECT_ONE,
    "select all that apply": FieldType.SELECT_MULTIPLE,
}
XML_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]")


def _normalise_type(raw: str) -> str:
    words = raw.split()
    head = [word.lower() for word in words[:2]]
    if head[:1] in (["select_one"], ["select_multiple"]) and len(words) == 2:
        return f"{head[0]} {words[1]}"
    if head in (["select", "one"], ["select", "multiple"]) and len(words) == 3:
        return f"select_{head[1]} {words[2]}"
    return " ".join(raw.replace("_", " ").lower().split())


def _check_columns(
    sheet: str, header: Sequence[Mapping[str, Any]] | None, allowed: frozenset[str], *, extra: bool
) -> None:
    columns = list(header[0]) if header else []
    for column in columns:
        base, sep, language = (part.strip() for part in column.partition("::"))
        if sep:
            if base not in TRANSLATABLE_COLUMNS or base not in allowed:
                raise FormError(
                    "forms.load.unsupported_column",
                    f"column {column!r} is not supported",
                    sheet=sheet,
                    row=1,
                    column=column,
                    value=column,
                )
            if language not in LANGUAGES:
                raise FormError(
                    "forms.load.unsupported_language",
                    f"language {language!r} is not supported (use {', '.join(LANGUAGES)})",
                    sheet=sheet,
                    row=1,
                    column=column,
                    value=language,
                )
        elif base not in allowed and not (extra and XML_NAME.match(base)):
            raise FormError(
                "forms.load.unsupported_column",
                f"column {column!r} is not supported",
                sheet=sheet,
                row=1,
                column=column,
                value=column,
            )


def _check_types(rows: Sequence[Mapping[str, str]]) -> dict[str, int]:
    """Refuses unsupported question types; returns the sheet row of every named element."""
    rows_by_name: dict[str, int] = {}
    for offset, row in enumerate(rows):
        excel_row = offset + 2  # header is row 1; pyxform keeps blank rows in place
        raw = (row.get("type") or "").strip()
        if not raw:
            continue
        kind = _normalise_type(raw)
        if not (kind in PLAIN_TYPES or kind in STRUCTURE_TYPES or SELECT_TYPE.match(kind)):
            raise FormError(
                "forms.load.unsupported_type",
                f"question type {raw!r} is not supported",
                sheet="survey",
                row=excel_row,
                column="type",
                value=raw,
            )
        name = (row.get("name") or "").strip()
        if name:
            if name in rows_by_name:
                raise FormError(
                    "forms.load.duplicate_name",
                    f"name {name!r} is used twice (first on row {rows_by_name[name]})",
                    sheet="survey",
                    row=excel_row,
                    column="name",
                    value=name,
                )
            rows_by_name[name] = excel_row
    return rows_by_name


def _text(value: object) -> Text:
    if isinstance(value, Mapping):
        texts = {LANGUAGES.get(str(key), "default"): str(text) for key, text in value.items()}
        fallback = texts.get("default", "")
        return Text(vi=texts.get("vi", fallback), en=texts.get("en", fallback))
    if value is None:
        return Text()
    return Text(vi=str(value), en=str(value))


def _relevant(element: Mapping[str, Any]) -> tuple[str, ...]:
    expression = (element.get("bind") or {}).get("relevant")
    return (str(expression),) if expression else ()


def _build(
    children: Sequence[Mapping[str, Any]],
    rows: Mapping[str, int],
    raw_rows: Sequence[Mapping[str, str]],
    repeats: tuple[str, ...],
    inherited: tuple[str, ...],
) -> list[Node]:
    nodes: list[Node] = []
    for element in children:
        kind, name = element.get("type"), str(element.get("name"))
        if name not in rows:
            continue  # pyxform's generated meta/instanceID
        if kind == "group":
            # Groups only scope relevance; their fields sit directly in the parent.
            nodes += _build(
                element.get("children", []),
                rows,
                raw_rows,
                repeats,
                inherited + _relevant(element),
            )
            continue
        if kind == "repeat":
            children_nodes = _build(
                element.get("children", []), rows, raw_rows, (*repeats, name), ()
            )
            # pyxform turns a constant count into a generated field; keep the sheet's text.
            raw_count = raw_rows[rows[name] - 2].get("repeat_count")
            nodes.append(
                Repeat(
                    name=name,
                    row=rows[name],
                    label=_text(element.get("label")),
                    relevant=inherited + _relevant(element),
                    repeat_count=raw_count or (element.get("control") or {}).get("jr:count"),
                    children=tuple(children_nodes),
                    repeats=repeats,
                )
            )
            continue
        bind = element.get("bind") or {}
        required = bind.get("required")
        nodes.append(
            Field(
                name=name,
                type=JSON_TYPES[str(kind)],
                row=rows[name],
                label=_text(element.get("label")),
                hint=_text(element.get("hint")),
                relevant=inherited + _relevant(element),
                constraint=bind.get("constraint"),
                constraint_message=_text(bind.get("jr:constraintMsg")),
                required=str(required) if required is not None else None,
                required_message=_text(bind.get("jr:requiredMsg")),
                calculation=bind.get("calculate"),
                default=element.get("default"),
                choice_filter=element.get("choice_filter"),
                list_name=element.get("list_name") or element.get("itemset"),
                appearance=(element.get("control") or {}).get("appearance"),
                repeats=repeats,
            )
        )
    return nodes


def _choices(raw: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, tuple[Choice, ...]]:
    return {
        list_name: tuple(
            Choice(
                name=str(item["name"]),
                label=_text(item.get("label")),
                extra=tuple(
                    (str(key), str(value))
                    for key, value in item.items()
                    if key not in ("name", "label", "media")
                ),
            )
            for item in items
        )
        for list_name, items in raw.items()
    }


def _index(nodes: Sequence[Node], fields: dict[str, Field], repeats: dict[str, Repeat]) -> None:
    for node in nodes:
        if isinstance(node, Field):
            fields[node.name] = node
        else:
            repeats[node.name] = node
            _index(node.children, fields, repeats)


def _check_expressions(form: Form) -> None:
    def check(expression: str | None, node: Node, column: str, *, is_filter: bool = False) -> None:
        if not expression:
            return
        try:
            check_expression(form, expression, node.repeats, is_filter=is_filter)
        except FormError as exc:
            raise FormError(
                exc.key, exc.reason, sheet="survey", row=node.row, column=column, value=expression
            ) from exc

    for field in form.fields.values():
        for expression in field.relevant:
            check(expression, field, "relevant")
        check(field.constraint, field, "constraint")
        check(field.calculation, field, "calculation")
        check(field.choice_filter, field, "choice_filter", is_filter=True)
        if field.required and field.required.strip().lower() not in (
            "yes",
            "no",
            "true",
            "false",
            "true()",
            "false()",
        ):
            check(field.required, field, "required")
        if field.default and ("${" in field.default or "(" in field.default):
            check(field.default, field, "default")
    for repeat in form.repeats.values():
        for expression in repeat.relevant:
            check(expression, repeat, "relevant")
        check(repeat.repeat_count, repeat, "repeat_count")


def _pyxform_error(exc: Exception) -> FormError:
    message = str(exc)
    match = PYXFORM_ROW.search(message)
    sheet = "choices" if "choices" in message.lower() else "survey"
    return FormError(
        "forms.load.pyxform_error", message, sheet=sheet, row=int(match.group(1)) if match else None
    )


def parse_workbook(source: str | FilePath | bytes) -> Form:
    """Builds a Form from a workbook path or its bytes (no caching)."""
    # pyxform (with openpyxl and numpy, half a second) is imported here, where a workbook is
    # read, and not with the package: every process imports ``forms``, few read a workbook.
    from pyxform.builder import create_survey_element_from_dict
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    try:
        data: DefinitionData = get_xlsform(source if isinstance(source, bytes) else str(source))
    except (PyXFormError, OSError, ValueError) as exc:
        raise FormError("forms.load.unreadable", str(exc)) from exc
    sheets = {name.lower() for name in data.sheet_names or ()}
    for sheet in sorted(sheets & UNSUPPORTED_SHEETS):
        raise FormError(
            "forms.load.unsupported_sheet", f"sheet {sheet!r} is not supported", sheet=sheet
        )
    if not data.survey:
        raise FormError("forms.load.unreadable", "the workbook has no survey sheet", sheet="survey")
    _check_columns("survey", data.survey_header, SURVEY_COLUMNS, extra=False)
    _check_columns("choices", data.choices_header, CHOICES_COLUMNS, extra=True)
    _check_columns("settings", data.settings_header, SETTINGS_COLUMNS, extra=False)
    rows = _check_types(data.survey)
    try:
        tree = workbook_to_json(workbook_dict=data, form_name="data", warnings=[])
        # Converting to an XForm runs pyxform's own checks (references, nesting, choices).
        create_survey_element_from_dict(tree).to_xml(validate=False, warnings=[])
    except PyXFormError as exc:
        raise _pyxform_error(exc) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise FormError("forms.load.pyxform_error", repr(exc)) from exc

    children = tuple(_build(tree.get("children", []), rows, data.survey, (), ()))
    fields: dict[str, Field] = {}
    repeats: dict[str, Repeat] = {}
    _index(children, fields, repeats)
    settings = (data.settings or [{}])[0]
    form = Form(
        form_id=str(tree.get("id_string") or settings.get("form_id") or "form"),
        title=str(tree.get("title") or settings.get("form_title") or ""),
        version=str(tree.get("version") or settings.get("version") or ""),
        default_language=LANGUAGES.get(str(settings.get("default_language", "")), "vi"),
        children=children,
        choices=_choices(tree.get("choices") or {}),
        fields=fields,
        repeats=repeats,
    )
    _check_expressions(form)
    return form


@lru_cache(maxsize=32)
def _load_cached(path: str, modified_ns: int, size: int) -> Form:
    del modified_ns, size  # part of the cache key only: an edited workbook is reloaded
    return parse_workbook(path)


def load_form(path: str | FilePath) -> Form:
    """Loads (and caches until the file changes) the XLSForm at ``path``."""
    resolved = FilePath(path).resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise FormError("forms.load.unreadable", str(exc)) from exc
    return _load_cached(str(resolved), stat.st_mtime_ns, stat.st_size)


BUNDLED_FORM = FilePath(__file__).resolve().parent / "household.xlsx"


def load_bundled_form() -> Form:
    # Asked once per chat turn: the path is already resolved, so only the stat remains.
    try:
        stat = BUNDLED_FORM.stat()
    except OSError as exc:
        raise FormError("forms.load.unreadable", str(exc)) from exc
    return _load_cached(str(BUNDLED_FORM), stat.st_mtime_ns, stat.st_size)


def current_form() -> Form:
    """The form new interviews use. A per-commune form would be chosen here."""
    return load_bundled_form()
