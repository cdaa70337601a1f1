"""The demo's closing summary names times as the report does and the report's period by its own last day."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tenantops_lab.cli.demo import print_summary
from tenantops_lab.demo.run import DemoResult, HistoryFigures, LatencySummary, ReportFigures


def test_the_summary_prints_trace_times_to_the_minute_and_the_reports_last_day() -> None:
    """It printed "trace time 2026-12-01T12:27:00.845790+00:00 to ..." and "cost report 2026-11-01 to
    2026-12-01" beside a mailed report titled "2026-11-01 to 2026-11-30"."""
    none = LatencySummary(0, None, None)
    result = DemoResult(
        output=Path("out"), seconds=234.0, passes=358, failed_passes=0, actions=148, scaled_up=[], scaled_down=[],
        latency_up=none, latency_down=none, latency_all=none, report_sent=True, mails_received=3,
        trace_start="2026-12-01T12:27:00.845790+00:00", trace_end="2026-12-01T15:26:57.797298+00:00",
        history=HistoryFigures(60, 1365, 2_591_511, 10.0, 1440, 0, 50.0, "2026-10-02T13:00:00+00:00",
                               "2026-12-01T12:00:00+00:00"),
        report=ReportFigures("2026-11-01", "2026-12-01", 30, 2801.55, ["cyberdyne"], ["a", "b"], 1154.15, 17,
                             ["acme"]))
    console = Console(record=True, width=200, force_terminal=False)
    print_summary(console, result)
    text = console.export_text()
    assert "(trace time 2026-12-01 12:27 UTC to 2026-12-01 15:26 UTC, 60x)" in text
    assert "1440 hourly cost passes 2026-10-02 13:00 UTC to 2026-12-01 12:00 UTC" in text
    assert "cost report 2026-11-01 to 2026-11-30: 30 days with cost, $2,801.55" in text
    assert "+00:00" not in text
