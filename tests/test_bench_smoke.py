"""The benchmark runs end to end in a tiny configuration (no timing is asserted)."""

from __future__ import annotations

import io

from bench.interview import Options, run


async def test_benchmark_completes_and_reports_a_ratio() -> None:
    out = io.StringIO()
    [result] = await run(Options(backends=("sqlite",), answers=6, chats=2), out)
    assert result.echo > 0 and result.interview > 0 and result.button > 0 and result.direct > 0
    report = out.getvalue()
    assert "sqlite" in report and f"{result.ratio:.2f}x" in report
    assert f"{result.ceiling:.2f}x" in report and f"{result.own_cost:.2f}x" in report
