"""Progress bars for long imports: on stderr, so stdout stays clean for the summary."""

from __future__ import annotations

import sys
from typing import Never

from tqdm import tqdm

from locales.catalog import translate


def progress_bar(total: int, message_key: str, enabled: bool) -> tqdm[Never]:
    return tqdm(
        total=total,
        desc=translate(message_key),
        unit=translate("imports.progress.unit"),
        file=sys.stderr,
        disable=not enabled,
        leave=False,
        # Updating the terminal is slower than checking a row; twice a second is enough.
        mininterval=0.5,
    )
