/**
 * Notebook 05's reading of the grid (Paper 5, Davila et al. 2024): every strategy against the linear probe on the
 * same frozen backbone, per modality × backbone, with "near chance" judged against that modality's majority-class
 * accuracy (a constant guess), so an arm that learned nothing is flagged beside the table, never read as a finding.
 */
import type { ColumnTable } from "arquero";
import { versusProbe, type VersusProbeRow } from "../versus_probe";
import { DAVILA_STRATEGIES } from "./davila2024";
import { DAVILA_PROBE_METHOD, davilaMajority, type DavilaContext } from "./davila2024_run";

/** The best strategy of one modality × backbone against the probe. */
export interface DavilaBestArm {
  modality: string;
  backbone: string;
  best_arm: string;
  best_accuracy: number;
  probe: number;
  delta: number;
  beats_probe: boolean;
  majority: number;
  /** Test images, and 2 binomial standard errors of the probe's accuracy on them: a |delta| below it is test noise. */
  test_n: number;
  two_se: number;
  within_noise: boolean;
}

/**
 * versusProbe rows of every strategy (case "modality · backbone", metric test accuracy; near chance: under the
 * modality's majority accuracy + `margin`), and the best arm per case with whether its gap to the probe is within
 * 2 binomial standard errors of the test accuracy (test noise). Cases without a probe row are left out.
 */
export function davilaVersusProbe(
  runs: ColumnTable,
  c: DavilaContext,
  margin = 0.05,
): { rows: VersusProbeRow[]; best: DavilaBestArm[] } {
  const majority = davilaMajority(c);
  const rows: VersusProbeRow[] = [];
  const best: DavilaBestArm[] = [];
  for (const m of c.modalities) {
    const chance = majority.get(m.name)!;
    const all = versusProbe(runs, {
      probe: DAVILA_PROBE_METHOD,
      arms: [...DAVILA_STRATEGIES],
      metric: "test.accuracy",
      by: ["dataset", "modelId"],
      chance,
      margin,
    });
    for (const backbone of c.settings.backbones) {
      const mine = all.filter((r) => r.case === `${m.name} · ${backbone}`);
      if (!mine.length) continue;
      rows.push(...mine);
      const b = mine.reduce((x, y) => (y.arm_value > x.arm_value ? y : x));
      const n = m.testLabels.length;
      const twoSe = 2 * Math.sqrt((b.probe * (1 - b.probe)) / n);
      best.push({
        modality: m.name,
        backbone,
        best_arm: b.arm,
        best_accuracy: b.arm_value,
        probe: b.probe,
        delta: b.delta,
        beats_probe: b.delta > 0,
        majority: chance,
        test_n: n,
        two_se: twoSe,
        within_noise: Math.abs(b.delta) < twoSe,
      });
    }
  }
  return { rows, best };
}
