"""``python -m bench [interview|summary|export|load] [options]``: the benchmarks, each
printing its figure against a baseline or a target measured in the same run.

Without a name it runs the interview benchmark (options of :mod:`bench.interview`);
``python -m bench all`` runs interview, summary and export with their default sizes, one
after the other. ``load`` (:mod:`bench.load`) is not part of ``all``: it needs a
PostgreSQL server and takes about five minutes. Both drive real bot processes from a load
process of their own (:mod:`bench.harness`); ``python -m bench.bots`` is the bare bots the
interview benchmark compares with.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _runners() -> dict[str, Callable[[Sequence[str]], int]]:
    from bench import export, interview, summary

    return {
        "interview": lambda argv: interview.main(list(argv)),
        "summary": lambda argv: summary.main(list(argv)),
        "export": lambda argv: export.run(list(argv)),
    }


def _load(argv: Sequence[str]) -> int:
    from bench import load

    return load.main(list(argv))


def _push(argv: Sequence[str]) -> int:
    from bench import push

    return push.main(list(argv))


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "load":
        return _load(argv[1:])
    if argv and argv[0] == "push":
        return _push(argv[1:])
    runners = _runners()
    if argv and argv[0] == "all":
        return max(runner(list(argv[1:])) for runner in runners.values())
    if argv and argv[0] in runners:
        return runners[argv[0]](argv[1:])
    return runners["interview"](argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
