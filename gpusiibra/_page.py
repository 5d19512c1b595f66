"""The pieces of a self-contained HTML page: embedded PNG figures (matplotlib and nilearn's plotting, imported
lazily), tables, and a small script of its own for a sortable, filterable table (nothing from the network)."""
from __future__ import annotations

import base64
import html
import io
import json
import os
import threading
from contextlib import contextmanager

import numpy as np
import pandas as pd

from ._outputs import write_atomically

__all__ = ["Page", "glass_brain"]


def _plotting():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from nilearn import plotting
    except ImportError:
        from .errors import DependencyError

        raise DependencyError("figures need nilearn and matplotlib: pip install 'gpusiibra[plot]'") from None
    return plotting


# ------------------------------------------------------------------ the page
def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure_png(fig, dpi=80) -> bytes:
    """A matplotlib figure (nilearn's displays draw on one: ``display.frame_axes.figure``) as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buf.getvalue()


_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable:hover { background: #eef; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.9em; color: #444; max-width: 40em; }
img { max-width: 40em; }
.note { color: #555; font-size: 0.9em; }
.warning { color: #8a1c00; font-weight: bold; }
.pager button { margin: 0 0.3em; }
"""


# the per-map table: rows from the embedded JSON, sorted by a click on a header, filtered by the text box,
# shown a page at a time (no library, no network)
_TABLE_JS = """
(function () {
  for (const holder of document.querySelectorAll("[data-rows]")) {
    const data = JSON.parse(document.getElementById(holder.dataset.rows).textContent);
    const cols = data.columns, rows = data.rows, per = 100;
    let shown = rows, sortCol = -1, asc = true, page = 0;
    const filter = holder.querySelector("input.filter"), info = holder.querySelector(".info");
    const body = holder.querySelector("tbody");
    function fmt(v) { return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : (v === null ? "" : v); }
    function render() {
      const start = page * per, part = shown.slice(start, start + per);
      body.innerHTML = part.map(r => "<tr>" + r.map(v => "<td>" + String(fmt(v)).replace(/&/g, "&amp;")
        .replace(/</g, "&lt;") + "</td>").join("") + "</tr>").join("");
      info.textContent = shown.length ? `rows ${start + 1}-${start + part.length} of ${shown.length}` : "no rows";
    }
    holder.querySelectorAll("th.sortable").forEach((th, c) => th.addEventListener("click", () => {
      asc = sortCol === c ? !asc : (typeof rows[0]?.[c] === "number" ? false : true);
      sortCol = c;
      shown = shown.slice().sort((a, b) => (a[c] === b[c] ? 0 : (a[c] === null ? 1 : b[c] === null ? -1 :
        (a[c] < b[c] ? -1 : 1) * (asc ? 1 : -1))));
      page = 0; render();
    }));
    filter.addEventListener("input", () => {
      const q = filter.value.toLowerCase();
      shown = rows.filter(r => r.some(v => String(v).toLowerCase().includes(q)));
      page = 0; render();
    });
    holder.querySelector("button.prev").addEventListener("click", () => { if (page > 0) { page--; render(); } });
    holder.querySelector("button.next").addEventListener("click", () => {
      if ((page + 1) * per < shown.length) { page++; render(); } });
    render();
  }
})();
"""


_progress = threading.local()  # the bar of the page being made in this thread (:func:`figure_progress`)


@contextmanager
def figure_progress(show: bool, desc="figures"):
    """Within the block, every figure put on a page in this thread is a step of a tqdm bar (when ``show``)."""
    import sys

    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit="figure", disable=not show, file=sys.stderr)
    _progress.bar = bar
    try:
        yield bar
    finally:
        _progress.bar = None
        bar.close()


class Page:
    """An HTML page built part by part, rendered as one self-contained file."""

    def __init__(self, title):
        self.title = title
        self.parts = []
        self._tables = 0

    def heading(self, text, level=2):
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text, cls=None):
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f"<p{c}>{html.escape(text)}</p>")

    def raw(self, markup):
        self.parts.append(markup)

    def figure(self, png: bytes, caption: str, fig_id=None):
        bar = getattr(_progress, "bar", None)
        if bar is not None:
            bar.update()
        i = f' id="{html.escape(fig_id)}"' if fig_id else ""
        self.parts.append(f'<figure{i}><img src="{_data_uri(png)}" alt="{html.escape(caption)}">'
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def table(self, df: pd.DataFrame, table_id=None, floats="{:.4f}"):
        i = f' id="{html.escape(table_id)}"' if table_id else ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
        rows = []
        for rec in df.itertuples(index=False):
            cells = "".join(f"<td>{html.escape(floats.format(v) if isinstance(v, float) else str(v))}</td>"
                            for v in rec)
            rows.append(f"<tr>{cells}</tr>")
        self.parts.append(f"<table{i}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def data_table(self, df: pd.DataFrame, table_id: str):
        """A sortable, filterable, paged table of ``df`` (its rows embedded as JSON)."""
        self._tables += 1
        data_id = f"{table_id}-data"
        rows = [[None if (v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)))
                 else (v.item() if isinstance(v, np.generic) else v) for v in rec] for rec in df.itertuples(index=False)]
        payload = json.dumps({"columns": [str(c) for c in df.columns], "rows": rows}, separators=(",", ":"))
        payload = payload.replace("</", "<\\/")  # no "</script>" inside the script element
        head = "".join(f'<th class="sortable">{html.escape(str(c))}</th>' for c in df.columns)
        self.parts.append(
            f'<div class="datatable" id="{html.escape(table_id)}" data-rows="{data_id}">'
            f'<p><input class="filter" type="search" placeholder="filter rows"> '
            f'<span class="pager"><button class="prev">previous</button><button class="next">next</button></span>'
            f' <span class="info"></span></p>'
            f"<table><thead><tr>{head}</tr></thead><tbody></tbody></table></div>"
            f'<script type="application/json" id="{data_id}">{payload}</script>')

    def render(self) -> str:
        script = f"<script>{_TABLE_JS}</script>" if self._tables else ""
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{_CSS}</style></head><body>\n<h1>{html.escape(self.title)}</h1>\n"
                + "\n".join(self.parts) + f"\n{script}</body></html>\n")

    def write(self, path) -> str:
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        text = self.render()

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)

        return write_atomically(path, write)


# ------------------------------------------------------------------ figures
def glass_brain(img, path=None, title=None, markers=None, marker_color="b", marker_size=30, **kwargs):
    """A nilearn glass-brain view of ``img`` (with optional markers in mm): saved to ``path`` (.png) when
    given; returns the PNG bytes.

    Parameters
    ----------
    img : nibabel image
    path : str, optional
        A .png file to write.
    title : str, optional
    markers : array_like (n, 3), optional
        Positions in mm to mark.
    marker_color : colour or list of colours
    marker_size : float
    **kwargs
        Passed to ``nilearn.plotting.plot_glass_brain``.
    """
    plotting = _plotting()
    display = plotting.plot_glass_brain(img, title=title, **kwargs)
    try:
        if markers is not None and len(markers):
            display.add_markers(np.asarray(markers, dtype=np.float64), marker_color=marker_color,
                                marker_size=marker_size)
        png = _figure_png(display.frame_axes.figure)
    finally:
        display.close()
    if path is not None:
        def save(tmp):
            with open(tmp, "wb") as f:
                f.write(png)

        write_atomically(path, save)
    return png


def _slices(img, title, template=None, **kwargs) -> bytes:
    plotting = _plotting()
    display = plotting.plot_stat_map(img, bg_img=template, display_mode="z", cut_coords=7, title=title, **kwargs)
    try:
        return _figure_png(display.frame_axes.figure)
    finally:
        display.close()


def _bar_png(labels, values, xlabel, title) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.28 * max(len(labels), 4) + 1))
    ax.barh(range(len(labels))[::-1], values, color="#c0392b")
    ax.set_yticks(range(len(labels))[::-1], labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    try:
        return _figure_png(fig)
    finally:
        plt.close(fig)


def feature_bars_png(labels, values, errors, title, unit, xlabel, horizontal=False) -> bytes:
    """A feature's values as bars with their standard deviations (a receptor fingerprint, densities by layer,
    a connectivity profile's strongest targets, horizontal)."""
    import matplotlib.pyplot as plt
    import numpy as np

    errors = np.where(np.isfinite(errors), errors, 0.0)
    if horizontal:
        fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(labels), 4) + 1.2))
        pos = np.arange(len(labels))[::-1]
        ax.barh(pos, values, xerr=errors, color="#2c7fb8", capsize=3)
        ax.set_yticks(pos, labels, fontsize=8)
        ax.set_xlabel(unit)
    else:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(labels) + 1.5), 3.4))
        ax.bar(np.arange(len(labels)), values, yerr=errors, color="#7f8c8d", edgecolor="black", capsize=3)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=60 if len(labels) > 8 else 0, fontsize=8,
                      ha="right" if len(labels) > 8 else "center")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(unit)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        return _figure_png(fig)
    finally:
        plt.close(fig)


def _hist_png(values, bins, xlabel, title, integer=False) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.hist(values, bins=bins, color="#2c7fb8", edgecolor="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    if integer:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    try:
        return _figure_png(fig)
    finally:
        plt.close(fig)
