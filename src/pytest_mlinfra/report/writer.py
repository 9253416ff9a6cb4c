"""Write the reports a session asked for, and say where they are, how big, and what they cost."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pytest_mlinfra.report.cost import Prices, parse_prices
from pytest_mlinfra.report.results import SessionResults
from pytest_mlinfra.report.summary import build_summary, write_json

if TYPE_CHECKING:
    from pytest_mlinfra.plugin import SessionState


def write_reports(state: SessionState, exitstatus: int) -> list[str]:
    """Build the summary once, write the JSON and/or the HTML; one message line per file."""
    started = time.perf_counter()
    settings = state.settings
    prices = parse_prices(settings.prices) if settings.prices else Prices()
    summary = build_summary(
        settings,
        state.started,
        state.results or SessionResults(),
        loop_seconds=state.loop_seconds,
        exitstatus=exitstatus,
        prices=prices,
        loop_window=state.loop_window,
    )
    messages = []
    if settings.json_report is not None:
        write_json(summary, settings.json_report)
        messages.append(
            f"mlinfra: JSON summary {settings.json_report} "
            f"({settings.json_report.stat().st_size / 1e3:.0f} kB)"
        )
    if settings.report is not None:
        from pytest_mlinfra.report.history import load_history
        from pytest_mlinfra.report.html import write_html

        history = load_history(settings.report_history, summary)
        write_html(summary, settings.report, history)
        messages += [f"mlinfra: report history: skipped {skipped}" for skipped in history.skipped]
        messages.append(
            f"mlinfra: HTML report {settings.report} ({settings.report.stat().st_size / 1e3:.0f} kB, "
            f"written in {time.perf_counter() - started:.2f} s)"
        )
    return messages
