/**
 * A static, self-contained HTML report of an executed notebook: code, outputs, images inline, and plotly.js inlined
 * once at the top so every chart renders offline.
 */
import {
  PLOTLY_MIME,
  jsonForScript,
  plotlyDivHtml,
  plotlyScriptTag,
  type PlotlyFigure,
  type MimeBundle,
} from "../../display";
import { cellSource, type Notebook, type NotebookOutput } from "./notebook";

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Renders a bundle the way a notebook would pick: Plotly, HTML, images, markdown, JSON, then text. */
export function bundleHtml(data: MimeBundle): string {
  if (data[PLOTLY_MIME] && typeof data[PLOTLY_MIME] === "object")
    return plotlyDivHtml(data[PLOTLY_MIME] as PlotlyFigure);
  if (typeof data["text/html"] === "string") return data["text/html"];
  if (typeof data["image/png"] === "string") return `<img src="data:image/png;base64,${data["image/png"]}"/>`;
  if (typeof data["image/jpeg"] === "string") return `<img src="data:image/jpeg;base64,${data["image/jpeg"]}"/>`;
  if (typeof data["image/svg+xml"] === "string") return data["image/svg+xml"];
  if (typeof data["text/markdown"] === "string") return markdownHtml(data["text/markdown"]);
  if (data["application/json"] !== undefined)
    return `<pre>${esc(JSON.stringify(data["application/json"], null, 2))}</pre>`;
  return `<pre>${esc(String(data["text/plain"] ?? ""))}</pre>`;
}

/** A deliberately small Markdown subset (headings, paragraphs, code spans, emphasis): enough for notebook prose. */
export function markdownHtml(md: string): string {
  const inline = (s: string): string =>
    esc(s)
      .replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
      .replace(/\*([^*]+)\*/g, "<i>$1</i>");
  return md
    .split(/\n{2,}/)
    .map((block) => {
      const h = /^(#{1,6})\s+(.*)$/.exec(block.trim());
      if (h) return `<h${h[1].length}>${inline(h[2])}</h${h[1].length}>`;
      if (/^\s*[-*] /.test(block))
        return `<ul>${block
          .split("\n")
          .map((l) => `<li>${inline(l.replace(/^\s*[-*] /, ""))}</li>`)
          .join("")}</ul>`;
      return `<p>${inline(block)}</p>`;
    })
    .join("\n");
}

function outputHtml(o: NotebookOutput): string {
  switch (o.output_type) {
    case "stream":
      return `<pre class="stream ${o.name}">${esc(o.text)}</pre>`;
    case "error":
      return `<pre class="error">${esc(stripAnsi(o.traceback.length ? o.traceback.join("\n") : `${o.ename}: ${o.evalue}`))}</pre>`;
    default:
      return `<div class="output">${bundleHtml(o.data)}</div>`;
  }
}

/** The whole report as one HTML string. */
export function notebookHtml(nb: Notebook, title: string): string {
  const usesPlotly = nb.cells.some((c) =>
    (c.outputs ?? []).some((o) => "data" in o && o.data[PLOTLY_MIME] !== undefined),
  );
  const body = nb.cells
    .map((c) => {
      const src = cellSource(c);
      if (c.cell_type === "markdown") return `<section class="md">${markdownHtml(src)}</section>`;
      if (c.cell_type !== "code") return `<pre>${esc(src)}</pre>`;
      const n = c.execution_count ?? " ";
      return `<section class="cell"><div class="in"><span class="prompt">In [${n}]:</span><pre class="code">${esc(src)}</pre></div>${(c.outputs ?? []).map(outputHtml).join("\n")}</section>`;
    })
    .join("\n");
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}
.prompt{color:#307fc1;font-family:monospace}.error{background:#fdd}.stream.stderr{background:#fee}.cell{margin:1em 0;border-left:3px solid #ddd;padding-left:.6em}
table.dataframe{border-collapse:collapse}table.dataframe td,table.dataframe th{border:1px solid #ccc;padding:2px 6px}</style>
${usesPlotly ? plotlyScriptTag() : ""}
<script type="application/json" id="peftlab-meta">${jsonForScript({ title, cells: nb.cells.length })}</script>
</head><body>
<h1>${esc(title)}</h1>
${body}
</body></html>
`;
}
