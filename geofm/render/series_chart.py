"""A series' chart: the target class's area per date, the clear share beside it, gaps where dates were left out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from geofm.io.safewrite import atomic_output
from geofm.render.stats import hex_color


def write_series_chart(rows: Sequence, path: str | Path, *, target: str, color: tuple[int, int, int],
                       title: str) -> Path:
    """series.png from series rows (``geofm.series.products.SeriesRow``): area (km²) of kept dates joined by a
    line broken at left-out dates; the clear share (%) as grey bars on the right axis; left-out dates marked x."""
    import matplotlib  # lazy: matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # lazy: matplotlib

    days = np.array([date.fromisoformat(r.date) for r in rows], dtype="datetime64[D]")
    areas = [r.area_km2 if r.status == "kept" else float("nan") for r in rows]
    fig = Figure(figsize=(9, 4.2), dpi=110)
    ax = fig.add_subplot(111)
    clear_ax = ax.twinx()
    clear_ax.bar(days, [r.clear_percent for r in rows], width=1.6, color="#bbbbbb", alpha=0.55,
                 label="clear over the area (%)", zorder=1)
    clear_ax.set_ylim(0, 100)
    clear_ax.set_ylabel("clear over the area (%)", color="#666666")
    ax.set_zorder(clear_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(days, areas, "-o", color=hex_color(color), lw=2, ms=6, label=f"{target} (km²)")
    kept = [a for a in areas if a == a]
    top = max(kept) if kept else 1.0
    out_days = days[[r.status != "kept" for r in rows]]
    if len(out_days):
        ax.plot(out_days, [0.0] * len(out_days), "x", color="#c0392b", ms=9, mew=2, label="left out (see CSV)",
                clip_on=False)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.set_ylabel(f"{target} (km²)")
    ax.set_title(title, fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    fig.autofmt_xdate()
    handles = ax.get_legend_handles_labels()
    bars = clear_ax.get_legend_handles_labels()
    ax.legend(handles[0] + bars[0], handles[1] + bars[1], loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
