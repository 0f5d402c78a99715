/**
 * Plotly figures as `application/vnd.plotly.v1+json` (an object) with an offline `text/html` fallback. plotly.js comes
 * from the installed plotly.js-dist-min, never a CDN: the first plot a session shows carries the library inline
 * (withOfflinePlotly), later plots reuse `window.Plotly`, so charts render in Notebook, Lab, VS Code and nbconvert HTML.
 */
import * as fs from "node:fs";
import { randomBytes } from "node:crypto";
import { ConfigError } from "../errors";
import { JUPYTER_DISPLAY, type Displayable, type MimeBundle } from "./bundle";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** A Plotly figure: traces, layout and config as plain JSON. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Per-session state: whether plotly.js has already been sent inline. Owned by a sink or a report writer. */
export interface PlotlySessionState {
  plotlyLoaded: boolean;
}

/** The plotly.js bundle shipped with plotly.js-dist-min, read from disk. */
export function plotlyJsSource(): string {
  let file: string;
  try {
    file = require.resolve("plotly.js-dist-min/plotly.min.js");
  } catch {
    throw new ConfigError("plotly.js-dist-min is not installed", {
      where: "lib/display/plotly",
      expected: "node_modules/plotly.js-dist-min/plotly.min.js",
      got: "module not found",
      fix: "npm install plotly.js-dist-min (it is a dependency of peftlab)",
    });
  }
  return fs.readFileSync(file, "utf8");
}

/** A `<script>` tag that defines window.Plotly offline (the library inline; `</script>` inside it escaped). */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript">${plotlyJsSource().replace(/<\/script/gi, "<\\/script")}</script>`;
}

/** JSON safe to embed in an HTML `<script>` (no `</script>` or `<!--` breaking out). */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

/** A div plus a script that draws `fig` once window.Plotly exists (polling, so output order does not matter). */
export function plotlyDivHtml(fig: PlotlyFigure, divId = `plt-${randomBytes(6).toString("hex")}`): string {
  const layout = { ...(fig.layout ?? {}) };
  const height = typeof layout.height === "number" ? layout.height : 420;
  return (
    `<div id="${divId}" class="peftlab-plotly" style="width:100%;height:${height}px;"></div>\n` +
    `<script type="text/javascript">(function(){var f=${jsonForScript({ ...fig, layout })};` +
    `function draw(n){if(window.Plotly){window.Plotly.newPlot("${divId}",f.data,f.layout||{},` +
    `Object.assign({responsive:true},f.config||{}));}else if(n<200){setTimeout(function(){draw(n+1)},50);}}` +
    `draw(0);})();</script>`
  );
}

/** The bundle of a figure: Plotly JSON, the offline HTML fallback (library not included) and a text summary. */
export function plotlyBundle(fig: PlotlyFigure): MimeBundle {
  const title = (fig.layout?.title as { text?: string } | string | undefined) ?? "";
  const name = typeof title === "string" ? title : (title.text ?? "");
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} },
    "text/html": plotlyDivHtml(fig),
    "text/plain": `<Plotly figure${name ? ` "${name}"` : ""}: ${fig.data.length} trace(s)>`,
  };
}

/** Prepends plotly.js to the HTML of the first Plotly bundle in a session; later bundles pass through. */
export function withOfflinePlotly(bundle: MimeBundle, state: PlotlySessionState): MimeBundle {
  if (!(PLOTLY_MIME in bundle) || state.plotlyLoaded || typeof bundle["text/html"] !== "string") return bundle;
  state.plotlyLoaded = true;
  return { ...bundle, "text/html": `${plotlyScriptTag()}\n${bundle["text/html"]}` };
}

/** Wraps a figure so it displays itself (last expression of a cell, or display.show). */
export function plotly(fig: PlotlyFigure): PlotlyFigure & Displayable {
  return { ...fig, [JUPYTER_DISPLAY]: () => plotlyBundle(fig) };
}
