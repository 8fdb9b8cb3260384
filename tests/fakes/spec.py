"""Bot API spec loading and request validation for the fake Telegram server.

The spec is the machine-readable Bot API description vendored beside this module
(``telegram-bot-api.json``, PaulSonOfLars/telegram-bot-api-spec format, MIT: see
``telegram-bot-api.LICENSE``). Validating every request against it means a test
cannot pass while the bot sends something real Telegram would reject.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SPEC_PATH = Path(__file__).with_name("telegram-bot-api.json")

TEXT_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX_BYTES = 64
CALLBACK_ANSWER_MAX = 200
COMMANDS_MAX = 100
INLINE_BUTTONS_MAX = 100

# Sub-second long polls keep the test suite fast; real Telegram truncates to whole seconds.
_FLOAT_TOLERATED = {("getUpdates", "timeout")}
_BUTTON_NON_ACTION_FIELDS = {"text", "icon_custom_emoji_id", "style"}
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_INT_RE = re.compile(r"-?\d+")
_DISCRIMINATOR_RE = re.compile(r"(?:must be|always) [“\"]?([a-z_]+)")
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji", "tg-time",
}  # fmt: skip
_HTML_TOKEN_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)/?>|<|&(#\d+|#x[0-9a-fA-F]+|\w+);|&"
)


class SpecError(ValueError):
    """A request that real Telegram would answer with 400 Bad Request."""


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part, kept so tests can inspect what the bot uploaded."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


class Spec:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = data["version"]
        self.methods: dict[str, dict[str, Field]] = {
            name: {f["name"]: _field(f) for f in method.get("fields", [])}
            for name, method in data["methods"].items()
        }
        self.returns: dict[str, list[str]] = {
            name: method.get("returns", []) for name, method in data["methods"].items()
        }
        self.types: dict[str, Mapping[str, Any]] = data["types"]
        self._type_fields: dict[str, dict[str, Field]] = {
            name: {f["name"]: _field(f) for f in t.get("fields", [])}
            for name, t in data["types"].items()
        }

    # -- request parameters -------------------------------------------------------------------

    def decode_form(self, method: str, raw: Mapping[str, str | UploadedFile]) -> dict[str, Any]:
        """Turn string form/query/multipart values into typed values.

        PTB JSON-encodes every non-string value, so the declared type decides whether a value is
        JSON (``reply_markup``, ``"true"``, ``"42"``) or a literal string (``text``).
        File parts referenced as ``attach://name`` are resolved and do not count as parameters.
        """
        fields = self.methods.get(method, {})
        attached = {
            v.removeprefix("attach://")
            for v in raw.values()
            if isinstance(v, str) and v.startswith("attach://")
        }
        params: dict[str, Any] = {}
        for name, value in raw.items():
            if name in attached and name not in fields:
                continue
            field = fields.get(name)
            if field is None or isinstance(value, UploadedFile):
                params[name] = value
                continue
            params[name] = _from_form(method, field, value)
        for name, value in params.items():
            if isinstance(value, str) and value.startswith("attach://"):
                part = raw.get(value.removeprefix("attach://"))
                if not isinstance(part, UploadedFile):
                    raise SpecError(f"{name}: file part {value} is missing")
                params[name] = part
        return params

    def validate(self, method: str, params: Mapping[str, Any]) -> None:
        """Raise SpecError for anything Telegram would refuse; ``params`` must be decoded."""
        fields = self.methods.get(method)
        if fields is None:
            raise SpecError(f"method {method!r} not found in {self.version}")
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise SpecError(f"unknown parameter(s) {', '.join(unknown)}")
        missing = [f.name for f in fields.values() if f.required and f.name not in params]
        if missing:
            raise SpecError(f"missing required parameter(s) {', '.join(missing)}")
        for name, value in params.items():
            types = fields[name].types
            if (method, name) in _FLOAT_TOLERATED:
                types = (*types, "Float")
            problem = self.check(value, types, name)
            if problem:
                raise SpecError(f"{problem[0]}: {problem[1]}")
        _check_limits(method, params)

    # -- values --------------------------------------------------------------------------------

    def check(self, value: Any, types: Sequence[str], path: str) -> tuple[str, str] | None:
        """Return (path, message) of the most specific mismatch, or None if any type fits."""
        problems = []
        for type_name in types:
            problem = self._check_one(value, type_name, path)
            if problem is None:
                return None
            problems.append(problem)
        # The alternative that matched deepest is the one the caller most likely meant.
        return max(problems, key=lambda p: len(p[0]))

    def _check_one(self, value: Any, type_name: str, path: str) -> tuple[str, str] | None:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return path, f"expected {type_name}"
            inner = type_name.removeprefix("Array of ")
            for i, item in enumerate(value):
                problem = self.check(item, [inner], f"{path}[{i}]")
                if problem:
                    return problem
            return None
        scalar_ok = {
            "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "Boolean": lambda v: isinstance(v, bool),
            "True": lambda v: v is True,
            "String": lambda v: isinstance(v, str),
            "InputFile": lambda v: isinstance(v, str | UploadedFile),
        }.get(type_name)
        if scalar_ok is not None:
            return None if scalar_ok(value) else (path, f"expected {type_name}, got {value!r}")
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return None  # unknown type names only appear in prose; nothing cheap to check
        if "subtypes" in spec_type:
            return self.check(value, spec_type["subtypes"], path)
        return self._check_object(value, type_name, path)

    def _check_object(self, value: Any, type_name: str, path: str) -> tuple[str, str] | None:
        if not isinstance(value, dict):
            return path, f"expected {type_name} object"
        fields = self._type_fields[type_name]
        unknown = sorted(set(value) - set(fields))
        if unknown:
            return path, f"unknown field(s) {', '.join(unknown)} in {type_name}"
        missing = [f.name for f in fields.values() if f.required and f.name not in value]
        if missing:
            return path, f"missing field(s) {', '.join(missing)} in {type_name}"
        discriminator = "type" in fields and _DISCRIMINATOR_RE.search(fields["type"].description)
        if discriminator and value["type"] != discriminator.group(1):
            return f"{path}.type", f"{type_name} needs type {discriminator.group(1)!r}"
        for name, item in value.items():
            problem = self.check(item, fields[name].types, f"{path}.{name}")
            if problem:
                return problem
        return _check_object_limits(value, type_name, path)


def _field(raw: Mapping[str, Any]) -> Field:
    return Field(raw["name"], tuple(raw["types"]), raw["required"], raw["description"])


def _from_form(method: str, field: Field, raw: str) -> Any:
    if (method, field.name) in _FLOAT_TOLERATED:
        try:
            return float(raw) if "." in raw else int(raw)
        except ValueError as exc:
            raise SpecError(f"{field.name}: expected a number, got {raw!r}") from exc
    for type_name in field.types:
        if type_name in ("String", "InputFile"):
            continue
        if type_name == "Integer":
            if _INT_RE.fullmatch(raw):
                return int(raw)
        elif type_name == "Float":
            try:
                return float(raw)
            except ValueError:
                pass
        elif type_name in ("Boolean", "True"):
            if raw.lower() in ("true", "false", "1", "0"):
                return raw.lower() in ("true", "1")
        else:
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                pass
    if {"String", "InputFile"} & set(field.types):
        return raw
    raise SpecError(f"{field.name}: can't parse {raw!r} as {' or '.join(field.types)}")


def _check_limits(method: str, params: Mapping[str, Any]) -> None:
    if method in _TEXT_METHODS:
        length = len(visible_text(params["text"], params.get("parse_mode")))
        if length == 0:
            raise SpecError("message text is empty")
        if length > TEXT_MAX:
            raise SpecError(f"message is too long ({length} > {TEXT_MAX} characters)")
    if isinstance(params.get("caption"), str):
        length = len(visible_text(params["caption"], params.get("parse_mode")))
        if length > CAPTION_MAX:
            raise SpecError(f"message caption is too long ({length} > {CAPTION_MAX})")
    if method == "answerCallbackQuery" and len(params.get("text", "")) > CALLBACK_ANSWER_MAX:
        raise SpecError(f"answerCallbackQuery text is longer than {CALLBACK_ANSWER_MAX}")
    if method == "setMyCommands" and len(params["commands"]) > COMMANDS_MAX:
        raise SpecError(f"too many commands ({len(params['commands'])} > {COMMANDS_MAX})")


_TEXT_METHODS = {"sendMessage", "editMessageText"}


def _check_object_limits(
    value: dict[str, Any], type_name: str, path: str
) -> tuple[str, str] | None:
    if type_name == "InlineKeyboardButton":
        data = value.get("callback_data")
        if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX_BYTES:
            return f"{path}.callback_data", f"BUTTON_DATA_INVALID ({len(data.encode())} bytes)"
        actions = set(value) - _BUTTON_NON_ACTION_FIELDS
        if len(actions) != 1:
            return path, "exactly one action field (callback_data, url, ...) must be set"
    elif type_name == "InlineKeyboardMarkup":
        count = sum(len(row) for row in value["inline_keyboard"])
        if count > INLINE_BUTTONS_MAX:
            return path, f"too many buttons ({count} > {INLINE_BUTTONS_MAX})"
    elif type_name == "BotCommand":
        if not _COMMAND_RE.fullmatch(value["command"]):
            return f"{path}.command", "BOT_COMMAND_INVALID (1-32 chars of a-z, 0-9, _)"
        if not 1 <= len(value["description"]) <= 256:
            return f"{path}.description", "BOT_COMMAND_DESCRIPTION_INVALID (1-256 chars)"
    return None


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram shows after entity parsing; limits apply to this, not to the markup."""
    if parse_mode is None or parse_mode.upper() != "HTML":
        if parse_mode not in (None, "Markdown", "MarkdownV2"):
            raise SpecError(f"unsupported parse_mode {parse_mode!r}")
        return text
    return html.unescape(_check_html(text))


def _check_html(text: str) -> str:
    """Strip tags the way Telegram does, rejecting what it can't parse (e.g. a raw '<' or '&')."""
    stack: list[str] = []
    plain: list[str] = []
    pos = 0
    for m in _HTML_TOKEN_RE.finditer(text):
        plain.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("<", "&"):
            raise SpecError(f"can't parse entities: unescaped {token!r} at byte offset {m.start()}")
        if token.startswith("&"):
            plain.append(token)
            continue
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if tag not in _HTML_TAGS:
            raise SpecError(f"can't parse entities: unsupported start tag {tag!r}")
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise SpecError(f"can't parse entities: can't find end tag corresponding to {tag!r}")
    if stack:
        raise SpecError(f"can't parse entities: can't find end tag for {stack[-1]!r}")
    plain.append(text[pos:])
    return "".join(plain)


def spec_path() -> Path:
    return Path(os.environ.get("RASOAT_TELEGRAM_SPEC", DEFAULT_SPEC_PATH))


@functools.cache
def _load(path: Path) -> Spec:
    return Spec(json.loads(path.read_text(encoding="utf-8")))


def load_spec(path: Path | None = None) -> Spec:
    """Parse the spec once per path; every fake in the session shares it."""
    return _load((path or spec_path()).resolve())
