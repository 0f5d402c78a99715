/** Small host-side helpers shared by the checkpoint converters (pure functions over HostTensors). */
import { CheckpointError } from "../../errors";
import { hostTensor, type HostTensor, type StateDict } from "../../io/host_tensor";
import type { PosEmbedLayout } from "../vit_config";

/** Options every converter accepts. */
export interface ConvertOptions {
  /** The target ViT's position-embedding layout, for converters that can produce either (Meta DINOv2). */
  posEmbed?: PosEmbedLayout;
  /** Told about every key a converter drops on purpose (pooler, mask token, a CLIP text tower), with why. */
  onDrop?: (key: string, why: string) => void;
}

/** A pure state-dict → state-dict name conversion into timm/torchvision names, like timm's checkpoint_filter_fn. */
export type Converter = (sd: StateDict, opts?: ConvertOptions) => StateDict;

/** Concatenates float tensors along dim 0 (q, k, v → fused qkv). */
export function concatDim0(parts: HostTensor[], where: string): HostTensor {
  const rest = parts[0].shape.slice(1);
  for (const p of parts) {
    if (p.shape.length !== parts[0].shape.length || p.shape.slice(1).some((v, i) => v !== rest[i])) {
      throw new CheckpointError("Cannot fuse tensors of different shapes", {
        where,
        expected: `[*, ${rest.join(", ")}] for every part`,
        got: parts.map((q) => `[${q.shape.join(", ")}]`).join(", "),
      });
    }
  }
  const n = parts.reduce((a, p) => a + p.data.length, 0);
  const out = new Float32Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p.data as ArrayLike<number>, off);
    off += p.data.length;
  }
  const rows = parts.reduce((a, p) => a + p.shape[0], 0);
  return hostTensor(out, [rows, ...rest], "float32");
}

/** Same data, new shape (a view change like torch's reshape/unsqueeze). */
export function reshape(h: HostTensor, shape: number[]): HostTensor {
  return hostTensor(h.data, shape, h.dtype);
}

/** A few keys of a state dict, for error messages. */
export function sampleKeys(sd: StateDict | string[], n = 6): string {
  const keys = Array.isArray(sd) ? sd : [...sd.keys()];
  return keys.slice(0, n).join(", ") + (keys.length > n ? `, … (${keys.length} keys)` : "");
}

/** Fuses `<p>.attn.{q,k,v}.{weight,bias}` into `<p>.attn.qkv.{weight,bias}` (timm's fused layout, q | k | v rows). */
export function fuseQkv(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  const pending = new Map<string, Map<string, HostTensor>>();
  for (const [k, v] of sd) {
    const m = /^(.*\.attn)\.([qkv])\.(weight|bias)$/.exec(k);
    if (!m) {
      out.set(k, v);
      continue;
    }
    const key = `${m[1]}.qkv.${m[3]}`;
    if (!pending.has(key)) {
      pending.set(key, new Map());
      out.set(key, v); // placeholder keeps the key's position in the dict
    }
    pending.get(key)!.set(m[2], v);
  }
  for (const [key, parts] of pending) {
    const missing = ["q", "k", "v"].filter((p) => !parts.has(p));
    if (missing.length) {
      throw new CheckpointError("Attention projection is incomplete: cannot build the fused qkv", {
        where: key,
        expected: "query, key and value tensors",
        got: `missing ${missing.join(", ")}`,
        fix: "check that the checkpoint is complete (all shards read)",
      });
    }
    out.set(
      key,
      concatDim0(
        ["q", "k", "v"].map((p) => parts.get(p)!),
        key,
      ),
    );
  }
  return out;
}
