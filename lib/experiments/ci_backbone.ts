/**
 * A CI stand-in for a pretrained ViT. These offline machines hold no pretrained ViT weights (CLIP, UNI, Virchow…),
 * so the paper notebooks' ViT code paths (LoRA on qkv, q/v-only LoRA, attn.proj, fc1/fc2, probes on CLS features)
 * run on a small timm-style ViT that is pretrained here, once, supervised on the PBC 28×28 training split
 * (`pbc_28.npz`), and cached as safetensors keyed by a hash of everything that determines its weights.
 *
 * It is an *in-domain* backbone: it has seen other images of the same 8 blood-cell classes (pbc-jpeg is disjoint
 * from pbc_28.npz, see shared/data/pbc_counts.json). A foundation model such as CLIP or UNI has not. Notebooks say so.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../errors";
import { readSafetensors, writeSafetensors } from "../io/safetensors";
import { DataLoader } from "../data/loader";
import { npzDataset } from "../data/sources_npz";
import { splitOf, type ImageDataset } from "../data/types";
import { stratifiedFraction } from "../data/splits";
import type { TransformOptions } from "../data/pipeline";
import { createVit, type VisionTransformer } from "../models/vit";
import type { VitOptions } from "../models/vit_config";
import { sharedPath } from "../paths";
import { fit } from "../train/fit";
import type { OptimizerOptions } from "../train/optim";
import type { TrainingCallbacks } from "../train/callbacks";
import { stableStringify } from "../results/run_record";

/** Architecture of the stand-in (timm ViT names; `img_size` 28 = MedMNIST size). */
export interface CiVitArch {
  imgSize: number;
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
}

/** The default: patch 7 on 28×28 (16 patches + CLS), dim 64, depth 4, 4 heads, ≈ 0.2 M parameters. */
export const CI_VIT_ARCH: Readonly<CiVitArch> = {
  imgSize: 28,
  // Patch 7 rather than 4: 17 tokens instead of 50 makes every step ~3× cheaper on 2 cores (measured), which the
  // notebooks' LoRA sweeps need far more than the finer grid.
  patchSize: 7,
  embedDim: 64,
  depth: 4,
  numHeads: 4,
  mlpRatio: 4,
};

/** Supervised pretraining budget: fixed step count (not wall time) so the weights are the same on every machine. */
export interface CiVitPretrain {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupSteps: number;
  seed: number;
  /** Fraction of the npz train split used (stratified); 1 = all 11,685 images. */
  trainFraction: number;
}

/** ~70 s on 2 uncontended cores (wasm): 160 AdamW steps of 128 images ≈ 1.75 epochs of the PBC-28 train split. */
export const CI_VIT_PRETRAIN: Readonly<CiVitPretrain> = {
  steps: 160,
  batchSize: 128,
  lr: 2e-3,
  weightDecay: 0.05,
  warmupSteps: 10,
  seed: 0,
  trainFraction: 1,
};

/** Options of ciVitBackbone; every field is optional. */
export interface CiVitBackboneOptions {
  /** Cache root (default `PEFTLAB_CACHE`, else ~/.cache/peftlab); weights go to `<cacheDir>/ci_backbone/`. */
  cacheDir?: string;
  /** The MedMNIST-style PBC file to pretrain on (default `$PEFTLAB_SHARED/data/pbc_28.npz`). */
  dataFile?: string;
  /** Head of the returned model: 0 (default) = Identity, i.e. a feature extractor; K = a fresh K-class head. */
  numClasses?: number;
  /** Seed of the fresh head (default 0). */
  headSeed?: number;
  arch?: Partial<CiVitArch>;
  pretrain?: Partial<CiVitPretrain>;
  /** Progress lines (default console.error; null = silent). */
  log?: ((line: string) => void) | null;
  /** Live progress of the pretraining, when it runs (e.g. a notebook's `dashboard()`): one epoch of `steps` steps. */
  callbacks?: TrainingCallbacks[];
}

/** What ciVitBackbone returns. */
export interface CiVitBackbone {
  /** The ViT in eval mode, pretrained weights loaded, head as requested. */
  model: VisionTransformer;
  /** Short model id for run records, e.g. `ci-vit-p7-d64-l4`. */
  modelId: string;
  /** Config hash (16 hex) that names the cache file. */
  hash: string;
  file: string;
  /** True when the weights came from the cache (no pretraining in this call). */
  cached: boolean;
  arch: CiVitArch;
  pretrain: CiVitPretrain;
  /** Input pipeline for 28×28 npz rows (MedMNIST) and for full-size PBC JPEGs (≈ a 200 px centre crop → 28). */
  transform: TransformOptions;
  jpegTransform: TransformOptions;
  /** How pretraining went: accuracy on the npz val split, seconds, images. */
  report: { valAccuracy: number; steps: number; seconds: number; trainImages: number };
}

/** Inputs are x/255 scaled to [−1, 1]. */
const NORMALIZE = "inception";

/** The cache root: `PEFTLAB_CACHE`, else ~/.cache/peftlab. */
export function peftlabCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.PEFTLAB_CACHE && env.PEFTLAB_CACHE !== ""
    ? env.PEFTLAB_CACHE
    : path.join(os.homedir(), ".cache", "peftlab");
}

/** The config hash of a stand-in: arch, pretraining settings and the data file's name and size. */
export function ciVitConfigHash(arch: CiVitArch, pretrain: CiVitPretrain, dataFile: string): string {
  const size = fs.existsSync(dataFile) ? fs.statSync(dataFile).size : -1;
  const identity = {
    version: 1,
    arch,
    pretrain,
    data: { name: path.basename(dataFile), bytes: size },
    norm: NORMALIZE,
  };
  return createHash("sha256").update(stableStringify(identity)).digest("hex").slice(0, 16);
}

function vitOptions(a: CiVitArch, numClasses: number, seed: number): VitOptions {
  return { ...a, numClasses, seed, qkvBias: true };
}

/**
 * The CI stand-in ViT backbone (stable API, also used by notebooks 03-05): a small timm-style ViT (default patch 7
 * on 28×28, dim 64, depth 4, 4 heads) pretrained supervised on the PBC-28 train split on first use (fixed seed and
 * step count, about a minute on 2 cores), cached atomically as `<cacheDir>/ci_backbone/<hash>.safetensors`, and
 * loaded from there by every later call with the same arch, pretraining settings and data file.
 */
export async function ciVitBackbone(opts: CiVitBackboneOptions = {}): Promise<CiVitBackbone> {
  const arch: CiVitArch = { ...CI_VIT_ARCH, ...(opts.arch ?? {}) };
  const pretrain: CiVitPretrain = { ...CI_VIT_PRETRAIN, ...(opts.pretrain ?? {}) };
  const dataFile = opts.dataFile ?? sharedPath("data", "pbc_28.npz");
  const log = opts.log === undefined ? (l: string) => console.error(l) : (opts.log ?? (() => {}));
  const hash = ciVitConfigHash(arch, pretrain, dataFile);
  const dir = path.join(opts.cacheDir ?? peftlabCacheRoot(), "ci_backbone");
  const file = path.join(dir, `vit-${hash}.safetensors`);
  const modelId = `ci-vit-p${arch.patchSize}-d${arch.embedDim}-l${arch.depth}`;
  let cached = true;
  let report = readCached(file, log);
  if (report === undefined) {
    cached = false;
    report = await withLock(`${file}.lock`, file, async () => {
      const again = readCached(file, () => {});
      if (again) return again;
      if (!fs.existsSync(dataFile)) {
        throw new ConfigError("The CI backbone's pretraining data is missing", {
          where: "ciVitBackbone.dataFile",
          expected: "a MedMNIST-style PBC .npz (pbc_28.npz)",
          got: dataFile,
          fix: "set PEFTLAB_SHARED to the shared folder, or pass dataFile",
        });
      }
      log(`[ciVitBackbone] pretraining ${modelId} on ${path.basename(dataFile)} (${pretrain.steps} steps) → ${file}`);
      return pretrainAndSave(arch, pretrain, dataFile, file, log, opts.callbacks ?? []);
    });
  } else {
    log(`[ciVitBackbone] ${modelId} from cache ${file}`);
  }
  const model = createVit(vitOptions(arch, 8, pretrain.seed));
  const { tensors } = readSafetensors(file);
  model.loadStateDict(tensors);
  model.resetClassifier(opts.numClasses ?? 0, opts.headSeed ?? 0);
  model.eval();
  return {
    model,
    modelId,
    hash,
    file,
    cached,
    arch,
    pretrain,
    transform: { size: arch.imgSize, normalize: NORMALIZE },
    // pbc_28 is a 200×200 centre crop of ~360 px originals, then 28 px: shorter side → 28·360/200 ≈ 50, crop 28.
    jpegTransform: { size: arch.imgSize, resize: Math.round((arch.imgSize * 360) / 200), normalize: NORMALIZE },
    report,
  };
}

type Report = CiVitBackbone["report"];

function readCached(file: string, log: (s: string) => void): Report | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const { metadata } = readSafetensors(file);
    return JSON.parse(metadata["peftlab.ci_backbone.report"] ?? "") as Report;
  } catch (e) {
    log(`[ciVitBackbone] cache file ${file} is unreadable (${(e as Error).message}); pretraining again`);
    return undefined;
  }
}

/** Runs `fn` holding an exclusive lock file; waits for another process's lock (stale after 15 min). */
async function withLock<T>(lock: string, file: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, "wx"));
      break;
    } catch {
      const age = fs.existsSync(lock) ? Date.now() - fs.statSync(lock).mtimeMs : Infinity;
      if (age > 15 * 60 * 1000) fs.rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
    void file;
  }
}

async function pretrainAndSave(
  arch: CiVitArch,
  p: CiVitPretrain,
  dataFile: string,
  file: string,
  log: (s: string) => void,
  callbacks: TrainingCallbacks[],
): Promise<Report> {
  const t0 = Date.now();
  const ds = npzDataset(dataFile, { splits: ["train", "val"] });
  let train = splitOf(ds, "train");
  if (p.trainFraction < 1) train = stratifiedFraction(train, p.trainFraction, p.seed);
  const model = createVit(vitOptions(arch, ds.classes.length, p.seed));
  const transform: TransformOptions = {
    size: arch.imgSize,
    normalize: NORMALIZE,
    augment: { hflip: 0.5, vflip: 0.5, rot90: 0.5 },
  };
  const dl = new DataLoader(train, { batchSize: p.batchSize, transform, seed: p.seed, dropLast: true });
  const optOpts: OptimizerOptions = {
    name: "adamw",
    lr: p.lr,
    weightDecay: p.weightDecay,
    noDecayNormsAndBiases: true,
  };
  const schedule = {
    kind: "warmup_cosine" as const,
    // fit() requires warm-up < total; only test-sized budgets (steps ≤ warmupSteps) are affected.
    warmupSteps: Math.min(p.warmupSteps, p.steps - 1),
    totalSteps: p.steps,
    minLr: p.lr / 100,
  };
  let step = 0;
  try {
    // A step budget, not whole epochs: enough epochs to cover p.steps, stopped after exactly p.steps updates.
    await fit(model, dl, {
      task: "multiclass",
      epochs: Math.ceil(p.steps / dl.batchesPerEpoch(0)),
      stopAfterSteps: p.steps,
      optimizer: optOpts,
      schedule,
      seed: p.seed,
      callbacks: [
        ...callbacks,
        {
          onBatchEnd({ loss }) {
            step++;
            if (step % 40 === 0 || step === p.steps)
              log(`[ciVitBackbone] step ${step}/${p.steps} loss ${loss.toFixed(4)}`);
          },
        },
      ],
    });
  } finally {
    await dl.close();
  }
  const valAccuracy = await accuracyOn(model, splitOf(ds, "val"), { size: arch.imgSize, normalize: NORMALIZE });
  const report: Report = {
    valAccuracy,
    steps: p.steps,
    seconds: (Date.now() - t0) / 1000,
    trainImages: train.items.length,
  };
  log(`[ciVitBackbone] val accuracy ${valAccuracy.toFixed(4)} after ${report.seconds.toFixed(0)} s`);
  writeSafetensors(file, model.stateDict(), {
    metadata: {
      "peftlab.ci_backbone.arch": JSON.stringify(arch),
      "peftlab.ci_backbone.pretrain": JSON.stringify(p),
      "peftlab.ci_backbone.data": path.basename(dataFile),
      "peftlab.ci_backbone.report": JSON.stringify(report),
    },
  });
  const check = readCached(file, () => {});
  if (check === undefined) {
    throw new CheckpointError("The CI backbone could not be read back after writing", {
      where: file,
      expected: "a readable safetensors file",
      got: "unreadable",
      fix: "check free disk space and permissions of the cache folder (PEFTLAB_CACHE)",
    });
  }
  model.dispose();
  return report;
}

/** Top-1 accuracy of a classifier over a dataset (eval mode, no augmentation). */
async function accuracyOn(model: VisionTransformer, ds: ImageDataset, transform: TransformOptions): Promise<number> {
  model.eval();
  const dl = new DataLoader(ds, { batchSize: 256, transform, augment: false, shuffle: false });
  let right = 0;
  let n = 0;
  try {
    for await (const b of dl.epoch()) {
      const pred = tf.tidy(() => tf.argMax(model.apply(b.x), 1)); // [B]
      const [p, y] = [await pred.data(), await b.y.data()];
      for (let i = 0; i < p.length; i++) right += p[i] === y[i] ? 1 : 0;
      n += p.length;
      pred.dispose();
    }
  } finally {
    await dl.close();
  }
  return right / Math.max(1, n);
}
