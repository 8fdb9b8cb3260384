"""The bundled demo commune reads like a real one: a commune officer trying rasoat should
not meet a husband thirty years younger than his wife, or a father five years older than
his daughter."""

from __future__ import annotations

import csv
from collections import defaultdict

from bot.demo.loader import DEMO_DIR

# Birth year of a member less the head's, by relation: the span a real household keeps.
SPANS = {
    "vợ": (-15, 15),
    "chồng": (-15, 15),
    "cha": (-60, -16),
    "mẹ": (-60, -16),
    "cháu": (30, 90),
}
# A child's birth year less its mother's (the head or the head's wife), or else the head's.
CHILD = {"mother": (16, 48), "head": (16, 55)}


def year(member: dict[str, str]) -> int:
    return int(member["ngày sinh"].rsplit("/", 1)[-1])


def test_every_demo_household_has_plausible_ages() -> None:
    with (DEMO_DIR / "roster.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    households: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        households[row["mã hộ"]].append(row)
    implausible = []
    for code, members in households.items():
        [head] = [m for m in members if m["quan hệ với chủ hộ"] == "chủ hộ"]
        couple = [m for m in members if m["quan hệ với chủ hộ"] in ("chủ hộ", "vợ", "chồng")]
        mothers = [m for m in couple if m["giới tính"] == "nữ"]
        for member in members:
            relation = member["quan hệ với chủ hộ"]
            if relation == "chủ hộ":
                continue
            if relation == "con":
                parent, (low, high) = (
                    (mothers[0], CHILD["mother"]) if mothers else (head, CHILD["head"])
                )
            else:
                parent, (low, high) = head, SPANS[relation]
            gap = year(member) - year(parent)
            if not low <= gap <= high:
                implausible.append(f"{code}: {member['họ tên thành viên']} ({relation}) {gap:+d}")
    assert implausible == []
    assert len(households) == 36
