/**
 * OpenAI CLIP's (and open_clip's) visual tower → timm's CLIP ViT names, like timm's _convert_openai_clip:
 * `conv1` → `patch_embed.proj` (no bias), `class_embedding` → `cls_token`, `positional_embedding` → `pos_embed`,
 * `ln_pre` → `norm_pre`, `transformer.resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}` →
 * `blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `ln_post` → `norm`, and the projection `proj`
 * [D, E] (used as x @ proj) → a Linear head `head.weight` [E, D] with a zero bias. The text tower is dropped.
 */
import { hostTensor, type StateDict } from "../../io/host_tensor";
import { permute } from "../../nn/layout";
import { reshape, type ConvertOptions } from "./util";

const SWAPS: [string, string][] = [
  ["conv1", "patch_embed.proj"],
  ["positional_embedding", "pos_embed"],
  ["transformer.resblocks.", "blocks."],
  ["ln_pre", "norm_pre"],
  ["ln_post", "norm"],
  ["ln_", "norm"],
  ["in_proj_", "qkv."],
  ["out_proj", "proj"],
  ["mlp.c_fc", "mlp.fc1"],
  ["mlp.c_proj", "mlp.fc2"],
];

/** Converts a CLIP state dict (full model with `visual.` keys, or the visual tower alone) to timm names. */
export function convertOpenaiClip(sd: StateDict, opts: ConvertOptions = {}): StateDict {
  const prefix = sd.has("visual.class_embedding") ? "visual." : "";
  const out: StateDict = new Map();
  for (const [key, v] of sd) {
    if (!key.startsWith(prefix)) {
      opts.onDrop?.(key, "CLIP text tower (only the visual tower is an image model)");
      continue;
    }
    let k = key.slice(prefix.length);
    for (const [a, b] of SWAPS) k = k.split(a).join(b);
    if (k === "proj") {
      // CLIP applies x @ proj ([D, E]); a torch Linear stores [E, D]. This is a naming transpose, not a tfjs layout.
      const w = permute(v, [1, 0]);
      out.set("head.weight", w);
      out.set("head.bias", hostTensor(new Float32Array(w.shape[0]), [w.shape[0]], "float32"));
    } else if (k === "class_embedding") {
      out.set("cls_token", reshape(v, [1, 1, v.shape[v.shape.length - 1]]));
    } else if (k === "pos_embed") {
      out.set(k, v.shape.length === 2 ? reshape(v, [1, ...v.shape]) : v);
    } else {
      out.set(k, v);
    }
  }
  return out;
}

/** True for CLIP keys (`[visual.]class_embedding` with `transformer.resblocks`). */
export function isOpenaiClip(keys: string[]): boolean {
  return (
    keys.some((k) => /^(?:visual\.)?class_embedding$/.test(k)) &&
    keys.some((k) => /^(?:visual\.)?transformer\.resblocks\.\d+\./.test(k))
  );
}
