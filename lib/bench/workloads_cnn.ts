/**
 * MobileNetV2 workloads, and the data-side ones.
 * - mnv2_train / mnv2_infer: the model of shared/bench/torch_mobilenetv2.py (torchvision mobilenet_v2, width 0.35,
 *   8 classes, 224, batch 32), full fine-tuning with AdamW (lr 1e-3, wd 0.01) and cross-entropy; inference in eval.
 * - feature_cache: the shared pretrained MobileNetV2-0.35 (Keras weights in shared/weights) over N real PBC JPEGs
 *   into the peft feature cache (lib/peft/probe/feature_cache.ts): decode + resize + normalise, forward, write.
 * - data_loader: decode + augment at 224 (DEFAULT_BENCH_TRANSFORM) of N PBC JPEGs through the DataLoader.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { imageFolderDataset } from "../data/sources";
import { DEFAULT_BENCH_TRANSFORM, throughput } from "../data/throughput";
import type { ImageDataset } from "../data/types";
import { loadSharedMobileNetV2, SHARED_MOBILENETV2_DIR } from "../models/convert/keras_mobilenet";
import { MobileNetV2 } from "../models/mobilenetv2";
import { hasShared, sharedPath } from "../paths";
import { DataLoader } from "../data/loader";
import { extractFeatures, type FeatureBatch } from "../peft/probe";
import { defaultParamGroups, Optimizer, type OptimizerOptions } from "../train/optim";
import { mobileNetV2InferenceFlops, mobileNetV2TrainFlops } from "./flops";
import { round, timeSteps } from "./measure";
import {
  randomBatch,
  timed,
  trainStep,
  type WorkloadContext,
  type WorkloadOutcome,
  type WorkloadSkip,
  type WorkloadSpec,
} from "./workload";

const CLASSES = 8;
const WIDTH = 0.35;
const ADAMW: OptimizerOptions = { name: "adamw", lr: 1e-3, weightDecay: 0.01 };
/**
 * Micro-batch of the full-FT step: the whole batch, as PyTorch does (batch 32 needs ~2.8 GB of wasm heap since the
 * lean BatchNorm/ReLU ops and the sharing Identity); `--micro-batch N` splits it, with BatchNorm stats over N images.
 */
const DEFAULT_MICRO_BATCH = Number.POSITIVE_INFINITY;
/** The PBC JPEG folder under the shared root. */
export const PBC_JPEG_DIR = ["data", "pbc-jpeg"];

function cnnSetting(quick: boolean) {
  return quick ? { size: 32, batch: 2 } : { size: 224, batch: 32 };
}

async function mnv2Train(ctx: WorkloadContext): Promise<WorkloadOutcome> {
  const s = cnnSetting(ctx.quick);
  const model = new MobileNetV2({ widthMult: WIDTH, numClasses: CLASSES });
  model.train();
  const opt = new Optimizer(defaultParamGroups(model, ADAMW), ADAMW);
  const { x, y } = randomBatch(s.batch, s.size, CLASSES);
  const micro = Math.min(s.batch, ctx.microBatch ?? (ctx.quick ? s.batch : DEFAULT_MICRO_BATCH));
  const fwd = (t: tf.Tensor) => model.apply(t);
  const timing = await timeSteps(() => trainStep(model, opt, fwd, x, y, micro), {
    ...ctx,
    label: `full-FT step (micro-batch ${micro})`,
  });
  tf.dispose([x, y]);
  return {
    batchSize: s.batch,
    imageSize: s.size,
    imagesPerRepeat: s.batch,
    timing,
    flops: mobileNetV2TrainFlops({ widthMult: WIDTH, imgSize: s.size, numClasses: CLASSES }),
    extra: {
      trainableParams: model.numParameters({ trainableOnly: true }),
      microBatch: micro,
      batchNormStatsOver: micro,
    },
  };
}

async function mnv2Infer(ctx: WorkloadContext): Promise<WorkloadOutcome> {
  const s = cnnSetting(ctx.quick);
  const model = new MobileNetV2({ widthMult: WIDTH, numClasses: CLASSES });
  model.eval();
  const { x } = randomBatch(s.batch, s.size, CLASSES, 1);
  const timing = await timeSteps(
    async () => {
      const logits = model.apply(x); // [B, K]
      await logits.data(); // waits for the GPU where there is one
      logits.dispose();
    },
    { ...ctx, label: "inference" },
  );
  x.dispose();
  return {
    batchSize: s.batch,
    imageSize: s.size,
    imagesPerRepeat: s.batch,
    timing,
    flops: mobileNetV2InferenceFlops({ widthMult: WIDTH, imgSize: s.size, numClasses: CLASSES }),
  };
}

/** `n` PBC images spread evenly over the (class-sorted) folder, so every class is represented. */
export function pbcSubset(n: number): ImageDataset | WorkloadSkip {
  const root = sharedPath(...PBC_JPEG_DIR);
  if (!hasShared() || !fs.existsSync(root)) return { skipped: `no PBC images at ${root} (set PEFTLAB_SHARED)` };
  const ds = imageFolderDataset(root);
  const k = Math.max(1, Math.floor(ds.items.length / n));
  return { ...ds, items: ds.items.filter((_, i) => i % k === 0).slice(0, n) };
}

async function featureCache(ctx: WorkloadContext): Promise<WorkloadOutcome | WorkloadSkip> {
  const n = ctx.images ?? (ctx.quick ? 4 : 128);
  const ds = pbcSubset(n);
  if ("skipped" in ds) return ds;
  const weights = sharedPath(...SHARED_MOBILENETV2_DIR);
  if (!fs.existsSync(weights)) return { skipped: `no pretrained MobileNetV2 at ${weights}` };
  const model = loadSharedMobileNetV2();
  const transform = { size: 224, normalize: "inception" as const };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-bench-features-"));
  const weightsHash = "bench"; // skip hashing the state dict on every pass: the key only has to be stable here
  // One pass: decode + resize + normalise (DataLoader, eval path) → forward → the peft feature cache in `dir`.
  const pass = async (dir: string) => {
    const dl = new DataLoader(ds, { batchSize: 32, transform, augment: false, shuffle: false });
    async function* batches(): AsyncGenerator<FeatureBatch> {
      for await (const b of dl.epoch()) yield { x: b.x, y: b.y, ids: b.ids };
    }
    try {
      return await extractFeatures(model, batches(), {
        dir,
        preprocessing: { bench: "pbc", ...transform },
        weightsHash,
        log: ctx.log,
      });
    } finally {
      await dl.close();
    }
  };
  let k = 0;
  try {
    // A fresh cache folder per pass, so every pass extracts rather than reading the last pass's entry.
    const timing = await timeSteps(
      async () => {
        const r = await pass(path.join(tmp, String(k++)));
        if (r.computed !== ds.items.length)
          throw new Error(`feature cache pass extracted ${r.computed} of ${ds.items.length}`);
      },
      { ...ctx, label: `extract ${ds.items.length} images` },
    );
    // The same items again from a filled cache: images are still loaded (the cache checks pixels), no forward.
    const [hit, hitS] = await timed(() => pass(path.join(tmp, "0")));
    return {
      batchSize: 32,
      imageSize: 224,
      imagesPerRepeat: ds.items.length,
      timing,
      flops: mobileNetV2InferenceFlops({ widthMult: WIDTH, imgSize: 224, numClasses: 0 }),
      extra: {
        images: ds.items.length,
        featureDim: hit.d,
        cachedPassComputed: hit.computed,
        cachedPassImgPerS: round(ds.items.length / hitS, 2),
      },
    };
  } finally {
    model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function dataLoader(ctx: WorkloadContext): Promise<WorkloadOutcome | WorkloadSkip> {
  const n = ctx.images ?? (ctx.quick ? 8 : 256);
  const ds = pbcSubset(n);
  if ("skipped" in ds) return ds;
  let last = { workers: 0, concurrency: 0 };
  const timing = await timeSteps(
    async () => {
      const r = await throughput(ds, { images: ds.items.length, batchSize: 32, transform: DEFAULT_BENCH_TRANSFORM });
      last = { workers: r.workers, concurrency: r.concurrency };
    },
    { ...ctx, label: `decode+augment ${ds.items.length} images` },
  );
  return {
    batchSize: 32,
    imageSize: DEFAULT_BENCH_TRANSFORM.size,
    imagesPerRepeat: ds.items.length,
    timing,
    flops: null,
    extra: {
      images: ds.items.length,
      workers: last.workers,
      concurrency: last.concurrency,
      transform: "RandomResizedCrop(0.7-1)+hflip+imagenet norm",
    },
  };
}

/** The MobileNetV2 and data workloads. */
export const CNN_WORKLOADS: WorkloadSpec[] = [
  { name: "mnv2_train", title: "MobileNetV2-0.35 full-FT step, AdamW, B32@224", run: mnv2Train },
  { name: "mnv2_infer", title: "MobileNetV2-0.35 inference, B32@224", run: mnv2Infer },
  {
    name: "feature_cache",
    title: "shared MobileNetV2-0.35 features of N PBC JPEGs into the feature cache",
    run: featureCache,
  },
  { name: "data_loader", title: "DataLoader decode + augment @224 of N PBC JPEGs", run: dataLoader },
];
