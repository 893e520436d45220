"""The campaign report's figures (:mod:`sim.campaign.html_report`): margin histograms, coverage histograms and a
scatter matrix of the drawn parameters, each a base64 PNG (matplotlib, Agg)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

from sim.campaign.report_rows import MAX_SCATTER_PARAMS, _float, overall_verdict, safety_margin


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png_b64(fig: Any) -> str:
    plt = _plt()
    buf = io.BytesIO()
    try:  # no Software tag: it holds a URL (harmless, but the page names none)
        fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def margin_histogram(name: str, values: Sequence[float]) -> str:
    """Base64 PNG: distribution of one invariant's margin, broken (< 0) in red."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    vals = [v for v in values if math.isfinite(v)]
    if vals and all(float(v).is_integer() for v in vals) and len(set(vals)) <= 20:
        uniq = sorted(set(vals))
        ax.bar([str(int(u)) for u in uniq], [vals.count(u) for u in uniq],
               color=["#c62828" if u < 0 else "#2e7d32" for u in uniq])
    elif vals:
        lo, hi = min(vals), max(vals)
        bins = 30 if hi > lo else 1
        ax.hist([v for v in vals if v >= 0], bins=bins, range=(lo, hi if hi > lo else lo + 1), color="#2e7d32",
                label="held")
        ax.hist([v for v in vals if v < 0], bins=bins, range=(lo, hi if hi > lo else lo + 1), color="#c62828",
                label="broken")
        if lo < 0 < hi:
            ax.axvline(0.0, color="#c62828", lw=1, ls="--")
    ax.set_title(f"{name}: {len(vals)} cases", fontsize=10)
    ax.set_xlabel("margin (< 0 = broken)", fontsize=9)
    ax.set_ylabel("cases", fontsize=9)
    ax.tick_params(labelsize=8)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.19, top=0.88)
    return _png_b64(fig)


def _param_matrix(rows: Sequence[dict[str, Any]], names: list[str]) -> list[list[float]]:
    cols = []
    for name in names:
        col = []
        for r in rows:
            p = r.get("params")
            v = _float(p.get(name)) if isinstance(p, dict) else None
            col.append(v if v is not None else math.nan)
        cols.append(col)
    return cols


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda k: values[k])
    ranks = [0.0] * len(values)
    k = 0
    while k < len(order):  # ties share their mean rank
        j = k
        while j + 1 < len(order) and values[order[j + 1]] == values[order[k]]:
            j += 1
        for m in range(k, j + 1):
            ranks[order[m]] = (k + j) / 2.0
        k = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman rank correlation of the finite pairs; 0 when fewer than 3 pairs or a constant column."""
    pairs = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return 0.0
    rx, ry = _ranks([x for x, _ in pairs]), _ranks([y for _, y in pairs])
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def scatter_params(rows: Sequence[dict[str, Any]], names: list[str]) -> list[str]:
    """The parameters the scatter matrix draws: all of them up to :data:`MAX_SCATTER_PARAMS`, else those whose
    rank correlation with the worst safety margin is strongest (where the margin goes, the search should look)."""
    if len(names) <= MAX_SCATTER_PARAMS:
        return names
    margin = [safety_margin(r) for r in rows]
    cols = _param_matrix(rows, names)
    strength = {n: abs(spearman(c, margin)) for n, c in zip(names, cols)}
    keep = set(sorted(names, key=lambda n: (-strength[n], n))[:MAX_SCATTER_PARAMS])
    return [n for n in names if n in keep]


def coverage_histograms(rows: Sequence[dict[str, Any]], names: list[str]) -> str:
    """Base64 PNG: per drawn parameter, the histogram of its values, failing cases stacked in red."""
    plt = _plt()
    ncol = min(3, len(names))
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.0 * ncol, 2.5 * nrow), squeeze=False)
    failing = [overall_verdict(r) != "pass" for r in rows]
    for ax, name, col in zip(axes.flat, names, _param_matrix(rows, names)):
        ok = [v for v, f in zip(col, failing) if not f and math.isfinite(v)]
        bad = [v for v, f in zip(col, failing) if f and math.isfinite(v)]
        ax.hist([ok, bad], bins=15, stacked=True, color=["#78909c", "#c62828"], label=["pass", "fail"])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=4)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    height_in = 2.5 * nrow  # margins in inches, not shares: the grid grows with the parameters
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.35 / height_in, top=1 - 0.3 / height_in, wspace=0.25,
                        hspace=0.5)
    return _png_b64(fig)


def scatter_matrix(rows: Sequence[dict[str, Any]], names: list[str]) -> str:
    """Base64 PNG: pairs of drawn parameters, each case coloured by its worst safety margin (red = broken,
    centred on 0 when some broke); failing cases (safety or mission) as crosses."""
    plt = _plt()
    from matplotlib.colors import TwoSlopeNorm

    cols = _param_matrix(rows, names)
    margin = [safety_margin(r) for r in rows]
    finite = [m for m in margin if math.isfinite(m)] or [0.0]
    hi = max(max(finite), 1e-3)
    # 0 m is always the middle of the colour map: red is broken, never merely "the lowest of the passes"
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(min(finite), -hi), vmax=hi)
    colour = [m if math.isfinite(m) else hi for m in margin]
    failing = [overall_verdict(r) != "pass" for r in rows]
    n = len(names)
    size = max(1.6, min(2.2, 14.0 / n))
    fig, axes = plt.subplots(n, n, figsize=(size * n + 1.2, size * n), squeeze=False)
    sc = None
    for i in range(n):
        for j in range(n):
            ax = axes[i][j]
            ax.tick_params(labelsize=6, labelbottom=i == n - 1, labelleft=j == 0)
            ax.locator_params(nbins=3)
            if i == j:
                ax.hist([v for v in cols[i] if math.isfinite(v)], bins=15, color="#78909c")
            else:
                for mark, want in (("o", False), ("x", True)):
                    idx = [k for k, f in enumerate(failing) if f == want]
                    if idx:
                        sc = ax.scatter([cols[j][k] for k in idx], [cols[i][k] for k in idx],
                                        c=[colour[k] for k in idx], cmap="RdYlGn", norm=norm, s=16 if want else 10,
                                        marker=mark, linewidths=1.2 if want else 0.3,
                                        edgecolors=None if want else "#555555")
            if i == n - 1:
                ax.set_xlabel(names[j], fontsize=7)
            if j == 0:
                ax.set_ylabel(names[i], fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.86, bottom=0.07, top=0.98, wspace=0.08, hspace=0.08)
    if sc is not None:
        fig.colorbar(sc, cax=fig.add_axes((0.89, 0.3, 0.02, 0.4)), label="worst safety margin (m)")
    return _png_b64(fig)


# ---------------------------------------------------------------------------------------------------- HTML

