/** Arquero tables as paged HTML with a text/plain fallback. */
import { ConfigError } from "../errors";
import { JUPYTER_DISPLAY, isArqueroTable, type Displayable, type MimeBundle } from "./bundle";

interface TableLike {
  numRows(): number;
  columnNames(): string[];
  toHTML(o?: object): string;
  objects?(o?: { limit?: number; offset?: number }): Record<string, unknown>[];
}

export interface TableOptions {
  /** Rows per page in the HTML (default 20); the first page is visible, buttons page through the rest. */
  pageSize?: number;
  /** At most this many rows are embedded at all (default 1000), so a huge table cannot bloat the notebook. */
  maxRows?: number;
  /** Rows shown in text/plain (default 10). */
  textRows?: number;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return v.toISOString();
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function rowsOf(t: TableLike, limit: number): Record<string, unknown>[] {
  if (typeof t.objects === "function") return t.objects({ limit });
  return [];
}

/** A fixed-width text rendering of the first rows. */
export function tableText(t: TableLike, rows = 10): string {
  const cols = t.columnNames();
  const data = rowsOf(t, rows).map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.min(24, Math.max(c.length, ...data.map((r) => r[i].length))));
  const fmt = (r: string[]): string => r.map((v, i) => v.slice(0, 24).padStart(widths[i])).join("  ");
  const more = t.numRows() > rows ? `\n… ${t.numRows() - rows} more rows` : "";
  return [`Table ${t.numRows()} rows × ${cols.length} columns`, fmt(cols), ...data.map(fmt)].join("\n") + more;
}

/** Paged HTML: every page is a tbody, only one visible; plain JS buttons page without any library. */
export function tableHtml(t: TableLike, options: TableOptions = {}): string {
  const pageSize = options.pageSize ?? 20;
  const cols = t.columnNames();
  const n = t.numRows();
  const rows = rowsOf(t, Math.min(n, options.maxRows ?? 1000));
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const id = `tbl-${Math.random().toString(36).slice(2, 10)}`;
  const head = `<thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>`;
  const bodies: string[] = [];
  for (let p = 0; p < pages; p++) {
    const trs = rows
      .slice(p * pageSize, (p + 1) * pageSize)
      .map((r) => `<tr>${cols.map((c) => `<td>${escapeHtml(cell(r[c]))}</td>`).join("")}</tr>`);
    bodies.push(`<tbody data-page="${p}"${p === 0 ? "" : ' style="display:none"'}>${trs.join("")}</tbody>`);
  }
  const note = rows.length < n ? ` (first ${rows.length} embedded)` : "";
  const pager =
    pages > 1
      ? `<div class="peftlab-pager"><button onclick="peftlabPage('${id}',-1)">‹ prev</button> ` +
        `<span data-label>page 1 / ${pages}</span> <button onclick="peftlabPage('${id}',1)">next ›</button></div>` +
        `<script>window.peftlabPage=window.peftlabPage||function(id,d){var t=document.getElementById(id);` +
        `var b=t.querySelectorAll('tbody');var c=+t.dataset.page+d;if(c<0||c>=b.length)return;` +
        `b.forEach(function(x,i){x.style.display=i===c?'':'none'});t.dataset.page=c;` +
        `t.parentNode.querySelector('[data-label]').textContent='page '+(c+1)+' / '+b.length;};</script>`
      : "";
  return (
    `<div class="peftlab-table"><div><small>${n} rows × ${cols.length} columns${note}</small></div>` +
    `<table id="${id}" data-page="0" class="dataframe">${head}${bodies.join("")}</table>${pager}</div>`
  );
}

/** The bundle of an Arquero table. */
export function tableBundle(t: TableLike, options: TableOptions = {}): MimeBundle {
  return { "text/html": tableHtml(t, options), "text/plain": tableText(t, options.textRows) };
}

/** Wraps an Arquero table so it displays paged (e.g. `table(dt, {pageSize: 50})` as a cell's last expression). */
export function table(t: unknown, options: TableOptions = {}): Displayable {
  if (!isArqueroTable(t)) {
    throw new ConfigError("table() needs an Arquero table", {
      where: "table(t)",
      expected: "an Arquero ColumnTable",
      got: t === null ? "null" : typeof t,
      fix: "build it with aq.table({...}) or aq.from(rows)",
    });
  }
  return { [JUPYTER_DISPLAY]: () => tableBundle(t, options) };
}
