/**
 * `peftlab weights get <repo> [file]`: downloads a file from the Hugging Face hub over HTTPS
 * (`https://huggingface.co/<repo>/resolve/<rev>/<file>`), with resume and a sha256 check against the hub's LFS
 * sha (`X-Linked-Etag`). The token comes from HF_TOKEN and is only ever sent as a header.
 * Registry ids are resolved by `resolveWeights`, the adapter point for the model registry.
 */
import * as path from "node:path";
import type { Command } from "commander";
import { ConfigError } from "../../errors";
import { download } from "../../data/prepare";
import { writeJson, writeOut } from "../output";

/** Where a registry id's weights live on the hub. */
export interface WeightsSource {
  repo: string;
  file: string;
  revision: string;
}

/** Adapter point: maps a model-registry id to a hub file. Until the registry lands, `repo` + `file` are taken as is. */
export function resolveWeights(idOrRepo: string, file?: string, revision = "main"): WeightsSource {
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
  const res = await fetch(url, { method: "HEAD", redirect: "manual", headers });
  const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replace(/"/g, "");
  const size = Number(res.headers.get("x-linked-size") ?? NaN);
  return { sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined, size: Number.isFinite(size) ? size : undefined };
}

/** Adds `weights get` to the program. */
export function register(program: Command): void {
  const w = program.command("weights").description("download pretrained weights from the Hugging Face hub");
  w.command("get <repo> [file]")
    .description("download <file> of hub repository <repo> (HF_TOKEN for gated models)")
    .option("--revision <rev>", "branch, tag or commit", "main")
    .option("--dest <dir>", "output folder (default ./weights/<repo>)")
    .option("--endpoint <url>", "hub endpoint", "https://huggingface.co")
    .option("--json", "print the result as JSON")
    .action(async function (
      this: Command,
      repo: string,
      file: string | undefined,
      o: { revision: string; dest?: string; endpoint: string; json?: boolean },
    ) {
      const src = resolveWeights(repo, file, o.revision);
      const url = `${o.endpoint.replace(/\/$/, "")}/${src.repo}/resolve/${encodeURIComponent(src.revision)}/${src.file}`;
      const token = process.env.HF_TOKEN;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const meta = await hubSha256(url, headers);
      const dest = path.resolve(o.dest ?? path.join("weights", src.repo), src.file);
      const r = await download({ url, dest, headers, sha256: meta.sha256, size: meta.size });
      const out = {
        repo: src.repo,
        file: src.file,
        revision: src.revision,
        path: r.path,
        bytes: r.bytes,
        sha256: r.sha256,
        verified: meta.sha256 !== undefined,
      };
      if (o.json) return writeJson(this, out);
      writeOut(
        this,
        `${out.path}: ${out.bytes} bytes, sha256 ${out.sha256}${out.verified ? " (matches the hub)" : " (the hub published no sha256)"}\n`,
      );
    });
}
