/**
 * Displays of a LoRA model: the singular-value spectrum of each layer's ΔW = B·A·scaling (how much of the rank the
 * update uses) and the trainable-parameter summary (LoRA A/B, modules_to_save, frozen base), counted as peft does.
 */
import type { Module } from "../nn/module";
import type { LoraModel } from "../peft/lora/model";
import { formatTrainable } from "../peft/lora/model";
import { loraSpectra } from "../peft/lora/spectrum";
import { JUPYTER_DISPLAY, type Displayable, type MimeBundle } from "./bundle";
import { svdSpectrumChart } from "./charts";
import { paramSummaryBundle, paramTotals, type ParamInfo, type ParamTotals } from "./params";
import type { PlotlyFigure } from "./plotly";

/** Every parameter of a module tree as (name, numel, trainable), in model order. */
export function parameterInfo(model: Module): ParamInfo[] {
  return model.namedParameters().map(([name, p]) => ({ name, numel: p.numel, trainable: p.trainable }));
}

/** One layer's ΔW spectrum plus its summary numbers. */
export interface LoraLayerSpectrum {
  name: string;
  /** Singular values of ΔW, descending (exact; zeros kept). */
  singularValues: number[];
  /** Largest singular value (the spectral norm of ΔW). */
  sigmaMax: number;
  /** exp(entropy of σ/Σσ): 1 when ΔW is rank one, r when every direction is used equally; 0 when ΔW = 0. */
  effectiveRank: number;
}

/** Effective rank (Roy & Vetterli 2007) of a spectrum: exp of the entropy of the normalised singular values. */
export function effectiveRank(sv: readonly number[]): number {
  const total = sv.reduce((a, b) => a + Math.abs(b), 0);
  if (!(total > 0)) return 0;
  let h = 0;
  for (const s of sv) {
    const p = Math.abs(s) / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Options of loraSpectrumChart. */
export interface LoraSpectrumOptions {
  /** Keep only layers whose path matches (a RegExp or a substring). */
  layers?: RegExp | string;
  /** Plot at most this many layers, the last ones in model order (default all). */
  maxLayers?: number;
  /** Values below this are drawn at it, since the y axis is logarithmic (default 1e-8); the data keep exact zeros. */
  floor?: number;
}

/** The ΔW spectra of a LoRA model's layers, filtered as the options say. */
export function loraLayerSpectra(lm: LoraModel, o: LoraSpectrumOptions = {}): LoraLayerSpectrum[] {
  const keep = (n: string) =>
    o.layers === undefined ? true : typeof o.layers === "string" ? n.includes(o.layers) : o.layers.test(n);
  let spectra = loraSpectra(lm).filter((l) => keep(l.name));
  if (o.maxLayers !== undefined && o.maxLayers >= 0) spectra = spectra.slice(Math.max(0, spectra.length - o.maxLayers));
  return spectra.map((l) => ({
    name: l.name,
    singularValues: l.singularValues,
    sigmaMax: l.singularValues.length ? Math.max(...l.singularValues) : 0,
    effectiveRank: effectiveRank(l.singularValues),
  }));
}

/**
 * Plotly chart of the ΔW singular values of a LoRA model, one line per layer (log scale), each named with its
 * largest σ and effective rank. The returned figure displays itself in the kernel.
 */
export function loraSpectrumChart(lm: LoraModel, o: LoraSpectrumOptions = {}): PlotlyFigure & Displayable {
  const floor = o.floor ?? 1e-8;
  const spectra = loraLayerSpectra(lm, o);
  return svdSpectrumChart(
    spectra.map((l) => ({
      name: `${l.name} (σ₁ ${l.sigmaMax.toPrecision(3)}, eff. rank ${l.effectiveRank.toFixed(2)})`,
      singularValues: l.singularValues.map((v) => Math.max(v, floor)),
    })),
  );
}

/** Where a LoRA model's parameters go. */
export interface LoraParamBreakdown extends ParamTotals {
  /** LoRA A and B weights. */
  lora: number;
  /** Trainable parameters of modules_to_save (a new head), counted once. */
  saved: number;
  /** Any other trainable parameter (0 for plain LoRA). */
  otherTrainable: number;
  /** peft's print_trainable_parameters line (its "all params" also counts modules_to_save's original copy). */
  peftLine: string;
  /** Number of LoRA-wrapped layers. */
  loraLayers: number;
}

/** The breakdown of a LoRA model's parameters (trainable = lora + saved + otherTrainable). */
export function loraParamBreakdown(lm: LoraModel): LoraParamBreakdown {
  const params = parameterInfo(lm.model);
  const totals = paramTotals(params);
  const savedPrefixes = lm.savedModules.map((s) => s.path + ".");
  let lora = 0;
  let saved = 0;
  for (const p of params) {
    if (!p.trainable) continue;
    if (/\.lora_[AB]\.weight$/.test(p.name)) lora += p.numel;
    else if (savedPrefixes.some((s) => p.name.startsWith(s))) saved += p.numel;
  }
  const c = lm.trainableParameterCounts();
  return {
    ...totals,
    lora,
    saved,
    otherTrainable: totals.trainable - lora - saved,
    peftLine: formatTrainable(c.trainable, c.all),
    loraLayers: lm.layers.size,
  };
}

const n = (v: number): string => v.toLocaleString("en-US");

/** Bundle of loraParamSummary: the generic trainable-vs-frozen summary with the LoRA breakdown above it. */
export function loraParamSummaryBundle(lm: LoraModel, maxRows = 24): MimeBundle {
  const b = loraParamBreakdown(lm);
  const base = paramSummaryBundle(parameterInfo(lm.model), maxRows);
  const line =
    `LoRA r=${lm.config.r} on ${b.loraLayers} layers: ${n(b.lora)} parameters; ` +
    `modules_to_save ${n(b.saved)}; other trainable ${n(b.otherTrainable)}; frozen ${n(b.frozen)}`;
  return {
    "text/plain": `${line}\n${b.peftLine}\n${String(base["text/plain"])}`,
    "text/html": `<div><div><b>${line}</b></div><div><code>${b.peftLine}</code></div>${String(base["text/html"])}</div>`,
    "application/json": { ...b, tensors: lm.model.namedParameters().length },
  };
}

/** A LoRA model's trainable-parameter summary; displays itself in the kernel. */
export function loraParamSummary(lm: LoraModel, maxRows = 24): Displayable & { breakdown: LoraParamBreakdown } {
  return { breakdown: loraParamBreakdown(lm), [JUPYTER_DISPLAY]: () => loraParamSummaryBundle(lm, maxRows) };
}
