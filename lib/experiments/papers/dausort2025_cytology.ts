/**
 * Seed 000: Dausort et al., "Exploring Foundation Models Fine-Tuning for Cytology Classification", arXiv 2411.14975
 * (ISBI 2025; code github.com/mdausort/Cytology-fine-tuning, built on CLIP-LoRA). Experiment 1: a linear head on
 * frozen features. Experiment 2: LoRA on q and v of every block, r 2, α 1, α/√r scaling, dropout 0.25, AdamW
 * (wd 1e-2), 50 warm-up steps then cosine to 1e-6, 50 + n_iters × shots steps, test accuracy at the last step
 * (PROTOCOLS.md, [V-code]). Settings per scale are data; the notebook's sweep hands the same grid to `peftlab sweep`.
 *
 * Our addition, not the paper's: a LoRA arm whose new head starts as the L-BFGS logistic probe fitted on the same
 * k-shot features (`headFromProbe`, lib/experiments/probe_head.ts), with the same LoRA and schedule. It is the
 * vision-only analogue of CLIP-LoRA's classifier initialised from text embeddings (Zanella & Ben Ayed, CVPRW 2024,
 * which this paper's code builds on) and LP-FT's first stage (Kumar et al., ICLR 2022). The notebook labels it so.
 */
import type { HostViews } from "../../data/host_views";
import type { LoraStrategyOptions } from "../../peft/strategies/lora";
import { executeSweep, sweepResults, type SweepExecutor, type SweepStatus } from "../sweep";
import { pretrainedVitBackbone, type NotebookBackbone } from "../notebook_backbone";
import { vitTinyBackbone } from "../vit_tiny";
import type { ColumnTable } from "arquero";
import * as fs from "node:fs";
import * as path from "node:path";

/** One scale's settings of the seed-000 notebook. */
export interface DausortSettings {
  seeds: number[];
  shots: number[];
  lrs: number[];
  /** Warm-up steps; the paper 50. */
  warmup: number;
  /** Steps = warmup + nIters × shots (launch_run.sh 100, the README 50). */
  nIters: number;
  /** Experiment 1 on all training data: epochs over it (0 = not run at this scale). */
  headAllEpochs: number;
  /** Input side of the ViT (224 native; smaller resamples pos_embed bicubically). */
  imgSize: number;
  /** Blocks that carry LoRA (null = every block, as the paper). */
  loraBlocks: number[] | null;
  /** Test images per class (null = the whole test split, as the paper). */
  testPerClass: number | null;
  /**
   * LoRA training views of each k-shot image (lib/data's hostViews), or null for the images as they are. The paper's
   * code trains LoRA on RandomResizedCrop(224, 0.08–1) + RandomHorizontalFlip views; fixed D4 views (rotations and
   * mirrors; a blood cell has no canonical orientation) are the few-shot stand-in. Off at both scales: at `ci`
   * (20 steps) one measured run with D4 views lowered the paper's LoRA arm from 0.58 to 0.49 (8-shot) and left the
   * probe-head arm at the probe's 0.806.
   */
  loraViews: HostViews | null;
  /**
   * n_iters of our added arm, LoRA with its head initialised from the probe (steps = warmup + this × shots). At `ci`
   * 4, not 2: the arm starts converged, so it needs the steps to move the features; the budget allows it for this arm
   * only. At `full` the paper's 100.
   */
  probeHeadNIters: number;
}

/** Per-scale settings. `ci` is a stand-in budget (≈ minutes on 2 CPU cores), not the paper's protocol. */
export const DAUSORT_SETTINGS: Readonly<Record<"ci" | "full", Readonly<DausortSettings>>> = {
  ci: {
    seeds: [1],
    shots: [2, 8],
    lrs: [3e-3],
    warmup: 3,
    nIters: 2,
    headAllEpochs: 0,
    imgSize: 224,
    // The last 4 blocks only: no backward through blocks 0–7 (a frozen prefix), about 3× cheaper per step.
    loraBlocks: [8, 9, 10, 11],
    testPerClass: 20,
    loraViews: null,
    probeHeadNIters: 4,
  },
  full: {
    seeds: [1, 2, 3],
    shots: [1, 2, 4, 8, 16, 32, 40, 50],
    lrs: [1e-2, 3e-3, 1e-3, 3e-4, 1e-4],
    warmup: 50,
    nIters: 100,
    headAllEpochs: 100,
    imgSize: 224,
    loraBlocks: null,
    testPerClass: null,
    loraViews: null,
    probeHeadNIters: 100,
  },
};

/** The paper's LoRA: q and v of the fused qkv (own rank-r block each), r 2, α 1, rsLoRA scaling, dropout 0.25. */
export function dausortLora(s: Pick<DausortSettings, "loraBlocks">, seed: number): LoraStrategyOptions {
  // Top-level `blocks.N` of a timm ViT never match peft's layers_to_transform, so a block subset is a regex.
  const blocks = s.loraBlocks;
  return {
    targetModules: blocks ? `blocks\\.(${blocks.join("|")})\\.attn\\.qkv` : ["qkv"],
    qkvParts: { parts: ["q", "v"] },
    r: 2,
    loraAlpha: 1,
    useRslora: true,
    loraDropout: 0.25,
    seed,
  };
}

/** Batch size, epochs and optimiser steps of one k-shot run (CLIP-LoRA: warmup + n_iters × shots steps). */
export function dausortSchedule(
  shots: number,
  numClasses: number,
  s: Pick<DausortSettings, "warmup" | "nIters">,
): { batchSize: number; epochs: number; steps: number } {
  const n = shots * numClasses;
  const batchSize = Math.min(32, n);
  const perEpoch = Math.ceil(n / batchSize);
  const epochs = Math.max(1, Math.ceil((s.warmup + s.nIters * shots) / perEpoch));
  return { batchSize, epochs, steps: epochs * perEpoch };
}

/**
 * The notebook's backbone: `ci` the real ViT-Ti/16 (a stand-in for CLIP / UNI) at the settings' size; `full` the
 * paper's foundation model from its weights (e.g. CLIP ViT-B/16 fetched with `peftlab weights get`).
 */
export async function dausortBackbone(
  scale: "ci" | "full",
  o: { modelId: string; weights: string; imgSize: number },
): Promise<NotebookBackbone> {
  return scale === "ci" ? vitTinyBackbone(o.imgSize) : pretrainedVitBackbone(o);
}

/**
 * A run config's data section for the sweep: a prepared dataset (`dir/dataset.json`, its own train/val/test) or an
 * image folder split stratified 70/10/20 with seed 0, as the notebook splits it.
 */
export function dausortSweepData(dir: string, imgSize: number): Record<string, unknown> {
  const manifest = path.resolve(dir, "dataset.json");
  const transform = { size: imgSize, normalize: "model" };
  return fs.existsSync(manifest)
    ? { source: { kind: "manifest", path: manifest }, split: { kind: "source" }, transform }
    : {
        source: { kind: "imageFolder", path: path.resolve(dir) },
        split: { kind: "stratified", fractions: { train: 0.7, val: 0.1, test: 0.2 }, seed: 0 },
        transform,
      };
}

/** What the seed-000 sweep needs besides the settings. */
export interface DausortSweepInput {
  settings: Pick<DausortSettings, "seeds" | "lrs" | "shots" | "warmup" | "nIters" | "loraBlocks">;
  numClasses: number;
  backend: string;
  /** A registry id (e.g. the CLIP ViT-B/16) or "fixture:<case>" for tests. */
  modelId: string;
  weights?: string;
  /** The run configs' data section: a prepared dataset's manifest with its own split, or any data config. */
  data: Record<string, unknown>;
  name?: string;
  scale?: "ci" | "full";
  slurm?: Record<string, unknown>;
}

/** The seed-000 LoRA grid (seeds × lrs × shots) as a `peftlab sweep` (plain data, validated by executeSweep). */
export function dausortSweep(i: DausortSweepInput): Record<string, unknown> {
  const s = i.settings;
  const points = s.seeds.flatMap((seed) =>
    s.lrs.flatMap((lr) =>
      s.shots.map((shots) => {
        const sch = dausortSchedule(shots, i.numClasses, s);
        return {
          seed,
          "training.optimizer.lr": lr,
          "data.trainSubset.perClass": shots,
          "training.batchSize": sch.batchSize,
          "training.epochs": sch.epochs,
        };
      }),
    ),
  );
  const { seed: _seed, ...lora } = dausortLora(s, 0);
  void _seed;
  return {
    name: i.name ?? "01-cytology-lora",
    base: {
      name: "01-lora-qv",
      backend: i.backend,
      scale: i.scale ?? "full",
      model: i.weights ? { id: i.modelId, weights: i.weights } : { id: i.modelId },
      data: i.data,
      method: { kind: "lora", lora },
      training: {
        epochs: 1,
        batchSize: 32,
        optimizer: { name: "adamw", lr: 1e-3, weightDecay: 1e-2 },
        schedule: { kind: "warmup_cosine_auto", warmupSteps: s.warmup, minLr: 1e-6 },
        monitor: "epoch",
        mode: "max",
      },
    },
    points,
    slurm: i.slurm ?? { gres: "gpu:1", cpusPerTask: 8, mem: "32G", time: "04:00:00", parallel: 8 },
  };
}

/** Hands the grid to an executor ("in-process", "local" or "slurm"), waits, and reads the merged results back. */
export async function runDausortSweep(
  i: DausortSweepInput,
  o: { out: string; executor: SweepExecutor; quiet?: boolean; env?: NodeJS.ProcessEnv },
): Promise<{ runs: ColumnTable; status: SweepStatus }> {
  const r = await executeSweep(dausortSweep(i), {
    out: o.out,
    executor: o.executor,
    wait: true,
    quiet: o.quiet,
    env: o.env,
  });
  return { runs: sweepResults(o.out), status: r.status };
}
