/**
 * The sweep's progress bar (cli-progress, on stderr) with the ETA of the whole sweep: the mean time of the runs
 * finished so far × the runs left ÷ the runs that go at once. Without a terminal it prints one line per change.
 */
import { SingleBar, Presets } from "cli-progress";

/** Counts shown by the bar. */
export interface ProgressCounts {
  done: number;
  failed: number;
  running: number;
  total: number;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** ETA in seconds of `left` runs at `parallel` at once, from the wall times of finished runs (NaN with none). */
export function sweepEta(wallTimes: readonly number[], left: number, parallel: number): number {
  if (left === 0) return 0;
  if (wallTimes.length === 0) return NaN;
  const mean = wallTimes.reduce((a, b) => a + b, 0) / wallTimes.length;
  return mean * Math.ceil(left / Math.max(1, parallel));
}

/** A progress display for one executor session. */
export class SweepProgress {
  private bar?: SingleBar;
  private readonly walls: number[] = [];
  private lastLine = "";
  constructor(
    private readonly label: string,
    private readonly parallel: number,
    private readonly quiet: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** A run finished (or failed) after `wallTimeS`. */
  addWallTime(wallTimeS: number): void {
    this.walls.push(wallTimeS);
  }

  update(c: ProgressCounts): void {
    if (this.quiet) return;
    const left = c.total - c.done - c.failed;
    const eta = fmtDuration(sweepEta(this.walls, left, this.parallel));
    const payload = { label: this.label, running: c.running, failed: c.failed, etaText: eta };
    if (this.stream.isTTY) {
      if (!this.bar) {
        this.bar = new SingleBar(
          {
            format: "{label} {bar} {value}/{total} done | {running} running, {failed} failed | ETA {etaText}",
            stream: this.stream,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        this.bar.start(c.total, c.done, payload);
      } else {
        this.bar.setTotal(c.total);
        this.bar.update(c.done, payload);
      }
      return;
    }
    const line = `${this.label}: ${c.done}/${c.total} done, ${c.running} running, ${c.failed} failed, ETA ${eta}`;
    if (line !== this.lastLine) this.stream.write(line + "\n");
    this.lastLine = line;
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
