import { strict as assert } from "node:assert";
import { applyJitter, gaussianBlur, gaussianKernel1d } from "../../lib/data/color";
import { centreCropBox, decodeItem, resizeShorterSize } from "../../lib/data/decode";
import { augmentFloat, buildTransform, finishImage, processItem } from "../../lib/data/pipeline";
import { createRng, roundHalfEven } from "../../lib/data/rng";
import {
  type FloatImage,
  hflip,
  normalizeBytesInto,
  normalizeInto,
  randomResizedCropBox,
  resolveNorm,
  rot90,
  rotate,
  toFloat,
  vflip,
} from "../../lib/data/transforms";
import { ConfigError } from "../../lib/errors";

/** A w×h image whose pixel (x, y) has channels (x, y, 100·c) so positions can be read back. */
function coords(w: number, h: number): FloatImage {
  const d = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set([x, y, 7], (y * w + x) * 3);
  return { data: d, width: w, height: h };
}
const at = (img: FloatImage, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe("data transforms", () => {
  it("hflip / vflip mirror pixel positions", () => {
    const img = coords(3, 2);
    assert.deepEqual(at(hflip(img), 0, 0), [2, 0, 7]);
    assert.deepEqual(at(hflip(img), 2, 1), [0, 1, 7]);
    assert.deepEqual(at(vflip(img), 1, 0), [1, 1, 7]);
  });

  it("rot90 turns counter-clockwise like numpy.rot90, and four turns are the identity", () => {
    const img = coords(3, 2); // w=3, h=2
    const r = rot90(img, 1);
    assert.equal(r.width, 2);
    assert.equal(r.height, 3);
    // numpy: out[i][j] = in[j][W-1-i]; top-left of the output is the input's top-right.
    assert.deepEqual(at(r, 0, 0), [2, 0, 7]);
    assert.deepEqual(at(r, 1, 2), [0, 1, 7]);
    assert.deepEqual(Array.from(rot90(img, 4).data), Array.from(img.data));
    assert.deepEqual(Array.from(rot90(img, 3).data), Array.from(rot90(rot90(rot90(img, 1), 1), 1).data));
  });

  it("rotate(90°) equals rot90 on an odd square; rotate(0) is the identity; corners fill with 0", () => {
    const img = coords(5, 5);
    assert.deepEqual(Array.from(rotate(img, 90).data), Array.from(rot90(img, 1).data));
    assert.deepEqual(Array.from(rotate(img, 0).data), Array.from(img.data));
    const r45 = rotate(img, 45);
    assert.deepEqual(at(r45, 0, 0), [0, 0, 0]);
    assert.deepEqual(at(r45, 2, 2), [2, 2, 7]);
  });

  const sizeCases: [number, number, number, number, number][] = [
    [360, 363, 224, 224, 225], // int(224·363/360) = 225
    [500, 300, 256, 426, 256],
    [100, 100, 28, 28, 28],
  ];
  for (const [w, h, s, ew, eh] of sizeCases) {
    it(`Resize(${s}) of ${w}×${h} is ${ew}×${eh} (torchvision truncation)`, () => {
      assert.deepEqual(resizeShorterSize(w, h, s), { width: ew, height: eh });
    });
  }

  it("centre crop offsets use half-to-even rounding and pick the middle pixels", async () => {
    assert.deepEqual(centreCropBox(5, 5, 2, 2), { left: 2, top: 2 }); // round(1.5) = 2
    assert.deepEqual(centreCropBox(7, 7, 2, 2), { left: 2, top: 2 }); // round(2.5) = 2
    assert.equal(roundHalfEven(0.5), 0);
    const px = new Uint8Array(6 * 4);
    for (let i = 0; i < 24; i++) px[i] = i * 10; // gray, x + 6y
    const out = await decodeItem({ id: "g", pixels: { data: px, width: 6, height: 4, channels: 1 } }, { crop: 2 });
    // offsets round(2)=2 and round(1)=1 → rows 1..2, columns 2..3; gray replicated to 3 channels
    assert.deepEqual(Array.from(out.data), [80, 80, 80, 90, 90, 90, 140, 140, 140, 150, 150, 150]);
  });

  it("normalisation presets and explicit stats", () => {
    const img = { data: Float32Array.from([0.5, 0.5, 0.5]), width: 1, height: 1 };
    assert.deepEqual(Array.from(normalizeInto(img, resolveNorm("inception"))), [0, 0, 0]);
    const n = normalizeInto(img, resolveNorm("imagenet"));
    assert.ok(Math.abs(n[0] - (0.5 - 0.485) / 0.229) < 1e-6);
    const m = normalizeInto(img, resolveNorm({ mean: [0.4978], std: [0.2449] }));
    assert.ok(Math.abs(m[2] - (0.5 - 0.4978) / 0.2449) < 1e-6);
    assert.throws(() => resolveNorm("nope"), ConfigError);
  });

  it("RandomResizedCrop boxes lie inside the image with area in scale·area; the fallback clamps the ratio", () => {
    const rng = createRng(1);
    for (let i = 0; i < 200; i++) {
      const b = randomResizedCropBox(360, 363, [0.7, 1], [3 / 4, 4 / 3], rng);
      assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= 360 && b.top + b.height <= 363);
      const a = (b.width * b.height) / (360 * 363);
      assert.ok(a > 0.68 && a < 1.01, `area ${a}`);
    }
    // A 1000×10 strip can never fit a 3/4..4/3 box of ≥ 8 % area: fallback → h = H, w = round(H·4/3), centred.
    assert.deepEqual(randomResizedCropBox(1000, 10, [0.08, 1], [3 / 4, 4 / 3], createRng(2)), {
      top: 0,
      left: 493,
      height: 10,
      width: 13,
    });
  });

  it("colour jitter: identity factors change nothing, saturation 0 gives grey, hue ±1 cycles back", () => {
    const img = () => ({ data: Float32Array.from([0.9, 0.2, 0.1, 0.3, 0.6, 0.4]), width: 2, height: 1 });
    const same = applyJitter(img(), { order: [0, 1, 2, 3], brightness: 1, contrast: 1, saturation: 1, hue: 0 });
    assert.ok(same.data.every((v, i) => Math.abs(v - img().data[i]) < 1e-6));
    const g = applyJitter(img(), { order: [2], saturation: 0 });
    const y0 = 0.2989 * 0.9 + 0.587 * 0.2 + 0.114 * 0.1;
    assert.ok(Math.abs(g.data[0] - y0) < 1e-6 && Math.abs(g.data[1] - y0) < 1e-6 && Math.abs(g.data[2] - y0) < 1e-6);
    const b = applyJitter(img(), { order: [0], brightness: 2 });
    assert.deepEqual(
      Array.from(b.data).map((v) => +v.toFixed(5)),
      [1, 0.4, 0.2, 0.6, 1, 0.8],
    );
    const h = applyJitter(img(), { order: [3], hue: 0.5 });
    const h2 = applyJitter({ ...h, data: h.data.slice() }, { order: [3], hue: 0.5 });
    assert.ok(h2.data.every((v, i) => Math.abs(v - img().data[i]) < 1e-5));
    assert.ok(Math.abs(h.data[0] - img().data[0]) > 0.1, "hue 0.5 changes the colour");
  });

  it("Gaussian blur: kernel matches the formula, a constant image is unchanged, an impulse spreads symmetrically", () => {
    const k = gaussianKernel1d(5, 1);
    const e = [-2, -1, 0, 1, 2].map((x) => Math.exp(-0.5 * x * x));
    const s = e.reduce((a, b) => a + b);
    e.forEach((v, i) => assert.ok(Math.abs(k[i] - v / s) < 1e-6));
    const flat = { data: new Float32Array(7 * 7 * 3).fill(0.3), width: 7, height: 7 };
    assert.ok(gaussianBlur(flat, 5, 1).data.every((v) => Math.abs(v - 0.3) < 1e-6));
    const imp = { data: new Float32Array(7 * 7 * 3), width: 7, height: 7 };
    imp.data[(3 * 7 + 3) * 3] = 1;
    const bl = gaussianBlur(imp, 5, 1);
    assert.ok(Math.abs(bl.data[(3 * 7 + 2) * 3] - bl.data[(3 * 7 + 4) * 3]) < 1e-7);
    assert.ok(Math.abs(bl.data[(3 * 7 + 3) * 3] - k[2] * k[2]) < 1e-6);
  });

  it("augmentation is a pure function of the seed", async () => {
    const t = buildTransform({
      size: 16,
      resize: 20,
      augment: {
        randomResizedCrop: { scale: [0.5, 1] },
        hflip: 0.5,
        vflip: 0.5,
        rotate: { degrees: 180, p: 0.5 },
        colorJitter: { brightness: 0.1, contrast: 0.1, saturation: 0.1, hue: 0.1, p: 0.5 },
        gaussianBlur: { kernel: 5, sigma: [0.1, 1], p: 0.5 },
      },
      normalize: "imagenet",
    });
    const px = new Uint8Array(24 * 20 * 3).map((_, i) => (i * 37) % 256);
    const item = { id: "p", pixels: { data: px, width: 24, height: 20, channels: 3 as const } };
    const run = async (seed: number) => {
      const out = new Float32Array(16 * 16 * 3);
      await processItem(item, t, createRng(seed), out);
      return Array.from(out);
    };
    assert.deepEqual(await run(5), await run(5));
    assert.notDeepEqual(await run(5), await run(6));
    const f = coords(4, 4);
    assert.deepEqual(Array.from(augmentFloat(f, { hflip: 1 }, createRng(0)).data), Array.from(hflip(f).data));
  });

  describe("one-pass byte normalisation (normalizeBytesInto, finishImage's path when only flips remain)", () => {
    const bytes = (w: number, h: number, seed: number) => {
      const r = createRng(seed);
      const d = new Uint8Array(w * h * 3).map(() => r.int(256));
      d[0] = 0;
      d[d.length - 1] = 255;
      return { data: d, width: w, height: h };
    };
    const stats: [string, Parameters<typeof resolveNorm>[0]][] = [
      ["imagenet", "imagenet"],
      ["clip", "clip"],
      ["none", "none"],
      ["one-value mean/std", { mean: [0.4978], std: [0.2449] }],
    ];
    for (const [name, spec] of stats) {
      for (const [h, v] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        it(`equals normalizeInto(toFloat(·)) bit for bit: ${name}, hflip ${h}, vflip ${v}`, () => {
          const img = bytes(7, 5, 3);
          const st = resolveNorm(spec);
          let f = toFloat(img);
          if (h) f = hflip(f);
          if (v) f = vflip(f);
          const want = normalizeInto(f, st, new Float32Array(4 + 7 * 5 * 3), 4);
          const got = new Float32Array(4 + 7 * 5 * 3);
          normalizeBytesInto(img, st, { h, v }, got, 4);
          assert.deepEqual(got, want);
        });
      }
    }
    const transforms: [string, Parameters<typeof buildTransform>[0], boolean][] = [
      ["hflip + vflip (one pass)", { size: 6, augment: { hflip: 0.5, vflip: 0.5 }, normalize: "imagenet" }, true],
      ["no augmentation (one pass)", { size: 6, normalize: "clip" }, true],
      ["jitter + hflip (float chain)", { size: 6, augment: { colorJitter: { brightness: 0.3 }, hflip: 0.5 } }, false],
    ];
    for (const [name, opts] of transforms) {
      it(`finishImage equals the float chain with the same rng draws: ${name}`, async () => {
        const t = buildTransform(opts);
        for (let seed = 0; seed < 8; seed++) {
          const img = bytes(6, 6, 100 + seed);
          const got = new Float32Array(6 * 6 * 3);
          const r1 = createRng(seed);
          await finishImage(img, t, r1, got);
          const r2 = createRng(seed);
          const f = opts.augment ? augmentFloat(toFloat(img), opts.augment, r2) : toFloat(img);
          assert.deepEqual(got, normalizeInto(f, t.norm), `seed ${seed}`);
          assert.equal(r1.nextU32(), r2.nextU32(), "the same rng draws (the two sequences continue in step)");
        }
      });
    }
  });
});
