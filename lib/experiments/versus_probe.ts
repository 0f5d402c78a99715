/**
 * Every trained arm of a paper notebook read against the linear probe on the same backbone's frozen features: an arm
 * carries signal at CI scale only when it beats that probe; one near chance is flagged, never presented as a finding.
 */
import type { ColumnTable } from "arquero";
import { improvementSummary } from "./sweep_runs";

/** One arm × case against the probe. */
export interface VersusProbeRow {
  arm: string;
  case: string;
  probe: number;
  arm_value: number;
  delta: number;
  verdict: string;
}

/**
 * Rows of (arm, case): the arm's mean `metric` beside the probe's, and a verdict: "beats the probe", "does not beat
 * the probe", plus "near chance" when the arm's value is under `chance` + `margin` (AUROC: 0.5 + 0.1 by default).
 */
export function versusProbe(
  table: ColumnTable,
  o: { probe: string; arms: string[]; metric: string; by: string[]; chance?: number; margin?: number },
): VersusProbeRow[] {
  const floor = (o.chance ?? 0.5) + (o.margin ?? 0.1);
  return o.arms.flatMap((arm) =>
    improvementSummary(table, { baseline: o.probe, candidate: arm, metric: o.metric, by: o.by }).cases.map((c) => ({
      arm,
      case: c.case,
      probe: c.baseline,
      arm_value: c.candidate,
      delta: c.delta,
      verdict:
        (c.delta > 0 ? "beats the probe" : "does not beat the probe") +
        (c.candidate < floor ? "; near chance at this scale (too few updates / images), not a finding" : ""),
    })),
  );
}

/** One sentence for the notebook: the best arm's mean over cases against the probe's. */
export function versusProbeSentence(rows: readonly VersusProbeRow[], metric: string): string {
  if (!rows.length) return `no arm shares a case with the probe on ${metric}`;
  const byArm = new Map<string, VersusProbeRow[]>();
  for (const r of rows) byArm.set(r.arm, [...(byArm.get(r.arm) ?? []), r]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const scored = [...byArm].map(([arm, rs]) => ({
    arm,
    a: mean(rs.map((r) => r.arm_value)),
    p: mean(rs.map((r) => r.probe)),
  }));
  const best = scored.reduce((x, y) => (y.a > x.a ? y : x));
  const f = (x: number) => x.toFixed(3);
  return best.a > best.p
    ? `The best arm, ${best.arm}, beats the linear probe on the same frozen backbone: ${metric} ${f(best.a)} vs ${f(best.p)} (mean over cases).`
    : `No arm beats the linear probe on the same frozen backbone at this scale: the best, ${best.arm}, reaches ${metric} ${f(best.a)} vs the probe's ${f(best.p)} (mean over cases). Read the adapted arms as under-trained here, not as a finding against them.`;
}
