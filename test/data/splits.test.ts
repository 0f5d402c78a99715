import { strict as assert } from "node:assert";
import { DataError } from "../../lib/errors";
import {
  assertNoGroupLeak,
  groupSplit,
  kShot,
  perClassSubset,
  monteCarloSplits,
  stratifiedFraction,
  stratifiedSplit,
} from "../../lib/data/splits";
import { balancedEpoch, classWeights, epochOrder } from "../../lib/data/samplers";
import { createRng } from "../../lib/data/rng";
import type { ImageDataset, ImageItem } from "../../lib/data/types";

/** A synthetic dataset with uneven classes and patients of 1–6 images. */
function synth(seed: number, n = 400, K = 4): ImageDataset {
  const rng = createRng(seed);
  const items: ImageItem[] = [];
  let patient = 0;
  while (items.length < n) {
    const m = 1 + rng.int(6);
    for (let j = 0; j < m && items.length < n; j++) {
      const label = Math.min(K - 1, Math.floor(rng.random() ** 1.5 * K));
      items.push({ id: `img${items.length}`, path: `/x/${items.length}.png`, label, group: `p${patient}` });
    }
    patient++;
  }
  return { name: "synth", classes: Array.from({ length: K }, (_, i) => `c${i}`), task: "multiclass", items };
}
const ids = (d: ImageDataset) => d.items.map((i) => i.id);
const SEEDS = [0, 1, 2, 42, 43, 44, 45, 46];

describe("data splits and samplers", () => {
  it("stratified 70/10/20: deterministic, disjoint, covering, proportional per class", () => {
    const ds = synth(3);
    for (const seed of SEEDS) {
      const a = stratifiedSplit(ds, { train: 0.7, val: 0.1, test: 0.2 }, seed);
      const b = stratifiedSplit(ds, { train: 0.7, val: 0.1, test: 0.2 }, seed);
      assert.deepEqual(ids(a.test), ids(b.test));
      const all = [...ids(a.train), ...ids(a.val), ...ids(a.test)];
      assert.equal(new Set(all).size, ds.items.length);
      for (let c = 0; c < 4; c++) {
        const nc = ds.items.filter((i) => i.label === c).length;
        const tc = a.test.items.filter((i) => i.label === c).length;
        assert.ok(Math.abs(tc - 0.2 * nc) <= 1, `class ${c}: ${tc} of ${nc}`);
      }
    }
    assert.notDeepEqual(
      ids(stratifiedSplit(ds, { train: 0.8, test: 0.2 }, 1).test),
      ids(stratifiedSplit(ds, { train: 0.8, test: 0.2 }, 2).test),
    );
  });

  it("group split never puts a patient in two splits, over many seeds; sizes near the targets", () => {
    const ds = synth(4);
    for (const seed of SEEDS) {
      const s = groupSplit(ds, { train: 0.7, val: 0.1, test: 0.2 }, seed);
      assertNoGroupLeak(s);
      const groups = Object.fromEntries(Object.entries(s).map(([k, d]) => [k, new Set(d.items.map((i) => i.group))]));
      for (const g of groups.train) assert.ok(!groups.test.has(g) && !groups.val.has(g));
      assert.ok(Math.abs(s.test.items.length - 80) <= 8, `test size ${s.test.items.length}`);
      assert.deepEqual(ids(s.test), ids(groupSplit(ds, { train: 0.7, val: 0.1, test: 0.2 }, seed).test));
    }
    assert.notDeepEqual(
      ids(groupSplit(ds, { train: 0.8, test: 0.2 }, 1).test),
      ids(groupSplit(ds, { train: 0.8, test: 0.2 }, 2).test),
    );
  });

  it("a leaking group is a DataError naming the group", () => {
    const ds = synth(5);
    const s = stratifiedSplit(ds, { train: 0.5, test: 0.5 }, 0);
    assert.throws(
      () => assertNoGroupLeak(s),
      (e: unknown) => e instanceof DataError && /Group "p\d+" leaks/.test(e.message),
    );
  });

  it("k-shot: k per class, deterministic, nested across k, different across seeds; too few is an error", () => {
    const ds = synth(6);
    for (const seed of SEEDS) {
      for (const k of [1, 2, 4, 8, 16]) {
        const s = kShot(ds, k, seed);
        for (let c = 0; c < 4; c++) assert.equal(s.items.filter((i) => i.label === c).length, k);
        assert.deepEqual(ids(s), ids(kShot(ds, k, seed)));
      }
      const one = new Set(ids(kShot(ds, 1, seed)));
      const four = new Set(ids(kShot(ds, 4, seed)));
      for (const i of one) assert.ok(four.has(i));
    }
    assert.notDeepEqual(ids(kShot(ds, 4, 1)), ids(kShot(ds, 4, 2)));
    const rare = Math.min(...[0, 1, 2, 3].map((c) => ds.items.filter((i) => i.label === c).length));
    assert.throws(
      () => kShot(ds, rare + 1, 0),
      (e: unknown) => e instanceof DataError && /fewer images than shots/.test(e.message),
    );
  });

  const perClassCases: [string, number | null, number | "all"][] = [
    ["null: the whole split", null, "all"],
    ["0: the whole split", 0, "all"],
    ["3: kShot's 3 per class", 3, 12],
  ];
  for (const [name, perClass, want] of perClassCases) {
    it(`perClassSubset ${name}`, () => {
      const ds = synth(6);
      const s = perClassSubset(ds, perClass, 1);
      if (want === "all") assert.equal(s, ds);
      else {
        assert.equal(s.items.length, want);
        assert.deepEqual(ids(s), ids(kShot(ds, perClass!, 1)));
      }
    });
  }

  it("stratified fraction: at least one per class, proportional, deterministic, nested", () => {
    const ds = synth(7, 2000);
    for (const seed of SEEDS) {
      const tiny = stratifiedFraction(ds, 0.001, seed);
      assert.equal(tiny.items.length, 4, "one per class at 0.1 %");
      const ten = stratifiedFraction(ds, 0.1, seed);
      assert.ok(Math.abs(ten.items.length - 200) <= 4);
      assert.deepEqual(ids(ten), ids(stratifiedFraction(ds, 0.1, seed)));
      const t = new Set(ids(ten));
      for (const i of ids(tiny)) assert.ok(t.has(i));
    }
    assert.equal(stratifiedFraction(ds, 1, 0).items.length, 2000);
  });

  it("Monte-Carlo repetitions: 20 % test per seed, train sample, 20 % val; seeds differ", () => {
    const ds = synth(8, 1000);
    const reps = monteCarloSplits(ds, { seeds: [42, 43], testFraction: 0.2, trainSize: 0.1, valFraction: 0.2 });
    for (const r of reps) {
      assert.equal(r.test.items.length, 200);
      assert.ok(Math.abs(r.train.items.length + r.val!.items.length - 80) <= 4);
      const test = new Set(ids(r.test));
      for (const i of [...ids(r.train), ...ids(r.val!)]) assert.ok(!test.has(i));
    }
    assert.notDeepEqual(ids(reps[0].test), ids(reps[1].test));
  });

  it("balanced pseudo-epoch: size, 50/50, resampled per epoch, deterministic", () => {
    const ds = synth(9, 300, 2);
    const e0 = balancedEpoch(ds, { size: 1280, seed: 1, epoch: 0 });
    assert.equal(e0.length, 1280);
    assert.equal(e0.filter((i) => ds.items[i].label === 0).length, 640);
    assert.deepEqual(e0, balancedEpoch(ds, { size: 1280, seed: 1, epoch: 0 }));
    assert.notDeepEqual(e0, balancedEpoch(ds, { size: 1280, seed: 1, epoch: 1 }));
  });

  it("class weights follow sklearn 'balanced': n / (K · count)", () => {
    const ds: ImageDataset = {
      name: "w",
      classes: ["a", "b", "c"],
      task: "multiclass",
      items: [0, 0, 0, 0, 1, 1, 2, 2].map((label, i) => ({ id: String(i), label })),
    };
    assert.deepEqual(classWeights(ds), [8 / 12, 8 / 6, 8 / 6]);
    const e = epochOrder(10, 3, 0);
    assert.deepEqual(
      [...e].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.notDeepEqual(e, epochOrder(10, 3, 1));
  });
});
