/**
 * The `vit_lora` parity case: a timm ViT with a peft LoRA adapter (fixtures written by real PyTorch + peft). Loads the
 * base weights and the adapter, then checks logits (max abs), the mean cross-entropy loss against io `labels`, and
 * the gradient of every trainable tensor listed in io as `grad.*` (LoRA A/B and the head; max relative error
 * max|g − g_ref| / max|g_ref| per tensor).
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError } from "../../errors";
import { fromTensor, type HostTensor, toTensor } from "../../io/host_tensor";
import { readSafetensors } from "../../io/safetensors";
import { tfToTorch } from "../../nn/layout";
import type { ImageClassifier } from "../../models/types";
import { buildFromJson } from "../../models/builders";
import type { CaseHandler } from "../../models/parity";
import { loadAdapter } from "./save";

/** Tolerances from shared/README.md. */
export const LORA_PARITY_TOLERANCE = { logitsAbs: 1e-4, lossAbs: 1e-4, gradRel: 1e-4 };

/** The manifest fields this case reads (a subset of the ViT ones plus adapter files). */
export interface LoraParityCase {
  name: string;
  weights: string;
  io: string;
  adapter: string;
  adapter_config: string;
  [k: string]: unknown;
}

/** What the case measured. */
export interface LoraParityReport {
  name: string;
  logitsMaxAbs: number;
  lossAbsErr: number;
  /** Worst relative gradient error, and per tensor. */
  gradMaxRel: number;
  grads: { name: string; rel: number }[];
  pass: boolean;
}

/** Builds the model of a manifest case via the arch → builder table; num_classes comes from the head when omitted. */
export function modelFromCase(c: Record<string, unknown>, weights: Map<string, HostTensor>): ImageClassifier {
  const head = weights.get("head.weight");
  const numClasses = typeof c.num_classes === "number" ? c.num_classes : head ? head.shape[0] : 0;
  return buildFromJson({ ...c, num_classes: numClasses }, undefined, () => undefined);
}

/**
 * Runs the vit_lora case from a manifest entry. `buildModel` lets the caller (the check-parity table) pass its own
 * case → model builder; the default handles plain timm ViT cases.
 */
export async function runLoraParity(
  manifestDir: string,
  c: LoraParityCase,
  buildModel: (c: Record<string, unknown>, weights: Map<string, HostTensor>) => ImageClassifier = modelFromCase,
): Promise<LoraParityReport> {
  const file = (k: keyof LoraParityCase) => path.join(manifestDir, c[k] as string);
  const base = readSafetensors(file("weights")).tensors;
  const io = readSafetensors(file("io")).tensors;
  const model = buildModel(c, base);
  model.loadStateDict(base);
  const lm = loadAdapter(
    model,
    { config: file("adapter_config"), weights: file("adapter") },
    { warn: () => undefined },
  );
  model.eval();
  // The fixture trains the head too (grad.head.*): make every parameter with a reference gradient trainable.
  const gradNames = [...io.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice(5));
  const params = new Map(lm.model.namedParameters());
  for (const n of gradNames) {
    const p = params.get(n);
    if (!p)
      throw new CheckpointError("io gradient names a parameter the model lacks", {
        where: `${c.name}: grad.${n}`,
        expected: "a model parameter",
        got: n,
      });
    p.trainable = true;
  }
  const need = (k: string) => {
    const h = io.get(k);
    if (!h)
      throw new CheckpointError("io file lacks a required tensor", {
        where: `${c.name}: ${c.io}`,
        expected: k,
        got: [...io.keys()].join(", "),
      });
    return h;
  };
  const x = tf.tidy(() => tf.transpose(toTensor(need("input")), [0, 2, 3, 1])); // NCHW → [B, H, W, C]
  const labels = toTensor(need("labels"), "labels"); // [B] int32
  const logitsRef = need("logits");
  const lossRef = need("loss").data[0] as number;
  let logits: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(
    () => {
      const l = lm.forward(x); // [B, K]
      logits = tf.keep(l);
      return meanCrossEntropy(l, labels);
    },
    gradNames.map((n) => params.get(n)!.variable),
  );
  const logitsMaxAbs = maxAbs((await fromTensor(logits!)).data as Float32Array, logitsRef.data as Float32Array);
  const lossAbsErr = Math.abs((await value.data())[0] - lossRef);
  const report: { name: string; rel: number }[] = [];
  for (const n of gradNames) {
    const p = params.get(n)!;
    const g = grads[p.variable.name];
    const torch = tfToTorch(await fromTensor(g), p.layout, n);
    const ref = need(`grad.${n}`);
    report.push({
      name: n,
      rel:
        maxAbs(torch.data as Float32Array, ref.data as Float32Array) /
        Math.max(maxAbsOf(ref.data as Float32Array), 1e-30),
    });
  }
  tf.dispose([x, labels, logits!, value, ...Object.values(grads)]);
  model.dispose();
  const gradMaxRel = Math.max(...report.map((r) => r.rel));
  const t = LORA_PARITY_TOLERANCE;
  return {
    name: c.name,
    logitsMaxAbs,
    lossAbsErr,
    gradMaxRel,
    grads: report,
    pass: logitsMaxAbs <= t.logitsAbs && lossAbsErr <= t.lossAbs && gradMaxRel <= t.gradRel,
  };
}

/** Mean cross-entropy of logits [B, K] against integer labels [B]. */
export function meanCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1] as number;
    const logp = tf.logSoftmax(logits as tf.Tensor2D); // [B, K]
    const onehot = tf.oneHot(labels.toInt() as tf.Tensor1D, k); // [B, K]
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, onehot), 1))) as tf.Scalar;
  });
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbsOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * check-parity's handler for LoRA cases (a case with `adapter` or `lora`): logits within the run's tol, the loss
 * within tol, and every io gradient within LORA_PARITY_TOLERANCE.gradRel (relative). Registered in the CLI's
 * CASE_HANDLERS ahead of models' placeholder.
 */
export const LORA_CASE_HANDLER: CaseHandler = {
  name: "lora",
  matches: (c) => c.adapter !== undefined || c.lora !== undefined,
  run: async (c, ctx) => {
    const r = await runLoraParity(ctx.dir, c as unknown as LoraParityCase);
    const over = [
      r.logitsMaxAbs > ctx.tol ? `logits ${r.logitsMaxAbs.toExponential(2)}` : "",
      r.lossAbsErr > ctx.tol ? `loss ${r.lossAbsErr.toExponential(2)}` : "",
      ...r.grads
        .filter((g) => !(g.rel <= LORA_PARITY_TOLERANCE.gradRel))
        .map((g) => `grad ${g.name} rel ${g.rel.toExponential(2)}`),
    ].filter(Boolean);
    const summary = `loss |Δ| ${r.lossAbsErr.toExponential(2)}, max rel grad Δ ${r.gradMaxRel.toExponential(2)} over ${r.grads.length} tensors`;
    return {
      case: c.name,
      arch: c.arch,
      logitsErr: r.logitsMaxAbs,
      featuresErr: null,
      status: over.length ? "fail" : "ok",
      detail: over.length ? `over tolerance: ${over.join(", ")}; ${summary}` : summary,
    };
  },
};
