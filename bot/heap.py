"""A started process's heap, settled before the chats run.

What exists once a process has started (the modules, and where chat turns are applied the
form, its compiled plan, the rules and the catalogs) lives as long as the process. Frozen
(``gc.freeze``), the collector's full passes no longer walk it again and again while the
chats run: each such pass stops every turn of the process while it lasts.

The form is read lazily (a start whose form passed its check before does not read it), so
the process that applies turns loads what a turn needs first: left to the first interview,
the form, its plan and openpyxl's classes landed outside the frozen heap, and every full pass
of the turn process walked them again, 32–55 ms each, about every 20 s, on the latency
benchmark's 90 answers a second (bench/README.md).
"""

from __future__ import annotations

import gc
from datetime import datetime

from bot.interview.session import plan_of
from bot.settings import Settings
from classification.ruleset import rules_for
from forms import current_form
from locales.catalog import SUPPORTED_LOCALES, catalog


def load_turns_needs(settings: Settings) -> None:
    """Loads what every interview turn uses: the form, its plan, this year's rules and the
    catalogs (each cached where it is kept)."""
    plan_of(current_form())
    rules_for(datetime.now(settings.tz).year, settings.rules)
    for locale in SUPPORTED_LOCALES:
        catalog(locale)


def settle(settings: Settings, *, turns: bool) -> None:
    """Once started: with ``turns`` (this process applies chat turns), what they need loaded
    first; the garbage of the start collected, and what is left frozen."""
    if turns:
        load_turns_needs(settings)
    gc.collect()
    gc.freeze()
