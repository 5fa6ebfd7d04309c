"""The HTML of ``sepkit evaluate --report``: tables and the page around them, all inline (no network, no files).

Every text that comes from outside (file names, system names, the command) is escaped. The only
script sorts the per-file table when a column head is clicked.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping, Sequence

GENERATOR = "sepkit evaluate --report"  # in a <meta> tag: marks a folder as a report sepkit may replace
MODEL_ROW = ' class="model"'

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1240px;padding:0 1em;
color:#1d1d1f}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
code,.cmd{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f4f4f6;padding:.1em .3em;border-radius:3px}
.cmd{display:block;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top}
th{background:#f4f4f6}td:first-child,th:first-child{text-align:left;white-space:nowrap}
tr.model td{background:#fff6e8}b.best{color:#0a5}
small{display:block;color:#666;font-size:.78em;white-space:nowrap}figure small{white-space:normal}
.scroll{overflow-x:auto;max-height:36em;overflow-y:auto}
.scroll thead th{position:sticky;top:0}.scroll thead tr:nth-child(2) th{top:1.9em}
table.sortable th[data-col]{cursor:pointer}
th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}
.signals{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:.8em}
figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:.4em}
figure img{width:100%;display:block}figure audio{width:100%;margin-top:.3em}
figcaption{font-weight:600}
"""

# Sort the rows of a table.sortable by the clicked column: numbers by their data-v, missing ones last.
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th[data-col]').forEach(function (th) {
    th.addEventListener('click', function () {
      var col = +th.dataset.col, up = th.dataset.dir !== 'asc', body = table.tBodies[0];
      table.querySelectorAll('th[data-col]').forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = up ? 'asc' : 'desc';
      function key(row) { var c = row.cells[col], v = c.dataset.v; return v === undefined ? c.textContent : +v; }
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') return (x === '') - (y === '');
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def esc(text: object) -> str:
    """``text`` safe inside HTML elements and quoted attributes."""
    return html.escape(str(text), quote=True)


def number(value: float | None, digits: int = 3) -> str:
    """A score as text; ``-`` when missing or not finite."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def page(title: str, sections: Iterable[str]) -> str:
    """A whole HTML document: inline style and script, the sections in order."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="{GENERATOR}">\n<title>{esc(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def summary_table(
    means: Mapping[str, Mapping[str, float]],
    rtf: Mapping[str, float | None],
    model: str,
    diffs: Mapping[str, Mapping[str, Mapping[str, float]]],
) -> str:
    """One row per system: each metric's mean, best bold; under the others' means the model minus them per file
    (mean [95 % interval], share of files the model wins)."""
    cols = list(means[model])
    head = "<tr><th>system</th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "<th>RTF</th></tr>"
    rows = [
        f"<tr{MODEL_ROW if system == model else ''}><td>{esc(system)}</td>"
        + _score_cells(means, system, cols, diffs.get(system, {}))
        + f"<td>{number(rtf.get(system), 4)}</td></tr>"
        for system in means
    ]
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def slice_tables(entries: Sequence[Mapping[str, Any]], model: str) -> list[str]:
    """One table per slice (``sepkit.evaluation.slices.slice_report``'s entries): per value and system the means,
    with the model minus each other system under theirs, as in the summary."""
    out = []
    for key in dict.fromkeys(str(e["slice"]) for e in entries):
        rows = [e for e in entries if e["slice"] == key]
        cols = list(rows[0]["means"].get(model) or next(iter(rows[0]["means"].values())))
        head = "<tr><th>value</th><th>files</th><th>system</th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
        body = []
        for e in rows:
            systems = list(e["means"])
            for i, system in enumerate(systems):
                first = (
                    f'<td rowspan="{len(systems)}">{esc(e["value"])}</td><td rowspan="{len(systems)}">{e["files"]}</td>'
                    if i == 0
                    else ""
                )
                cls = MODEL_ROW if system == model else ""
                body.append(
                    f"<tr{cls}>{first}<td>{esc(system)}</td>"
                    + _score_cells(e["means"], system, cols, e["paired"].get(system, {}))
                    + "</tr>"
                )
        out.append(
            f"<h3>{esc(key)}</h3>\n<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"
        )
    return out


def _score_cells(
    means: Mapping[str, Mapping[str, float]], system: str, cols: Sequence[str], diffs: Mapping[str, Mapping[str, float]]
) -> str:
    """``system``'s mean per column (bold where no system beats it) and, when given, the model minus it below."""
    cells = []
    for c in cols:
        v = means[system].get(c, math.nan)
        text = number(v)
        best = max((m.get(c, math.nan) for m in means.values() if math.isfinite(m.get(c, math.nan))), default=None)
        if math.isfinite(v) and v == best and len(means) > 1:
            text = f'<b class="best">{text}</b>'
        d = diffs.get(c)
        if d and d.get("files"):
            text += (
                f"<small>{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]<br>wins {100 * d['wins']:.0f} %</small>"
            )
        cells.append(f"<td>{text}</td>")
    return "".join(cells)


def per_file_table(
    rows: Mapping[str, Mapping[str, Mapping[str, float]]],
    systems: Sequence[str],
    columns: Sequence[str],
    links: Mapping[str, str],
    skip: Iterable[tuple[str, str]] = (),
) -> str:
    """Files down, each metric across with one sub-column per system; sortable by any sub-column.

    ``links`` maps a file to the anchor of its section; ``skip`` holds (system, column) cells left out
    (the unprocessed input's improvements, which are zero by definition).
    """
    left_out = set(skip)
    groups = [(c, [s for s in systems if (s, c) not in left_out]) for c in columns]
    top = (
        '<tr><th rowspan="2" data-col="0">file</th>'
        + "".join(f'<th colspan="{len(ss)}">{esc(c)}</th>' for c, ss in groups)
        + "</tr>"
    )
    sub, col = [], 1
    for _, ss in groups:
        for s in ss:
            sub.append(f'<th data-col="{col}">{esc(s)}</th>')
            col += 1
    body = []
    for name in sorted({f for r in rows.values() for f in r}):
        label = f'<a href="#{links[name]}">{esc(name)}</a>' if name in links else esc(name)
        cells = [f"<td>{label}</td>"]
        for c, ss in groups:
            for s in ss:
                v = rows.get(s, {}).get(name, {}).get(c, math.nan)
                finite = math.isfinite(v)
                cells.append(f'<td data-v="{float(v)!r}">{number(v, 2)}</td>' if finite else '<td data-v="">-</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="scroll"><table class="sortable">\n<thead>' + top + "<tr>" + "".join(sub) + "</tr></thead>\n"
        "<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table></div>"
    )
