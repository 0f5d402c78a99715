/**
 * A paper notebook's SCALE parameter: `ci` (minutes on 2 CPU cores, offline stand-in data) or `full` (the paper's
 * protocol). The per-paper modules in ./papers keep their settings per scale as data and take the scale through here,
 * so notebook cells hold no scale forks.
 */
import { ConfigError } from "../errors";

/** The two notebook scales. */
export type NotebookScale = "ci" | "full";

/** A notebook's SCALE checked: "ci" or "full", anything else a ConfigError (a typo never runs the wrong scale). */
export function notebookScale(scale: string): NotebookScale {
  if (scale === "ci" || scale === "full") return scale;
  throw new ConfigError("Unknown notebook scale", {
    where: "SCALE (the notebook's parameters cell)",
    expected: '"ci" or "full"',
    got: JSON.stringify(scale),
    fix: 'set SCALE = "ci" or "full" (e.g. `peftlab run-notebook … -p SCALE=full`)',
  });
}

/** One scale's row of a per-paper settings table, with the checked scale. */
export function settingsAtScale<T>(
  table: Readonly<Record<NotebookScale, T>>,
  scale: string,
): { scale: NotebookScale; settings: T } {
  const s = notebookScale(scale);
  return { scale: s, settings: table[s] };
}
