/** The HED stain shift: identity round-trip, determinism, direction of the shift, range and errors. */
import * as assert from "node:assert/strict";
import { hedShift, HED_SHIFTS, resolveHedShift } from "../../lib/data/stain_shift";

// A few H&E-like pixels (purple nuclei, pink cytoplasm, white background) in [0, 1].
const PIXELS = Float32Array.from([0.35, 0.2, 0.55, 0.85, 0.55, 0.75, 0.95, 0.95, 0.95, 0.6, 0.3, 0.6]);

describe("hedShift", () => {
  it("the identity shift round-trips RGB → HED → RGB", () => {
    const out = hedShift(PIXELS, "identity");
    PIXELS.forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-5, `${i}: ${out[i]} vs ${v}`));
  });
  it("is deterministic and pure", () => {
    const copy = Float32Array.from(PIXELS);
    assert.deepEqual(hedShift(PIXELS, "unseen-lab"), hedShift(PIXELS, "unseen-lab"));
    assert.deepEqual(PIXELS, copy, "input unchanged");
  });
  it("more haematoxylin darkens a nucleus-coloured pixel, and the output stays in [0, 1]", () => {
    const out = hedShift(PIXELS, { alpha: [1.5, 1, 1], beta: [0, 0, 0] });
    const lum = (a: ArrayLike<number>, p: number) => a[p] + a[p + 1] + a[p + 2];
    assert.ok(lum(out, 0) < lum(PIXELS, 0));
    for (const v of hedShift(PIXELS, { alpha: [5, 5, 5], beta: [1, 1, 1] })) assert.ok(v >= 0 && v <= 1);
  });
  it("the unseen-lab preset actually changes the image", () => {
    const out = hedShift(PIXELS, "unseen-lab");
    const diff = Math.max(...Array.from(out, (v, i) => Math.abs(v - PIXELS[i])));
    assert.ok(diff > 0.02, `max change ${diff}`);
    assert.equal(resolveHedShift("unseen-lab"), HED_SHIFTS["unseen-lab"]);
  });
  it("rejects unknown presets and non-RGB input", () => {
    assert.throws(() => hedShift(PIXELS, "nope"), /Unknown stain shift/);
    assert.throws(() => hedShift(new Float32Array(4), "identity"), /interleaved RGB/);
  });
});
