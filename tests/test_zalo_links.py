"""Files on Zalo Bot as short-lived signed links, end to end: the real channel polling the
fake Bot Platform, its links served by rasoat's own server on 127.0.0.1, fetched over
HTTP; time is a clock the test moves."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import openpyxl
import pytest

from bot.channels.zalo_bot import PLATFORM, ZaloBotChannel, open_channel
from bot.channels.zalo_webhook import polling
from bot.export_cli import export_to_files
from bot.links import LinkStore, sign
from bot.settings import Settings
from locales.catalog import translate
from storage.models import Role
from tests.conftest import INVITE_KEY, Database
from tests.exports.data import Planned, insert_households
from tests.fakes.zalo_bot import FakeZaloBot
from tests.helpers import add_person, seed_areas
from tests.surfaces import ZaloSurface
from tests.test_zalo_bot_e2e import Waits, zalo_settings

YEAR = datetime.now(UTC).year
STAFF, OTHER = "a1b2c3d4e5f60718293a", "ffeeddccbbaa99887766"
LINK = re.compile(r"https?://\S+/files/\S+")


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class Linked:
    channel: ZaloBotChannel
    store: LinkStore
    clock: Clock
    client: httpx.AsyncClient


@asynccontextmanager
async def linked(settings: Settings, folder: Path) -> AsyncIterator[Linked]:
    """The channel polling the fake, its links served on a port of its own (as `rasoat run
    --channel zalo-bot` with RASOAT_PUBLIC_URL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    clock = Clock()
    store = LinkStore(folder, INVITE_KEY, public, timedelta(hours=1), clock)
    async with (
        open_channel(settings, sleep=Waits(), links=store) as channel,
        polling(channel, sock, seconds=1),
        httpx.AsyncClient() as client,
    ):
        yield Linked(channel, store, clock, client)


async def staff(database: Database, *users: str) -> None:
    await seed_areas(database.sessions)
    await insert_households(
        database.sessions,
        YEAR,
        [Planned("HH-001", "87-MH-A1", 0), Planned("HH-002", "87-MH-A2", 1)],
    )
    for user in users:
        await add_person(
            database.sessions, PLATFORM, user, f"Cán bộ {user[:4]}", Role.COMMUNE_STAFF, "87-MH"
        )


async def link_for(fake: FakeZaloBot, bot: Linked, user: str, command: str) -> str:
    replies = await ZaloSurface(fake, bot.channel, user).type(command)
    [link] = [found for reply in replies for found in LINK.findall(reply)]
    return link


def workbook_values(content: bytes) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(BytesIO(content), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def with_query(link: str, **changed: str) -> str:
    parts = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changed
    joined = "&".join(f"{k}={v}" for k, v in query.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


async def test_an_export_arrives_as_a_link_that_downloads_the_workbook_once(
    database: Database, fake_zalo: FakeZaloBot, tmp_path: Path
) -> None:
    await staff(database, STAFF)
    settings = zalo_settings(database, fake_zalo)
    async with linked(settings, tmp_path / "links") as bot:
        link = await link_for(fake_zalo, bot, STAFF, "/export")
        # Nothing of the person or the commune in the address.
        assert STAFF not in link and "87-MH" not in link and "HH-" not in link
        kept = sorted(p.name for p in (tmp_path / "links").iterdir())
        assert len(kept) == 2
        for path in (tmp_path / "links").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600

        # Opening the link (as a chat app does to draw a preview) shows a page: the file is
        # still there after two.
        for _ in range(2):
            page = await bot.client.get(link)
            assert page.status_code == 200 and "Tải về" in page.text
        downloaded = await bot.client.post(link)
        assert downloaded.status_code == 200
        assert "attachment" in downloaded.headers["content-disposition"]
        # The file spent: once, not twice, and gone from the disk.
        again = await bot.client.post(link)
        assert again.status_code == 410
        assert again.text == translate("links.gone")
        assert (await bot.client.get(link)).status_code == 410
        assert list((tmp_path / "links").iterdir()) == []

    # The same workbook `rasoat export` writes for the commune.
    [written] = await export_to_files(
        database.sessions, settings, area="87-MH", fmt="xlsx", output=tmp_path
    )
    assert workbook_values(downloaded.content) == workbook_values(written.read_bytes())
    assert "HH-001" in str(workbook_values(downloaded.content))


async def test_a_link_changed_or_made_for_another_person_is_refused(
    database: Database, fake_zalo: FakeZaloBot, tmp_path: Path
) -> None:
    await staff(database, STAFF, OTHER)
    async with linked(zalo_settings(database, fake_zalo), tmp_path / "links") as bot:
        mine = await link_for(fake_zalo, bot, STAFF, "/export")
        theirs = await link_for(fake_zalo, bot, OTHER, "/export")
        query = {key: values[0] for key, values in parse_qs(urlsplit(mine).query).items()}
        file_id = urlsplit(mine).path.rsplit("/", 1)[1]
        expires = int(query["e"])
        signature = query["s"]
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        their_signature = parse_qs(urlsplit(theirs).query)["s"][0]
        # The link of this file, signed with the server's own key for the other person.
        for_other = sign(INVITE_KEY, file_id, f"{PLATFORM}:{OTHER}", expires)
        forged = [
            with_query(mine, s=flipped),
            with_query(mine, s=their_signature),
            with_query(mine, s=for_other),
            with_query(mine, e=str(expires + 3600)),
            mine.replace(file_id, urlsplit(theirs).path.rsplit("/", 1)[1]),
            mine.replace(file_id, "../../../../etc/passwd"),
        ]
        for link in forged:
            for method in ("GET", "POST"):
                refused = await bot.client.request(method, link)
                assert refused.status_code in (403, 404), (link, method, refused.status_code)
                if refused.status_code == 403:
                    assert refused.text == translate("links.forged")
        # None of that spent either file.
        for link in (mine, theirs):
            assert (await bot.client.post(link)).status_code == 200


async def test_a_link_does_not_work_after_it_expires_and_its_file_is_removed(
    database: Database, fake_zalo: FakeZaloBot, tmp_path: Path
) -> None:
    await staff(database, STAFF)
    async with linked(zalo_settings(database, fake_zalo), tmp_path / "links") as bot:
        link = await link_for(fake_zalo, bot, STAFF, "/report")
        assert ".docx" in fake_zalo.messages_to(STAFF)[-1]
        bot.clock.moment += timedelta(minutes=59)
        assert (await bot.client.get(link)).status_code == 200
        bot.clock.moment += timedelta(minutes=1)
        gone = await bot.client.post(link)
        assert gone.status_code == 410 and gone.text == translate("links.gone")
        # Swept: what was kept for the link is off the disk.
        assert list((tmp_path / "links").iterdir()) == []


async def test_the_summary_chart_goes_as_a_photo_link_beside_its_text(
    database: Database, fake_zalo: FakeZaloBot, tmp_path: Path
) -> None:
    await staff(database, STAFF)
    async with linked(zalo_settings(database, fake_zalo), tmp_path / "links") as bot:
        replies = await ZaloSurface(fake_zalo, bot.channel, STAFF).type("/summary")
        # The text always comes.
        assert any("Hộ nghèo" in reply or "hộ nghèo" in reply for reply in replies), replies
        [(chat, photo, caption)] = fake_zalo.photos
        assert chat == STAFF and STAFF not in photo and caption
        # Zalo fetches the photo itself, maybe more than once, until it expires.
        for _ in range(2):
            fetched = await bot.client.get(photo)
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == "image/png"
            assert fetched.content.startswith(b"\x89PNG\r\n\x1a\n")
        bot.clock.moment += timedelta(hours=1)
        assert (await bot.client.get(photo)).status_code == 410


@pytest.mark.parametrize("command", ["/export", "/report"])
async def test_without_a_public_address_the_file_is_said_to_be_on_telegram(
    database: Database, fake_zalo: FakeZaloBot, tmp_path: Path, command: str
) -> None:
    await staff(database, STAFF)
    settings = zalo_settings(database, fake_zalo)
    assert settings.public_url is None
    async with open_channel(settings, sleep=Waits()) as channel, polling(channel, None, seconds=1):
        assert channel.links is None
        replies = await ZaloSurface(fake_zalo, channel, STAFF).type(command)
    [line] = [reply for reply in replies if reply.startswith("📎")]
    assert "Telegram" in line and command in line
    assert not LINK.search(line) and fake_zalo.photos == []
