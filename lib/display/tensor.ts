/** Tensors at a glance: shape, dtype, min/max/mean and a small preview of the values. */
import { JUPYTER_DISPLAY, type Displayable, type MimeBundle } from "./bundle";

interface TensorLike {
  shape: number[];
  dtype: string;
  dataSync(): ArrayLike<number> | ArrayLike<string>;
}

export interface TensorStats {
  shape: number[];
  dtype: string;
  size: number;
  min: number;
  max: number;
  mean: number;
  /** The first values in row-major order. */
  preview: (number | string)[];
}

/** Computes the summary in one pass over the host copy (one dataSync: the tensor may live on an accelerator). */
export function tensorStats(t: TensorLike, previewCount = 8): TensorStats {
  const values = t.dataSync();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  const numeric = t.dtype !== "string";
  if (numeric) {
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
  }
  const preview: (number | string)[] = [];
  for (let i = 0; i < Math.min(previewCount, values.length); i++) preview.push(values[i]);
  return {
    shape: [...t.shape],
    dtype: t.dtype,
    size: values.length,
    min: numeric && values.length > 0 ? min : NaN,
    max: numeric && values.length > 0 ? max : NaN,
    mean: numeric && values.length > 0 ? sum / values.length : NaN,
    preview,
  };
}

const fmt = (v: number | string): string =>
  typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : JSON.stringify(v);

/** text/plain and text/html of a tensor summary. */
export function tensorBundle(t: TensorLike): MimeBundle {
  const s = tensorStats(t);
  const more = s.size > s.preview.length ? ", …" : "";
  const head = `Tensor [${s.shape.join(", ")}] ${s.dtype}`;
  const stats = s.dtype === "string" ? "" : ` min=${fmt(s.min)} max=${fmt(s.max)} mean=${fmt(s.mean)}`;
  const text = `${head}${stats}\n[${s.preview.map(fmt).join(", ")}${more}]`;
  const html =
    `<div class="peftlab-tensor"><b>Tensor</b> <code>[${s.shape.join(", ")}]</code> <code>${s.dtype}</code>` +
    (s.dtype === "string"
      ? ""
      : ` &nbsp; min <code>${fmt(s.min)}</code> max <code>${fmt(s.max)}</code> mean <code>${fmt(s.mean)}</code>`) +
    `<br/><code>[${s.preview.map(fmt).join(", ")}${more}]</code></div>`;
  return { "text/plain": text, "text/html": html };
}

/** Wraps a tensor so it displays as a summary (tf.Tensor values are also recognised automatically). */
export function tensorSummary(t: TensorLike): Displayable & { stats: TensorStats } {
  return { stats: tensorStats(t), [JUPYTER_DISPLAY]: () => tensorBundle(t) };
}
