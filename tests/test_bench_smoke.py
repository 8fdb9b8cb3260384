"""The benchmark runs end to end in a tiny configuration (no timing is asserted)."""

from __future__ import annotations

import io

from bench import load
from bench.interview import Options, run
from tests.conftest import POSTGRESQL_ONLY


async def test_benchmark_completes_and_reports_a_ratio() -> None:
    out = io.StringIO()
    [result] = await run(Options(backends=("sqlite",), answers=6, chats=2), out)
    assert result.echo > 0 and result.interview > 0 and result.button > 0 and result.direct > 0
    report = out.getvalue()
    assert "sqlite" in report and f"{result.ratio:.2f}x" in report
    assert f"{result.ceiling:.2f}x" in report and f"{result.own_cost:.2f}x" in report


@POSTGRESQL_ONLY
async def test_load_benchmark_completes_and_reports_latency(backend: str) -> None:
    """Real `rasoat run --webhook` workers on PostgreSQL, driven by a separate load process
    (skipped without a PostgreSQL server, unless RASOAT_REQUIRE_POSTGRES=1)."""
    out = io.StringIO()
    options = load.Options(collaborators=3, seconds=3, workers=(1,), think=0.2)
    [run_] = await load.run(options, out)
    assert run_.result["actions"] > 0 and run_.result["latency"]["count"] > 0
    report = out.getvalue()
    assert f"{run_.rate:.1f}" in report and "p99 ms" in report and "answers/s" in report
