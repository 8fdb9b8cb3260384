"""Loopback fakes of external services for the test suite."""

from tests.fakes.telegram import TOKEN, FakeTelegram, FakeUser, UploadedFile, fake_telegram

__all__ = ["TOKEN", "FakeTelegram", "FakeUser", "UploadedFile", "fake_telegram"]
