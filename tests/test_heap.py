"""bot.heap: a started process freezes what lives as long as it does, the form and its
plan included where it applies chat turns (left to the first interview, they were walked
again by every full collection of the turn process)."""

from __future__ import annotations

import gc

from bot import heap
from bot.interview.session import plan_of
from bot.settings import Settings
from forms import current_form


def _tracked(thing: object) -> bool:
    # gc.get_objects() lists the collector's generations, not the frozen objects.
    return any(found is thing for found in gc.get_objects())


def test_a_process_applying_turns_freezes_the_form_and_its_plan(settings: Settings) -> None:
    try:
        heap.settle(settings, turns=True)
        plan = plan_of(current_form())
        assert gc.get_freeze_count() > 0
        assert not _tracked(plan)
        assert not _tracked(current_form())
    finally:
        gc.unfreeze()
