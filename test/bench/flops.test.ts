/** The analytical FLOP counts against published figures for the same architectures. */
import { strict as assert } from "node:assert";
import {
  mobileNetV2ForwardMacs,
  mobileNetV2TrainFlops,
  vitForwardMacs,
  vitLoraTrainFlops,
  type VitShape,
} from "../../lib/bench/flops";

const VIT_S16: VitShape = { imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, mlpRatio: 4, numClasses: 1000 };

// Published MACs: timm's model cards (ViT-S/16 4.6 G, ViT-B/16 17.6 G), the MobileNetV2 paper (300 M) and Keras's
// applications table (MobileNetV2 0.35: 59 M).
const PUBLISHED: [name: string, macs: () => number, expected: number, relTol: number][] = [
  ["ViT-S/16 @224", () => vitForwardMacs(VIT_S16), 4.6e9, 0.01],
  ["ViT-B/16 @224", () => vitForwardMacs({ ...VIT_S16, embedDim: 768 }), 17.6e9, 0.01],
  [
    "MobileNetV2 1.0 @224",
    () => mobileNetV2ForwardMacs({ widthMult: 1, imgSize: 224, numClasses: 1000 }).total,
    300e6,
    0.01,
  ],
  [
    "MobileNetV2 0.35 @224",
    () => mobileNetV2ForwardMacs({ widthMult: 0.35, imgSize: 224, numClasses: 1000 }).total,
    59.2e6,
    0.01,
  ],
];

describe("bench FLOP counts", () => {
  for (const [name, macs, expected, tol] of PUBLISHED) {
    it(`${name}: forward MACs within ${tol * 100}% of the published ${expected / 1e6}M`, () => {
      const got = macs();
      assert.ok(Math.abs(got - expected) / expected <= tol, `${got} vs ${expected}`);
    });
  }

  it("a LoRA step on all blocks is about 2× forward, full fine-tuning about 3×", () => {
    const s = { ...VIT_S16, numClasses: 8 };
    const f = 2 * vitForwardMacs(s);
    const lora = vitLoraTrainFlops(s, { r: 8, blocks: [...Array(12).keys()] }).flopsPerImage / f;
    assert.ok(lora > 2 && lora < 2.15, String(lora));
    const last4 = vitLoraTrainFlops(s, { r: 8, blocks: [8, 9, 10, 11] }).flopsPerImage / f;
    const cached = vitLoraTrainFlops(s, { r: 8, blocks: [8, 9, 10, 11], cachedPrefixBlocks: 8 }).flopsPerImage / f;
    assert.ok(last4 < lora && cached < last4 && cached > 0.5, `${last4} ${cached}`);
    const m = { widthMult: 0.35, imgSize: 224, numClasses: 8 };
    const ft = mobileNetV2TrainFlops(m).flopsPerImage / (2 * mobileNetV2ForwardMacs(m).total);
    assert.ok(ft > 2.9 && ft < 3, String(ft));
  });
});
