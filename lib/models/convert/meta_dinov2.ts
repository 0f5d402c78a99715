/**
 * Meta's DINOv2 names (facebookresearch/dinov2 hub checkpoints) → timm names, like timm's _convert_dinov2:
 * `register_tokens` → `reg_token`, `mask_token` dropped, SwiGLUFFNFused `mlp.w12`/`mlp.w3` → `mlp.fc1`/`mlp.fc2`
 * (a timm SwiGLUPacked MLP). Meta's token layout (pos_embed over cls + patches, registers without position) is kept
 * unless the target model uses timm's `patches` layout; then cls's position row is folded into cls_token, exactly as
 * timm does, which gives the same outputs.
 */
import { CheckpointError } from "../../errors";
import { hostTensor, type StateDict } from "../../io/host_tensor";
import type { ConvertOptions } from "./util";

/** Converts Meta DINOv2 keys to timm names (see the file comment for the token layout). */
export function convertMetaDinov2(sd: StateDict, opts: ConvertOptions = {}): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) {
    if (k === "mask_token") {
      opts.onDrop?.(k, "DINOv2's masked-image-modelling token is unused at inference");
      continue;
    }
    const name =
      k === "register_tokens"
        ? "reg_token"
        : k.replace(/^(blocks\.\d+\.mlp\.)w12\./, "$1fc1.").replace(/^(blocks\.\d+\.mlp\.)w3\./, "$1fc2.");
    out.set(name, v);
  }
  if (opts.posEmbed === "patches") foldClsPosEmbed(out);
  return out;
}

/** In place: cls_token += pos_embed[:, 0]; pos_embed = pos_embed[:, 1:] (Meta layout → timm no_embed_class). */
export function foldClsPosEmbed(sd: StateDict): void {
  const cls = sd.get("cls_token");
  const pos = sd.get("pos_embed");
  if (!cls || !pos || pos.shape.length !== 3) {
    throw new CheckpointError("Cannot fold the cls position into cls_token", {
      where: "pos_embed",
      expected: "cls_token [1, 1, D] and pos_embed [1, 1 + N, D]",
      got: `cls_token ${cls ? `[${cls.shape}]` : "missing"}, pos_embed ${pos ? `[${pos.shape}]` : "missing"}`,
    });
  }
  const d = pos.shape[2];
  const c = Float32Array.from(cls.data as ArrayLike<number>);
  const p = Float32Array.from(pos.data as ArrayLike<number>);
  for (let i = 0; i < d; i++) c[i] += p[i];
  sd.set("cls_token", hostTensor(c, [1, 1, d], "float32"));
  sd.set("pos_embed", hostTensor(p.slice(d), [1, pos.shape[1] - 1, d], "float32"));
}

/** True for Meta DINOv2 checkpoints (mask token, register_tokens or fused SwiGLU w12). */
export function isMetaDinov2(keys: string[]): boolean {
  const set = new Set(keys);
  return (
    set.has("patch_embed.proj.weight") &&
    (set.has("mask_token") || set.has("register_tokens") || keys.some((k) => /^blocks\.\d+\.mlp\.w12\./.test(k)))
  );
}
