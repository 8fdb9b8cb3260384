"""``python -m bench``: every benchmark, with the options of :mod:`bench.interview`."""

from __future__ import annotations

import sys

from bench.interview import main

if __name__ == "__main__":
    sys.exit(main())
