/**
 * Checkpoint naming schemes and their converters into peftlab's canonical names (timm for ViTs, torchvision for CNNs).
 * Data-driven: each scheme is one NamingSpec with a key-based detector and a pure converter. Add a scheme (the CNN
 * engineer's Keras MobileNet names, say) by adding an entry to NAMINGS; order matters, specific schemes first.
 */
import { CheckpointError } from "../../errors";
import type { StateDict } from "../../io/host_tensor";
import { normaliseBatchCounters } from "../cnn_common";
import { convertHfVit, isHfVitV4, isHfVitV5 } from "./hf_vit";
import { convertKerasMobileNetNames, isKerasMobileNetV2 } from "./keras_mobilenet";
import { convertMetaDinov2, isMetaDinov2 } from "./meta_dinov2";
import { convertOpenaiClip, isOpenaiClip } from "./openai_clip";
import { sampleKeys, type ConvertOptions } from "./util";

export { convertHfVit, isHfVitV4, isHfVitV5 } from "./hf_vit";
export { convertMetaDinov2, foldClsPosEmbed, isMetaDinov2 } from "./meta_dinov2";
export { convertOpenaiClip, isOpenaiClip } from "./openai_clip";
export { concatDim0, fuseQkv, type ConvertOptions, type Converter } from "./util";

/** One checkpoint naming scheme. */
export interface NamingSpec {
  /** Name used in the registry's `naming` field and in messages. */
  name: string;
  /** What produces checkpoints in this naming. */
  description: string;
  /** True when the keys are in this naming. */
  detect(keys: string[]): boolean;
  /** Converts to canonical names; identity for canonical namings. */
  convert(sd: StateDict, opts?: ConvertOptions): StateDict;
}

const identity = (sd: StateDict) => sd;

/** Known namings, most specific first (detectNaming returns the first match). */
export const NAMINGS: readonly NamingSpec[] = [
  {
    name: "hf-vit",
    description: "HF transformers v4 ViTModel / ViTForImageClassification / Dinov2Model",
    detect: isHfVitV4,
    convert: convertHfVit,
  },
  {
    name: "hf-vit-v5",
    description: "HF transformers v5-style ViT layer names (layers.N.attention.q_proj)",
    detect: isHfVitV5,
    convert: convertHfVit,
  },
  {
    name: "openai-clip",
    description: "OpenAI CLIP / open_clip visual tower (visual.conv1, visual.transformer.resblocks)",
    detect: isOpenaiClip,
    convert: convertOpenaiClip,
  },
  {
    name: "meta-dinov2",
    description: "Meta DINOv2 hub checkpoints (mask_token, register_tokens, mlp.w12/w3)",
    detect: isMetaDinov2,
    convert: convertMetaDinov2,
  },
  {
    name: "timm",
    description: "timm VisionTransformer (patch_embed.proj, blocks.N.attn.qkv)",
    detect: (keys) => keys.includes("patch_embed.proj.weight") && keys.some((k) => /^blocks\.\d+\./.test(k)),
    convert: identity,
  },
  {
    name: "torchvision",
    description: "torchvision CNNs (conv1/layer1/fc, features.*/classifier.*, BatchNorm running stats)",
    detect: (keys) =>
      keys.some((k) => k.endsWith(".running_mean")) ||
      (keys.some((k) => k.startsWith("features.")) && keys.some((k) => k.startsWith("classifier."))),
    convert: (sd) => normaliseBatchCounters(sd),
  },
  {
    name: "keras-mobilenet",
    description: "Keras / TF.js-layers MobileNetV2 (Conv1/kernel, block_N_expand_BN/moving_mean, Conv_1_bn/gamma)",
    detect: isKerasMobileNetV2,
    convert: convertKerasMobileNetNames,
  },
];

/** The naming of a state dict's keys; throws a CheckpointError listing a few keys when none matches. */
export function detectNaming(sd: StateDict | string[]): string {
  const keys = Array.isArray(sd) ? sd : [...sd.keys()];
  const hit = NAMINGS.find((n) => n.detect(keys));
  if (!hit) {
    throw new CheckpointError("Unknown checkpoint naming", {
      where: "detectNaming",
      expected: `keys in one of: ${NAMINGS.map((n) => `${n.name} (${n.description})`).join("; ")}`,
      got: sampleKeys(keys),
      fix: "pass the naming explicitly, or add a NamingSpec for this scheme in lib/models/convert/index.ts",
    });
  }
  return hit.name;
}

/** Looks up a naming by name. */
export function getNaming(name: string): NamingSpec {
  const n = NAMINGS.find((x) => x.name === name);
  if (!n) {
    throw new CheckpointError("Unknown naming", {
      where: "naming",
      expected: `one of ${NAMINGS.map((x) => x.name).join(", ")}`,
      got: JSON.stringify(name),
      fix: "use detectNaming(sd) or one of the listed names",
    });
  }
  return n;
}

/** Converts a state dict to canonical names; `naming` defaults to the detected one. Returns the naming used. */
export function convertStateDict(
  sd: StateDict,
  naming?: string,
  opts: ConvertOptions = {},
): { stateDict: StateDict; naming: string } {
  const name = naming ?? detectNaming(sd);
  return { stateDict: getNaming(name).convert(sd, opts), naming: name };
}
