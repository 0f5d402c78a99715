/**
 * The WebGPU backend: tfjs-backend-webgpu on Dawn's Node binding (the optional npm package `webgpu`).
 *
 * `auto` takes it only for a hardware adapter: software adapters (SwiftShader, llvmpipe/lavapipe, WARP, any
 * fallback adapter) are correct but far slower than the CPU backends, so they are used only when forced
 * (`PEFTLAB_BACKEND=webgpu`, `--backend webgpu`), with a one-line warning. Synchronous reads cannot work in Node on
 * this backend (tfjs reads through OffscreenCanvas); `installReadSyncGuard` turns them into a typed BackendError.
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../errors";

/** Debian's chromium ships SwiftShader, a software Vulkan driver Dawn accepts (lavapipe it refuses). */
export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

/** What GPUAdapterInfo offers (every field may be empty, as on SwiftShader). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** The adapter limits that decide what fits on the GPU. */
export interface AdapterLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

/** The adapter Dawn offered, as `peftlab info` and the bench report it. */
export interface WebgpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  fallback: boolean;
  /** Why this adapter is a software one; undefined for hardware. */
  software?: string;
  /** The Vulkan ICD files the loader was pointed at (VK_ICD_FILENAMES / VK_DRIVER_FILES), if any. */
  icd?: string;
  limits: AdapterLimits;
}

const SOFTWARE_NAME = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;
const SOFTWARE_ICD = /swiftshader|lvp_icd|lavapipe|llvmpipe/i;
const ICD_VARS = ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"] as const;

/** The ICD files named by the Vulkan loader's variables, in the loader's order of precedence. */
export function icdFiles(env: NodeJS.ProcessEnv): string[] {
  for (const v of ICD_VARS) {
    const s = env[v];
    if (s !== undefined && s.trim() !== "") return s.split(process.platform === "win32" ? ";" : ":").filter(Boolean);
  }
  return [];
}

/**
 * Why an adapter is a software one, or undefined for hardware. Pure: tested on fake adapter infos.
 * Checks the fallback flag, the identity strings, then the ICD files the loader was restricted to; an adapter that
 * names nothing at all cannot be shown to be hardware, so it counts as software too.
 */
export function softwareAdapterReason(info: AdapterInfoLike, env: NodeJS.ProcessEnv = {}): string | undefined {
  if (info.isFallbackAdapter === true) return "fallback adapter";
  const fields = [info.vendor, info.architecture, info.device, info.description].map((s) => (s ?? "").trim());
  for (const f of fields) {
    const m = SOFTWARE_NAME.exec(f);
    if (m) return `software renderer (${m[0].toLowerCase()})`;
  }
  const icds = icdFiles(env);
  if (icds.length > 0 && icds.every((f) => SOFTWARE_ICD.test(f))) {
    return `software Vulkan driver (ICD ${icds.join(", ")})`;
  }
  if (fields.every((f) => f === "")) return "the adapter names no vendor, architecture, device or description";
  return undefined;
}

/** Where a Vulkan ICD could be installed (Linux); Dawn's Vulkan path finds nothing without one. */
function vulkanIcdPresent(env: NodeJS.ProcessEnv): boolean {
  if (process.platform !== "linux") return true; // Metal / D3D12 need no ICD
  if (icdFiles(env).some((f) => fs.existsSync(f))) return true;
  const dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
  for (const x of (env.XDG_DATA_DIRS ?? "").split(":").filter(Boolean)) dirs.push(`${x}/vulkan/icd.d`);
  return dirs.some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith(".json")));
}

interface Probe {
  gpu: Gpu;
  adapter: GpuAdapter;
  report: WebgpuAdapterReport;
}
/* Minimal structural types for what peftlab touches of Dawn's objects (no DOM lib in this project). */
interface GpuAdapter {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
  features: { has(f: string): boolean };
  limits: Record<string, number>;
  requestDevice(d: unknown): Promise<unknown>;
}
interface Gpu {
  requestAdapter(o?: unknown): Promise<GpuAdapter | null>;
}

let gpuModule: { create(flags: string[]): Gpu; globals: Record<string, unknown> } | undefined;
/** Every Dawn instance made stays referenced: an adapter or device outliving its collected instance crashes Dawn. */
const instances: Gpu[] = [];

function loadDawn(): string | undefined {
  if (gpuModule) return undefined;
  try {
    // Lazy on purpose: `webgpu` is an optional dependency (~130 MB, a prebuilt dawn.node).
    gpuModule = require("webgpu");
    Object.assign(globalThis, gpuModule!.globals);
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    if (/Cannot find module/.test(msg) && msg.includes("webgpu"))
      return "the optional package `webgpu` is not installed";
    return `failed to load Dawn (webgpu): ${msg.split("\n")[0]}`;
  }
}

/** Asks Dawn for its high-performance adapter; returns it with its report, or why there is none. */
export async function probeWebgpu(env: NodeJS.ProcessEnv = process.env): Promise<Probe | string> {
  if (!vulkanIcdPresent(env)) return "no Vulkan driver (ICD) installed";
  const err = loadDawn();
  if (err) return err;
  const gpu = gpuModule!.create([]);
  instances.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return "Dawn found no WebGPU adapter (no usable Vulkan/Metal/D3D12 device)";
  const i = adapter.info ?? {};
  const info: AdapterInfoLike = {
    vendor: i.vendor ?? "",
    architecture: i.architecture ?? "",
    device: i.device ?? "",
    description: i.description ?? "",
    isFallbackAdapter: i.isFallbackAdapter === true || adapter.isFallbackAdapter === true,
  };
  const icds = icdFiles(env);
  const l = adapter.limits;
  const report: WebgpuAdapterReport = {
    vendor: info.vendor!,
    architecture: info.architecture!,
    device: info.device!,
    description: info.description!,
    fallback: info.isFallbackAdapter === true,
    software: softwareAdapterReason(info, env),
    ...(icds.length ? { icd: icds.join(":") } : {}),
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  };
  return { gpu, adapter, report };
}

/** "nvidia / hopper (NVIDIA H100 80GB HBM3)": the adapter in one phrase. */
export function adapterName(r: WebgpuAdapterReport): string {
  const head = [r.vendor, r.architecture].filter((s) => s !== "").join(" / ") || "unnamed adapter";
  const desc = r.description || r.device;
  return desc ? `${head} (${desc})` : head;
}

let activeReport: WebgpuAdapterReport | undefined;

function softwareWarning(r: WebgpuAdapterReport): string {
  return `[peftlab] warning: webgpu runs on a software adapter, ${adapterName(r)} (${r.software}): correct but very slow, for tests only`;
}

/** The adapter the webgpu backend runs on, once activated. */
export function webgpuAdapter(): WebgpuAdapterReport | undefined {
  return activeReport;
}

/**
 * Activates tfjs's webgpu backend on Dawn's adapter. `force`: accept a software adapter (and, where Dawn finds
 * none, try Debian chromium's SwiftShader). Returns undefined on success, or why webgpu was skipped.
 */
export async function activateWebgpu(
  force: boolean,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<string | undefined> {
  // Already running on an accepted adapter: switch back to it (keeps its device and compiled shaders).
  if (activeReport !== undefined && (force || activeReport.software === undefined) && tf.findBackend("webgpu")) {
    if (activeReport.software !== undefined) warn(softwareWarning(activeReport));
    return (await tf.setBackend("webgpu")) ? undefined : "webgpu backend failed to initialise";
  }
  let probe = await probeWebgpu(env);
  if (typeof probe === "string" && force && icdFiles(env).length === 0 && fs.existsSync(SWIFTSHADER_ICD)) {
    // The loader reads its variables when Dawn creates an instance: set them in this process, then ask again.
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    probe = await probeWebgpu({ ...env, VK_ICD_FILENAMES: SWIFTSHADER_ICD });
  }
  if (typeof probe === "string") return probe;
  const { gpu, adapter, report } = probe;
  if (report.software !== undefined && !force) {
    return `${adapterName(report)} is a software adapter: ${report.software}; force it with PEFTLAB_BACKEND=webgpu`;
  }
  if (report.software !== undefined) {
    warn(softwareWarning(report));
  }
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) g.navigator = {};
  Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true, writable: true });
  const wg = require("@tensorflow/tfjs-backend-webgpu") as {
    WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend;
  };
  if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => new wg.WebGPUBackend(await requestDevice(adapter), adapter.info), 3);
  if (!(await tf.setBackend("webgpu"))) return "webgpu backend failed to initialise";
  installReadSyncGuard(tf.backend());
  activeReport = report;
  return undefined;
}

/** The device tfjs's own factory would request: the adapter's limits, timestamp queries where offered. */
async function requestDevice(adapter: GpuAdapter): Promise<unknown> {
  const l = adapter.limits;
  const requiredFeatures = adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
  const names = [
    "maxComputeWorkgroupStorageSize",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupSizeX",
    "maxComputeInvocationsPerWorkgroup",
  ];
  return adapter.requestDevice({ requiredFeatures, requiredLimits: Object.fromEntries(names.map((n) => [n, l[n]])) });
}

const SYNC_CALLS = /\.(dataSync|arraySync|bufferSync)\b/;
/** A stack frame inside tfjs: its installed files, or its sources where source maps point. */
const TFJS_FRAME = /node_modules[\\/]@tensorflow[\\/]|[\\/]tfjs-(core|backend-[a-z]+)[\\/]src[\\/]/;

/**
 * Replaces the backend's readSync so that a synchronous read of data still on the GPU fails with a BackendError
 * naming the call and its caller, instead of tfjs's "OffscreenCanvas is not defined". Values already on the host
 * (uploaded from host arrays, or read before) are still returned.
 */
export function installReadSyncGuard(backend: tf.KernelBackend): void {
  const b = backend as unknown as {
    readSync(id: object): unknown;
    tensorMap: { get(id: object): { values?: unknown; dtype: string } | undefined };
    __peftlabGuard?: boolean;
  };
  if (b.__peftlabGuard) return;
  const original = b.readSync.bind(b);
  b.readSync = (dataId: object) => {
    const d = b.tensorMap.get(dataId);
    if (d === undefined || d.values != null || d.dtype === "string") return original(dataId);
    const { call, caller } = syncCallSite(new Error().stack ?? "");
    throw new BackendError(`Synchronous read ${call} on the webgpu backend`, {
      where: caller,
      expected: "an asynchronous read (await t.data() / t.array() / t.buffer())",
      got: `${call} of a tensor held on the GPU`,
      fix: "await the asynchronous variant; in Node, webgpu cannot read synchronously (tfjs needs OffscreenCanvas)",
    });
  };
  b.__peftlabGuard = true;
}

/** From a stack trace: which sync call was made (`dataSync()`), and the first frame outside tfjs after it. */
export function syncCallSite(stack: string): { call: string; caller: string } {
  const lines = stack.split("\n").map((s) => s.trim());
  // The outermost tfjs sync frame is the one called (arraySync calls dataSync); the next other frame called it.
  let i = -1;
  lines.forEach((s, j) => {
    if (SYNC_CALLS.test(s) && TFJS_FRAME.test(s)) i = j;
  });
  if (i < 0) return { call: "readSync()", caller: "an unknown caller" };
  const call = `${SYNC_CALLS.exec(lines[i])![1]}()`;
  const caller = lines.slice(i + 1).find((s) => s.startsWith("at ") && !TFJS_FRAME.test(s));
  return { call, caller: caller ? caller.replace(/^at /, "") : "an unknown caller" };
}
