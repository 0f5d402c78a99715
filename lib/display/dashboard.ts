/**
 * The live training dashboard: loss and metric curves plus a progress bar (epoch, step, img/s, ETA) that update one
 * output in place through display_id, throttled, and end as a single final output. It is fed by TrainingCallbacks,
 * the interface the training loop calls.
 */
import { randomBytes } from "node:crypto";
import type { MimeBundle } from "./bundle";
import { Display, LiveDisplay } from "./display";
import { isDisplaySink, type DisplaySink } from "./sink";

// The callback contract is lib/train's (the loop calls it); the dashboard implements it.
import type { BatchEndInfo, EpochEndInfo, TrainBeginInfo, TrainingCallbacks } from "../train/callbacks";
export type { BatchEndInfo, EpochEndInfo, TrainBeginInfo, TrainingCallbacks };

export interface DashboardOptions {
  /** At most this many in-place updates per second (default 4); epoch ends and the final render always show. */
  maxUpdatesPerSecond?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
  /** Batch-loss points kept for the curve (older ones are thinned). */
  maxPoints?: number;
  /**
   * Training runs that share this one output (a sweep: pass the dashboard to every run's callbacks). Each
   * onTrainBegin starts the next run; the header shows `run k/N` and an ETA over the remaining runs; the output is
   * finished after the last run's onTrainEnd. Default 1.
   */
  runs?: number;
  /** Title shown when the runs give none. */
  title?: string;
}

const fmtTime = (s: number): string => {
  if (!Number.isFinite(s) || s < 0) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(1)}s`;
};

/** A small inline SVG line chart (no JS, renders anywhere, including nbconvert HTML). */
export function svgLines(
  series: { name: string; x: number[]; y: number[] }[],
  title: string,
  w = 320,
  h = 180,
): string {
  const pts = series.flatMap((s) => s.x.map((x, i) => [x, s.y[i]])).filter(([, y]) => Number.isFinite(y));
  if (pts.length === 0)
    return `<svg width="${w}" height="${h}"><text x="10" y="20" font-size="12">${title}: no data yet</text></svg>`;
  const [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  const sx = (x: number): number => 40 + ((x - x0) / (x1 - x0 || 1)) * (w - 50);
  const sy = (y: number): number => h - 25 - ((y - y0) / (y1 - y0 || 1)) * (h - 45);
  const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
  const lines = series.map((s, k) => {
    const d = s.x.map((x, i) => `${i === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(s.y[i]).toFixed(1)}`).join("");
    return `<path d="${d}" fill="none" stroke="${colors[k % 5]}" stroke-width="1.5"/><text x="${w - 10}" y="${14 + 12 * k}" font-size="10" text-anchor="end" fill="${colors[k % 5]}">${s.name}</text>`;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" style="background:#fff">` +
    `<text x="40" y="12" font-size="11" font-weight="bold">${title}</text>` +
    `<text x="2" y="${sy(y1) + 4}" font-size="9">${y1.toPrecision(3)}</text><text x="2" y="${sy(y0)}" font-size="9">${y0.toPrecision(3)}</text>` +
    `<line x1="40" y1="${h - 25}" x2="${w - 10}" y2="${h - 25}" stroke="#999"/>${lines.join("")}</svg>`
  );
}

/** Training progress shown live in one output; implements TrainingCallbacks. */
export class TrainingDashboard implements TrainingCallbacks {
  private readonly live: LiveDisplay;
  private readonly now: () => number;
  private readonly minGapMs: number;
  private readonly maxPoints: number;
  private plan: TrainBeginInfo = { epochs: 1 };
  private last?: BatchEndInfo;
  private readonly lossX: number[] = [];
  private readonly lossY: number[] = [];
  private readonly epochLogs: EpochEndInfo[] = [];
  private startMs = 0;
  private runStartMs = 0;
  private run = 0;
  private readonly runs: number;
  private readonly runSeconds: number[] = [];
  private readonly title?: string;
  private lastRenderMs = Number.NEGATIVE_INFINITY;
  private finished = false;
  /** How many times the output was sent (display + updates); for tests and the final report. */
  renders = 0;

  constructor(target: Display | DisplaySink, options: DashboardOptions = {}) {
    const display = isDisplaySink(target) ? new Display(target) : target;
    this.live = display.live(`dash-${randomBytes(6).toString("hex")}`);
    this.now = options.now ?? (() => Date.now());
    this.minGapMs = 1000 / (options.maxUpdatesPerSecond ?? 4);
    this.maxPoints = options.maxPoints ?? 2000;
    this.runs = Math.max(1, Math.floor(options.runs ?? 1));
    this.title = options.title;
  }

  onTrainBegin(info: TrainBeginInfo): void {
    this.plan = info;
    this.run++;
    this.runStartMs = this.now();
    if (this.run === 1) this.startMs = this.runStartMs;
    // Each run of a sweep draws its own curves.
    this.last = undefined;
    this.lossX.length = 0;
    this.lossY.length = 0;
    this.epochLogs.length = 0;
    this.render(true);
  }

  onEpochBegin(_info?: { epoch: number }): void {}

  onBatchEnd(info: BatchEndInfo): void {
    this.last = info;
    const spe = this.plan.stepsPerEpoch;
    this.lossX.push(spe ? info.epoch + info.step / spe : this.lossX.length + 1);
    this.lossY.push(info.loss);
    if (this.lossX.length > this.maxPoints) {
      // Thin by half: keeps the curve's shape with bounded output size.
      for (const a of [this.lossX, this.lossY]) a.splice(0, a.length, ...a.filter((_, i) => i % 2 === 0));
    }
    this.render(false);
  }

  onEpochEnd(info: EpochEndInfo): void {
    this.epochLogs.push(info);
    this.render(true);
  }

  onTrainEnd(): void {
    this.runSeconds.push((this.now() - this.runStartMs) / 1000);
    this.finished = this.run >= this.runs;
    this.render(true);
  }

  /** The current state as a bundle (text/plain progress line, HTML with bar and curves, JSON numbers). */
  bundle(): MimeBundle {
    const p = this.plan;
    const b = this.last;
    const spe = p.stepsPerEpoch;
    const done = b ? (spe ? b.epoch * spe + b.step : b.step) : 0;
    const total = spe ? p.epochs * spe : undefined;
    const runFrac = total ? Math.min(1, done / total) : 0;
    const frac = this.finished ? 1 : (this.runSeconds.length + runFrac) / this.runs;
    const elapsed = (this.now() - this.startMs) / 1000;
    const runElapsed = (this.now() - this.runStartMs) / 1000;
    const rate = done > 0 ? done / Math.max(runElapsed, 1e-9) : 0;
    const runEta = total && rate > 0 ? (total - done) / rate : NaN;
    // Runs still to start take as long as the finished ones did on average (or this one, projected).
    const perRun = this.runSeconds.length
      ? this.runSeconds.reduce((a, x) => a + x, 0) / this.runSeconds.length
      : runElapsed + runEta;
    const ended = this.run > this.runSeconds.length ? 0 : 1;
    const eta = this.finished ? 0 : (ended ? 0 : runEta) + Math.max(0, this.runs - this.run) * perRun;
    const runTxt = this.runs > 1 ? `run ${this.run}/${this.runs} ` : "";
    const epochTxt = `${runTxt}${b ? `epoch ${b.epoch + 1}/${p.epochs}` : `epoch 0/${p.epochs}`}`;
    const stepTxt = b ? `step ${b.step}${spe ? `/${spe}` : ""}` : "step 0";
    const bar = "#".repeat(Math.round(frac * 20)).padEnd(20, "-");
    const ips = b?.imgPerSec !== undefined ? ` ${b.imgPerSec.toFixed(1)} img/s` : "";
    const status = this.finished ? `done in ${fmtTime(elapsed)}` : `ETA ${fmtTime(eta)}`;
    const title = p.title ?? this.title;
    const text = `${title ? `${title}: ` : ""}${epochTxt} ${stepTxt} [${bar}] loss ${b ? b.loss.toFixed(4) : "-"}${ips} ${status}`;
    const metricNames = [...new Set(this.epochLogs.flatMap((e) => Object.keys(e.logs)))];
    const epochSeries = metricNames.map((m) => ({
      name: m,
      x: this.epochLogs.map((e) => e.epoch + 1),
      y: this.epochLogs.map((e) => e.logs[m]),
    }));
    const html =
      `<div class="peftlab-dashboard" style="font-family:sans-serif">` +
      `<div><b>${title ?? "training"}</b> ${epochTxt} · ${stepTxt}${ips} · ${status}</div>` +
      `<div style="background:#eee;width:420px;height:12px;margin:4px 0"><div style="background:${this.finished ? "#2a7" : "#37c"};height:12px;width:${(420 * frac).toFixed(0)}px"></div></div>` +
      `<div style="display:flex;gap:8px">${svgLines([{ name: "batch loss", x: this.lossX, y: this.lossY }], "loss")}` +
      `${svgLines(epochSeries, "epoch metrics")}</div></div>`;
    return {
      "text/html": html,
      "text/plain": text,
      "application/json": {
        epoch: b?.epoch ?? 0,
        step: b?.step ?? 0,
        done,
        total: total ?? null,
        finished: this.finished,
        run: this.run,
        runs: this.runs,
        epochs: this.epochLogs,
      },
    };
  }

  private render(force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastRenderMs < this.minGapMs) return;
    this.lastRenderMs = t;
    this.renders++;
    this.live.render(this.bundle());
  }
}
