"""The benchmarks run end to end in a tiny configuration (no timing is asserted)."""

from __future__ import annotations

import asyncio
import io
import math
from types import SimpleNamespace

import pytest

from bench import floor, harness, interview, load
from tests.conftest import POSTGRESQL_ONLY


def tiny() -> interview.Options:
    return interview.Options(
        backends=("sqlite",),
        chats=2,
        seconds=1.0,
        direct_answers=6,
        direct_chats=2,
        collaborators=3,
        latency_seconds=2.0,
        think=0.5,
    )


def test_the_machine_busy_is_shown_as_a_whole_percentage() -> None:
    assert interview.busy_percent(0.8149) == "81%"
    assert interview.busy_percent(0.926) == "93%"
    assert interview.busy_percent(1.0) == "100%"


def test_a_ratio_just_under_its_target_is_not_shown_at_it() -> None:
    assert interview.shown_ratio(0.7485) == "0.74"
    assert interview.shown_ratio(0.75) == "0.75"
    assert interview.shown_ratio(0.8999) == "0.89"
    assert interview.shown_ratio(0.29) == "0.29"


async def test_interview_benchmark_completes_and_reports_every_target() -> None:
    """The bots as processes driven by the load process, the direct run and the latency
    run, on SQLite; every figure measured, and a verdict line per target."""
    out = io.StringIO()
    [result] = await interview.run(tiny(), out)
    assert result.echo.rate > 0 and result.button > 0 and result.interview.rate > 0
    assert result.direct > 0
    assert result.latency.result["latency"]["count"] > 0
    assert result.latency.result["latency_by_kind"]["button"]["count"] > 0
    assert result.durable.rate > 0
    for phase in (result.echo, *result.buttons, result.durable, result.interview, result.latency):
        assert phase.errors() == []
    report = out.getvalue()
    # The ratio rounded down: never shown at its target while failing it.
    shown = math.floor(result.ratio * 100 + 1e-9) / 100
    assert f"{shown:.2f}x" in report and f"{result.direct:.1f}" in report
    # Where an answer's time goes: the bare button bot makes exactly its two calls, and each
    # bot's event-loop thread is measured apart from its other threads.
    assert set(result.buttons[0].result["calls"]) == {"answerCallbackQuery", "sendMessage"}
    assert "sendMessage" in result.interview.result["calls"]
    # rasoat answers presses in the webhook's 200 (bot.channels.button_answers), counted
    # apart from the HTTP calls; the bare bots make their calls.
    assert result.interview.result["in_answers"]["answerCallbackQuery"] > 0
    assert result.buttons[0].result["in_answers"] == {}
    [(loop, _others)] = result.interview.measured.threads
    assert loop > 0
    assert result.interview.per_answer() in report
    # The machine's share busy during each run, beside what each process spent.
    machine = result.interview.measured.cpu["machine"]
    assert 0 < machine <= 1
    assert result.interview.per_answer().endswith(f"{round(machine * 100)}%")
    # The instrument's own delays shown beside the latencies it measured.
    lag = result.latency.result["lag"]
    assert (
        f"the load process waking late: p99 {interview.ms(lag['p99'])} ms, "
        f"max {interview.ms(lag['max'])} ms" in report
    )
    # The ceiling: the floor scaled by the Bot API calls of an answer, from the raw counts.
    durable_calls = sum(result.durable.result["calls"].values()) / result.durable.result["answers"]
    interview_calls = (
        sum(result.interview.result["calls"].values()) / (result.interview.result["answers"])
    )
    ceiling = result.durable.rate / result.button * durable_calls / interview_calls
    assert f"{result.floor:.2f}x{ceiling:>8.2f}x" in report
    # The verdicts follow from the figures and the targets (the figures of a run
    # this small and this busy mean nothing; the verdicts' arithmetic does).
    expected = {
        "answers/s vs bare button bot": result.ratio >= 0.75,
        "direct answers/s": result.direct >= 1000,
        "p99 latency": result.latency.result["latency"]["p99"] < 0.050,
    }
    targets = report.split("targets:", 1)[1].splitlines()
    for what, passed in expected.items():
        [line] = [line for line in targets if what in line]
        assert line.startswith("sqlite") and line.endswith("PASS" if passed else "FAIL")
    assert targets[-1] == ("overall: PASS" if all(expected.values()) else "overall: FAIL")


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


def test_floor_benchmark_completes(capsys: pytest.CaptureFixture[str]) -> None:
    assert floor.main(["--turns", "40", "--runs", "1"]) == 0
    printed = capsys.readouterr().out
    for what in ("sqlite3", "SQLAlchemy Core", "Questionnaire turn from JSON", "ceiling"):
        assert what in printed


async def test_a_line_too_long_to_read_fails_the_run_at_once() -> None:
    """The reader of a child's output stops at a line over its limit: waiting for the next
    line is then told so, not left to wait out its timeout (once, ten minutes)."""
    stream = asyncio.StreamReader(limit=16)
    stream.feed_data(b"RESULT " + b"x" * 64 + b"\n")
    output = harness.Output(stream, "load")
    running = SimpleNamespace(returncode=None)
    # Without the check, the wait ends in TimeoutError instead.
    with pytest.raises(harness.BenchError, match="load: output unreadable"):
        await harness.next_line(output, "RESULT", [running], timeout=5)


async def test_an_output_that_ends_before_its_line_fails_the_run_at_once() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"READY {}\n")
    stream.feed_eof()
    output = harness.Output(stream, "load")
    running = SimpleNamespace(returncode=None)
    with pytest.raises(harness.BenchError, match="load: its output ended"):
        await harness.next_line(output, "RESULT", [running], timeout=5)
