"""The signed-link store on disk (bot/links.py), on a clock the test moves."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.links import Kept, LinkStore, Refused, sign

KEY = b"k" * 32
START = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path.rsplit("/", 1)[1], query["e"][0], query["s"][0]


def store(folder: Path, clock: Clock) -> LinkStore:
    return LinkStore(folder, KEY, "https://bot.example.vn/", timedelta(hours=1), clock)


def test_a_link_names_its_file_for_its_person_until_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    links = store(tmp_path / "links", clock)
    link = links.put("zalo-bot:abc", "rasoat-87-MH.xlsx", b"workbook", "application/x", once=True)
    assert link.url.startswith("https://bot.example.vn/files/")
    assert link.expires_at == START + timedelta(hours=1)
    file_id, expires, signature = parts(link.url)
    # The signature is the HMAC of the id, the person and the expiry under the key.
    assert signature == sign(KEY, file_id, "zalo-bot:abc", int(expires))
    assert sign(KEY, file_id, "zalo-bot:abd", int(expires)) != signature
    kept = links.check(file_id, expires, signature)
    assert isinstance(kept, Kept) and kept.owner == "zalo-bot:abc"
    assert stat.S_IMODE((tmp_path / "links").stat().st_mode) == 0o700
    clock.moment += timedelta(hours=1)
    assert links.check(file_id, expires, signature) is Refused.GONE
    assert list((tmp_path / "links").iterdir()) == []


def test_a_file_fetched_once_is_taken_by_one_request_only(tmp_path: Path) -> None:
    links = store(tmp_path, Clock())
    link = links.put("zalo-bot:abc", "a.docx", b"report", "application/x", once=True)
    kept = links.check(*parts(link.url))
    assert isinstance(kept, Kept)
    taken = links.take(kept)
    assert taken is not None and taken.read_bytes() == b"report"
    assert links.take(kept) is None
    assert links.check(*parts(link.url)) is Refused.GONE
    links.discard(taken)
    assert list(tmp_path.iterdir()) == []


def test_a_photo_is_fetched_again_until_it_expires(tmp_path: Path) -> None:
    links = store(tmp_path, Clock())
    link = links.put("zalo-bot:abc", "chart.png", b"\x89PNG", "image/png", once=False)
    kept = links.check(*parts(link.url))
    assert isinstance(kept, Kept)
    assert links.take(kept) == links.take(kept) is not None


def test_what_is_not_a_link_of_this_store_is_refused_before_the_disk(tmp_path: Path) -> None:
    links = store(tmp_path, Clock())
    link = links.put("zalo-bot:abc", "a.xlsx", b"x", "application/x", once=True)
    file_id, expires, signature = parts(link.url)
    for forged in (
        ("../" + file_id[3:], expires, signature),
        (file_id, expires + "0", signature),
        (file_id, "-1", signature),
        (file_id, expires, signature[:-1]),
        (file_id, expires, signature[:-1] + ("A" if signature[-1] != "A" else "B")),
    ):
        assert links.check(*forged) is Refused.FORGED, forged
    assert links.check("A" * 24, expires, signature) is Refused.GONE


def test_the_sweep_removes_only_what_the_store_wrote(tmp_path: Path) -> None:
    clock = Clock()
    links = store(tmp_path, clock)
    foreign = tmp_path / "rasoat.db"
    foreign.write_bytes(b"not ours")
    left = tmp_path / ("B" * 24 + ".taken")
    left.write_bytes(b"a download a crash cut short")
    long_ago = (START - timedelta(days=2)).timestamp()
    for path in (foreign, left):
        os.utime(path, (long_ago, long_ago))
    # A new file sweeps first: the crash's leftover goes, the stranger stays.
    links.put("zalo-bot:abc", "a.xlsx", b"x", "application/x", once=True)
    assert left.exists() is False and foreign.exists()
    clock.moment += timedelta(hours=2)
    assert links.sweep() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rasoat.db"]
