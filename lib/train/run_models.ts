/**
 * Model ids a RunConfig can name, each with its input size, normalisation and a builder that loads pretrained
 * weights and puts a fresh head for the run's classes. The shared MobileNetV2 and the reference fixtures are built
 * in; `registerRunModel` lets the model registry (lib/models) add its entries without lib/train knowing them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../errors";
import { readSafetensors } from "../io/safetensors";
import { sharedPath } from "../paths";
import type { NormalizeSpec } from "../data/transforms";
import { buildCnn, isCnnArch } from "../models/cnn_builders";
import { loadTorchvisionStateDict } from "../models/cnn_common";
import { loadKerasMobileNetV2 } from "../models/convert/keras_mobilenet";
import type { ImageClassifier } from "../models/types";

/** How a run builds its model. */
export interface RunModelSpec {
  /** Default input side. */
  size: number;
  normalize: NormalizeSpec;
  /** Default weights path (a file or folder). */
  defaultWeights(): string;
  /** Builds the pretrained model with a fresh `numClasses` head (0: Identity), seeded. */
  build(o: { weights: string; numClasses: number; seed: number }): ImageClassifier;
}

const SPECS = new Map<string, RunModelSpec>();

/** Adds (or replaces) a model id usable in RunConfig.model.id. */
export function registerRunModel(id: string, spec: RunModelSpec): void {
  SPECS.set(id, spec);
}

registerRunModel("mobilenetv2_035_224.keras", {
  size: 224,
  normalize: "inception",
  defaultWeights: () => sharedPath("weights", "mobilenet_v2_035_224_tfjs"),
  build: (o) => loadKerasMobileNetV2(o.weights, { numClasses: o.numClasses, seed: o.seed }),
});

/** The ids a run can use: registered ones plus `fixture:<case>` for each CNN case of a reference manifest. */
export function runModelIds(): string[] {
  return [...SPECS.keys(), "fixture:<case> (CNN cases of fixtures/reference/manifest.json)"];
}

/** The spec of a model id; unknown ids are a ConfigError listing the known ones. */
export function runModelSpec(id: string): RunModelSpec {
  const s = SPECS.get(id);
  if (s) return s;
  if (id.startsWith("fixture:")) return fixtureSpec(id.slice("fixture:".length));
  throw new ConfigError("Unknown model id", {
    where: "model.id",
    expected: `one of ${runModelIds().join(", ")}`,
    got: JSON.stringify(id),
  });
}

/** A torchvision CNN case of the reference fixtures (small random weights) — for tests and smoke runs. */
function fixtureSpec(name: string): RunModelSpec {
  const manifestFile = sharedPath("fixtures", "reference", "manifest.json");
  const findCase = (dir: string) => {
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
      cases: Record<string, unknown>[];
    };
    const c = m.cases.find((x) => x.name === name);
    if (!c || !isCnnArch(String(c.arch))) {
      const ok = m.cases.filter((x) => isCnnArch(String(x.arch))).map((x) => `fixture:${x.name}`);
      throw new ConfigError("Unknown fixture model", {
        where: "model.id",
        expected: `one of ${ok.join(", ")}`,
        got: `fixture:${name}`,
      });
    }
    return c;
  };
  const c0 = fs.existsSync(manifestFile) ? findCase(path.dirname(manifestFile)) : undefined;
  return {
    size: Number(c0?.image_size ?? 32),
    normalize: "imagenet",
    defaultWeights: () => path.dirname(manifestFile),
    build: (o) => {
      const dir = fs.statSync(o.weights).isDirectory() ? o.weights : path.dirname(o.weights);
      const c = findCase(dir);
      const model = buildCnn(c, o.seed);
      loadTorchvisionStateDict(model, readSafetensors(path.join(dir, String(c.weights))).tensors, { strict: true });
      model.resetClassifier(o.numClasses, o.seed);
      return model;
    },
  };
}
