import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cli } from "../../helpers/cli";
import { ConfigError } from "../../../lib/errors";
import { gridPoints, planSweep, resolveSweep, sbatchScript, setDotted, sweepEta } from "../../../lib/experiments/sweep";

const base = {
  name: "t",
  backend: "cpu",
  model: { id: "fixture:resnet_basic" },
  data: { source: { kind: "npz", path: "/data/x.npz" }, split: { kind: "source" } },
  method: { kind: "strategy", name: "FT" },
  training: { epochs: 1, batchSize: 4, optimizer: { name: "adamw", lr: 0.01 } },
};

describe("sweep files: validation", () => {
  const bad: { name: string; raw: unknown; where: RegExp }[] = [
    { name: "not an object", raw: [1], where: /^sweep$/ },
    { name: "no base", raw: { grid: { seed: [0] } }, where: /^sweep\.base$/ },
    { name: "unknown top-level key", raw: { base, grdi: {} }, where: /^sweep\.grdi$/ },
    { name: "empty grid axis", raw: { base, grid: { seed: [] } }, where: /sweep\.grid\["seed"\]/ },
    { name: "grid axis not a list", raw: { base, grid: { seed: 3 } }, where: /sweep\.grid\["seed"\]/ },
    { name: "bad dotted path", raw: { base, grid: { "training..lr": [1] } }, where: /sweep\.grid/ },
    { name: "points not a list", raw: { base, points: { seed: 1 } }, where: /^sweep\.points$/ },
    { name: "point not an object", raw: { base, points: [3] }, where: /^sweep\.points\[0\]$/ },
    { name: "eval without data", raw: { base, eval: {} }, where: /^sweep\.eval\.data$/ },
    { name: "unknown slurm key", raw: { base, slurm: { partiton: "gpu" } }, where: /^sweep\.slurm\.partiton$/ },
    { name: "bad cpusPerTask", raw: { base, slurm: { cpusPerTask: 0 } }, where: /^sweep\.slurm\.cpusPerTask$/ },
    {
      name: "extra line not an option",
      raw: { base, slurm: { extra: ["qos=1"] } },
      where: /^sweep\.slurm\.extra\[0\]$/,
    },
    { name: "bad name", raw: { base, name: "a b" }, where: /^sweep\.name$/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with a ConfigError naming the field`, () => {
      assert.throws(
        () => resolveSweep(c.raw),
        (e: unknown) => e instanceof ConfigError && c.where.test(e.where ?? "") && e.fix !== undefined,
      );
    });
  }

  const badPlans: { name: string; raw: Record<string, unknown>; msg: RegExp }[] = [
    {
      name: "a grid value the run config rejects",
      raw: { base, grid: { "training.epochs": [1, -2] } },
      msg: /Run 1 of the sweep is not a valid run config.*training\.epochs/,
    },
    {
      name: "a misspelt grid key (would silently not vary)",
      raw: { base, grid: { "training.optimiser.lr": [0.1, 0.2] } },
      msg: /unknown field/,
    },
    {
      name: "two points with the same resolved config",
      raw: { base, points: [{ seed: 0 }, { seed: 0 }] },
      msg: /same resolved config/,
    },
    {
      name: "a default written out equals the default",
      raw: { base, points: [{ task: "multiclass" }, {}] },
      msg: /same resolved config/,
    },
    {
      name: "a path through a non-object",
      raw: { base, grid: { "training.epochs.x": [1] } },
      msg: /dotted path goes through a value that is not an object/,
    },
  ];
  for (const c of badPlans) {
    it(`planning rejects ${c.name}`, () => {
      assert.throws(
        () => planSweep(resolveSweep(c.raw)),
        (e: unknown) => e instanceof ConfigError && c.msg.test(e.message),
      );
    });
  }
});

describe("sweep files: expansion and ids", () => {
  it("expands grid (first key slowest) then points, each validated and resolved", () => {
    const spec = resolveSweep({
      base,
      grid: { "training.optimizer.lr": [0.1, 0.01], seed: [0, 1, 2] },
      points: [{ method: { kind: "linear" } }],
    });
    const runs = planSweep(spec);
    assert.equal(runs.length, 7);
    assert.deepEqual(
      runs.slice(0, 6).map((r) => [r.config.training.optimizer.lr, r.config.seed]),
      [
        [0.1, 0],
        [0.1, 1],
        [0.1, 2],
        [0.01, 0],
        [0.01, 1],
        [0.01, 2],
      ],
    );
    assert.equal(runs[6].config.method.kind, "linear");
    assert.deepEqual(
      runs.map((r) => r.index),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.equal(new Set(runs.map((r) => r.id)).size, 7);
    for (const r of runs) assert.match(r.id, /^[0-9a-f]{16}$/);
  });

  it("ids are stable: the same resolved config gives the same id whatever the key order or the axis it came from", () => {
    const a = planSweep(resolveSweep({ base, grid: { seed: [3] } }))[0];
    const reordered = {
      training: base.training,
      method: base.method,
      data: base.data,
      model: base.model,
      backend: "cpu",
      name: "t",
    };
    const b = planSweep(resolveSweep({ base: { ...reordered, seed: 3 } }))[0];
    const c = planSweep(resolveSweep({ base, points: [{ seed: 3 }] }))[0];
    assert.equal(a.id, b.id);
    assert.equal(a.id, c.id);
    const d = planSweep(resolveSweep({ base, points: [{ seed: 4 }] }))[0];
    assert.notEqual(a.id, d.id);
  });

  it("a sweep without grid or points is the base run alone", () => {
    const runs = planSweep(resolveSweep({ base }));
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0].overrides, {});
  });

  it("setDotted copies, creates objects on the way, and sets arrays whole", () => {
    const o = { a: { b: 1 } };
    const r = setDotted(o, "a.c.d", [1, 2], "w");
    assert.deepEqual(r, { a: { b: 1, c: { d: [1, 2] } } });
    assert.deepEqual(o, { a: { b: 1 } });
    assert.deepEqual(gridPoints({ x: [1, 2], y: ["a"] }), [
      { x: 1, y: "a" },
      { x: 2, y: "a" },
    ]);
  });

  it("eval data expands ${PEFTLAB_SHARED} and resolves against the sweep file's folder", () => {
    const s = resolveSweep(
      { base, eval: { data: "${PEFTLAB_SHARED}/pbc" } },
      { env: { PEFTLAB_SHARED: "/srv/shared" } },
    );
    assert.equal(s.eval?.data, "/srv/shared/pbc");
    const r = resolveSweep({ base, eval: { data: "imgs" } }, { baseDir: "/proj/sweeps" });
    assert.equal(r.eval?.data, "/proj/sweeps/imgs");
  });
});

describe("sweep: sbatch script and ETA", () => {
  it("carries the sweep file's resources, %P, extra lines, setup and the PEFTLAB_* environment", () => {
    const spec = resolveSweep({
      base,
      slurm: {
        partition: "gpu",
        gres: "gpu:1",
        cpusPerTask: 8,
        mem: "32G",
        time: "02:00:00",
        account: "lab",
        parallel: 3,
        extra: ["#SBATCH --qos=long", "--exclusive"],
        setup: ["module load nodejs/20"],
      },
    });
    const text = sbatchScript({
      name: "s",
      dir: "/shared/sw",
      idsFile: "/shared/sw/slurm/submit-000.ids",
      n: 5,
      slurm: spec.slurm,
      cwd: "/home/u/peftlab",
      env: { PEFTLAB_SHARED: "/data/it's", PEFTLAB_BACKEND: "node-gpu", HOME: "/home/u" },
      node: "/usr/bin/node",
      cli: "/home/u/peftlab/dist/lib/cli/main.js",
    });
    for (const line of [
      "#SBATCH --array=0-4%3",
      "#SBATCH --partition=gpu",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --cpus-per-task=8",
      "#SBATCH --mem=32G",
      "#SBATCH --time=02:00:00",
      "#SBATCH --account=lab",
      "#SBATCH --qos=long",
      "#SBATCH --exclusive",
      "#SBATCH --output=/shared/sw/slurm/%A_%a.out",
      "export PEFTLAB_BACKEND='node-gpu'",
      "export PEFTLAB_SHARED='/data/it'\\''s'",
      "module load nodejs/20",
      "cd '/home/u/peftlab'",
    ])
      assert.ok(text.split("\n").includes(line), `missing line: ${line}\n${text}`);
    assert.ok(!text.includes("HOME"), "only PEFTLAB_* variables are written");
    assert.match(
      text,
      /exec '\/usr\/bin\/node' '\/home\/u\/peftlab\/dist\/lib\/cli\/main\.js' sweep exec '\/shared\/sw' --id "\$ID"/,
    );
    // Every #SBATCH line comes before the first command, or sbatch ignores it.
    const lines = text.split("\n");
    const firstCmd = lines.findIndex((l) => l !== "" && !l.startsWith("#"));
    assert.ok(lines.slice(firstCmd).every((l) => !l.startsWith("#SBATCH")));
  });

  it("the ETA is the mean run time × the rounds left", () => {
    assert.equal(sweepEta([10, 20], 4, 2), 30);
    assert.equal(sweepEta([10], 3, 2), 20);
    assert.equal(sweepEta([10], 0, 2), 0);
    assert.ok(Number.isNaN(sweepEta([], 3, 1)));
  });
});

describe("peftlab sweep plan / run --dry-run (CLI, in-process)", () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-sweep-cli-"))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const example = path.resolve(__dirname, "../../../docs/examples/sweep-tiny.json");

  it("plan prints docs/examples/sweep-tiny.json's 4 runs with their ids", async () => {
    const r = await cli("sweep", "plan", example, "--json");
    assert.equal(r.code, 0, r.err);
    const p = JSON.parse(r.out);
    assert.equal(p.runs.length, 4);
    assert.deepEqual(
      p.runs.map((x: { overrides: Record<string, unknown> }) => x.overrides),
      [
        { "training.optimizer.lr": 0.01, seed: 0 },
        { "training.optimizer.lr": 0.01, seed: 1 },
        { "training.optimizer.lr": 0.001, seed: 0 },
        { "training.optimizer.lr": 0.001, seed: 1 },
      ],
    );
  });

  it("a bad sweep file is one error line naming the field, exit 2", async () => {
    const bad = path.join(tmp, "bad.json");
    fs.writeFileSync(bad, JSON.stringify({ base, grid: { seed: 1 } }));
    const r = await cli("sweep", "plan", bad);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: A grid axis needs a non-empty list of values; at sweep\.grid\["seed"\]/);
  });

  it("run --executor slurm --dry-run writes the array script for the runs not done, submitting nothing", async function () {
    if (!fs.existsSync(path.resolve(__dirname, "../../../dist/lib/cli/main.js"))) this.skip(); // needs npm run build
    const out = path.join(tmp, "dry");
    const r = await cli("sweep", "run", example, "--executor", "slurm", "--dry-run", "--out", out, "--parallel", "3");
    assert.equal(r.code, 0, r.err);
    const script = fs.readFileSync(path.join(out, "slurm", "submit-000.sbatch"), "utf8");
    assert.match(script, /^#SBATCH --array=0-3%3$/m);
    assert.match(script, /^#SBATCH --time=00:10:00$/m);
    assert.equal(
      fs
        .readFileSync(path.join(out, "slurm", "submit-000.ids"), "utf8")
        .trim()
        .split("\n").length,
      4,
    );
    assert.equal(fs.existsSync(path.join(out, "slurm", "jobs.jsonl")), false);
  });
});
