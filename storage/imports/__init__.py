"""Bulk imports from the files communes already keep: the area tree and the roster.

Both importers are all-or-nothing and idempotent:

* the whole file is checked first and *every* problem is reported at once, with the row
  number Excel shows (header = row 1), as :class:`ImportFailed`; nothing is written then;
* otherwise everything is written in one transaction with one audit entry, and
  importing the same file again reports every record as unchanged.

Accepted files: ``.csv`` (UTF-8 with or without BOM, or UTF-16 with BOM; ``,`` ``;`` or
tab, detected) and ``.xlsx`` (first sheet). Headers may be Vietnamese or English, with
or without accents, in any case and order; rows above the header (a title) are skipped.
"""

from storage.imports.areas import AREA_COLUMNS, import_areas
from storage.imports.errors import ImportFailed, ImportResult, RowError
from storage.imports.roster import ROSTER_COLUMNS, import_roster

__all__ = [
    "AREA_COLUMNS",
    "ROSTER_COLUMNS",
    "ImportFailed",
    "ImportResult",
    "RowError",
    "import_areas",
    "import_roster",
]
