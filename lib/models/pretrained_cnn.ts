/**
 * Pretrained CNN configurations (ResNet-34/50, DenseNet-121, VGG-19, AlexNet, MobileNetV2-0.35): see registry.ts.
 * `args` are the torchvision constructor arguments (snake_case) that CNN_BUILDERS read. `unverified` lists fields not
 * confirmed from this offline machine against the weights' model card or loading code.
 */
import { IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD } from "./constants";
import type { PretrainedCfg } from "./registry";
import { VGG_CFGS } from "./vgg";

/** A torchvision ImageNet-1k classifier (bilinear resize then centre crop, ImageNet mean/std). */
function torchvision(
  id: string,
  arch: string,
  args: Record<string, unknown>,
  cropPct: number,
  file: string,
  hubId?: string,
): PretrainedCfg {
  return {
    id,
    arch,
    args,
    numClasses: 1000,
    inputSize: [3, 224, 224],
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    interpolation: "bilinear",
    cropPct,
    hubId,
    file,
    naming: "torchvision",
    gated: false,
    license: "bsd-3-clause",
    source: `torchvision.models (https://download.pytorch.org/models/${file.replace(/\.safetensors$/, ".pth")})`,
    unverified: hubId ? ["hubId", "file"] : ["file"],
    notes: hubId
      ? "the timm hub copy holds torchvision's weights in torchvision's key names"
      : "torchvision ships a .pth: convert once to safetensors with Python (see readWeightsFile's message)",
  };
}

export const CNN_PRETRAINED: readonly PretrainedCfg[] = [
  torchvision(
    "resnet34.tv_in1k",
    "resnet",
    { block: "basic", layers: [3, 4, 6, 3] },
    0.875,
    "model.safetensors",
    "timm/resnet34.tv_in1k",
  ),
  torchvision(
    "resnet50.tv2_in1k",
    "resnet",
    { block: "bottleneck", layers: [3, 4, 6, 3] },
    224 / 232,
    "model.safetensors",
    "timm/resnet50.tv2_in1k",
  ),
  torchvision(
    "densenet121.tv_in1k",
    "densenet",
    { growth_rate: 32, block_config: [6, 12, 24, 16], num_init_features: 64, bn_size: 4 },
    0.875,
    "model.safetensors",
    "timm/densenet121.tv_in1k",
  ),
  torchvision("vgg19.tv_in1k", "vgg", { cfg: VGG_CFGS.E }, 0.875, "vgg19-dcbb9e9d.safetensors"),
  torchvision("alexnet.tv_in1k", "alexnet", {}, 0.875, "alexnet-owt-7be5be79.safetensors"),
  {
    id: "mobilenetv2_035_224.tfjs_keras",
    arch: "mobilenetv2",
    // Keras computes with TF "same" padding and BN eps 1e-3 / momentum 0.999; the model is built to match.
    args: { width_mult: 0.35, padding: "keras", bn_eps: 1e-3, bn_momentum: 0.001 },
    numClasses: 0,
    inputSize: [3, 224, 224],
    mean: INCEPTION_MEAN,
    std: INCEPTION_STD,
    interpolation: "bilinear",
    cropPct: 1.0,
    file: "model.json",
    localWeights: "${PEFTLAB_SHARED}/weights/mobilenet_v2_035_224_tfjs",
    naming: "keras-mobilenet",
    gated: false,
    license: "apache-2.0",
    source:
      "Keras applications MobileNetV2(alpha=0.35, 224) ImageNet weights, as exported by Teachable Machine in TF.js layers " +
      "format; offline copy at $PEFTLAB_SHARED/weights/mobilenet_v2_035_224_tfjs (pass that folder as `weights`)",
    unverified: ["interpolation"],
    notes:
      "feature extractor (1280-d, Identity head); input x/127.5 − 1. The export's second layer is an unrelated 3-class " +
      "head and is dropped on load. loadSharedMobileNetV2() loads it in one call.",
  },
];
