"""Text normalisation shared by storage (search columns) and imports (header matching)."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced: "  Nguyễn  Văn Ánh" -> "nguyen van anh".

    Vietnamese đ/Đ is a letter of its own, not d plus a mark, so NFD leaves it alone.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())


# C0 control characters but line feed and tab, and DEL: no name, answer or command contains
# them, and PostgreSQL refuses NUL in text. Removed from whatever people send or import.
_CONTROLS = {code: None for code in [*range(32), 127] if chr(code) not in "\n\t"}


def without_controls(text: str) -> str:
    return text.translate(_CONTROLS)


# A Vietnamese phone number: 0 or +84 then 9 or 10 digits; spaces, dots, dashes and
# brackets are how people group them and are dropped.
_PHONE = re.compile(r"^(?:\+?84|0)\d{9,10}$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


def phone_number(text: str) -> str | None:
    """ "0912 345 678" -> "0912345678"; None when it is not a phone number."""
    digits = _PHONE_SEPARATORS.sub("", text)
    return digits if _PHONE.match(digits) else None
