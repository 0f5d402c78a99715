/**
 * Keras / TF.js-layers MobileNetV2 → peftlab's torchvision-named MobileNetV2.
 *
 * - Reading: a TF.js layers model directory (model.json + the binary shards its weightsManifest lists) becomes a
 *   state dict in Keras names (`Conv1/kernel`, `block_3_depthwise_BN/moving_mean`, …) and TF layouts.
 * - Converting (pure, StateDict → StateDict, like timm's checkpoint_filter_fn): Keras names become torchvision's
 *   (`features.N.conv.…`), and TF layouts become torch layouts through lib/nn/layout.ts, the one place layouts change.
 * - Loading: the model is built in "keras" mode (TF "same" padding, BN eps 1e-3, momentum 0.999) so it computes what
 *   the Keras graph computes, then loaded strictly.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../../errors";
import { fromTensorSync, hostTensor, type HostTensor, type StateDict } from "../../io/host_tensor";
import { tfToTorch } from "../../nn/layout";
import { sharedPath } from "../../paths";
import { makeDivisible, MobileNetV2, type MobileNetV2Options } from "../mobilenetv2";

/** Where the shared Teachable-Machine export of Keras's ImageNet MobileNetV2-0.35/224 lives. */
export const SHARED_MOBILENETV2_DIR = ["weights", "mobilenet_v2_035_224_tfjs"];

/** Pretrained settings of that backbone: 224×224 RGB, x/127.5 − 1 (mean 0.5, std 0.5 on [0, 1] input). */
export const KERAS_MOBILENETV2_035_224 = {
  name: "mobilenetv2_035_224.tfjs_keras",
  arch: "mobilenetv2",
  inputSize: [3, 224, 224] as [number, number, number],
  mean: [0.5, 0.5, 0.5] as [number, number, number],
  std: [0.5, 0.5, 0.5] as [number, number, number],
  numFeatures: 1280,
  license: "Apache-2.0 (Keras / TF.js MobileNet releases)",
  options: { widthMult: 0.35, padding: "keras", bnEps: 1e-3, bnMomentum: 0.001 } satisfies MobileNetV2Options,
};

/** A TF.js layers model read from disk: its model.json and the concatenated bytes of its weight shards. */
export interface TfjsLayersFiles {
  modelJson: tf.io.ModelJSON;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** Reads model.json and every shard its weightsManifest lists, in manifest order. */
export function readTfjsLayersFiles(dir: string): TfjsLayersFiles {
  const jsonPath = path.join(dir, "model.json");
  if (!fs.existsSync(jsonPath)) {
    throw new CheckpointError("TF.js model.json not found", {
      where: jsonPath,
      expected: "a TF.js layers model directory (model.json + weight shards)",
      got: fs.existsSync(dir) ? "a directory without model.json" : "no such directory",
      fix: "point at the folder that holds model.json (e.g. $PEFTLAB_SHARED/weights/mobilenet_v2_035_224_tfjs)",
    });
  }
  const modelJson = JSON.parse(fs.readFileSync(jsonPath, "utf8")) as tf.io.ModelJSON;
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new CheckpointError("model.json is not a TF.js layers model", {
      where: jsonPath,
      expected: "modelTopology and weightsManifest",
      got: Object.keys(modelJson).join(", "),
    });
  }
  const chunks: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) {
        throw new CheckpointError("Weight shard listed in model.json is missing", {
          where: file,
          expected: "the shard file",
          got: "missing",
        });
      }
      chunks.push(fs.readFileSync(file));
    }
  }
  const total = chunks.reduce((a, c) => a + c.byteLength, 0);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  return { modelJson, weightSpecs: tf.io.getWeightSpecs(modelJson.weightsManifest), weightData: bytes.buffer };
}

/** A tfjs IOHandler over the file system (tfjs without tfjs-node has no file:// handler), for tf.loadLayersModel. */
export function tfjsLayersIOHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const f = readTfjsLayersFiles(dir);
      return tf.io.getModelArtifactsForJSONSync(f.modelJson, f.weightSpecs, f.weightData);
    },
  };
}

/** Decodes the weights (float32, int32, or quantized: tfjs dequantizes) to a state dict in Keras names and TF layouts. */
export function readTfjsLayersWeights(dir: string): StateDict {
  const f = readTfjsLayersFiles(dir);
  const named = tf.io.decodeWeights(f.weightData, f.weightSpecs);
  const sd: StateDict = new Map();
  for (const spec of f.weightSpecs) {
    const t = named[spec.name];
    sd.set(spec.name, fromTensorSync(t));
    t.dispose();
  }
  return sd;
}

/** The result of converting a Keras MobileNetV2 state dict. */
export interface KerasMobileNetConversion {
  /** torchvision names and layouts, ready for MobileNetV2.loadStateDict. */
  stateDict: StateDict;
  /** Keras tensors that are not part of the backbone (e.g. a Teachable-Machine head), left out. */
  ignored: string[];
  /** The standard width multiplier (0.35 … 1.4) the channel counts imply, if any. */
  widthMult?: number;
}

const STANDARD_WIDTHS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];

/** Pure: Keras MobileNetV2 names and TF layouts → torchvision names and torch layouts. */
export function convertKerasMobileNetV2(keras: StateDict): KerasMobileNetConversion {
  const byLayer = new Map<string, Map<string, HostTensor>>();
  for (const [name, h] of keras) {
    const parts = name.replace(/:\d+$/, "").split("/");
    const layer = parts[parts.length - 2] ?? "";
    if (!byLayer.has(layer)) byLayer.set(layer, new Map());
    byLayer.get(layer)!.set(parts[parts.length - 1], h);
  }
  const blocks = [...byLayer.keys()].map((l) => /^block_(\d+)_/.exec(l)).filter((m) => m !== null);
  const lastBlock = Math.max(0, ...blocks.map((m) => Number(m![1])));
  const lastIndex = lastBlock + 2; // features.0 stem, features.1..lastBlock+1 blocks, then the last conv
  const sd: StateDict = new Map();
  const ignored: string[] = [];
  for (const [layer, params] of byLayer) {
    const target = torchModulePath(layer, lastIndex, (prefix) => byLayer.has(`${prefix}_expand`));
    if (target === undefined) {
      for (const p of params.keys()) ignored.push(`${layer}/${p}`);
      continue;
    }
    for (const [p, h] of params) {
      const mapped = mapParam(p, h, `${layer}/${p}`);
      sd.set(`${target}.${mapped.name}`, mapped.tensor);
    }
    const isBatchNorm = ["gamma", "beta", "moving_mean", "moving_variance"].some((k) => params.has(k));
    if (isBatchNorm) sd.set(`${target}.num_batches_tracked`, hostTensor(new BigInt64Array(1), [], "int64"));
  }
  if (sd.size === 0) {
    throw new CheckpointError("No Keras MobileNetV2 tensors found", {
      where: "convertKerasMobileNetV2",
      expected: "names like Conv1/kernel, block_1_expand/kernel, Conv_1_bn/gamma",
      got: [...keras.keys()].slice(0, 5).join(", ") || "(empty)",
    });
  }
  return { stateDict: sd, ignored, widthMult: inferWidth(sd, lastIndex) };
}

/** True when the keys are Keras MobileNetV2 weight names (`Conv1/kernel`, `block_N_depthwise/depthwise_kernel`, …). */
export function isKerasMobileNetV2(keys: string[]): boolean {
  const tail = keys.map((k) => k.replace(/:\d+$/, "").split("/").slice(-2).join("/"));
  return (
    tail.includes("Conv1/kernel") && tail.some((k) => /^(expanded_conv|block_\d+)_depthwise\/depthwise_kernel$/.test(k))
  );
}

/** The NamingSpec converter: Keras names → torchvision names, reporting each dropped non-backbone key. */
export function convertKerasMobileNetNames(
  sd: StateDict,
  opts: { onDrop?: (key: string, why: string) => void } = {},
): StateDict {
  const r = convertKerasMobileNetV2(sd);
  for (const k of r.ignored)
    opts.onDrop?.(k, "not part of the Keras MobileNetV2 backbone (e.g. a Teachable Machine head)");
  return r.stateDict;
}

/** torchvision module path of a Keras layer, or undefined when the layer is not part of the backbone. */
function torchModulePath(layer: string, lastIndex: number, hasExpand: (prefix: string) => boolean): string | undefined {
  if (layer === "Conv1") return "features.0.0";
  if (layer === "bn_Conv1") return "features.0.1";
  if (layer === "Conv_1") return `features.${lastIndex}.0`;
  if (layer === "Conv_1_bn") return `features.${lastIndex}.1`;
  const m = /^(expanded_conv|block_(\d+))_(expand|depthwise|project)(_BN)?$/.exec(layer);
  if (!m) return undefined;
  const prefix = m[1];
  const index = m[2] === undefined ? 1 : Number(m[2]) + 1;
  const bn = m[4] !== undefined;
  const e = hasExpand(prefix) ? 1 : 0; // the t = 1 block has no expand conv, so later sub-indices shift down
  const sub =
    m[3] === "expand" ? `0.${bn ? 1 : 0}` : m[3] === "depthwise" ? `${e}.${bn ? 1 : 0}` : String(1 + e + (bn ? 1 : 0));
  return `features.${index}.conv.${sub}`;
}

function mapParam(p: string, h: HostTensor, where: string): { name: string; tensor: HostTensor } {
  switch (p) {
    case "kernel":
      return { name: "weight", tensor: tfToTorch(h, "conv2d", where) }; // [kh,kw,in,out] → [out,in,kh,kw]
    case "depthwise_kernel":
      return { name: "weight", tensor: tfToTorch(h, "depthwise", where) }; // [kh,kw,C,1] → [C,1,kh,kw]
    case "gamma":
      return { name: "weight", tensor: h };
    case "beta":
      return { name: "bias", tensor: h };
    case "moving_mean":
      return { name: "running_mean", tensor: h };
    case "moving_variance":
      return { name: "running_var", tensor: h };
    default:
      throw new CheckpointError("Unknown Keras MobileNetV2 weight", {
        where,
        expected: "kernel, depthwise_kernel, gamma, beta, moving_mean or moving_variance",
        got: p,
        fix: "convolutions with bias are not part of Keras's MobileNetV2; check the export",
      });
  }
}

function inferWidth(sd: StateDict, lastIndex: number): number | undefined {
  const stem = sd.get("features.0.0.weight")?.shape[0];
  const lastProject = sd.get(`features.${lastIndex - 1}.conv.2.weight`)?.shape[0];
  return STANDARD_WIDTHS.find((a) => makeDivisible(32 * a, 8) === stem && makeDivisible(320 * a, 8) === lastProject);
}

/** Options for loading a Keras MobileNetV2. */
export interface LoadKerasMobileNetOptions {
  /** Classes of a freshly initialised head; 0 (default) keeps an Identity head, so forward gives 1280-d features. */
  numClasses?: number;
  /** Seed of the new head. */
  seed?: number;
  /** Override the inferred width multiplier. */
  widthMult?: number;
}

/** Loads a TF.js-layers Keras MobileNetV2 directory into a torchvision-named MobileNetV2 in "keras" mode, in eval mode. */
export function loadKerasMobileNetV2(dir: string, opts: LoadKerasMobileNetOptions = {}): MobileNetV2 {
  const conv = convertKerasMobileNetV2(readTfjsLayersWeights(dir));
  const widthMult = opts.widthMult ?? conv.widthMult;
  if (widthMult === undefined) {
    throw new CheckpointError("Cannot infer the MobileNetV2 width multiplier from channel counts", {
      where: `${dir}: Conv1 and the last project conv`,
      expected: `the channels of one of the widths ${STANDARD_WIDTHS.join(", ")}`,
      got: `stem ${conv.stateDict.get("features.0.0.weight")?.shape[0]} channels`,
      fix: "pass widthMult explicitly",
    });
  }
  if (!(widthMult > 0)) {
    throw new ConfigError("widthMult must be positive", {
      where: "LoadKerasMobileNetOptions.widthMult",
      expected: "> 0",
      got: String(widthMult),
    });
  }
  const model = new MobileNetV2({ ...KERAS_MOBILENETV2_035_224.options, widthMult, numClasses: 0, seed: opts.seed });
  try {
    model.loadStateDict(conv.stateDict, { strict: true });
  } catch (e) {
    model.dispose();
    throw e;
  }
  if ((opts.numClasses ?? 0) > 0) model.resetClassifier(opts.numClasses!, opts.seed);
  return model.eval();
}

/** One call: the shared ImageNet MobileNetV2-0.35/224 backbone (from $PEFTLAB_SHARED/weights), optionally with a new head. */
export function loadSharedMobileNetV2(opts: Omit<LoadKerasMobileNetOptions, "widthMult"> = {}): MobileNetV2 {
  return loadKerasMobileNetV2(sharedPath(...SHARED_MOBILENETV2_DIR), { ...opts, widthMult: 0.35 });
}
