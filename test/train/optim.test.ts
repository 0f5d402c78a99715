import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Module, Parameter } from "../../lib/nn";
import { Optimizer, type OptimizerOptions } from "../../lib/train/optim";
import { applySchedule, lrAt, type ScheduleOptions } from "../../lib/train/schedule";
import { bceWithLogits, crossEntropy } from "../../lib/train/loss";
import { describeBackends } from "../helpers/backends";

interface OptimCase {
  name: string;
  w0: number[];
  b0: number[];
  grads: { w: number[]; b: number[] }[];
  after: { w: number[]; b: number[] }[];
}
const ref = JSON.parse(fs.readFileSync(path.join(__dirname, "../fixtures/train_reference.json"), "utf8"));

/** Parses "adamw lr=0.01 wd=0.05 betas=0.8,0.99 eps=1e-6 nesterov" into options. */
function parseOptim(name: string): OptimizerOptions {
  const [kind, ...kv] = name.split(" ");
  const o: OptimizerOptions = { name: kind as OptimizerOptions["name"], lr: 0 };
  for (const t of kv) {
    const [k, v] = t.split("=");
    if (k === "lr") o.lr = Number(v);
    else if (k === "wd") o.weightDecay = Number(v);
    else if (k === "momentum") o.momentum = Number(v);
    else if (k === "dampening") o.dampening = Number(v);
    else if (k === "nesterov") o.nesterov = true;
    else if (k === "eps") o.eps = Number(v);
    else if (k === "betas") o.betas = v.split(",").map(Number) as [number, number];
  }
  return o;
}

class Two extends Module {
  w: Parameter;
  b: Parameter;
  constructor(w: number[], b: number[]) {
    super();
    this.w = this.registerParameter("w", tf.tensor2d(w, [3, 4]));
    this.b = this.registerParameter("b", tf.tensor1d(b));
  }
  forward(x: tf.Tensor) {
    return x;
  }
}

describeBackends("optimisers match PyTorch", () => {
  for (const c of ref.optim as OptimCase[]) {
    it(c.name, () => {
      const m = new Two(c.w0, c.b0);
      const opts = parseOptim(c.name);
      const wd = opts.weightDecay ?? (opts.name === "adamw" ? 0.01 : 0);
      const opt = new Optimizer([{ name: "all", params: m.namedParameters(), lr: opts.lr, weightDecay: wd }], opts);
      c.grads.forEach((g, i) => {
        const grads = new Map<string, tf.Tensor>([
          ["w", tf.tensor2d(g.w, [3, 4])],
          ["b", tf.tensor1d(g.b)],
        ]);
        opt.apply(grads);
        const w = m.w.variable.dataSync();
        const b = m.b.variable.dataSync();
        c.after[i].w.forEach((v, j) => assert.ok(Math.abs(w[j] - v) < 2e-5, `step ${i + 1} w[${j}] ${w[j]} vs ${v}`));
        c.after[i].b.forEach((v, j) => assert.ok(Math.abs(b[j] - v) < 2e-5, `step ${i + 1} b[${j}] ${b[j]} vs ${v}`));
      });
      // State round trip: a fresh optimiser restored from state continues identically.
      const st = opt.getState();
      const opt2 = new Optimizer(opt.groups, opts);
      opt2.setState(st);
      assert.equal(opt2.step, opt.step);
      opt.dispose();
      opt2.dispose();
      m.dispose();
    });
  }
});

describe("schedules match PyTorch", () => {
  const toSchedule = (name: string, n: number): ScheduleOptions => {
    if (name.startsWith("onecycle")) {
      const get = (k: string, d: number) => Number(name.match(new RegExp(`${k}=([\\d.e-]+)`))?.[1] ?? d);
      return {
        kind: "onecycle",
        totalSteps: n,
        pctStart: get("pct", 0.3),
        divFactor: get("div", 25),
        finalDivFactor: get("final", 1e4),
      };
    }
    if (name.startsWith("step")) return { kind: "step", stepSize: 3, gamma: 0.5 };
    return { kind: "warmup_cosine", warmupSteps: 0, totalSteps: 10, minLr: 1e-3 };
  };
  for (const c of ref.schedules as { name: string; base: number; lr: number[]; momentum: number[] }[]) {
    it(c.name, () => {
      const s = toSchedule(c.name, c.lr.length);
      c.lr.forEach((want, step) => assert.ok(Math.abs(lrAt(s, c.base, step) - want) < 1e-12, `step ${step}`));
      if (s.kind === "onecycle") {
        const p = new Two(new Array(12).fill(0), [0, 0, 0, 0]);
        const opt = new Optimizer([{ name: "g", params: p.namedParameters(), lr: c.base, weightDecay: 0 }], {
          name: "adam",
          lr: c.base,
        });
        c.momentum.forEach((want, step) => {
          applySchedule(opt, s, step);
          assert.ok(Math.abs(opt.beta1 - want) < 1e-12, `momentum at step ${step}: ${opt.beta1} vs ${want}`);
        });
        p.dispose();
      }
    });
  }
  it("MAE half-cycle cosine: linear warmup by fractional epoch, then cosine to min_lr", () => {
    const s: ScheduleOptions = {
      kind: "half_cycle_cosine",
      warmupEpochs: 5,
      epochs: 100,
      stepsPerEpoch: 10,
      minLr: 1e-6,
    };
    assert.equal(lrAt(s, 1e-3, 0), 0);
    assert.ok(Math.abs(lrAt(s, 1e-3, 25) - 0.5e-3) < 1e-15);
    assert.ok(Math.abs(lrAt(s, 1e-3, 50) - 1e-3) < 1e-15);
    assert.ok(Math.abs(lrAt(s, 1e-3, 1000) - 1e-6) < 1e-15);
    const mid = 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + Math.cos(Math.PI * 0.5));
    assert.ok(Math.abs(lrAt(s, 1e-3, 525) - mid) < 1e-15);
  });
});

describeBackends("losses match PyTorch", () => {
  for (const c of ref.losses as Record<string, unknown>[]) {
    it(String(c.name), () => {
      const logits = tf.tensor2d(c.logits as number[], c.shape as [number, number]);
      const v =
        c.kind === "ce"
          ? crossEntropy(logits, tf.tensor1d(c.labels as number[], "int32"), {
              labelSmoothing: c.label_smoothing as number,
              classWeights: (c.class_weights as number[] | null) ?? undefined,
            })
          : bceWithLogits(
              logits,
              tf.tensor2d(c.targets as number[], c.shape as [number, number]),
              (c.pos_weight as number[] | null) ?? undefined,
            );
      assert.ok(Math.abs(v.dataSync()[0] - (c.value as number)) < 1e-5, `${v.dataSync()[0]} vs ${c.value}`);
    });
  }
});
