"""Issue 13 item 6: the self-contained HTML campaign report. The pure renderer on synthetic rows (tables, numbers,
escaping, nothing fetched, tolerant of missing and extra keys), ``write_report`` on a tiny real campaign (worst
cases re-run with a record, trace hash checked, evidence re-used not overwritten), and the page in headless
Chromium with every request to the network caught by a local proxy."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from drone_perception.cli import main
from sim.campaign.html_report import CaseArtefacts, overall_verdict, render_report, safety_margin, worst_order
from sim.campaign.stats import upper_bound
from sim.runners.campaign import read_manifest, summarize

PARAMS = {"min_standoff_m": 8.0, "height_margin_m": 1.0, "follow_distance_m": 15.0,
          "design_person_speed_mps": 7.0, "max_horizontal_speed_mps": 5.0, "detector_miss_scale": 1.0}
# the smallest valid PNG (1x1): what the renderer embeds for a re-run case's trajectory
PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8cfc0f01f0005000201a0e3b1a90000000049454e44ae426082")


def row(cid: str, standoff: float = 3.0, fence: float = 10.0, disengaged: int = 0, mission: int = 1,
        scenario: str = "walk", **extra) -> dict:
    margins = {"standoff_m": standoff, "fence_m": fence, "disengaged_commands": disengaged, "mission": mission}
    verdict = "pass" if min(margins.values()) >= 0 else "fail"
    return {"schema": "drone-perception/campaign-case/1", "id": cid, "code": "test", "scenario": scenario,
            "seed": 7, "params": dict(PARAMS, min_standoff_m=5.0 + len(cid)), "margins": margins,
            "trace_hash": "0123456789abcdef", "verdict": verdict,
            "failures": ["standoff"] if standoff < 0 else [], "subject_in_view_share": 0.9, **extra}


ROWS = [row("aaa", standoff=2.0), row("bbb", standoff=-0.75, fence=4.0), row("ccc", standoff=5.0, mission=-1),
        row("ddd", standoff=1.5, fence=0.5)]


def without_data_uris(page: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:", page)


def assert_self_contained(page: str) -> None:
    text = without_data_uris(page)
    assert not re.search(r"https?:|//[a-z]", text, re.I), "the page names a URL"
    assert "<script" not in text.lower() and "<link" not in text.lower() and "@import" not in text
    assert "url(" not in text
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', text))


# ---------------------------------------------------------------------------------------------- pure renderer


def test_the_statistics_falsification_and_verdict_tables_carry_the_right_numbers() -> None:
    summary = summarize(ROWS)
    summary["falsification"] = {"random": {"cases": 4, "failures": 1, "simulations_to_first_failure": 2,
                                           "worst_margin_m": -0.75, "worst_scenario": "walk", "worst_case": "bbb"},
                                "cem": {"cases": 4, "failures": 3, "simulations_to_first_failure": 1,
                                        "worst_margin_m": -2.5, "worst_scenario": "walk", "worst_case": "zzz",
                                        "by_invariant": {"fence_m": {"failures": 2, "simulations_to_first_failure": 3,
                                                                     "worst_margin_m": -0.125,
                                                                     "worst_scenario": "leave_fence",
                                                                     "worst_case": "yyy"}}},
                                "cem_final_mean": {"standoff_m": [0.5, 0.4]}}
    page = render_report(ROWS, summary)
    assert_self_contained(page)
    stats = re.search(r'<table id="stats-table">.*?</table>', page, re.S).group(0)
    standoff = re.search(r'<tr data-invariant="standoff_m">.*?</tr>', stats, re.S).group(0)
    assert "1 / 4" in standoff and f"{upper_bound(1, 4):.5f}" in standoff
    assert "-0.7500" in standoff and "<code>bbb</code>" in standoff
    mission = re.search(r'<tr data-invariant="mission">.*?</tr>', stats, re.S).group(0)
    assert "1 / 4" in mission and "<code>ccc</code>" in mission
    assert f"{upper_bound(0, 4):.5f}" in re.search(r'<tr data-invariant="fence_m">.*?</tr>', stats, re.S).group(0)

    fal = re.search(r'<table id="falsification-table">.*?</table>', page, re.S).group(0)
    cem = re.search(r'<tr data-search="cem" data-invariant="worst">.*?</tr>', fal, re.S).group(0)
    assert "-2.5000" in cem and ">3<" in cem and "cem_final_mean" in page
    fence = re.search(r'<tr data-search="cem" data-invariant="fence_m">.*?</tr>', fal, re.S).group(0)
    assert "-0.1250" in fence and ">2<" in fence and "leave_fence" in fence and ">4<" in fence  # cases: the search's
    assert 'data-search="cem_final_mean"' not in fal  # not a search: listed below the table

    # side by side: a safe case that did not do its job is not a pass
    verdicts = re.search(r'<table id="verdicts-table">.*?</table>', page, re.S).group(0)
    assert re.search(r'<tr data-safety="pass">.*?data-mission="pass">2<.*?data-mission="fail">1<', verdicts, re.S)
    assert re.search(r'<tr data-safety="fail">.*?data-mission="pass">1<', verdicts, re.S)
    assert "Passed (safe and did the job): <b>2</b> of 4" in page
    assert 'id="overall" class="overall fail"' in page

    for fig in ("fig-margin-standoff_m", "fig-margin-fence_m", "fig-margin-disengaged_commands",
                "fig-margin-mission", "fig-coverage", "fig-scatter"):
        assert re.search(rf'<figure id="{fig}">.*?<img class="plot" [^>]*src="data:image/png;base64,', page, re.S)

    cases = re.search(r'<table id="cases-table">.*?</table>', page, re.S).group(0)
    listed = re.findall(r'<tr data-case="([^"]+)" data-verdict="([^"]+)"', cases)
    assert listed == [("bbb", "fail"), ("ccc", "fail")]  # failing, then by worst safety margin
    assert "min_standoff_m=8.000" in cases and "-0.750" in cases


def test_all_text_from_the_rows_and_the_summary_is_escaped() -> None:
    evil = row("e<1>", standoff=-1.0, scenario="<script>alert(1)</script>", failures=['x & "y"'])
    evil["params"] = {"a<b": 1.0, "c": 2.0}
    summary = {"invariants": {"standoff_m": {"failures": 1, "cases": 1, "upper_bound": 1.0, "worst_margin": -1.0,
                                             "worst_case": "<img src=x>"}},
               "importance": {"note": "</pre><script>bad()</script>"}}
    art = CaseArtefacts("e<1>", False, '"><script>', record_href='cases/"x/record.mcap')
    page = render_report([evil], summary, [art])
    assert_self_contained(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&lt;b=" in page
    assert "&lt;img src=x&gt;" in page and "x &amp; &quot;y&quot;" in page
    assert 'href="cases/&quot;x/record.mcap"' in page and "&lt;/pre&gt;&lt;script&gt;bad()" in page


def test_one_row_and_no_summary_still_gives_every_table() -> None:
    page = render_report([row("only")], None)
    assert_self_contained(page)
    assert 'id="stats-table"' in page and 'id="falsification-table"' not in page and 'id="repro-banner"' not in page
    assert re.search(r'<tr data-invariant="standoff_m">.*?0 / 1.*?' + f"{upper_bound(0, 1):.5f}", page, re.S)
    assert 'id="fig-scatter"' in page and 'id="overall" class="overall pass"' in page
    assert re.findall(r'<tr data-case="', page) == []


def test_missing_and_extra_keys_are_tolerated() -> None:
    odd = [
        {"id": "noparams", "scenario": "walk", "seed": 1, "margins": {"standoff_m": 1.0}, "verdict": "pass"},
        {"id": "nomargins", "scenario": "walk", "seed": 2, "params": {"x": 1.0, "fault_latency_s": 0.2}},
        row("extra", loop="mavlink", params_note=None, fence=float("inf")),
        "not a row",
    ]
    odd[2]["params"]["fault_gps_glitch_m"] = 3.0
    summary = {"cases": 3, "invariants": {}, "importance": {"weights": [1, 2]}, "loop": "direct"}
    page = render_report(odd, summary, [CaseArtefacts("extra", None, error="crashed")])
    assert_self_contained(page)
    assert 'id="other-summary"' in page and "importance" in page and "weights" in page
    assert 'data-reproduced="error"' in page and "NOT RE-RUN: crashed" in page
    # the row without margins is not a pass (nothing shows it was safe or did its job)
    assert re.search(r'<tr data-case="nomargins" data-verdict="(fail|unknown)"', page)
    assert "fault_gps_glitch_m" in page and 'id="fig-margin-standoff_m"' in page
    assert render_report([], {}).count('id="stats-table"') == 1


def test_the_worst_cases_show_their_trajectory_links_and_a_loud_mismatch() -> None:
    arts = [CaseArtefacts("bbb", False, "ffffffffffffffff", PNG_1PX, "cases/bbb/record.mcap",
                          "cases/bbb/report.html", "cases/bbb/trajectory.png", "fail"),
            CaseArtefacts("ccc", True, "0123456789abcdef", PNG_1PX, "cases/ccc/record.mcap",
                          "cases/ccc/report.html", None, "pass", note="Re-used")]
    page = render_report(ROWS, summarize(ROWS), arts)
    assert_self_contained(page)
    banner = re.search(r'<div id="repro-banner" class="banner fail">(.*?)</div>', page, re.S)
    assert banner and "TRACE HASH NOT REPRODUCED for 1 of 2" in banner.group(1) and "bbb" in banner.group(1)
    assert re.search(r'data-case="bbb" data-reproduced="no">.*?TRACE HASH MISMATCH: re-run ffffffffffffffff, '
                     r"manifest 0123456789abcdef", page, re.S)
    assert 'data-case="ccc" data-reproduced="yes"' in page
    assert 'href="cases/bbb/record.mcap"' in page and 'href="cases/bbb/report.html"' in page
    assert page.count('<figure id="fig-trajectory-') == 2
    assert '<a href="#case-bbb">bbb</a>' in page  # the table links to the case's section
    good = render_report(ROWS, summarize(ROWS), arts[1:])
    assert 'class="banner pass">All 1 re-run case(s) reproduced' in good


@pytest.mark.parametrize(("rows", "order"), [
    ([row("a", standoff=3.0), row("b", standoff=1.0), row("c", standoff=2.0)], ["b", "c", "a"]),
    ([row("a", standoff=0.5), row("b", standoff=4.0, mission=-1), row("c", standoff=-1.0)], ["c", "b", "a"]),
    ([row("a", fence=-2.0), row("b", standoff=-1.0), row("c", disengaged=-3)], ["a", "b", "c"]),
])
def test_worst_order_puts_failures_first_then_the_lowest_safety_margin(rows, order) -> None:
    assert [r["id"] for r in worst_order(rows)] == order


def test_safety_margin_is_the_min_of_standoff_and_fence() -> None:
    assert safety_margin(row("a", standoff=3.0, fence=1.25)) == 1.25
    assert safety_margin({"margins": {}}) == float("inf")
    assert overall_verdict(row("a", mission=-1)) == "fail" and overall_verdict(row("a")) == "pass"


# ---------------------------------------------------------------------------------------------- a real campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> tuple[Path, str]:
    """Two short cases (the 30 s sprinter_ahead scenario); the campaign writes its report at the end."""
    out = tmp_path_factory.mktemp("campaign")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["campaign", "--episodes", "2", "--seed", "4", "--scenarios", "sprinter_ahead", "--out",
                     str(out)])
    assert code in (0, 1)
    return out, buf.getvalue()


def test_a_campaign_writes_its_report_with_the_worst_cases_rerun_and_reproduced(campaign) -> None:
    out, printed = campaign
    assert f"campaign report: {out / 'report.html'}" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    rows = read_manifest(out)
    assert re.findall(r'data-reproduced="(\w+)"', page) == ["yes", "yes"]
    assert 'class="banner pass">All 2 re-run case(s) reproduced' in page
    for r in rows:
        case_dir = out / "cases" / r["id"]
        assert (case_dir / "record.mcap").stat().st_size > 0 and (case_dir / "report.html").is_file()
        assert json.loads((case_dir / "rerun.json").read_text())["trace_hash"] == r["trace_hash"]
        assert f'href="cases/{r["id"]}/record.mcap"' in page and f'href="cases/{r["id"]}/report.html"' in page
    assert page.count('<figure id="fig-trajectory-') == 2


def test_the_report_command_reuses_the_records_and_shows_a_mismatch(campaign, tmp_path, capsys) -> None:
    out = tmp_path / "copy"  # a copy: the other tests see the campaign as it was written
    shutil.copytree(campaign[0], out)
    rows = read_manifest(out)
    worst = worst_order(rows)[0]
    record = out / "cases" / worst["id"] / "record.mcap"
    before = record.stat().st_mtime_ns
    assert main(["campaign", "report", str(out), "--worst", "1"]) == 0
    assert "campaign report:" in capsys.readouterr().out
    assert record.stat().st_mtime_ns == before  # evidence is never overwritten
    assert "Re-used the record" in (out / "report.html").read_text(encoding="utf-8")

    # a record left without its rerun.json (an interrupted report): re-run without a recorder, hash checked
    (out / "cases" / worst["id"] / "rerun.json").unlink()
    assert main(["campaign", "report", str(out), "--worst", "1"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "unfinished report is kept" in page and 'data-reproduced="yes"' in page
    assert record.stat().st_mtime_ns == before

    # a manifest whose hash the re-run does not reproduce: said loudly, exit 1
    manifest = out / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace(worst["trace_hash"], "feedfacefeedface"))
    assert main(["campaign", "report", str(out), "--worst", "1"]) == 1
    assert "TRACE HASH NOT REPRODUCED" in capsys.readouterr().err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="banner fail">TRACE HASH NOT REPRODUCED' in page and 'data-reproduced="no"' in page


def test_the_report_command_refuses_a_folder_without_a_campaign(tmp_path, capsys) -> None:
    assert main(["campaign", "report", str(tmp_path)]) == 2
    assert "manifest.jsonl" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- in Chromium

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); "
                                    "the browser rendering test needs it")


class DevTools:
    """Headless Chromium driven over the DevTools protocol on ``--remote-debugging-pipe`` (NUL-separated JSON on
    fds 3 and 4, put there by bash: dash refuses fd numbers over 9; no client library needed).

    How "nothing fetched" is checked: the test enables the Network domain on the page's own session and lists
    every request the page made (``Network.requestWillBeSent``): only the ``file:`` page and its ``data:``
    images may be there. Chromium's own background traffic (update checks, network time) is not the page's and
    does not show there, which a proxy trap could not tell apart. Belt and braces: every request goes to a proxy
    on a local port that is bound but not listening (``<-loopback>`` drops the implicit loopback bypass), so
    nothing the browser asks for leaves the machine; a page fetch fails with ERR_PROXY_CONNECTION_FAILED."""

    def __init__(self, profile: Path, timeout_s: float = 60.0) -> None:
        self._dead = socket.socket()
        self._dead.bind(("127.0.0.1", 0))  # never listen(): connections to it are refused
        self.timeout_s = timeout_s
        r_cmd, self._w = os.pipe()
        self._r, w_out = os.pipe()
        self._log = (profile.parent / "chromium.log").open("wb")  # Chromium's own chatter, for a failing test
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--proxy-server=http://127.0.0.1:{self._dead.getsockname()[1]}", "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(["bash", "-c", f'exec "$@" 3<&{r_cmd} 4>&{w_out}', "bash", *args],
                                     pass_fds=(r_cmd, w_out), stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(r_cmd)
        os.close(w_out)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium's DevTools pipe")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed its DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}, **({"sessionId": session} if session else {})}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            got = self._read(deadline)
            if got.get("id") == self._id:
                assert "error" not in got, got["error"]
                return got["result"]
            self.events.append(got)

    def wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._read(deadline))

    def open(self, url: str, width_px: int = 1300, height_px: int = 2600) -> str:
        """A page session on ``url``, loaded (network watched from before the navigation)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", session=session)
        self.call("Page.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width_px, "height": height_px,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, expression: str):
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                         session=session)["result"].get("value")

    def requests(self, session: str) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session]

    def failures(self, session: str) -> list[str]:
        return [e["params"]["errorText"] for e in self.events
                if e.get("method") == "Network.loadingFailed" and e.get("sessionId") == session]

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError, EOFError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)
        self._log.close()
        self._dead.close()


@pytest.fixture()
def browser(tmp_path):
    b = DevTools(tmp_path / "profile")
    yield b
    b.close()


def _fetched(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith(("data:", "file:"))]


@pytest.mark.browser
@needs_chromium
def test_the_network_check_catches_a_page_that_fetches(tmp_path, browser) -> None:
    page = tmp_path / "fetches.html"
    page.write_text('<html><body><img src="http://campaign-report.invalid/x.png"></body></html>')
    session = browser.open(page.resolve().as_uri())
    assert _fetched(browser.requests(session)) == ["http://campaign-report.invalid/x.png"]
    assert browser.failures(session) == ["net::ERR_PROXY_CONNECTION_FAILED"]  # and it never left the machine


_FIGURES_JS = """JSON.stringify(Array.from(document.querySelectorAll('figure')).map(f => {
  const img = f.querySelector('img.plot');
  return [f.id, img && img.complete ? img.naturalWidth : 0, img && img.complete ? img.naturalHeight : 0];
}))"""


@pytest.mark.browser
@needs_chromium
def test_the_report_renders_in_chromium_with_every_plot_decoded_and_nothing_fetched(campaign, tmp_path,
                                                                                   browser) -> None:
    out, _ = campaign
    session = browser.open((out / "report.html").resolve().as_uri())
    dom = browser.evaluate(session, "document.documentElement.outerHTML")
    for section in ("stats-table", "verdicts-table", "cases-table", "repro-banner", "overall"):
        assert f'id="{section}"' in dom, section
    assert len(re.findall(r"<tr data-invariant=", dom)) == 4
    sizes = {fid: (w, h) for fid, w, h in json.loads(browser.evaluate(session, _FIGURES_JS))}
    assert {"fig-coverage", "fig-scatter", "fig-margin-standoff_m"} <= set(sizes)
    assert sum(fid.startswith("fig-trajectory-") for fid in sizes) == 2
    assert all(w > 200 and h > 100 for w, h in sizes.values()), sizes  # every image decoded
    # the worst cases' links point into the campaign folder, at files that are there
    hrefs = json.loads(browser.evaluate(session, "JSON.stringify(Array.from(document.querySelectorAll("
                                                 "'section.worst-case a')).map(a => a.href))"))
    assert len(hrefs) == 6 and all(Path(h.removeprefix("file://")).is_file() for h in hrefs), hrefs

    shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(base64.b64decode(shot), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (2600, 1300) and image.std() > 20
    green = (image[:, :, 1] > 100) & (image[:, :, 2] < 80) & (image[:, :, 0] < 80)
    assert green.sum() > 2000, "the green 'reproduced' banner is not visible"
    path = tmp_path / "report.png"
    path.write_bytes(base64.b64decode(shot))
    assert _fetched(browser.requests(session)) == [], "the report made network requests"
    assert browser.failures(session) == []
    print(f"screenshot saved: {path}")
