/**
 * peftlab's own WASM SIMD depthwise-conv gradient kernels (lib/backend/native/dwconv.c), instantiated on
 * tfjs-backend-wasm's own WebAssembly.Memory so they read and write tfjs tensors in place: no copies.
 * Not a kernel itself; depthwise_conv2d_backprop_*.ts call it for channel multiplier 1.
 */
import { BackendError } from "../../errors";
import { DWCONV_WASM_BASE64 } from "../native/dwconv_wasm";
import type { ConvGeom } from "./conv_util";
import type { WasmBackend } from "./wasm_gemm";

/** The exports of dwconv.wasm; pointers are byte offsets into tfjs's heap, then the geometry. */
export interface DwconvExports {
  /** (x, dy, acc64, ...geom): acc64[fh, fw, c] += dW. */
  dw_filter_grad(x: number, dy: number, acc: number, ...geom: number[]): void;
  /** (dx, dy, w, ...geom): dx = the input gradient, fully overwritten. */
  dw_input_grad(dx: number, dy: number, w: number, ...geom: number[]): void;
  f64_to_f32(acc: number, out: number, len: number): void;
}

/** The slice of the WebAssembly JS API used here (tsconfig's lib has no DOM, and @types/node does not declare it). */
interface WasmJsApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => object;
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

let compiled: object | undefined;
const instances = new WeakMap<object, DwconvExports>();

/** The compiled dwconv.wasm (compiled once per process). */
export function dwconvModule(): object {
  compiled ??= new WA.Module(Buffer.from(DWCONV_WASM_BASE64, "base64"));
  return compiled;
}

/** dwconv.wasm instantiated on `wb`'s memory (once per tfjs wasm module). */
export function dwconv(wb: WasmBackend, where: string): DwconvExports {
  const cached = instances.get(wb.wasm);
  if (cached) return cached;
  const memory = (wb.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!(memory instanceof WA.Memory)) {
    throw new BackendError("tfjs-backend-wasm does not expose its WebAssembly.Memory", {
      where,
      expected: "Module.asm.memory, a WebAssembly.Memory (tfjs-backend-wasm 4.x)",
      got: typeof memory,
      fix: "pin @tensorflow/tfjs-backend-wasm to 4.22, or set PEFTLAB_KERNELS=tfjs",
    });
  }
  const inst = new WA.Instance(dwconvModule(), { env: { memory } });
  const ex = inst.exports as unknown as DwconvExports;
  instances.set(wb.wasm, ex);
  return ex;
}

/** The geometry arguments every dwconv export takes after its pointers, in dwconv.c's order. */
export function geomArgs(g: ConvGeom): number[] {
  return [g.n, g.inH, g.inW, g.inC, g.outH, g.outW, g.fh, g.fw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft];
}
