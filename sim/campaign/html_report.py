"""The campaign report (issue 13 item 6): manifest rows + summary -> one self-contained HTML page.

Pure: no file, clock or simulation here (:mod:`sim.runners.campaign_report` reads the campaign folder, re-runs
the worst cases and writes the page). Self-contained like the audit report: inline CSS, figures as base64 PNG
(matplotlib, Agg), no script, font, stylesheet or image fetched; every text from a row or the summary escaped.

Sections: the verdict and a loud banner if a re-run did not reproduce its trace hash; the statistics per
invariant (failures k of n, 95 % Clopper-Pearson bound, worst margin and case); random search against the
falsifier when the summary has them; safety and mission verdicts side by side (a case that did not do its job is
not a pass); margin histograms per invariant; coverage of the drawn parameters (histograms and a scatter matrix
coloured by the worst safety margin); the failing and worst cases; the worst cases' trajectories with relative
links to their flight record and audit report. Rows and summaries may carry more or fewer keys than today's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sim.campaign.report_figures import coverage_histograms, margin_histogram, scatter_matrix, scatter_params
from sim.campaign.report_rows import (
    _KNOWN_SUMMARY_KEYS,
    _ROW_KEYS_SHOWN,
    MAX_TABLE_ROWS,
    CaseArtefacts,
    _e,
    _float,
    _invariant_stats,
    _num,
    margins_of,
    mission_verdict,
    overall_verdict,
    param_names,
    safety_margin,
    safety_verdict,
    worst_order,
)

_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #222; max-width: 1250px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin-top: 28px; }
h3 { font-size: 15px; margin-bottom: 4px; }
.overall, .badge { display: inline-block; padding: 5px 12px; border-radius: 4px; font-weight: bold; color: #fff; }
.overall { font-size: 18px; }
.pass { background: #2e7d32; } .fail { background: #c62828; } .unknown { background: #ef6c00; }
.banner { padding: 10px 14px; margin: 12px 0; font-size: 16px; font-weight: bold; color: #fff; border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; white-space: nowrap; font-family: "DejaVu Sans Mono", monospace; }
td.status { color: #fff; font-weight: bold; text-align: center; white-space: nowrap; }
td.bad, span.bad { color: #b71c1c; font-weight: bold; }
tr.detail td { border-top: none; background: #fafafa; }
.muted { color: #666; font-size: 12px; }
.params { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }
figure { margin: 14px 0; display: inline-block; vertical-align: top; }
figcaption { font-size: 13px; font-weight: bold; margin-bottom: 4px; }
img.plot { max-width: 100%; border: 1px solid #ddd; }
section.worst-case { border-top: 1px solid #ddd; margin-top: 18px; }
""".strip()


def _status_td(verdict: str) -> str:
    return f'<td class="status {_e(verdict)}">{_e(verdict.upper())}</td>'


def _figure(fig_id: str, title: str, png_b64: str) -> str:
    return (f'<figure id="{_e(fig_id)}"><figcaption>{_e(title)}</figcaption>'
            f'<img class="plot" alt="{_e(title)}" src="data:image/png;base64,{png_b64}"></figure>')


def _stats_section(rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    stats, confidence = _invariant_stats(rows, summary)
    pct = f"{100 * confidence:g} %"
    n_summary = summary.get("cases")
    scope = ""
    if isinstance(n_summary, int) and n_summary != len(rows) and summary.get("invariants"):
        scope = (f" These are summary.json's figures over its {n_summary} Monte Carlo cases; the manifest holds "
                 f"{len(rows)} (a falsifier's cases are no unbiased sample, so they are not in the bound); the "
                 "sections below show every case.")
    out = ["<h2>Statistics per invariant</h2>",
           f'<p class="muted">Failures k of n cases and the {_e(pct)} Clopper-Pearson upper bound on the failure '
           f"probability per case (exact binomial; k = 0 still bounds it). Margins: negative = broken.{_e(scope)}"
           "</p>",
           '<table id="stats-table"><thead><tr><th>Invariant</th><th>Failures k / n</th>'
           f"<th>Failure probability &lt; ({_e(pct)})</th><th>Worst margin</th><th>Worst case</th></tr></thead>"
           "<tbody>"]
    for name, s in stats.items():
        s = s if isinstance(s, dict) else {}
        k, n = s.get("failures"), s.get("cases")
        bad = ' class="num bad"' if isinstance(k, int) and k > 0 else ' class="num"'
        ub = _float(s.get("upper_bound"))
        out.append(f'<tr data-invariant="{_e(name)}"><td>{_e(name)}</td><td{bad}>{_num(k)} / {_num(n)}</td>'
                   f'<td class="num">{_num(ub, 5)}</td><td class="num">{_num(s.get("worst_margin"), 4)}</td>'
                   f"<td><code>{_e(s.get('worst_case', ''))}</code></td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _falsification_section(summary: dict[str, Any]) -> str:
    fal = summary.get("falsification")
    if not isinstance(fal, dict) or not fal:
        return ""
    cols = (("cases", "Cases"), ("failures", "Safety failures"),
            ("simulations_to_first_failure", "Simulations to first failure"),
            ("worst_margin_m", "Worst margin (m)"), ("worst_scenario", "Worst scenario"),
            ("worst_case", "Worst case"))
    out = ["<h2>Falsifier against random search</h2>",
           '<p class="muted">The same budget of simulations for each search; the falsifier runs one search per '
           "safety invariant, sharing the budget. Per search: the worst safety margin (the smaller of standoff and "
           "fence), then each invariant over all of that search's cases. Fewer simulations to the first failure "
           'and a lower worst margin = a better falsifier.</p><table id="falsification-table"><thead><tr>'
           "<th>Search</th><th>Invariant</th>" + "".join(f"<th>{_e(t)}</th>" for _, t in cols) + "</tr></thead><tbody>"]
    extra = []
    for name, f in fal.items():
        if isinstance(f, dict) and "cases" in f:
            out.append(f'<tr data-search="{_e(name)}" data-invariant="worst"><td>{_e(name)}</td><td>worst</td>'
                       + "".join(f'<td class="num">{_num(f.get(k), 4)}</td>' for k, _ in cols) + "</tr>")
            by = f.get("by_invariant")
            for inv, g in (by.items() if isinstance(by, dict) else ()):
                if isinstance(g, dict):
                    cells = {**g, "cases": f.get("cases")}
                    out.append(f'<tr data-search="{_e(name)}" data-invariant="{_e(inv)}"><td>{_e(name)}</td>'
                               f"<td>{_e(inv)}</td>"
                               + "".join(f'<td class="num">{_num(cells.get(k), 4)}</td>' for k, _ in cols) + "</tr>")
        else:
            extra.append(f"<li>{_e(name)}: <code>{_e(json.dumps(f))}</code></li>")
    out.append("</tbody></table>")
    if extra:
        out.append('<ul class="muted">' + "".join(extra) + "</ul>")
    return "\n".join(out)


def _verdicts_section(rows: Sequence[dict[str, Any]]) -> str:
    kinds = ("pass", "fail", "unknown")
    counts = {(s, m): 0 for s in kinds for m in kinds}
    for r in rows:
        counts[(safety_verdict(r), mission_verdict(r))] += 1
    mission_kinds = [m for m in kinds if m != "unknown" or any(counts[(s, m)] for s in kinds)]
    safety_kinds = [s for s in kinds if s != "unknown" or any(counts[(s, m)] for m in kinds)]
    passed = counts[("pass", "pass")]
    out = ["<h2>Safety and mission verdicts</h2>",
           '<p class="muted">A case passes only when it was safe <em>and</em> did its job (engaged, sent motion, '
           "kept the subject in view): a safe case that never followed is not a pass.</p>",
           '<table id="verdicts-table"><thead><tr><th>safety \\ mission</th>'
           + "".join(f"<th>mission {_e(m)}</th>" for m in mission_kinds) + "<th>total</th></tr></thead><tbody>"]
    for s in safety_kinds:
        out.append(f'<tr data-safety="{_e(s)}"><th>safety {_e(s)}</th>'
                   + "".join(f'<td class="num" data-mission="{_e(m)}">{counts[(s, m)]}</td>' for m in mission_kinds)
                   + f'<td class="num">{sum(counts[(s, m)] for m in kinds)}</td></tr>')
    out.append(f'</tbody></table><p id="overall-count">Passed (safe and did the job): <b>{passed}</b> of '
               f"{len(rows)} cases.</p>")
    return "\n".join(out)


def _margin_section(rows: Sequence[dict[str, Any]], invariants: list[str]) -> str:
    out = ["<h2>Margin distributions</h2>", "<div>"]
    for name in invariants:
        vals = [v for r in rows if (v := _float(margins_of(r).get(name))) is not None]
        if vals:
            out.append(_figure(f"fig-margin-{name}", f"Margin: {name}", margin_histogram(name, vals)))
    out.append("</div>")
    return "\n".join(out)


def _coverage_section(rows: Sequence[dict[str, Any]]) -> str:
    names = param_names(rows)
    if not names:
        return '<h2>Coverage of the parameter space</h2><p class="muted">No numeric parameters in the rows.</p>'
    shown = scatter_params(rows, names)
    out = ["<h2>Coverage of the parameter space</h2>",
           f'<p class="muted">{len(rows)} cases over {len(names)} drawn parameters; failing cases (safety or '
           "mission) in red in the histograms, as crosses in the scatter matrix, which colours each case by its "
           "worst safety margin, min(standoff, fence) in metres (red = broken, yellow = 0 m)."
           + (f" The matrix shows the {len(shown)} parameters whose rank correlation with that margin is strongest:"
              f" {', '.join(shown)}." if len(shown) < len(names) else "")
           + "</p>",
           _figure("fig-coverage", "Drawn values per parameter", coverage_histograms(rows, names))]
    out.append(_figure("fig-scatter", "Scatter matrix of the drawn parameters", scatter_matrix(rows, shown)))
    return "\n".join(out)


def _params_text(row: dict[str, Any]) -> str:
    p = row.get("params")
    if not isinstance(p, dict):
        return ""
    return " &middot; ".join(f"{_e(k)}={_num(v, 3) if isinstance(v, (int, float)) else _e(v)}"
                             for k, v in p.items())


def _setup_text(row: dict[str, Any]) -> str:
    """The row's other scalar keys (loop, fault class, ...): whatever a later schema adds is shown, not lost."""
    return ", ".join(f"{k}={v if not isinstance(v, float) else round(v, 4)}" for k, v in row.items()
                     if k not in _ROW_KEYS_SHOWN and isinstance(v, (str, int, float, bool)))


def _cases_section(rows: Sequence[dict[str, Any]], invariants: list[str], worst_ids: set[str]) -> str:
    ordered = worst_order(rows)
    listed = [r for r in ordered if overall_verdict(r) != "pass" or str(r.get("id")) in worst_ids]
    n_fail = sum(overall_verdict(r) != "pass" for r in rows)
    ncols = 8 + len(invariants)
    out = ["<h2>Failing and worst cases</h2>",
           f'<p class="muted">{n_fail} failing case(s) of {len(rows)}; failing first, then by worst safety margin. '
           "Every case is in manifest.jsonl; replay one with <code>drone-perception campaign replay DIR ID</code>."
           "</p>",
           '<table id="cases-table"><thead><tr><th>#</th><th>Case</th><th>Scenario</th><th>Seed</th><th>Setup</th>'
           "<th>Safety</th><th>Mission</th><th>Worst safety margin (m)</th>"
           + "".join(f"<th>{_e(i)}</th>" for i in invariants) + "</tr></thead><tbody>"]
    for rank, r in enumerate(listed[:MAX_TABLE_ROWS], 1):
        cid = str(r.get("id", ""))
        label = f'<a href="#case-{_e(cid)}">{_e(cid)}</a>' if cid in worst_ids else _e(cid)
        m = margins_of(r)
        failures = r.get("failures")
        failures_text = ", ".join(map(str, failures)) if isinstance(failures, list) else str(failures or "")
        cells = "".join(f'<td class="num{" bad" if (_float(m.get(i)) or 0.0) < 0 else ""}">{_num(m.get(i), 3)}</td>'
                        for i in invariants)
        out.append(f'<tr data-case="{_e(cid)}" data-verdict="{_e(overall_verdict(r))}"><td>{rank}</td>'
                   f"<td><code>{label}</code></td><td>{_e(r.get('scenario', ''))}</td>"
                   f'<td class="num">{_e(r.get("seed", ""))}</td><td class="params">{_e(_setup_text(r))}</td>'
                   f"{_status_td(safety_verdict(r))}{_status_td(mission_verdict(r))}"
                   f'<td class="num">{_num(safety_margin(r), 3)}</td>{cells}</tr>')
        out.append(f'<tr class="detail" data-detail="{_e(cid)}"><td></td><td colspan="{ncols - 1}">'
                   + (f'<span class="bad">{_e(failures_text)}</span><br>' if failures_text else "")
                   + f'<span class="params">{_params_text(r)}</span></td></tr>')
    out.append("</tbody></table>")
    if len(listed) > MAX_TABLE_ROWS:
        out.append(f'<p class="muted">{len(listed) - MAX_TABLE_ROWS} more in manifest.jsonl.</p>')
    return "\n".join(out)


def _link(href: str | None, text: str) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else f'<span class="muted">no {_e(text)}</span>'


def _worst_section(rows: Sequence[dict[str, Any]], artefacts: Sequence[CaseArtefacts]) -> str:
    if not artefacts:
        return ""
    by_id = {str(r.get("id")): r for r in rows}
    out = ["<h2>Worst cases, re-run</h2>",
           '<p class="muted">Each re-run with a flight recorder; its trace hash (true positions of the vehicle and '
           "the people at every period) must equal the manifest's, or the record is not the evidence of that case."
           "</p>"]
    for a in artefacts:
        r = by_id.get(a.case_id, {})
        if a.reproduced is True:
            badge = f'<span class="badge pass">trace hash reproduced ({_e(a.rerun_trace_hash)})</span>'
            state = "yes"
        elif a.reproduced is False:
            badge = (f'<span class="badge fail">TRACE HASH MISMATCH: re-run {_e(a.rerun_trace_hash)}, manifest '
                     f"{_e(r.get('trace_hash'))}</span>")
            state = "no"
        else:
            badge = f'<span class="badge fail">NOT RE-RUN: {_e(a.error or "unknown")}</span>'
            state = "error"
        out.append(f'<section class="worst-case" id="case-{_e(a.case_id)}" data-case="{_e(a.case_id)}" '
                   f'data-reproduced="{state}"><h3>{_e(a.case_id)}: {_e(r.get("scenario", "?"))}, seed '
                   f'{_e(r.get("seed", "?"))}, worst safety margin {_num(safety_margin(r), 3)} m</h3><p>'
                   f'<span class="badge {_e(safety_verdict(r))}">safety {_e(safety_verdict(r).upper())}</span> '
                   f'<span class="badge {_e(mission_verdict(r))}">mission {_e(mission_verdict(r).upper())}</span> '
                   f'{badge} '
                   + (f'audit verdict <b>{_e(a.audit_overall)}</b> &middot; ' if a.audit_overall else "")
                   + f'{_link(a.record_href, "flight record")} &middot; {_link(a.audit_href, "audit report")}'
                   + f' &middot; {_link(a.trajectory_href, "trajectory PNG")}</p>'
                   + (f'<p class="muted">{_e(a.note)}</p>' if a.note else ""))
        if a.trajectory_png:
            out.append(_figure(f"fig-trajectory-{a.case_id}", f"Trajectory of case {a.case_id}",
                               base64.b64encode(a.trajectory_png).decode("ascii")))
        out.append("</section>")
    return "\n".join(out)


def _other_section(summary: dict[str, Any]) -> str:
    other = {k: v for k, v in summary.items() if k not in _KNOWN_SUMMARY_KEYS}
    if not other:
        return ""
    items = "".join(f"<dt>{_e(k)}</dt><dd><pre>{_e(json.dumps(v, indent=1, default=str))}</pre></dd>"
                    for k, v in other.items())
    return f'<h2>Other summary fields</h2><dl id="other-summary">{items}</dl>'


def render_report(rows: Sequence[dict[str, Any]], summary: dict[str, Any] | None = None,
                  artefacts: Sequence[CaseArtefacts] = (), *, title: str = "Campaign report",
                  generated: str | None = None) -> str:
    """The whole page. ``rows``: manifest rows; ``summary``: summary.json (None or partial: the statistics are
    computed from the rows); ``artefacts``: the re-run worst cases, worst first; ``generated``: a time stamp to
    print (the function reads no clock)."""
    summary = summary if isinstance(summary, dict) else {}
    rows = [r for r in rows if isinstance(r, dict)]
    n_fail = sum(overall_verdict(r) != "pass" for r in rows)
    overall = "fail" if n_fail else ("pass" if rows else "unknown")
    invariants = list(dict.fromkeys([*(_invariant_stats(rows, summary)[0]), *(k for r in rows for k in margins_of(r))]))
    codes = sorted({str(r.get("code")) for r in rows if r.get("code") is not None})
    scenarios = summary.get("scenarios") or sorted({str(r.get("scenario")) for r in rows})
    facts = [f"{len(rows)} cases", f"scenarios {', '.join(map(str, scenarios))}"]
    facts += [f"campaign seed {summary['seed']}"] if "seed" in summary else []
    facts += [f"wall time {summary['wall_s']} s"] if "wall_s" in summary else []
    facts += [f"code {', '.join(codes)}"] + ([f"generated {generated}"] if generated else [])
    mismatched = [a for a in artefacts if a.reproduced is not True]
    if mismatched:
        banner = (f'<div id="repro-banner" class="banner fail">TRACE HASH NOT REPRODUCED for {len(mismatched)} of '
                  f"{len(artefacts)} re-run case(s): "
                  + ", ".join(f'<a href="#case-{_e(a.case_id)}" style="color:#fff">{_e(a.case_id)}</a>'
                              for a in mismatched)
                  + ". Their records are not the evidence of the manifest's cases.</div>")
    elif artefacts:
        banner = (f'<div id="repro-banner" class="banner pass">All {len(artefacts)} re-run case(s) reproduced '
                  "the manifest's trace hash.</div>")
    else:
        banner = ""
    body = [f"<h1>{_e(title)}</h1>", f'<div class="muted" id="facts">{_e(" · ".join(facts))}</div>',
            f'<p>Overall: <span id="overall" class="overall {overall}">{overall.upper()}</span> '
            f'<span class="muted">{n_fail} of {len(rows)} case(s) failed safety or mission.</span></p>', banner,
            _stats_section(rows, summary), _falsification_section(summary), _verdicts_section(rows)]
    if rows:
        body += [_margin_section(rows, invariants), _coverage_section(rows)]
    body += [_cases_section(rows, invariants, {a.case_id for a in artefacts}), _worst_section(rows, artefacts),
             _other_section(summary)]
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body>\n</html>\n")


__all__ = ["CaseArtefacts", "mission_verdict", "overall_verdict", "param_names", "render_report", "safety_margin",
           "safety_verdict", "worst_order"]
