/** Trainable-versus-frozen parameter summary (what a PEFT strategy actually trains). */
import { JUPYTER_DISPLAY, type Displayable, type MimeBundle } from "./bundle";

export interface ParamInfo {
  name: string;
  numel: number;
  trainable: boolean;
}

export interface ParamTotals {
  total: number;
  trainable: number;
  frozen: number;
  /** trainable / total, 0 when empty. */
  fraction: number;
}

/** Totals over a parameter list. */
export function paramTotals(params: readonly ParamInfo[]): ParamTotals {
  let total = 0;
  let trainable = 0;
  for (const p of params) {
    total += p.numel;
    if (p.trainable) trainable += p.numel;
  }
  return { total, trainable, frozen: total - trainable, fraction: total > 0 ? trainable / total : 0 };
}

const n = (v: number): string => v.toLocaleString("en-US");

/** Bundle: totals line plus the trainable parameters (frozen ones are only counted, there are usually thousands). */
export function paramSummaryBundle(params: readonly ParamInfo[], maxRows = 50): MimeBundle {
  const t = paramTotals(params);
  const head = `trainable ${n(t.trainable)} / ${n(t.total)} parameters (${(100 * t.fraction).toFixed(3)}%), frozen ${n(t.frozen)}`;
  const trainable = params.filter((p) => p.trainable);
  const rows = trainable.slice(0, maxRows);
  const more = trainable.length > rows.length ? `… ${trainable.length - rows.length} more trainable tensors` : "";
  const text = [head, ...rows.map((p) => `  ${p.name}  ${n(p.numel)}`), ...(more ? [more] : [])].join("\n");
  const bar = `<div style="background:#ddd;width:300px;height:10px"><div style="background:#2a7;height:10px;width:${Math.max(
    1,
    300 * t.fraction,
  ).toFixed(1)}px"></div></div>`;
  const html =
    `<div class="peftlab-params"><b>${head}</b>${bar}<table><thead><tr><th>trainable tensor</th><th>numel</th></tr></thead><tbody>` +
    rows.map((p) => `<tr><td><code>${p.name}</code></td><td>${n(p.numel)}</td></tr>`).join("") +
    `</tbody></table>${more ? `<small>${more}</small>` : ""}</div>`;
  return { "text/html": html, "text/plain": text, "application/json": { ...t, tensors: params.length } };
}

/** Wraps a parameter list so it displays as a summary. */
export function paramSummary(params: readonly ParamInfo[]): Displayable & { totals: ParamTotals } {
  return { totals: paramTotals(params), [JUPYTER_DISPLAY]: () => paramSummaryBundle(params) };
}
