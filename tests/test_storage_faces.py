"""storage.async_repositories has one awaitable method for each method of a repository,
with the same parameters and result, and nothing else: the queries have one implementation."""

from __future__ import annotations

import inspect

import pytest

import storage.async_repositories as faces
import storage.followup as followup
import storage.identities as identities
import storage.meetings as meetings
import storage.outbox as outbox
import storage.reports as reports
import storage.repositories as repositories
import storage.zalo_oa_tokens as zalo_oa_tokens

# Repositories kept in modules of their own, each with its face beside the others.
OWN_MODULE_REPOSITORIES: dict[str, type] = {
    "FollowupRepository": followup.FollowupRepository,
    "MeetingRepository": meetings.MeetingRepository,
    "ReportRepository": reports.ReportRepository,
    "Outbox": outbox.Outbox,
    "IdentityRepository": identities.IdentityRepository,
    "ZaloOaTokens": zalo_oa_tokens.ZaloOaTokens,
}


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


FACES = {
    name: cls
    for name, cls in vars(faces).items()
    if inspect.isclass(cls) and name.startswith("Async") and cls.__module__ == faces.__name__
}


def test_every_repository_has_a_face() -> None:
    repository_names = {
        name
        for name, cls in vars(repositories).items()
        if inspect.isclass(cls)
        and cls.__module__ == repositories.__name__
        and issubclass(cls, repositories._Repository)
        and cls is not repositories._Repository
    }
    assert {name.removeprefix("Async") for name in FACES} == (
        repository_names | set(OWN_MODULE_REPOSITORIES)
    )


@pytest.mark.parametrize("face_name", sorted(FACES))
def test_a_face_has_the_repository_methods_with_their_signatures(face_name: str) -> None:
    face = FACES[face_name]
    name = face_name.removeprefix("Async")
    repository = OWN_MODULE_REPOSITORIES.get(name) or getattr(repositories, name)
    assert _public(face) == _public(repository)
