"""The report gives autopilot event times in seconds from the start of the record, the autopilot's own clock (Unix
seconds for a tlog) only beside them."""

from __future__ import annotations

import re

import pytest
from fake_runs import write_fake_run
from test_autopilot_logs import T0_S, copter_rows, write_tlog

from drone_perception.audit.api import audit_record


def _rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "<td" in row]


def test_autopilot_event_times_are_from_the_record_start(tmp_path) -> None:
    record = write_fake_run(tmp_path / "r.mcap", duration_s=6.0)  # armed at t=0: the tlog's arm at T0 + 1 s
    tlog = tmp_path / "flight.tlog"
    write_tlog(tlog, copter_rows())
    html_path = tmp_path / "report.html"
    audit_record(record, html_path, None, tlog=tlog)
    html = html_path.read_text()
    assert "<th>From record start (s)</th>" in html
    rows = _rows(html, "autopilot-events")
    assert rows
    by_text = {r[3]: r for r in rows}
    assert float(by_text["GUIDED"][0]) == pytest.approx(1.0)  # T0 + 2 s, one second after the arm
    assert float(by_text["GUIDED"][1]) == pytest.approx(T0_S + 2.0)  # the autopilot clock, beside it
    assert all(abs(float(r[0])) < 1e5 for r in rows if r[0] != "\N{EN DASH}" and r[0] != "&ndash;")
    recorded = _rows(html, "recorded-autopilot-events")
    assert recorded and all(0.0 <= float(r[0]) <= 6.0 for r in recorded)
