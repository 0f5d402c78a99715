/**
 * Micro-benchmark of the kernels peftlab replaces: GFLOP/s before (tfjs's own kernels, as with
 * PEFTLAB_KERNELS=tfjs) and after (peftlab's overrides), at ViT-S/16 and MobileNetV2 shapes.
 *
 *   npx tsx scripts/bench-kernels.ts [--backend wasm|cpu] [--reps 5] [--quick] [--only substring] [--json]
 *     [--threads N]   (wasm: threads for large GEMMs, as PEFTLAB_THREADS; default: PEFTLAB_THREADS or 2 where there are 2 cores)
 *
 * Importable: `benchKernels(options)` returns the numbers as plain JSON for the model-level `npm run bench`.
 * Each figure is the median of `reps` timed runs after one warm-up; the machine is shared, so medians only.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend";
import {
  applyKernelOverrides,
  configureGemmThreads,
  removeKernelOverrides,
  waitForGemmWorker,
} from "../lib/backend/kernels";

/** One benchmark case: builds inputs once, then runs one kernel call returning a tensor. */
interface BenchCase {
  name: string;
  kernel: string;
  gflop: number;
  setup: () => { run: () => tf.Tensor; inputs: tf.Tensor[] };
}

/** The measured result of one case. */
export interface BenchRow {
  name: string;
  kernel: string;
  gflop: number;
  /** Median milliseconds with tfjs's own kernel; null where tfjs has no such kernel on this backend. */
  beforeMs: number | null;
  afterMs: number | null;
  beforeGflops: number | null;
  afterGflops: number | null;
  speedup: number | null;
  note?: string;
}

/** Options of benchKernels. */
export interface BenchOptions {
  backend?: "wasm" | "cpu";
  reps?: number;
  /** Smaller batches (for quick checks and the cpu backend). */
  quick?: boolean;
  /** Only cases whose name contains this. */
  only?: string;
  /** Skip the "before" runs (tfjs's kernels), e.g. when they are known to be very slow. */
  skipBefore?: boolean;
  /** wasm: threads for large GEMMs (PEFTLAB_THREADS); applies to the "after" runs only. */
  threads?: number;
}

const mmFlop = (m: number, k: number, n: number, batch = 1) => (2 * batch * m * k * n) / 1e9;

function matmulCase(name: string, sa: number[], sb: number[], ta: boolean, tb: boolean): BenchCase {
  const m = ta ? sa[sa.length - 1] : sa[sa.length - 2];
  const k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
  const batch = Math.max(
    sa.slice(0, -2).reduce((x, y) => x * y, 1),
    sb.slice(0, -2).reduce((x, y) => x * y, 1),
  );
  return {
    name,
    kernel: "BatchMatMul",
    gflop: mmFlop(m, k, n, batch),
    setup: () => {
      const a = tf.randomNormal(sa);
      const b = tf.randomNormal(sb);
      return { inputs: [a, b], run: () => tf.matMul(a, b, ta, tb) };
    },
  };
}

function denseCase(rows: number, din: number, dout: number): BenchCase {
  return {
    name: `Dense fused [${rows},${din}]x[${din},${dout}]+bias`,
    kernel: "_FusedMatMul",
    gflop: mmFlop(rows, din, dout),
    setup: () => {
      const x = tf.randomNormal([rows, din]);
      const w = tf.randomNormal([din, dout]);
      const bias = tf.randomNormal([dout]);
      return { inputs: [x, w, bias], run: () => tf.fused.matMul({ a: x, b: w, bias }) };
    },
  };
}

type Pad = "same" | "valid";

function convFilterCase(n: number, h: number, cin: number, cout: number, k: number, s: number, pad: Pad): BenchCase {
  const oh = pad === "same" ? Math.ceil(h / s) : Math.floor((h - k) / s) + 1;
  return {
    name: `Conv2DBackpropFilter x[${n},${h},${h},${cin}] ${k}x${k}->${cout} s${s} ${pad}`,
    kernel: "Conv2DBackpropFilter",
    gflop: (2 * n * oh * oh * k * k * cin * cout) / 1e9,
    setup: () => {
      const x = tf.randomNormal([n, h, h, cin]);
      const dy = tf.randomNormal([n, oh, oh, cout]);
      const attrs = { strides: [s, s], pad, dataFormat: "NHWC", filterShape: [k, k, cin, cout] };
      return {
        inputs: [x, dy],
        run: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs as never) as tf.Tensor,
      };
    },
  };
}

function convInputCase(n: number, h: number, cin: number, cout: number, k: number, s: number, pad: Pad): BenchCase {
  const oh = pad === "same" ? Math.ceil(h / s) : Math.floor((h - k) / s) + 1;
  return {
    name: `Conv2DBackpropInput dx[${n},${h},${h},${cin}] ${k}x${k}->${cout} s${s} ${pad}`,
    kernel: "Conv2DBackpropInput",
    gflop: (2 * n * oh * oh * k * k * cin * cout) / 1e9,
    setup: () => {
      const dy = tf.randomNormal([n, oh, oh, cout]);
      const filter = tf.randomNormal([k, k, cin, cout]);
      const attrs = { strides: [s, s], pad, dataFormat: "NHWC", inputShape: [n, h, h, cin] };
      return {
        inputs: [dy, filter],
        run: () => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, attrs as never) as tf.Tensor,
      };
    },
  };
}

function depthwiseCase(which: "Filter" | "Input", n: number, h: number, c: number, s: number): BenchCase {
  const oh = Math.ceil(h / s);
  const kernel = `DepthwiseConv2dNativeBackprop${which}`;
  return {
    name: `${kernel} [${n},${h},${h},${c}] 3x3 s${s} same`,
    kernel,
    gflop: (2 * n * oh * oh * 9 * c) / 1e9,
    setup: () => {
      const x = tf.randomNormal([n, h, h, c]);
      const dy = tf.randomNormal([n, oh, oh, c]);
      const filter = tf.randomNormal([3, 3, c, 1]);
      const attrs = {
        strides: [s, s],
        pad: "same",
        dilations: [1, 1],
        filterShape: [3, 3, c, 1],
        inputShape: [n, h, h, c],
      };
      const inputs: tf.NamedTensorMap = which === "Filter" ? { x, dy } : { dy, filter };
      return { inputs: [x, dy, filter], run: () => tf.engine().runKernel(kernel, inputs, attrs as never) as tf.Tensor };
    },
  };
}

/** The benchmark table: ViT-S/16 (batch 16, 197 tokens, D 384, 6 heads) and MobileNetV2 (batch 32) shapes. */
export function benchCases(quick = false): BenchCase[] {
  const t = 197;
  const rows = (quick ? 4 : 16) * t;
  const heads = (quick ? 4 : 16) * 6;
  const nb = quick ? 8 : 32;
  return [
    matmulCase(`MatMul NN [${rows},384]x[384,1152]`, [rows, 384], [384, 1152], false, false),
    matmulCase(`MatMul NT [${rows},1152]x[384,1152]^T (dx)`, [rows, 1152], [384, 1152], false, true),
    matmulCase(`MatMul TN [${rows},384]^T x[${rows},1152] (dW)`, [rows, 384], [rows, 1152], true, false),
    denseCase(rows, 384, 1152),
    matmulCase(`BatchMatMul [${heads},197,64]x[${heads},64,197]`, [heads, t, 64], [heads, 64, t], false, false),
    matmulCase(`BatchMatMul [${heads},197,64]x[${heads},197,64]^T (q.kT)`, [heads, t, 64], [heads, t, 64], false, true),
    matmulCase(`BatchMatMul [${heads},197,197]x[${heads},197,64]`, [heads, t, t], [heads, t, 64], false, false),
    convFilterCase(nb, 224, 3, 32, 3, 2, "same"),
    convFilterCase(nb, 112, 16, 96, 1, 1, "valid"),
    convFilterCase(nb, 56, 64, 64, 3, 1, "same"),
    convInputCase(nb, 112, 16, 96, 1, 1, "valid"),
    convInputCase(nb, 56, 64, 64, 3, 1, "same"),
    depthwiseCase("Filter", nb, 112, 16, 1),
    depthwiseCase("Input", nb, 112, 16, 1),
    depthwiseCase("Filter", nb, 112, 96, 2),
    depthwiseCase("Input", nb, 112, 96, 2),
    depthwiseCase("Filter", nb, 56, 144, 1),
    depthwiseCase("Input", nb, 56, 144, 1),
    depthwiseCase("Filter", nb, 28, 192, 1),
    depthwiseCase("Input", nb, 28, 192, 1),
    depthwiseCase("Filter", nb, 14, 576, 1),
    depthwiseCase("Input", nb, 14, 576, 1),
    depthwiseCase("Filter", nb, 7, 960, 1),
    depthwiseCase("Input", nb, 7, 960, 1),
  ];
}

/** Median wall time in ms of `reps` runs after one warm-up, or null if the kernel is missing. */
function timeCase(c: BenchCase, reps: number): { ms: number | null; note?: string } {
  const { run, inputs } = c.setup();
  try {
    if (!tf.getKernel(c.kernel, tf.getBackend()))
      return { ms: null, note: `no ${c.kernel} kernel on ${tf.getBackend()}` };
    const once = () => {
      const t0 = performance.now();
      const y = run();
      y.dataSync(); // outside any tidy: tidy would walk a returned TypedArray
      const ms = performance.now() - t0;
      y.dispose();
      return ms;
    };
    once();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push(once());
    times.sort((x, y) => x - y);
    return { ms: times[Math.floor(times.length / 2)] };
  } finally {
    tf.dispose(inputs);
  }
}

/** Runs every case before (tfjs kernels) and after (peftlab overrides) on one backend; returns the rows. */
export async function benchKernels(options: BenchOptions = {}): Promise<BenchRow[]> {
  const backend = options.backend ?? "wasm";
  const reps = options.reps ?? 5;
  await initBackend({ prefer: backend, log: null, kernelOverrides: false, env: {} });
  if (backend === "wasm") {
    configureGemmThreads(options.threads !== undefined ? { PEFTLAB_THREADS: String(options.threads) } : process.env);
    waitForGemmWorker(); // time GEMMs, not the worker's start
  }
  const cases = benchCases(options.quick).filter((c) => !options.only || c.name.includes(options.only));
  const rows: BenchRow[] = [];
  for (const c of cases) {
    removeKernelOverrides(backend);
    const before = options.skipBefore ? { ms: null, note: "before skipped" } : timeCase(c, reps);
    applyKernelOverrides(backend);
    const after = timeCase(c, reps);
    const g = (ms: number | null) => (ms === null ? null : +(c.gflop / (ms / 1000)).toFixed(2));
    rows.push({
      name: c.name,
      kernel: c.kernel,
      gflop: +c.gflop.toFixed(3),
      beforeMs: before.ms === null ? null : +before.ms.toFixed(1),
      afterMs: after.ms === null ? null : +after.ms.toFixed(1),
      beforeGflops: g(before.ms),
      afterGflops: g(after.ms),
      speedup: before.ms !== null && after.ms !== null ? +(before.ms / after.ms).toFixed(1) : null,
      note: before.note ?? after.note,
    });
  }
  removeKernelOverrides(backend);
  return rows;
}

function parseArgs(argv: string[]): BenchOptions & { json: boolean } {
  const o: BenchOptions & { json: boolean } = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--backend") o.backend = argv[++i] as "wasm" | "cpu";
    else if (a === "--reps") o.reps = Number(argv[++i]);
    else if (a === "--quick") o.quick = true;
    else if (a === "--only") o.only = argv[++i];
    else if (a === "--skip-before") o.skipBefore = true;
    else if (a === "--threads") o.threads = Number(argv[++i]);
    else if (a === "--json") o.json = true;
    else throw new Error(`unknown argument ${a}; see the header of scripts/bench-kernels.ts`);
  }
  return o;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const rows = await benchKernels(opts);
  if (opts.json) {
    console.log(JSON.stringify(rows, null, 1));
    return;
  }
  const fmt = (v: number | null, w: number) => (v === null ? "-" : String(v)).padStart(w);
  console.log(
    `${"case".padEnd(62)} ${"GFLOP".padStart(7)} ${"before ms".padStart(10)} ${"after ms".padStart(9)} ` +
      `${"GF/s bef".padStart(9)} ${"GF/s aft".padStart(9)} ${"x".padStart(6)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(62)} ${fmt(r.gflop, 7)} ${fmt(r.beforeMs, 10)} ${fmt(r.afterMs, 9)} ` +
        `${fmt(r.beforeGflops, 9)} ${fmt(r.afterGflops, 9)} ${fmt(r.speedup, 6)}${r.note ? `  (${r.note})` : ""}`,
    );
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
