/**
 * The CNN rows of the arch → builder table: each builds a torchvision-named model from a manifest case or JSON
 * config (snake_case, torchvision's argument names), so parity checks and createModel treat CNNs as data.
 */
import { ConfigError } from "../errors";
import { AlexNet, alexnetOptionsFromJson, type AlexNetJson } from "./alexnet";
import type { CnnClassifier } from "./cnn_common";
import { DenseNet, densenetOptionsFromJson, type DenseNetJson } from "./densenet";
import { MobileNetV2, mobilenetv2OptionsFromJson, type MobileNetV2Json } from "./mobilenetv2";
import { ResNet, resnetOptionsFromJson, type ResNetJson } from "./resnet";
import { Vgg, vggOptionsFromJson, type VggJson } from "./vgg";

/** Builds a CNN from a JSON config; `seed` seeds the from-scratch initialisation. */
export type CnnBuilder = (json: Record<string, unknown>, seed?: number) => CnnClassifier;

/** arch → builder for torchvision CNNs (keys match the manifest's `arch`). */
export const CNN_BUILDERS: Record<string, CnnBuilder> = {
  resnet: (j, seed) => new ResNet({ ...resnetOptionsFromJson(j as unknown as ResNetJson), seed }),
  densenet: (j, seed) => new DenseNet({ ...densenetOptionsFromJson(j as DenseNetJson), seed }),
  vgg: (j, seed) => new Vgg({ ...vggOptionsFromJson(j as unknown as VggJson), seed }),
  alexnet: (j, seed) => new AlexNet({ ...alexnetOptionsFromJson(j as AlexNetJson), seed }),
  mobilenetv2: (j, seed) => new MobileNetV2({ ...mobilenetv2OptionsFromJson(j as MobileNetV2Json), seed }),
};

/** True when `arch` is one of the CNN architectures. */
export function isCnnArch(arch: string): boolean {
  return Object.prototype.hasOwnProperty.call(CNN_BUILDERS, arch);
}

/** Builds the CNN a manifest case (or any JSON config with an `arch` field) describes. */
export function buildCnn(json: Record<string, unknown>, seed?: number): CnnClassifier {
  const arch = String(json.arch);
  if (!isCnnArch(arch)) {
    throw new ConfigError("Unknown CNN architecture", {
      where: `arch of ${JSON.stringify(json.name ?? json)}`,
      expected: `one of ${Object.keys(CNN_BUILDERS).join(", ")}`,
      got: JSON.stringify(json.arch),
    });
  }
  return CNN_BUILDERS[arch](json, seed);
}
