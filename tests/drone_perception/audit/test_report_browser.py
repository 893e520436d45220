"""Render a report in a real browser (headless Chromium): the verdict table and the plots are there and
a screenshot is saved. Skips when Chromium is missing (CI installs Debian's ``chromium`` first)."""

from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import pytest
from fake_runs import write_fake_run

from drone_perception.audit.api import audit_record

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and shutil.os.path.exists(p)), None)


def _chromium(tmp_path, *args, timeout_s=90.0):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); "
                    "the browser rendering test needs it")
def test_report_renders_in_chromium(tmp_path):
    record = write_fake_run(tmp_path / "r.mcap", violate="standoff", duration_s=14.0)
    html = tmp_path / "report.html"
    verdict = audit_record(record, html, None)
    assert verdict["overall"] == "fail"
    url = html.resolve().as_uri()

    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="verdict-table"' in dom.stdout
    assert len(re.findall(r'<tr data-invariant=', dom.stdout)) == len(verdict["invariants"])
    assert re.search(r'data-invariant="standoff" data-status="fail"', dom.stdout)
    assert len(re.findall(r'<img class="plot"', dom.stdout)) == 5

    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", "--hide-scrollbars", url)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2400, 1200)
    # The page is not blank: the red FAIL badge and plot content are on it.
    assert image.std() > 20
    red = (image[:, :, 2] > 170) & (image[:, :, 1] < 80) & (image[:, :, 0] < 80)
    assert red.sum() > 500, "no red FAIL marking visible in the screenshot"
    print(f"screenshot saved: {shot}")


_PROBE = """<script>
window.addEventListener('load', () => {
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = Array.from(document.querySelectorAll('figure')).map(f => {
    const img = f.querySelector('img.plot');
    return f.id + ' ' + (img ? img.naturalWidth + 'x' + img.naturalHeight : 'none');
  }).join('\\n');
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); "
                    "the browser rendering test needs it")
def test_every_plot_decodes_in_chromium_and_the_map_has_room_for_legend_and_inset(tmp_path):
    """The report has no scripts; a copy with a probe appended reads each figure's decoded size."""
    record = write_fake_run(tmp_path / "r.mcap", violate="standoff", duration_s=14.0)
    html = tmp_path / "report.html"
    audit_record(record, html, None)
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert text, dom.stdout[-1000:]
    sizes = {fid: tuple(map(int, wh.split("x"))) for fid, wh in (line.split() for line in text.group(1).split("\n"))}
    assert set(sizes) == {"fig-separation", "fig-map", "fig-speed", "fig-timeline", "fig-link"}
    assert all(w > 300 and h > 150 for w, h in sizes.values()), sizes
    w, h = sizes["fig-map"]
    assert w > 1.2 * h, "the map has no room on its right for the legend and the whole-fence inset"
