/** Evaluation charts as Plotly figures: confusion matrix, ROC curves, reliability diagram, LoRA ΔW spectra. */
import { ShapeError } from "../errors";
import { plotly, type PlotlyFigure } from "./plotly";
import type { Displayable } from "./bundle";

type Figure = PlotlyFigure & Displayable;

function checkSquare(m: number[][], labels: string[] | undefined, where: string): void {
  const n = m.length;
  if (m.some((r) => r.length !== n) || (labels !== undefined && labels.length !== n)) {
    throw new ShapeError("Confusion matrix must be square with one label per class", {
      where,
      expected: `[K, K] with K = ${labels?.length ?? n}`,
      got: `[${n}, ${m.map((r) => r.length).join("|")}]`,
      fix: "pass counts as rows = true class, columns = predicted class",
    });
  }
}

/** Heatmap of counts (rows true, columns predicted); `normalize` shows row-normalised rates with counts as text. */
export function confusionMatrixChart(
  matrix: number[][],
  labels?: string[],
  options: { normalize?: boolean } = {},
): Figure {
  checkSquare(matrix, labels, "confusionMatrixChart(matrix)");
  const names = labels ?? matrix.map((_, i) => String(i));
  const z = options.normalize
    ? matrix.map((r) => {
        const s = r.reduce((a, b) => a + b, 0);
        return r.map((v) => (s > 0 ? v / s : 0));
      })
    : matrix;
  return plotly({
    data: [
      {
        type: "heatmap",
        z,
        x: names,
        y: names,
        text: matrix.map((r) => r.map(String)),
        texttemplate: "%{text}",
        colorscale: "Blues",
        hovertemplate: "true %{y}<br>pred %{x}<br>%{z}<extra></extra>",
      },
    ],
    layout: {
      title: { text: options.normalize ? "Confusion matrix (row-normalised)" : "Confusion matrix" },
      xaxis: { title: { text: "predicted" } },
      yaxis: { title: { text: "true" }, autorange: "reversed" },
      height: 120 + 40 * names.length,
    },
  });
}

/** One ROC curve: false- and true-positive rates at decreasing thresholds. */
export interface RocCurve {
  label: string;
  fpr: number[];
  tpr: number[];
  auc?: number;
}

/** ROC curves per class plus an optional macro curve, with the chance diagonal. */
export function rocChart(curves: RocCurve[], macro?: RocCurve): Figure {
  for (const c of [...curves, ...(macro ? [macro] : [])]) {
    if (c.fpr.length !== c.tpr.length) {
      throw new ShapeError("ROC curve arrays differ in length", {
        where: `rocChart curve "${c.label}"`,
        expected: "fpr.length === tpr.length",
        got: `${c.fpr.length} vs ${c.tpr.length}`,
        fix: "pass the fpr and tpr arrays returned together by the ROC computation",
      });
    }
  }
  const name = (c: RocCurve): string => (c.auc === undefined ? c.label : `${c.label} (AUC ${c.auc.toFixed(3)})`);
  const data: Record<string, unknown>[] = curves.map((c) => ({
    type: "scatter",
    mode: "lines",
    x: c.fpr,
    y: c.tpr,
    name: name(c),
  }));
  if (macro)
    data.push({
      type: "scatter",
      mode: "lines",
      x: macro.fpr,
      y: macro.tpr,
      name: name(macro),
      line: { width: 4, dash: "dot" },
    });
  data.push({
    type: "scatter",
    mode: "lines",
    x: [0, 1],
    y: [0, 1],
    name: "chance",
    line: { color: "gray", dash: "dash" },
  });
  return plotly({
    data,
    layout: {
      title: { text: "ROC" },
      xaxis: { title: { text: "false positive rate" }, range: [0, 1] },
      yaxis: { title: { text: "true positive rate" }, range: [0, 1.02] },
    },
  });
}

/** Reliability diagram from per-bin mean confidence, accuracy and counts (ECE in the title when given). */
export function reliabilityChart(
  bins: { confidence: number[]; accuracy: number[]; count?: number[] },
  ece?: number,
): Figure {
  if (bins.confidence.length !== bins.accuracy.length) {
    throw new ShapeError("Reliability bins differ in length", {
      where: "reliabilityChart(bins)",
      expected: "confidence.length === accuracy.length",
      got: `${bins.confidence.length} vs ${bins.accuracy.length}`,
      fix: "pass one confidence and one accuracy per bin",
    });
  }
  const data: Record<string, unknown>[] = [
    {
      type: "bar",
      x: bins.confidence,
      y: bins.accuracy,
      name: "accuracy",
      width: 1 / Math.max(bins.confidence.length, 1),
    },
    {
      type: "scatter",
      mode: "lines",
      x: [0, 1],
      y: [0, 1],
      name: "perfect calibration",
      line: { color: "gray", dash: "dash" },
    },
  ];
  if (bins.count)
    data.push({ type: "scatter", mode: "markers", x: bins.confidence, y: bins.count, name: "count", yaxis: "y2" });
  return plotly({
    data,
    layout: {
      title: { text: ece === undefined ? "Reliability diagram" : `Reliability diagram (ECE ${ece.toFixed(4)})` },
      xaxis: { title: { text: "confidence" }, range: [0, 1] },
      yaxis: { title: { text: "accuracy" }, range: [0, 1] },
      yaxis2: { overlaying: "y", side: "right", title: { text: "count" }, showgrid: false },
    },
  });
}

/** Singular-value spectra of LoRA ΔW = B·A·scaling, one line per layer (log scale). */
export function svdSpectrumChart(layers: { name: string; singularValues: number[] }[]): Figure {
  return plotly({
    data: layers.map((l) => ({
      type: "scatter",
      mode: "lines+markers",
      name: l.name,
      x: l.singularValues.map((_, i) => i + 1),
      y: l.singularValues,
    })),
    layout: {
      title: { text: "LoRA ΔW singular values" },
      xaxis: { title: { text: "index" } },
      yaxis: { title: { text: "σ" }, type: "log" },
    },
  });
}
