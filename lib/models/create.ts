/**
 * createModel: builds a registry model through the arch → builder table and loads its weights, converting names by
 * the detected naming (timm's create_model + checkpoint_filter_fn). Problems are reported PyTorch-style as
 * CheckpointErrors; a changed class count re-creates the head and drops the checkpoint's head, with a warning.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadTorchStateDict } from "../io/torch_checkpoint";
import { CheckpointError } from "../errors";
import { sizeOf, type StateDict } from "../io/host_tensor";
import { SafetensorsFile } from "../io/safetensors";
import { buildFromJson } from "./builders";
import { convertStateDict } from "./convert";
import { readTfjsLayersWeights } from "./convert/keras_mobilenet";
import { resamplePosEmbed } from "./pos_embed";
import { getPretrainedCfg, type PretrainedCfg } from "./registry";
import type { ImageClassifier } from "./types";
import { VisionTransformer } from "./vit";

/** Options of createModel. */
export interface CreateModelOptions {
  /** Path of a weights file (safetensors) in any known naming; omitted = random init. */
  weights?: string;
  /** Classes of the new head; default the pretrained head's. A different count re-creates the head (timm-style). */
  numClasses?: number;
  /** Fail on missing or unexpected keys (default true). Shape mismatches always fail. */
  strict?: boolean;
  /** Naming of the weights file; default detected from its keys. */
  naming?: string;
  /** Extra or overriding architecture args (snake_case), e.g. `{ img_size: 224, drop_path_rate: 0.1 }`. */
  args?: Record<string, unknown>;
  /** Seed of the random initialisation (and of a re-created head). */
  seed?: number;
  /** Where warnings go (dropped keys, head reset, pos-embed resampling); default console.warn. */
  log?: (msg: string) => void;
}

/** What loadWeights did. */
export interface LoadReport {
  naming: string;
  /** Checkpoint keys deliberately not loaded (converter drops and a reset head). */
  dropped: string[];
  /** Set when pos_embed was resampled: [checkpoint rows, model rows]. */
  resampledPosEmbed?: [number, number];
  /** True when the checkpoint's head was dropped for a new class count. */
  headReset: boolean;
}

/** Builds a registered model (see listPretrained()) and optionally loads weights into it. */
export function createModel(id: string, opts: CreateModelOptions = {}): ImageClassifier {
  const cfg: PretrainedCfg = getPretrainedCfg(id);
  const log = opts.log ?? ((m: string) => console.warn(`[peftlab] ${m}`));
  const numClasses = opts.numClasses ?? cfg.numClasses;
  const json = { ...cfg.args, ...opts.args, arch: cfg.arch, num_classes: numClasses };
  const model = buildFromJson(json, opts.seed, log);
  if (opts.weights !== undefined) {
    try {
      loadWeights(model, opts.weights, {
        naming: opts.naming,
        strict: opts.strict,
        log,
        resetHead: numClasses !== cfg.numClasses,
        expectedNaming: cfg.naming,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** Options of loadWeights. */
export interface LoadWeightsOptions {
  naming?: string;
  strict?: boolean;
  log?: (msg: string) => void;
  /** Drop the checkpoint's head (the model's new head keeps its fresh init). */
  resetHead?: boolean;
  /** The naming the registry expects; a different detected naming is used, with a warning. */
  expectedNaming?: string;
}

/** Loads a weights file or state dict (any known naming) into a model, strictly by default. */
export function loadWeights(
  model: ImageClassifier,
  weights: string | StateDict,
  opts: LoadWeightsOptions = {},
): LoadReport {
  const log = opts.log ?? ((m: string) => console.warn(`[peftlab] ${m}`));
  const raw = typeof weights === "string" ? readWeightsFile(weights) : weights;
  const dropped: string[] = [];
  const vit = model instanceof VisionTransformer ? model : undefined;
  const { stateDict, naming } = convertStateDict(raw, opts.naming, {
    posEmbed: vit?.config.posEmbed,
    onDrop: (k, why) => {
      dropped.push(k);
      log(`dropped checkpoint key ${k}: ${why}`);
    },
  });
  if (opts.expectedNaming && opts.naming === undefined && naming !== opts.expectedNaming) {
    log(
      `weights are in "${naming}" naming, the registry expects "${opts.expectedNaming}"; converting from "${naming}"`,
    );
  }
  const report: LoadReport = { naming, dropped, headReset: false };
  if (vit) report.resampledPosEmbed = adaptPosEmbed(vit, stateDict, log);
  if (opts.resetHead) {
    const isHead = (k: string) => model.headNames.some((h) => k === h || k.startsWith(h + "."));
    for (const k of [...stateDict.keys()].filter(isHead)) {
      stateDict.delete(k);
      dropped.push(k);
    }
    report.headReset = true;
    log(`head re-created for ${model.numClasses} classes; the checkpoint's head was not loaded (timm's behaviour)`);
  }
  // The fresh head keeps its values (no read back: webgpu cannot read synchronously); strict still checks the rest.
  const isFreshHead = (k: string) => !!opts.resetHead && model.headNames.some((h) => k === h || k.startsWith(h + "."));
  model.loadStateDict(stateDict, { strict: opts.strict ?? true, keepCurrent: isFreshHead });
  return report;
}

/** Resamples the checkpoint's pos_embed to the model's grid (bicubic, like timm's checkpoint_filter_fn). */
function adaptPosEmbed(
  model: VisionTransformer,
  sd: StateDict,
  log: (m: string) => void,
): [number, number] | undefined {
  const pos = sd.get("pos_embed");
  const want = model.pos.shape;
  if (!pos || pos.shape.length !== 3 || pos.shape[1] === want[1] || pos.shape[2] !== want[2]) return undefined;
  const prefix = model.posPrefixRows;
  const side = Math.round(Math.sqrt(pos.shape[1] - prefix));
  if (side * side !== pos.shape[1] - prefix) return undefined; // not a square grid: let the strict load report it
  sd.set("pos_embed", resamplePosEmbed(pos, model.gridSize, prefix, [side, side]));
  log(`pos_embed resampled bicubically from a ${side}×${side} grid to ${model.gridSize.join("×")}`);
  return [pos.shape[1], want[1]];
}

/** Reads every tensor of a safetensors weights file through the lazy reader (one tensor at a time). */
export function readWeightsFile(file: string): StateDict {
  // A TF.js layers model (a folder with model.json, or model.json itself) is read in its Keras names.
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return readTfjsLayersWeights(file);
  if (path.basename(file) === "model.json") return readTfjsLayersWeights(path.dirname(file));
  const ext = path.extname(file).toLowerCase();
  // PyTorch pickles go through the restricted unpickler: tensors and containers only, never code.
  if ([".bin", ".pth", ".pt"].includes(ext)) return loadTorchStateDict(file).stateDict;
  if (ext !== ".safetensors") {
    throw new CheckpointError("Unsupported weight file type", {
      where: file,
      expected: "a .safetensors file, a PyTorch .bin/.pth/.pt checkpoint, or a TF.js layers folder",
      got: ext || "no extension",
      fix: "convert it with `peftlab weights convert IN OUT.safetensors`",
    });
  }

  const f = SafetensorsFile.open(file);
  try {
    const sd: StateDict = new Map();
    for (const k of f.keys()) sd.set(k, f.get(k));
    return sd;
  } finally {
    f.close();
  }
}

/** Sum of element counts of a state dict's tensors (a fixture's parameter count, buffers included). */
export function stateDictSize(sd: StateDict): number {
  let n = 0;
  for (const [, t] of sd) n += sizeOf(t.shape);
  return n;
}
