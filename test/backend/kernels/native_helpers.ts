/** Helpers for the tests that call the native addon's exports directly on a plain Float32Array "heap". */
import { strict as assert } from "node:assert";
import { BackendError } from "../../../lib/errors";
import type { NativeAddon } from "../../../lib/backend/addon/loader";

export const GUARD = 7; // every float no call may write

/** A heap of `parts` (name → length) laid out with one guard float before, between and after them. */
export function heapOf(parts: Record<string, number>): { h: Float32Array; at: Record<string, number> } {
  const at: Record<string, number> = {};
  let n = 1;
  for (const [k, len] of Object.entries(parts)) {
    at[k] = n;
    n += len + 1;
  }
  return { h: new Float32Array(n).fill(GUARD), at };
}

/**
 * Runs `call` at 1, 2 and 3 threads on fresh copies of `h`; asserts that `splits` of its native calls were split
 * across threads (none at 1 thread) and that the outputs agree bit for bit; returns one.
 */
export function threadsAgree(addon: NativeAddon, h: Float32Array, call: (h: Float32Array) => void, splits: number) {
  const outs: Float32Array[] = [];
  for (const t of [1, 2, 3]) {
    addon.setThreads(t);
    const copy = h.slice();
    const before = addon.info().splits;
    call(copy);
    assert.equal(addon.info().splits - before, t > 1 ? splits : 0, `calls split at ${t} threads`);
    outs.push(copy);
  }
  assert.deepEqual(outs[1], outs[0]);
  assert.deepEqual(outs[2], outs[0]);
  return outs[0];
}

/**
 * One refused call: a title, the export, its arguments after the heap (or every argument, heap included, built from
 * the heap), and the message expected.
 */
export type BadCall = [
  name: string,
  fn: keyof NativeAddon,
  args: number[] | ((h: Float32Array) => unknown[]),
  msg: RegExp,
];

/**
 * One test per bad call: it throws a BackendError naming the call, with the C check's message (a RangeError, kept
 * as its cause), and leaves a 64-float heap untouched.
 */
export function badCallTests(addon: () => NativeAddon, calls: BadCall[]): void {
  for (const [name, fn, args, msg] of calls) {
    it(`throws a BackendError naming the call and the failed check, touching nothing, for ${name}`, () => {
      const h = new Float32Array(64).fill(1);
      const f = addon()[fn] as (...a: unknown[]) => void;
      assert.throws(
        () => f(...(typeof args === "function" ? args(h) : [h, ...args])),
        (e: unknown) =>
          e instanceof BackendError &&
          msg.test(e.got ?? "") &&
          (e.where ?? "").startsWith(`peftlab_native.${String(fn)}(`) &&
          (e as Error & { cause?: unknown }).cause instanceof RangeError,
      );
      assert.ok(h.every((x) => x === 1));
    });
  }
}
