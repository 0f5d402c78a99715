/**
 * Parity against PyTorch reference outputs: reads a manifest (schema of shared/fixtures/reference/manifest.json;
 * paths relative to it), builds each case's model from its fields through ARCH_BUILDERS, loads its PyTorch weights
 * strictly, runs it in eval mode on the case's NCHW input (transposed to NHWC) and reports the max absolute error of
 * logits and features. Nothing is special-cased to particular files: other sizes, depths and seeds run the same way.
 *
 * Case handling is extensible: a CaseHandler claims cases by predicate (the first match wins). LoRA cases belong to
 * lib/peft, which models may not import, so the CLI composes [peft handlers..., ...DEFAULT_CASE_HANDLERS].
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { DataError, ShapeError } from "../errors";
import type { HostTensor } from "../io/host_tensor";
import { readSafetensors } from "../io/safetensors";
import { permute } from "../nn/layout";
import { buildFromJson } from "./builders";
import { loadWeights } from "./create";
import type { ImageClassifier } from "./types";

/** One manifest case: `name`, `arch`, `weights`, `io` plus architecture fields (snake_case). */
export interface ManifestCase {
  name: string;
  arch: string;
  weights: string;
  io: string;
  [field: string]: unknown;
}

/** A parity manifest as written by the fixture generator. */
export interface Manifest {
  cases: ManifestCase[];
  [field: string]: unknown;
}

export type ParityStatus = "ok" | "fail" | "error" | "skipped";

/** One row of the parity table. */
export interface ParityRow {
  case: string;
  arch: string;
  /** Max |logits − reference|, null when not computed. */
  logitsErr: number | null;
  /** Max |features − reference|, null when the reference has no features or it was not computed. */
  featuresErr: number | null;
  status: ParityStatus;
  /** Why a case failed, errored or was skipped. */
  detail?: string;
}

/** What a handler gets besides the case. */
export interface CaseContext {
  /** Folder of the manifest (case paths are relative to it). */
  dir: string;
  tol: number;
}

/** Runs the cases its predicate claims. */
export interface CaseHandler {
  name: string;
  matches(c: ManifestCase): boolean;
  run(c: ManifestCase, ctx: CaseContext): Promise<ParityRow> | ParityRow;
}

/** The whole report. */
export interface ParityReport {
  manifest: string;
  tol: number;
  rows: ParityRow[];
  /** True when no case failed or errored (skipped cases are listed, not counted as failures). */
  ok: boolean;
}

/** Reads and validates a manifest; throws DataError naming the field. */
export function readManifest(file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new DataError("Cannot read the parity manifest", {
      where: file,
      expected: "a readable JSON file",
      got: (e as Error).message.split("\n")[0],
    });
  }
  const m = json as Partial<Manifest>;
  if (!Array.isArray(m.cases)) {
    throw new DataError("Manifest has no cases array", {
      where: `${file}: cases`,
      expected: "an array",
      got: typeof m.cases,
    });
  }
  m.cases.forEach((c, i) => {
    for (const k of ["name", "arch", "weights", "io"] as const) {
      if (typeof c?.[k] !== "string") {
        throw new DataError("Manifest case lacks a required field", {
          where: `${file}: cases[${i}].${k}`,
          expected: "a string",
          got: JSON.stringify(c?.[k]),
        });
      }
    }
  });
  return m as Manifest;
}

/** The placeholder for LoRA cases until lib/peft registers its handler (in the CLI's handler list). */
export const LORA_PLACEHOLDER_HANDLER: CaseHandler = {
  name: "lora-placeholder",
  matches: (c) => c.lora !== undefined || c.adapter !== undefined,
  run: (c) => ({
    case: c.name,
    arch: c.arch,
    logitsErr: null,
    featuresErr: null,
    status: "skipped",
    detail: "LoRA cases need lib/peft (PEFT issue)",
  }),
};

/** Plain model cases: build from the manifest fields, strict load, eval forward, compare logits and features. */
export const MODEL_CASE_HANDLER: CaseHandler = {
  name: "model",
  matches: () => true,
  run: async (c, ctx) => {
    const model = loadCaseModel(c, ctx.dir);
    try {
      const io = readCaseIo(c, ctx.dir);
      const x = nchwToTensor(io.input); // [B, H, W, C]
      const feats = model.forwardFeatures(x); // [B, F]
      const logits = model.forwardHead(feats); // [B, K]
      const logitsErr = await maxAbsErr(logits, io.logits, `${c.name}: logits`);
      const featuresErr = io.features ? await maxAbsErr(feats, io.features, `${c.name}: features`) : null;
      tf.dispose([x, feats, logits]);
      return judge(c, logitsErr, featuresErr, ctx.tol);
    } finally {
      model.dispose();
    }
  },
};

/** Handlers models can provide by themselves, in match order. */
export const DEFAULT_CASE_HANDLERS: readonly CaseHandler[] = [LORA_PLACEHOLDER_HANDLER, MODEL_CASE_HANDLER];

/** Runs every case of a manifest through the first handler that claims it; never throws for a single case. */
export async function checkParity(
  manifestFile: string,
  opts: { tol?: number; handlers?: readonly CaseHandler[] } = {},
): Promise<ParityReport> {
  const tol = opts.tol ?? 1e-4;
  const handlers = opts.handlers ?? DEFAULT_CASE_HANDLERS;
  const manifest = readManifest(manifestFile);
  const ctx: CaseContext = { dir: path.dirname(path.resolve(manifestFile)), tol };
  const rows: ParityRow[] = [];
  for (const c of manifest.cases) {
    const h = handlers.find((x) => x.matches(c));
    if (!h) {
      rows.push({
        case: c.name,
        arch: c.arch,
        logitsErr: null,
        featuresErr: null,
        status: "error",
        detail: "no case handler matches",
      });
      continue;
    }
    try {
      rows.push(await h.run(c, ctx));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      rows.push({ case: c.name, arch: c.arch, logitsErr: null, featuresErr: null, status: "error", detail: msg });
    }
  }
  return {
    manifest: path.resolve(manifestFile),
    tol,
    rows,
    ok: rows.every((r) => r.status === "ok" || r.status === "skipped"),
  };
}

/** Builds a case's model from its manifest fields and loads its weights strictly, in eval mode. */
export function loadCaseModel(c: ManifestCase, dir: string, warn: (m: string) => void = () => {}): ImageClassifier {
  const model = buildFromJson(c, 0, warn);
  try {
    loadWeights(model, path.resolve(dir, c.weights), { strict: true, log: warn });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return model;
}

/** The reference tensors of a case's io file (`input` NCHW, `logits`, optional `features` and anything else). */
export function readCaseIo(
  c: ManifestCase,
  dir: string,
): { input: HostTensor; logits: HostTensor; features?: HostTensor; all: Map<string, HostTensor> } {
  const file = path.resolve(dir, c.io);
  const all = readSafetensors(file).tensors;
  for (const k of ["input", "logits"]) {
    if (!all.has(k)) {
      throw new DataError("Reference io file lacks a tensor", {
        where: `${file}: ${k}`,
        expected: "input and logits",
        got: [...all.keys()].join(", "),
      });
    }
  }
  return { input: all.get("input")!, logits: all.get("logits")!, features: all.get("features"), all };
}

/** NCHW host images → an NHWC float32 tensor. */
export function nchwToTensor(h: HostTensor): tf.Tensor {
  if (h.shape.length !== 4) {
    throw new ShapeError("Reference input must be NCHW", {
      where: "io.input",
      expected: "rank 4 [N, C, H, W]",
      got: `[${h.shape}]`,
    });
  }
  const nhwc = permute(h, [0, 2, 3, 1]);
  return tf.tensor(Float32Array.from(nhwc.data as ArrayLike<number>), nhwc.shape, "float32");
}

/** Max absolute difference between a tensor and a reference; shapes must match. */
export async function maxAbsErr(t: tf.Tensor, ref: HostTensor, where: string): Promise<number> {
  if (t.shape.length !== ref.shape.length || t.shape.some((v, i) => v !== ref.shape[i])) {
    throw new ShapeError("Output shape differs from the reference", {
      where,
      expected: `[${ref.shape}]`,
      got: `[${t.shape}]`,
    });
  }
  const a = await t.data();
  const b = ref.data as ArrayLike<number>;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d; // NaN must fail, not vanish in Math.max
  }
  return m;
}

/** A row from the errors: ok when every computed error is within tol. */
export function judge(c: ManifestCase, logitsErr: number | null, featuresErr: number | null, tol: number): ParityRow {
  const over = [
    logitsErr !== null && logitsErr > tol ? `logits ${logitsErr.toExponential(2)}` : "",
    featuresErr !== null && featuresErr > tol ? `features ${featuresErr.toExponential(2)}` : "",
  ].filter(Boolean);
  return {
    case: c.name,
    arch: c.arch,
    logitsErr,
    featuresErr,
    status: over.length ? "fail" : "ok",
    detail: over.length ? `over tolerance ${tol}: ${over.join(", ")}` : undefined,
  };
}
