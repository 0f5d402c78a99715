/**
 * The kernel under faults, each through the real kernel over ZMQ (dist/kernel-ext/main.js, as Jupyter starts it;
 * needs `npm run build`): interrupts of an infinite loop, a long await and a training fit(); a cell that allocates
 * past the heap limit; a restart in the middle of a live display and of a training cell; and `run-notebook` on a
 * notebook whose kernel dies.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KernelClient, KernelDiedError, type ExecuteOutcome } from "../../lib/jupyter/runner/client";
import type { Notebook } from "../../lib/jupyter/runner/notebook";
import { runNotebook } from "../../lib/jupyter/runner/run";
import { loadLatestCheckpoint } from "../../lib/train/checkpoint";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (o: ExecuteOutcome) =>
  o.messages
    .map((m) => String((m.content.data as Record<string, unknown>)?.["text/plain"] ?? m.content.text ?? ""))
    .join("");

/** Zombie children of this (front-end) process that are not in `before` (other suites in the same mocha run may leave theirs). */
function newZombies(before: Set<number>): { pid: number; zombie: boolean }[] {
  return children(process.pid).filter((c) => c.zombie && !before.has(c.pid));
}
const zombiesNow = () =>
  new Set(
    children(process.pid)
      .filter((c) => c.zombie)
      .map((c) => c.pid),
  );

/** Processes whose parent is `ppid`, and whether any of them is a zombie (from /proc). */
function children(ppid: number): { pid: number; zombie: boolean }[] {
  const out: { pid: number; zombie: boolean }[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(s)?.[1]) === ppid) out.push({ pid: Number(d), zombie: /^State:\s+Z/m.test(s) });
    } catch {
      // the process ended while being read
    }
  }
  return out;
}
const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A training cell: Linear on separable features, a checkpoint after every update, `epochs` epochs of 6 updates. */
const trainCell = (dir: string, epochs: number, stopAfterSteps?: number) => `
import { fit, Linear, SeedSequence, HostBatches, initBackend } from "peftlab";
await initBackend({ prefer: "cpu", log: null });
{
  const n = 36, d = 5;
  const y = Array.from({ length: n }, (_, i) => i % 3);
  const x = new Float32Array(n * d).map((_, j) => ((j * 7919) % 101) / 101 + (j % d === y[Math.floor(j / d)] ? 1 : 0));
  const model = new Linear(d, 3, { seeds: new SeedSequence(0) });
  const r = await fit(model, new HostBatches({ x, n, itemShape: [d], labels: Float32Array.from(y), ids: y.map(String) }, { batchSize: 6, shuffle: true, seed: 1, labelDtype: "int32" }), {
    task: "multiclass", epochs: ${epochs}, optimizer: { name: "adamw", lr: 0.01 }, seed: 3,
    checkpointDir: ${JSON.stringify(dir)}, checkpointEverySteps: 1,${stopAfterSteps ? ` stopAfterSteps: ${stopAfterSteps},` : ""}
  });
  console.log("resumed:" + Boolean(r.resumedFrom) + " steps:" + r.steps);
}`;

describe("kernel under faults (real kernel over ZMQ)", function () {
  this.timeout(600_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kfault-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("interrupt", () => {
    let k: KernelClient;
    before(async () => {
      k = await KernelClient.start({ cwd: tmp, noPrelude: true });
      assert.equal((await k.execute("let x = 1;")).reply.content.status, "ok");
    });
    after(async () => k.shutdown());

    it("stops an infinite synchronous loop (SIGINT, Jupyter's interrupt_mode signal); state stays usable", async () => {
      const run = k.execute("x = 2; while (true) {}");
      await sleep(1500);
      await k.interrupt("signal");
      const r = await run;
      assert.equal(r.reply.content.status, "error");
      const after = await k.execute("x + 40");
      assert.equal(after.reply.content.status, "ok");
      assert.match(text(after), /42/);
    });

    it("stops a long await (interrupt_request on the control channel); state stays usable", async () => {
      const run = k.execute("x = 3; await new Promise((r) => setTimeout(r, 3_600_000));");
      await sleep(1000);
      await k.interrupt("message");
      const r = await run;
      assert.equal(r.reply.content.status, "error");
      const after = await k.execute("x + 40");
      assert.match(text(after), /43/);
    });

    it("stops a training fit() between updates with its last checkpoint intact, and a re-run resumes", async () => {
      const dir = path.join(tmp, "fit-interrupt");
      let ended: ExecuteOutcome | undefined;
      const run = k.execute(trainCell(dir, 400)).then((o) => (ended = o));
      await waitFor(
        () => {
          if (ended) throw new Error(`the training cell ended early: ${JSON.stringify(ended.reply.content)}`);
          return (loadLatestCheckpointSafe(dir)?.trainer.step ?? 0) >= 3;
        },
        120_000,
        "3 checkpoints",
      );
      await k.interrupt("message");
      const r = await run;
      assert.equal(r.reply.content.status, "error");
      // fit() stopped: the published step no longer moves, and the checkpoint is complete and loadable.
      await sleep(300);
      const a = loadLatestCheckpoint(dir)!.trainer.step;
      await sleep(1000);
      const ck = loadLatestCheckpoint(dir)!;
      assert.equal(ck.trainer.step, a, "training stopped after the interrupt");
      assert.ok(ck.trainer.step < 400 * 6);
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes("staging") || f.endsWith(".tmp")),
        [],
      );
      const stepsBefore = ck.trainer.step;
      // The kernel is usable, and the same cell resumes from the checkpoint (stopping 2 updates later).
      const again = await k.execute(trainCell(dir, 400, stepsBefore + 2));
      assert.equal(again.reply.content.status, "ok", JSON.stringify(again.reply.content));
      assert.match(text(again), new RegExp(`resumed:true steps:${stepsBefore + 2}`));
    });
  });

  it("a cell allocating past the heap limit kills the kernel; a restarted kernel works; no zombies", async () => {
    const zombies0 = zombiesNow();
    const k = await KernelClient.start({
      cwd: tmp,
      noPrelude: true,
      env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=160" },
    });
    const pid = k.pid;
    await assert.rejects(
      k.execute(
        "const hog: unknown[] = []; for (;;) hog.push({ a: Math.random(), b: [1, 2, 3], c: 'x' + hog.length });",
      ),
      (e: unknown) => e instanceof KernelDiedError,
    );
    assert.notEqual(k.exitCode, null);
    await k.shutdown();
    await waitFor(() => !alive(pid), 10_000, "the dead kernel to be reaped");
    assert.deepEqual(children(pid), [], "the kernel left no child processes");
    assert.deepEqual(newZombies(zombies0), [], "no zombie children of the front end");
    const k2 = await KernelClient.start({ cwd: tmp, noPrelude: true });
    try {
      assert.match(text(await k2.execute("6 * 7")), /42/);
    } finally {
      await k2.shutdown();
    }
  });

  for (const [name, cell] of [
    [
      "a live display",
      "const dash = new TrainingDashboard(display, { maxUpdatesPerSecond: 10 });\n" +
        "dash.onTrainBegin({ epochs: 1000, stepsPerEpoch: 10, batchSize: 8, title: 't' });\n" +
        "for (let s = 1; ; s++) { await new Promise((r) => setTimeout(r, 20)); dash.onBatchEnd({ epoch: 0, step: s, loss: 1 / s, imgPerSec: 1 }); }",
    ],
    ["a training cell", trainCell(path.join(tmp, "fit-restart"), 400)],
  ] as const) {
    it(`restart in the middle of ${name}: the old kernel is gone, the new one works, no zombies`, async () => {
      const zombies0 = zombiesNow();
      const k = await KernelClient.start({ cwd: tmp, noPrelude: name === "a training cell" });
      const pid = k.pid;
      const outputs: string[] = [];
      const run = k.execute(cell, { onMessage: (m) => outputs.push(m.header.msg_type) }).catch((e: unknown) => e);
      await waitFor(
        () => outputs.length >= 2 || fs.existsSync(path.join(tmp, "fit-restart", "latest.json")),
        120_000,
        "the cell to be running",
      );
      await k.shutdown(); // what a front end's restart does first: shutdown_request, then kill if needed
      await run;
      await waitFor(() => !alive(pid), 10_000, "the old kernel to exit");
      assert.deepEqual(children(pid), []);
      assert.deepEqual(newZombies(zombies0), [], "no zombie children of the front end");
      if (name === "a training cell")
        assert.ok(loadLatestCheckpoint(path.join(tmp, "fit-restart")), "the checkpoint loads");
      const k2 = await KernelClient.start({ cwd: tmp, noPrelude: true });
      try {
        assert.match(text(await k2.execute("1 + 1")), /2/);
      } finally {
        await k2.shutdown();
      }
    });
  }

  it("run-notebook on a notebook whose kernel dies reports the cell and writes the notebook up to it", async () => {
    const nb: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        {
          cell_type: "code",
          id: "ok",
          metadata: {},
          source: "console.log('before')",
          outputs: [],
          execution_count: null,
        },
        { cell_type: "code", id: "die", metadata: {}, source: "process.abort()", outputs: [], execution_count: null },
        {
          cell_type: "code",
          id: "after",
          metadata: {},
          source: "console.log('never')",
          outputs: [],
          execution_count: null,
        },
      ],
    } as unknown as Notebook;
    const input = path.join(tmp, "dies.ipynb");
    fs.writeFileSync(input, JSON.stringify(nb));
    const out = path.join(tmp, "dies.out.ipynb");
    const r = await runNotebook({ input, output: out, noPrelude: true });
    assert.equal(r.ok, false);
    assert.equal(r.failedCell, 1);
    assert.equal(r.error?.ename, "KernelDied");
    assert.match(r.error!.evalue, /^cell 1: the kernel died while running the cell/);
    const written = JSON.parse(fs.readFileSync(out, "utf8")) as Notebook;
    const byId = (id: string) => written.cells.find((c) => c.id === id)!;
    assert.match(JSON.stringify(byId("ok").outputs), /before/);
    assert.equal(typeof byId("ok").execution_count, "number");
    assert.match(JSON.stringify(byId("die").outputs), /KernelDied/);
    assert.equal(byId("after").execution_count, null, "cells after the crash are not run");
  });
});

function loadLatestCheckpointSafe(dir: string) {
  try {
    return loadLatestCheckpoint(dir);
  } catch {
    return undefined; // being written
  }
}
