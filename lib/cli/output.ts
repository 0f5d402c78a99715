/** Output helpers for CLI commands: write through commander's configured output, and render aligned tables. */
import type { Command } from "commander";

/** Writes text to the command's stdout (commander's `writeOut`, so in-process callers can capture it). */
export function writeOut(cmd: Command, text: string): void {
  const w = cmd.configureOutput().writeOut;
  if (w) w(text);
  else process.stdout.write(text);
}

/** Writes a JSON document (2-space indent) to the command's stdout. */
export function writeJson(cmd: Command, value: unknown): void {
  writeOut(cmd, `${JSON.stringify(value, null, 2)}\n`);
}

/** Renders rows as a table with a header row; columns listed in `right` are right-aligned (numbers). */
export function formatTable(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

/** Formats a byte count for humans (exact count plus a binary-unit figure when large). */
export function formatBytes(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (n < 1024) return `${n} B`;
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Formats an integer with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
