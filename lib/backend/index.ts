/**
 * Chooses and tunes the tfjs backend. The only module that touches tfjs's kernel registry (through ./kernels).
 *
 * Order of preference: tfjs-node-gpu (CUDA usable) → webgpu (a hardware adapter; ./webgpu.ts) → tfjs-node → wasm
 * (SIMD) → cpu. The native packages are optional dependencies: they are required lazily, never at load time,
 * because they cannot install everywhere.
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../errors";
import { applyKernelOverrides, configureGemmThreads, gemmThreads, overridesInUse } from "./kernels";
import { gemmEngine } from "./addon/loader";
import { simdVariant } from "./wasm/loader";
import { activateWebgpu, webgpuAdapter, type WebgpuAdapterReport } from "./webgpu";

function gemmName(): string {
  const g = gemmEngine();
  return g.engine === "native" ? `native ${g.isa}` : `wasm ${simdVariant()}`;
}

/** Backends peftlab knows how to select, in the order `auto` tries them. */
export const BACKEND_NAMES = ["node-gpu", "webgpu", "node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = BackendName | "auto";

/** What initBackend chose and why the others were skipped. */
export interface BackendChoice {
  name: BackendName;
  /** The tfjs backend name registered for it (`tensorflow`, `wasm`, `cpu`). */
  tfjsName: string;
  skipped: { name: BackendName; why: string }[];
  threads: number;
  simd: boolean;
  /** Whether peftlab's wasm kernels run their relaxed-SIMD FMA build (lib/backend/wasm/loader.ts). */
  fma: boolean;
  /**
   * What computes the wasm kernels' matrix products: "native avx2+fma" (peftlab's addon), "wasm fma" or "wasm
   * mul-add" (peftlab's wasm GEMM), or "tfjs" (no overrides, or another backend).
   */
  gemm: string;
  /** Names of kernels replaced by peftlab's fast paths on this backend. */
  overrides: string[];
  /** On webgpu: the adapter (vendor, architecture, description, limits, and why it is software if it is). */
  adapter?: WebgpuAdapterReport;
}

export interface InitBackendOptions {
  /** Preferred backend; `PEFTLAB_BACKEND` overrides it. Default `auto`. */
  prefer?: BackendPreference;
  /** Where the one-line summary goes; default console.error. Pass `null` to stay silent. */
  log?: ((line: string) => void) | null;
  /** Install peftlab's kernel overrides (default true; `PEFTLAB_KERNELS=tfjs` disables them). */
  kernelOverrides?: boolean;
  /** Environment to read (default process.env); injectable for tests. */
  env?: NodeJS.ProcessEnv;
}

const ALIASES: Record<string, BackendPreference> = {
  auto: "auto",
  "node-gpu": "node-gpu",
  gpu: "node-gpu",
  "tfjs-node-gpu": "node-gpu",
  node: "node",
  tensorflow: "node",
  "tfjs-node": "node",
  wasm: "wasm",
  webgpu: "webgpu",
  "tfjs-backend-webgpu": "webgpu",
  cpu: "cpu",
};

/** Parses a backend name or alias; throws a BackendError listing the valid values. */
export function parseBackendName(value: string, where = "PEFTLAB_BACKEND"): BackendPreference {
  const v = ALIASES[value.trim().toLowerCase()];
  if (v === undefined) {
    throw new BackendError(`Unknown backend "${value}"`, {
      where,
      expected: `one of ${["auto", ...BACKEND_NAMES].join(", ")}`,
      got: JSON.stringify(value),
      fix: `set ${where} to one of the valid names, or unset it to choose automatically`,
    });
  }
  return v;
}

let current: BackendChoice | undefined;
const warnedOnStderr = new Set<string>();

/** The choice made by the last initBackend call, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

/** Selects the fastest usable backend (or the preferred one), logs one line, and returns what it chose. */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? process.env;
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  const fromEnv = env.PEFTLAB_BACKEND;
  const prefer = fromEnv !== undefined && fromEnv !== "" ? parseBackendName(fromEnv) : (options.prefer ?? "auto");
  const candidates: BackendName[] = prefer === "auto" ? [...BACKEND_NAMES] : [prefer];
  const skipped: { name: BackendName; why: string }[] = [];
  // A software-adapter warning goes to the caller's log, or once per process to stderr when the caller is silent.
  const warn =
    options.log ??
    ((l: string) => {
      if (!warnedOnStderr.has(l)) console.error(l);
      warnedOnStderr.add(l);
    });
  for (const name of candidates) {
    const why = await tryActivate(name, prefer !== "auto", env, warn);
    if (why !== undefined) {
      skipped.push({ name, why });
      continue;
    }
    const wantOverrides = options.kernelOverrides ?? env.PEFTLAB_KERNELS !== "tfjs";
    const overrides = wantOverrides ? applyKernelOverrides(tf.getBackend()) : [];
    // The two-core GEMM lives in the wasm overrides; anywhere else its worker is stopped.
    configureGemmThreads(name === "wasm" && overrides.length > 0 ? env : { PEFTLAB_THREADS: "1" });
    current = {
      name,
      tfjsName: tf.getBackend(),
      skipped,
      threads: threadsOf(name),
      simd: name === "wasm" ? tf.env().getBool("WASM_HAS_SIMD_SUPPORT") : false,
      fma: name === "wasm" && overrides.length > 0 && simdVariant() === "fma",
      gemm: name === "wasm" && overrides.length > 0 ? gemmName() : "tfjs",
      overrides: overridesInUse(overrides),
      ...(name === "webgpu" ? { adapter: webgpuAdapter() } : {}),
    };
    if (log) log(describeChoice(current, prefer, fromEnv !== undefined && fromEnv !== ""));
    return current;
  }
  throw new BackendError("No tfjs backend could be activated", {
    where: prefer === "auto" ? "initBackend(auto)" : `initBackend(${prefer})`,
    expected: "at least one usable backend",
    got: skipped.map((s) => `${s.name}: ${s.why}`).join("; "),
    fix: prefer === "auto" ? "reinstall dependencies with `npm ci`" : `unset PEFTLAB_BACKEND or choose another backend`,
  });
}

/** One human line: what was chosen and why the others were skipped. */
export function describeChoice(c: BackendChoice, prefer: BackendPreference, fromEnv: boolean): string {
  const src = fromEnv ? "PEFTLAB_BACKEND" : prefer === "auto" ? "auto" : "prefer";
  const extra = c.name === "wasm" ? `, simd=${c.simd}, fma=${c.fma}, gemm=${c.gemm}, threads=${c.threads}` : "";
  const skip = c.skipped.length ? `; skipped ${c.skipped.map((s) => `${s.name} (${s.why})`).join(", ")}` : "";
  const gpu = c.adapter ? `, adapter ${c.adapter.vendor || "?"} / ${c.adapter.architecture || "?"}` : "";
  const ov = c.overrides.length ? `; ${c.overrides.length} fast kernels` : "";
  return `[peftlab] backend ${c.name} (${src}${extra}${gpu})${ov}${skip}`;
}

async function tryActivate(
  name: BackendName,
  forced: boolean,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<string | undefined> {
  try {
    switch (name) {
      case "webgpu":
        return await activateWebgpu(forced, env, warn);
      case "node-gpu": {
        if (!cudaDriverPresent()) return "no NVIDIA driver found";
        const err = tryRequire("@tensorflow/tfjs-node-gpu");
        if (err) return err;
        return (await tf.setBackend("tensorflow")) ? undefined : "tensorflow backend failed to initialise";
      }
      case "node": {
        const err = tryRequire("@tensorflow/tfjs-node");
        if (err) return err;
        return (await tf.setBackend("tensorflow")) ? undefined : "tensorflow backend failed to initialise";
      }
      case "wasm": {
        const err = tryRequire("@tensorflow/tfjs-backend-wasm");
        if (err) return err;
        return (await tf.setBackend("wasm")) ? undefined : "wasm backend failed to initialise";
      }
      case "cpu":
        return (await tf.setBackend("cpu")) ? undefined : "cpu backend failed to initialise";
    }
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

function tryRequire(pkg: string): string | undefined {
  try {
    // Lazy on purpose: optional native packages must never be loaded at import time.

    require(pkg);
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    if (/Cannot find module/.test(msg) && msg.includes(pkg)) return "not installed";
    return `failed to load: ${msg.split("\n")[0]}`;
  }
}

function cudaDriverPresent(): boolean {
  return fs.existsSync("/proc/driver/nvidia/version") || fs.existsSync("/dev/nvidiactl");
}

function threadsOf(name: BackendName): number {
  if (name === "wasm") {
    const b = tf.backend() as unknown as { getThreadsCount?: () => number };
    return Math.max(typeof b.getThreadsCount === "function" ? b.getThreadsCount() : 1, gemmThreads());
  }
  if (name === "cpu") return 1;
  return require("node:os").cpus().length;
}

export { tf };
