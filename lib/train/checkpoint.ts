/**
 * Training checkpoints that survive kill -9: each is a new folder `step-NNNNNNNN/` (weights, optimiser state,
 * trainer state), fsynced, then published by atomically replacing `latest.json`. A crash mid-write leaves the
 * previous checkpoint published and intact; stale folders are removed after publishing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckpointError, TrainingError } from "../errors";
import { writeFailure, writeFileAtomic } from "../io/atomic";
import type { HostTensor, StateDict } from "../io/host_tensor";
import { readSafetensors, writeSafetensors } from "../io/safetensors";
import type { OptimizerState } from "./optim";

/** Everything besides tensors that a resume needs. */
export interface TrainerState {
  version: 1;
  /** Optimiser updates done. */
  step: number;
  /** The loader position of the next batch. */
  loader: { epoch: number; batch: number; seed: number };
  /** Dropout call counters by module path (their RNG state). */
  rng: Record<string, number>;
  /** Early stopping and best-checkpoint bookkeeping. */
  best: { value: number | null; epoch: number | null; badEpochs: number };
  /** Per-epoch logs so far. */
  history: Record<string, number>[];
  /** Strategy state (e.g. LP-FT phase), opaque JSON. */
  strategy?: unknown;
  /** A fingerprint of the run's config; resuming a different config is refused. */
  configHash: string;
  optimizer: { step: number; groupLrs: number[]; beta1?: number };
}

/** A checkpoint as loaded. */
export interface Checkpoint {
  dir: string;
  weights: StateDict;
  optimizer: OptimizerState;
  trainer: TrainerState;
}

const LATEST = "latest.json";

/** Writes checkpoint `step` under `root` and publishes it as the latest (and as `best/` when `best` is set). */
export function saveCheckpoint(
  root: string,
  weights: StateDict,
  optimizer: OptimizerState,
  trainer: TrainerState,
  opts: { best?: boolean; keep?: number } = {},
): string {
  const name = `step-${String(trainer.step).padStart(8, "0")}`;
  const staging = path.join(root, `.${name}.${process.pid}.staging`);
  try {
    return writeCheckpoint(root, name, staging, weights, optimizer, trainer, opts);
  } catch (e) {
    // A full or read-only disk: drop the partial folder; latest.json still names the previous, complete checkpoint.
    for (const d of [staging, path.join(root, `.best.${process.pid}.staging`)]) {
      try {
        fs.rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort: pruneOld removes staging folders on the next successful save
      }
    }
    throw writeFailure(e, staging, `checkpoint step ${trainer.step} under ${root}`, TrainingError);
  }
}

function writeCheckpoint(
  root: string,
  name: string,
  staging: string,
  weights: StateDict,
  optimizer: OptimizerState,
  trainer: TrainerState,
  opts: { best?: boolean; keep?: number },
): string {
  const dir = path.join(root, name);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  writeSafetensors(path.join(staging, "model.safetensors"), weights, { metadata: { format: "pt" } });
  writeSafetensors(path.join(staging, "optimizer.safetensors"), flattenOptimizer(optimizer));
  writeFileAtomic(path.join(staging, "trainer_state.json"), JSON.stringify(trainer, null, 1));
  fsyncDir(staging);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  fsyncDir(root);
  writeFileAtomic(path.join(root, LATEST), JSON.stringify({ dir: name, step: trainer.step }) + "\n");
  if (opts.best) {
    // The best checkpoint is its own folder so pruning never removes it.
    const bestStaging = path.join(root, `.best.${process.pid}.staging`);
    fs.rmSync(bestStaging, { recursive: true, force: true });
    fs.cpSync(dir, bestStaging, { recursive: true });
    fs.rmSync(path.join(root, "best"), { recursive: true, force: true });
    fs.renameSync(bestStaging, path.join(root, "best"));
  }
  pruneOld(root, name, opts.keep ?? 1);
  return dir;
}

/** Loads the published latest checkpoint under `root`, or undefined when there is none. */
export function loadLatestCheckpoint(root: string): Checkpoint | undefined {
  const p = path.join(root, LATEST);
  if (!fs.existsSync(p)) return undefined;
  let latest: { dir: string };
  try {
    latest = JSON.parse(fs.readFileSync(p, "utf8"));
  } catch (e) {
    throw new CheckpointError("latest.json is not valid JSON", {
      where: p,
      got: (e as Error).message,
      fix: "delete the checkpoint folder to start over",
    });
  }
  return loadCheckpointDir(path.join(root, latest.dir));
}

/** Loads one checkpoint folder. */
export function loadCheckpointDir(dir: string): Checkpoint {
  for (const f of ["model.safetensors", "optimizer.safetensors", "trainer_state.json"]) {
    if (!fs.existsSync(path.join(dir, f))) {
      throw new CheckpointError("Checkpoint folder is incomplete", {
        where: dir,
        expected: "model.safetensors, optimizer.safetensors and trainer_state.json",
        got: `no ${f}`,
        fix: "resume from another checkpoint or start over",
      });
    }
  }
  const trainer = JSON.parse(fs.readFileSync(path.join(dir, "trainer_state.json"), "utf8")) as TrainerState;
  const weights = readSafetensors(path.join(dir, "model.safetensors")).tensors;
  const opt = unflattenOptimizer(readSafetensors(path.join(dir, "optimizer.safetensors")).tensors, trainer);
  return { dir, weights, optimizer: opt, trainer };
}

function flattenOptimizer(o: OptimizerState): StateDict {
  const sd: StateDict = new Map();
  for (const [param, bufs] of Object.entries(o.buffers))
    for (const [k, h] of Object.entries(bufs)) sd.set(`${param}::${k}`, h);
  return sd;
}

function unflattenOptimizer(sd: StateDict, t: TrainerState): OptimizerState {
  const buffers: Record<string, Record<string, HostTensor>> = {};
  for (const [key, h] of sd) {
    const i = key.lastIndexOf("::");
    const param = key.slice(0, i);
    (buffers[param] ??= {})[key.slice(i + 2)] = h;
  }
  return { step: t.optimizer.step, groupLrs: t.optimizer.groupLrs, beta1: t.optimizer.beta1, buffers };
}

function pruneOld(root: string, current: string, keep: number): void {
  const dirs = fs
    .readdirSync(root)
    .filter((d) => /^step-\d{8}$/.test(d))
    .sort();
  const stale = dirs.filter((d) => d !== current).slice(0, Math.max(0, dirs.length - keep));
  for (const d of stale) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  for (const d of fs.readdirSync(root))
    if (d.endsWith(".staging")) fs.rmSync(path.join(root, d), { recursive: true, force: true });
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
