/**
 * What a RunConfig's `model.id` means. Registry ids (lib/models/registry.ts, e.g. "mobilenetv2_035_224.tfjs_keras")
 * are built by createModel with their registry preprocessing; `fixture:<case>` builds a case of a reference
 * manifest (fixtures/reference/manifest.json) through the parity builders, for tests and smoke runs. lib/train keeps
 * no model table of its own: a new registry entry is usable in run configs as it lands.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../errors";
import { sharedPath } from "../paths";
import type { NormalizeSpec } from "../data/transforms";
import { ARCH_BUILDERS } from "../models/builders";
import { createModel } from "../models/create";
import { loadCaseModel, readManifest, type ManifestCase } from "../models/parity";
import { pretrainedWeightsPath } from "../models/pretrained_load";
import { getPretrainedCfg, listPretrained, type PretrainedCfg } from "../models/registry";
import type { ImageClassifier } from "../models/types";

/** How a run builds its model. */
export interface RunModelSpec {
  /** Default input side. */
  size: number;
  normalize: NormalizeSpec;
  /** Centre-crop fraction of the model's eval transform (timm's crop_pct); the default resize is ⌊size / cropPct⌋. */
  cropPct?: number;
  /** Default weights path (a file or folder); throws a ConfigError when the model has no local default. */
  defaultWeights(): string;
  /** Builds the pretrained model with a fresh `numClasses` head (0: Identity), seeded. */
  build(o: {
    weights: string;
    numClasses: number;
    seed: number;
    /** Architecture-argument overrides (createModel's `args`; merged into a fixture case's fields). */
    args?: Record<string, unknown>;
    log?: (m: string) => void;
  }): ImageClassifier;
}

const FIXTURE = "fixture:";

/** The ids a run can use: the registry's plus `fixture:<case>` for each case of a reference manifest. */
export function runModelIds(): string[] {
  return [...listPretrained(), `${FIXTURE}<case> (cases of fixtures/reference/manifest.json)`];
}

/** The spec of a model id; unknown ids are a ConfigError naming close registry ids. */
export function runModelSpec(id: string): RunModelSpec {
  if (id.startsWith(FIXTURE)) return fixtureSpec(id.slice(FIXTURE.length));
  let cfg: PretrainedCfg;
  try {
    cfg = getPretrainedCfg(id);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError("Unknown model id", {
      where: "model.id",
      expected: `a registry id (listPretrained(), e.g. ${listPretrained({ arch: "mobilenetv2" }).join(", ")}) or ${FIXTURE}<case>`,
      got: JSON.stringify(id),
      fix: "use an id from `peftlab info` / listPretrained(), or add a registry entry in lib/models/pretrained_*.ts",
    });
  }
  return registrySpec(cfg);
}

/** A registry model: createModel with the entry's preprocessing; a new head replaces the pretrained one. */
function registrySpec(cfg: PretrainedCfg): RunModelSpec {
  return {
    size: cfg.inputSize[1],
    normalize: { mean: [...cfg.mean], std: [...cfg.std] },
    cropPct: cfg.cropPct,
    // The shared copy, else a `peftlab weights get` download in the working directory.
    defaultWeights: () => pretrainedWeightsPath(cfg.id),
    build: (o) =>
      createModel(cfg.id, {
        weights: o.weights,
        numClasses: o.numClasses,
        seed: o.seed,
        args: o.args,
        log: o.log ?? (() => undefined),
      }).eval(),
  };
}

/** A reference-manifest case (small random weights in PyTorch names): the parity builders, then a fresh head. */
function fixtureSpec(name: string): RunModelSpec {
  const defaultDir = sharedPath("fixtures", "reference");
  const findCase = (dir: string): ManifestCase => {
    const m = readManifest(path.join(dir, "manifest.json"));
    const c = m.cases.find((x) => x.name === name);
    if (!c || !Object.prototype.hasOwnProperty.call(ARCH_BUILDERS, c.arch)) {
      throw new ConfigError("Unknown fixture model", {
        where: "model.id",
        expected: `one of ${m.cases.map((x) => FIXTURE + x.name).join(", ")}`,
        got: FIXTURE + name,
      });
    }
    return c;
  };
  const c0 = fs.existsSync(path.join(defaultDir, "manifest.json")) ? findCase(defaultDir) : undefined;
  return {
    size: Number(c0?.image_size ?? 32),
    normalize: "imagenet",
    defaultWeights: () => defaultDir,
    build: (o) => {
      const dir = fs.statSync(o.weights).isDirectory() ? o.weights : path.dirname(o.weights);
      const model = loadCaseModel({ ...findCase(dir), ...o.args }, dir, o.log);
      model.resetClassifier(o.numClasses, o.seed);
      return model;
    },
  };
}
