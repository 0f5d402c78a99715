/**
 * `peftlab weights get <id|repo> [file]`: downloads pretrained weights from the Hugging Face hub over HTTPS
 * (`https://huggingface.co/<repo>/resolve/<rev>/<file>`), with resume and a sha256 check against the hub's LFS sha
 * (`X-Linked-Etag`). A model-registry id (`vit_large_patch16_224.uni_mass100k`) names its hub repo and file; a
 * PyTorch file (.bin/.pth/.pt, UNI's pytorch_model.bin) is converted to safetensors next to it without Python.
 * `peftlab weights convert IN OUT` does that conversion alone. HF_TOKEN is only ever sent as a request header.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { ConfigError, DataError } from "../../errors";
import { download } from "../../data/prepare";
import { networkError } from "../../data/prepare/download";
import { convertTorchToSafetensors, type ExtractedStateDict } from "../../io/torch_checkpoint";
import { PRETRAINED, type PretrainedCfg } from "../../models/registry";
import { formatBytes, writeJson, writeOut } from "../output";

/** Where a registry id's (or a repo's) weights live on the hub. */
export interface WeightsSource {
  repo: string;
  file: string;
  revision: string;
  /** The registry entry, when the id was one. */
  cfg?: PretrainedCfg;
}

const INERT_HELP =
  "read a training checkpoint whose other entries (args, numpy values) use Python classes outside the " +
  "allow-list, as inert placeholders (nothing is ever executed)";

interface ConvertFlags {
  inertGlobals?: boolean;
  json?: boolean;
}

/** PyTorch pickle checkpoints that `weights get` converts to safetensors. */
const TORCH_EXT = /\.(bin|pth|pt|ckpt)$/i;

/** Maps a registry id, or a hub repo plus file, to a hub file; throws a ConfigError saying what to pass instead. */
export function resolveWeights(idOrRepo: string, file?: string, revision = "main"): WeightsSource {
  const cfg = PRETRAINED.find((c) => c.id === idOrRepo);
  if (cfg) {
    if (!cfg.hubId || !cfg.file) {
      throw new ConfigError(`Registry model ${cfg.id} has no Hugging Face hub source`, {
        where: "weights get <id>",
        expected: "a registry entry with hubId and file",
        got: cfg.source ?? "no source",
        fix: `download ${cfg.file ?? "the weights"} from that source by hand, then \`peftlab weights convert\` it if it is a .pth`,
      });
    }
    return { repo: cfg.hubId, file: file ?? cfg.file, revision, cfg };
  }
  if (!idOrRepo.includes("/")) {
    const near = PRETRAINED.filter((c) => c.id.startsWith(idOrRepo.split(".")[0]) && c.hubId).map((c) => c.id);
    throw new ConfigError("Unknown model id", {
      where: "weights get <id|repo>",
      expected: near.length ? `one of ${near.join(", ")}` : "a registry id (listPretrained()) or a hub repo owner/name",
      got: JSON.stringify(idOrRepo),
      fix: "pass a registry id, or a hub repository and a file name",
    });
  }
  if (!file) {
    throw new ConfigError("No file given for the hub repository", {
      where: "weights get <repo> <file>",
      expected: "a file name such as model.safetensors or pytorch_model.bin",
      got: idOrRepo,
      fix: "pass the file name after the repository id",
    });
  }
  return { repo: idOrRepo, file, revision };
}

/** The hub's sha256 of an LFS file (X-Linked-Etag on the un-followed resolve response), when it publishes one. */
export async function hubSha256(
  url: string,
  headers: Record<string, string>,
): Promise<{ sha256?: string; size?: number }> {
  let res: Response;
  try {
    res = await fetch(url, { method: "HEAD", redirect: "manual", headers });
  } catch (e) {
    throw new DataError("Cannot reach the Hugging Face hub", {
      where: url,
      expected: "an HTTPS answer",
      got: networkError(e),
      fix: "check the network or pass --endpoint with a reachable mirror, then run the command again",
    });
  }
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    throw new DataError(`The hub answered ${res.status}`, {
      where: url,
      expected: "200 or a redirect",
      got: `${res.status} ${res.statusText}`,
      fix:
        res.status === 404
          ? "check the repository, file and --revision on the hub"
          : "the model is gated or private: accept its terms on its hub page, then set HF_TOKEN to a read token",
    });
  }
  const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replace(/"/g, "");
  const size = Number(res.headers.get("x-linked-size") ?? NaN);
  return { sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined, size: Number.isFinite(size) ? size : undefined };
}

/** The token travels in a header, so the endpoint must be HTTPS (plain HTTP only to this machine, for tests). */
function checkEndpoint(endpoint: string): void {
  let u: URL | undefined;
  try {
    u = new URL(endpoint);
  } catch {
    u = undefined;
  }
  const local = u?.hostname === "127.0.0.1" || u?.hostname === "localhost";
  if (!u || !(u.protocol === "https:" || (local && u.protocol === "http:"))) {
    throw new ConfigError("The hub endpoint must be an https:// URL", {
      where: "--endpoint",
      expected: "https://huggingface.co or an HTTPS mirror",
      got: endpoint,
      fix: "pass an https:// endpoint (a token is never sent over plain HTTP)",
    });
  }
}

interface GetFlags {
  revision: string;
  dest?: string;
  endpoint: string;
  convert: boolean;
  inertGlobals?: boolean;
  json?: boolean;
}

/** `weights get`: resolve, check the token for gated models, download with verification, convert PyTorch files. */
async function getWeights(cmd: Command, idOrRepo: string, file: string | undefined, o: GetFlags): Promise<void> {
  const src = resolveWeights(idOrRepo, file, o.revision);
  const token = process.env.HF_TOKEN;
  if (src.cfg?.gated && !token) {
    throw new ConfigError(`${src.cfg.id} is gated on the hub (${src.repo}, licence ${src.cfg.license})`, {
      where: "HF_TOKEN",
      expected: "a Hugging Face read token in the HF_TOKEN environment variable",
      got: "HF_TOKEN is not set",
      fix: `accept the terms at https://huggingface.co/${src.repo}, then run with HF_TOKEN=hf_... set`,
    });
  }
  checkEndpoint(o.endpoint);
  const url = `${o.endpoint.replace(/\/$/, "")}/${src.repo}/resolve/${encodeURIComponent(src.revision)}/${src.file}`;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const meta = await hubSha256(url, headers);
  const dest = path.resolve(o.dest ?? path.join("weights", src.repo), src.file);
  const r = await download({ url, dest, headers, sha256: meta.sha256, size: meta.size });
  let converted: { path: string; tensors: number; from: string } | undefined;
  if (o.convert && TORCH_EXT.test(src.file)) {
    const out = dest.replace(TORCH_EXT, ".safetensors");
    const info = { format: "pt", source: `${src.repo}/${src.file}@${src.revision}` };
    const sd = convertTorchToSafetensors(dest, out, info, { inertGlobals: o.inertGlobals });
    converted = { path: out, tensors: sd.stateDict.size, from: sd.from };
  }
  const res = {
    id: src.cfg?.id,
    repo: src.repo,
    file: src.file,
    revision: src.revision,
    path: r.path,
    bytes: r.bytes,
    sha256: r.sha256,
    verified: meta.sha256 !== undefined,
    safetensors: converted?.path,
  };
  if (o.json) return writeJson(cmd, res);
  writeOut(
    cmd,
    `${res.path}: ${res.bytes} bytes, sha256 ${res.sha256}` +
      `${res.verified ? " (matches the hub)" : " (the hub published no sha256)"}\n` +
      (converted ? `${converted.path}: ${converted.tensors} tensors converted from PyTorch\n` : ""),
  );
}

/** A one-line summary of a conversion: tensor count, source key and dtypes. */
function describeConversion(out: string, sd: ExtractedStateDict, bytes: number): string {
  const counts = new Map<string, number>();
  for (const d of sd.dtypes.values()) counts.set(d, (counts.get(d) ?? 0) + 1);
  const dtypes = [...counts].map(([d, n]) => `${n} ${d}`).join(", ");
  const from = sd.from ? ` from "${sd.from}"` : "";
  const strip = sd.strippedPrefix ? `, prefix "${sd.strippedPrefix}" stripped` : "";
  const n = sd.stateDict.size;
  return `${out}: ${n} tensor${n === 1 ? "" : "s"}${from} (${dtypes}${strip}), ${formatBytes(bytes)}\n`;
}

/** Adds `weights get` and `weights convert` to the program. */
export function register(program: Command): void {
  const w = program
    .command("weights")
    .description("download pretrained weights from the Hugging Face hub; convert PyTorch checkpoints");
  w.command("get <id|repo> [file]")
    .description("download a registry model's weights, or <file> of hub repository <repo> (HF_TOKEN for gated models)")
    .option("--revision <rev>", "branch, tag or commit", "main")
    .option("--dest <dir>", "output folder (default ./weights/<repo>)")
    .option("--endpoint <url>", "hub endpoint", "https://huggingface.co")
    .option("--no-convert", "keep a .bin/.pth as downloaded (default: also write <name>.safetensors)")
    .option("--inert-globals", INERT_HELP)
    .option("--json", "print the result as JSON")
    .action(async function (this: Command, idOrRepo: string, file: string | undefined, o: GetFlags) {
      await getWeights(this, idOrRepo, file, o);
    });
  w.command("convert <in> [out]")
    .description("convert a PyTorch checkpoint (.bin/.pth/.pt) to safetensors without running pickled code")
    .option("--inert-globals", INERT_HELP)
    .option("--json", "print the result as JSON")
    .action(function (this: Command, input: string, output: string | undefined, o: ConvertFlags) {
      const out = output ?? input.replace(/\.[^./\\]*$/, "") + ".safetensors";
      if (path.resolve(out) === path.resolve(input)) {
        throw new ConfigError("Output would overwrite the input", {
          where: "weights convert <in> <out>",
          expected: "a different output path",
          got: out,
          fix: "pass an output path ending in .safetensors",
        });
      }
      const info = { format: "pt", source: path.basename(input) };
      const sd = convertTorchToSafetensors(input, out, info, { inertGlobals: o.inertGlobals });
      const bytes = fs.statSync(out).size;
      if (o.json) {
        return writeJson(this, {
          input,
          output: out,
          tensors: sd.stateDict.size,
          from: sd.from,
          strippedPrefix: sd.strippedPrefix,
          dtypes: Object.fromEntries(sd.dtypes),
          bytes,
        });
      }
      writeOut(this, describeConversion(out, sd, bytes));
    });
}
