/**
 * The arch → builder table: one entry per architecture family, each building an ImageClassifier from snake_case JSON
 * arguments (a registry entry's `args`, or a reference-manifest case). createModel and check-parity both go through
 * it, so a new architecture is one entry here and nothing else.
 */
import { ConfigError } from "../errors";
import { CNN_BUILDERS } from "./cnn_builders";
import type { ImageClassifier } from "./types";
import { VisionTransformer } from "./vit";
import { vitOptionsFromJson } from "./vit_json";

/** Builds a model from JSON arguments; `seed` seeds from-scratch initialisation; `warn` hears about ignored keys. */
export type ArchBuilder = (
  json: Record<string, unknown>,
  seed?: number,
  warn?: (msg: string) => void,
) => ImageClassifier;

/** Every architecture peftlab can build, keyed by the `arch` field of registry entries and manifest cases. */
export const ARCH_BUILDERS: Readonly<Record<string, ArchBuilder>> = {
  vit: (j, seed, warn) => new VisionTransformer({ ...vitOptionsFromJson(j, warn), seed }),
  ...CNN_BUILDERS,
};

/** Builds the model `json.arch` names; throws a ConfigError listing the known architectures. */
export function buildFromJson(
  json: Record<string, unknown>,
  seed?: number,
  warn?: (msg: string) => void,
): ImageClassifier {
  const arch = String(json.arch);
  const builder = Object.prototype.hasOwnProperty.call(ARCH_BUILDERS, arch) ? ARCH_BUILDERS[arch] : undefined;
  if (!builder) {
    throw new ConfigError("No builder for this architecture", {
      where: `arch of ${JSON.stringify(json.name ?? "config")}`,
      expected: `one of ${Object.keys(ARCH_BUILDERS).join(", ")}`,
      got: JSON.stringify(json.arch),
      fix: "add an ArchBuilder for it to ARCH_BUILDERS in lib/models/builders.ts",
    });
  }
  return builder(json, seed, warn);
}
