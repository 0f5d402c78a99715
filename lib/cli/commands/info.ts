/** `peftlab info`: the backend initBackend chooses, threads/SIMD, and versions of the runtime and key packages. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { initBackend, parseBackendName } from "../../index";
import { adapterName, probeWebgpu, type WebgpuAdapterReport } from "../../backend/webgpu";
import { formatTable, writeJson, writeOut } from "../output";

const PACKAGES = [
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu",
  "webgpu",
  "tslab",
  "sharp",
  "arquero",
  "commander",
  "fflate",
];

/** Adds `info` to the program. */
export function register(program: Command): void {
  program
    .command("info")
    .description("show the chosen tfjs backend, threads/SIMD, and versions of node and key packages")
    .option("--json", "print JSON")
    .option(
      "--backend <name>",
      "preferred backend (auto, node-gpu, webgpu, node, wasm, cpu); PEFTLAB_BACKEND overrides it",
    )
    .action(async function (this: Command, opts: { json?: boolean; backend?: string }) {
      const report = await collectInfo(opts.backend);
      if (opts.json) return writeJson(this, report);
      const b = report.backend;
      const rows: string[][] = [
        ["backend", `${b.name} (tfjs "${b.tfjsName}")`],
        ["threads", String(b.threads)],
        ["simd", String(b.simd)],
        ["fast kernels", b.overrides.length ? b.overrides.join(", ") : "none"],
        ...b.skipped.map((s) => [`skipped ${s.name}`, s.why]),
        ...adapterRows(report.webgpu),
        ["node", report.node],
        ...Object.entries(report.packages).map(([k, v]) => [k, v ?? "not installed"]),
      ];
      writeOut(this, formatTable(["item", "value"], rows));
    });
}

/** Everything `peftlab info` reports, as plain data. */
export async function collectInfo(prefer?: string) {
  const choice = await initBackend({ prefer: parseBackendName(prefer ?? "auto", "--backend"), log: null });
  const packages: Record<string, string | null> = {};
  for (const p of PACKAGES) packages[p] = packageVersion(p);
  // The adapter webgpu runs on, or the one Dawn would offer (and why it was skipped), or why there is none.
  let webgpu: WebgpuAdapterReport | string | undefined = choice.adapter;
  if (webgpu === undefined) {
    const p = await probeWebgpu().catch((e: Error) => e.message.split("\n")[0]);
    webgpu = typeof p === "string" ? p : p.report;
  }
  return { backend: choice, webgpu, node: process.version, platform: `${process.platform}-${process.arch}`, packages };
}

function adapterRows(w: WebgpuAdapterReport | string | undefined): string[][] {
  if (w === undefined) return [];
  if (typeof w === "string") return [["webgpu adapter", `none: ${w}`]];
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  return [
    ["webgpu adapter", adapterName(w) + (w.software ? ` [software: ${w.software}]` : " [hardware]")],
    ["  vendor / architecture", `${w.vendor || "-"} / ${w.architecture || "-"}`],
    ["  description", w.description || "-"],
    ["  maxBufferSize", mib(w.limits.maxBufferSize)],
    ["  maxStorageBufferBindingSize", mib(w.limits.maxStorageBufferBindingSize)],
    ...(w.icd ? [["  Vulkan ICD", w.icd]] : []),
  ];
}

/** Reads a package's version from its package.json without loading the package (sharp is native). */
export function packageVersion(pkg: string): string | null {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const file = path.join(dir, pkg, "package.json");
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? null;
  }
  return null;
}
