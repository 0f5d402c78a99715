/** LoRA target lists computed from a model's module tree. */
import type { ImageClassifier } from "../../models/types";
import { Conv2d } from "../../nn/layers";

/** Names of the 1×1, ungrouped Conv2d modules (a CNN's pointwise convs): LoRA targets for MobileNetV2. */
export function pointwiseConvNames(model: ImageClassifier): string[] {
  return model
    .namedModules()
    .filter(([, m]) => m instanceof Conv2d && m.kernelSize === 1 && m.groups === 1)
    .map(([n]) => n);
}
