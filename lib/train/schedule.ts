/**
 * Learning-rate schedules as pure functions of the global step, with PyTorch's and the papers' definitions.
 * Each returns the lr (absolute) for a base lr at a step; `applySchedule` writes it into an Optimizer's groups.
 */
import { ConfigError } from "../errors";
import type { Optimizer } from "./optim";

/** Schedule settings (validated plain data). Steps count optimiser updates. */
export type ScheduleOptions =
  | { kind: "constant" }
  | { kind: "warmup_cosine"; warmupSteps: number; totalSteps: number; minLr?: number; warmupStartFactor?: number }
  | {
      /**
       * CosineAnnealingLR over all `totalSteps` (to minLr, default 1e-6), dampened by pytorch_warmup's LinearWarmup:
       * lr × min(1, (step + 1) / warmupSteps). Seed 000's linear-head recipe.
       */
      kind: "cosine_dampened_warmup";
      warmupSteps: number;
      totalSteps: number;
      minLr?: number;
    }
  | {
      kind: "onecycle";
      totalSteps: number;
      pctStart?: number;
      divFactor?: number;
      finalDivFactor?: number;
      /** Cycle Adam's β1 / SGD momentum between base and max (PyTorch cycle_momentum, default true). */
      cycleMomentum?: boolean;
      baseMomentum?: number;
      maxMomentum?: number;
    }
  | { kind: "step"; stepSize: number; gamma?: number }
  | {
      /** MAE/MED-PEFT util/lr_sched.adjust_learning_rate: per-iteration, warmup epochs then half-cycle cosine. */
      kind: "half_cycle_cosine";
      warmupEpochs: number;
      epochs: number;
      stepsPerEpoch: number;
      minLr?: number;
    };

/** The lr at `step` (0-based, the update about to happen) for base lr `base`. */
export function lrAt(s: ScheduleOptions, base: number, step: number): number {
  switch (s.kind) {
    case "constant":
      return base;
    case "warmup_cosine": {
      const minLr = s.minLr ?? 0;
      if (step < s.warmupSteps) {
        const f0 = s.warmupStartFactor ?? 0;
        return base * (f0 + ((1 - f0) * (step + 1)) / s.warmupSteps);
      }
      const span = Math.max(1, s.totalSteps - s.warmupSteps);
      const p = Math.min(1, (step - s.warmupSteps) / span);
      return minLr + (base - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case "cosine_dampened_warmup": {
      const minLr = s.minLr ?? 1e-6;
      const p = Math.min(step, s.totalSteps) / s.totalSteps;
      const cos = minLr + ((base - minLr) * (1 + Math.cos(Math.PI * p))) / 2;
      return cos * (s.warmupSteps > 0 ? Math.min(1, (step + 1) / s.warmupSteps) : 1);
    }
    case "onecycle":
      return oneCycle(s, base, step).lr;
    case "step":
      return base * Math.pow(s.gamma ?? 0.1, Math.floor(step / s.stepSize));
    case "half_cycle_cosine": {
      const epoch = step / s.stepsPerEpoch; // fractional epoch, as `data_iter_step / len(loader) + epoch`
      const minLr = s.minLr ?? 0;
      if (epoch < s.warmupEpochs) return (base * epoch) / s.warmupEpochs;
      const p = (epoch - s.warmupEpochs) / Math.max(1e-12, s.epochs - s.warmupEpochs);
      return minLr + (base - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
  }
}

/** PyTorch OneCycleLR (two phases, cosine annealing): lr and momentum at `step`. */
export function oneCycle(
  s: Extract<ScheduleOptions, { kind: "onecycle" }>,
  maxLr: number,
  step: number,
): { lr: number; momentum?: number } {
  const pct = s.pctStart ?? 0.3;
  const initial = maxLr / (s.divFactor ?? 25);
  const minLr = initial / (s.finalDivFactor ?? 1e4);
  const upEnd = pct * s.totalSteps - 1;
  const downEnd = s.totalSteps - 1;
  const cos = (start: number, end: number, p: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1);
  const baseM = s.baseMomentum ?? 0.85;
  const maxM = s.maxMomentum ?? 0.95;
  if (step <= upEnd) {
    const p = upEnd <= 0 ? 1 : step / upEnd;
    return { lr: cos(initial, maxLr, p), momentum: cos(maxM, baseM, p) };
  }
  const p = (step - upEnd) / (downEnd - upEnd);
  return { lr: cos(maxLr, minLr, Math.min(1, p)), momentum: cos(baseM, maxM, Math.min(1, p)) };
}

/** Sets each group's lr for the update at `step` (and β1 for OneCycle with cycle_momentum). */
export function applySchedule(opt: Optimizer, s: ScheduleOptions, step: number): void {
  opt.groups.forEach((g, i) => (opt.groupLrs[i] = lrAt(s, g.lr, step)));
  if (s.kind === "onecycle" && (s.cycleMomentum ?? true) && opt.opts.name !== "sgd") {
    const m = oneCycle(s, opt.groups[0]?.lr ?? 0, step).momentum;
    if (m !== undefined) opt.beta1 = m;
  }
}

/** Validates a schedule config once, naming the field at fault. */
export function validateSchedule(s: ScheduleOptions): void {
  const need = (cond: boolean, field: string, expected: string, got: unknown) => {
    if (!cond) throw new ConfigError("Invalid schedule", { where: `schedule.${field}`, expected, got: String(got) });
  };
  switch (s.kind) {
    case "constant":
      return;
    case "warmup_cosine":
      need(s.warmupSteps >= 0, "warmupSteps", "≥ 0", s.warmupSteps);
      need(s.totalSteps > s.warmupSteps, "totalSteps", `> warmupSteps (${s.warmupSteps})`, s.totalSteps);
      return;
    case "cosine_dampened_warmup":
      need(s.warmupSteps >= 0, "warmupSteps", "≥ 0", s.warmupSteps);
      need(s.totalSteps > 0, "totalSteps", "> 0", s.totalSteps);
      return;
    case "onecycle":
      need(s.totalSteps > 1, "totalSteps", "> 1", s.totalSteps);
      return;
    case "step":
      need(s.stepSize > 0, "stepSize", "> 0", s.stepSize);
      return;
    case "half_cycle_cosine":
      need(s.epochs > s.warmupEpochs, "epochs", `> warmupEpochs (${s.warmupEpochs})`, s.epochs);
      need(s.stepsPerEpoch > 0, "stepsPerEpoch", "> 0", s.stepsPerEpoch);
      return;
    default:
      throw new ConfigError("Unknown schedule kind", {
        where: "schedule.kind",
        expected: "constant, warmup_cosine, cosine_dampened_warmup, onecycle, step or half_cycle_cosine",
        got: String((s as { kind: unknown }).kind),
      });
  }
}
