/** Pretrained CNN configurations (ResNet-34/50, DenseNet-121, VGG-19, AlexNet, MobileNetV2-0.35): see registry.ts. */
import type { PretrainedCfg } from "./registry";

/** CNN entries of the registry; the CNN models add theirs here. */
export const CNN_PRETRAINED: readonly PretrainedCfg[] = [];
