/** Renders a BenchReport as text tables: workloads, fast-path and baseline speed-ups, and reference ratios. */
import type { BenchReport, WorkloadResult } from "./types";

/** Renders rows as an aligned table; numeric-looking cells are right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const num = (s: string) => /^[-+]?[0-9.,]+(×|x|%)?$/.test(s);
  const line = (r: string[]) =>
    r
      .map((cell, c) => (num(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

const fmt = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? "-" : x.toFixed(d));
const mib = (b: number | null | undefined) => (b === null || b === undefined ? "-" : (b / 2 ** 20).toFixed(0));

/** The note column: status, fast-path speed-up, or the baseline's slowdown. */
function note(r: WorkloadResult, all: WorkloadResult[]): string {
  if (r.status !== "ok") return `${r.status}: ${r.reason ?? ""}`.slice(0, 90);
  const notes: string[] = [];
  if (r.fastPathOf) {
    const ref = all.find((x) => x.workload === r.fastPathOf && x.variant === r.variant && x.status === "ok");
    if (ref?.imgPerS && r.imgPerS) notes.push(`${(r.imgPerS / ref.imgPerS).toFixed(2)}× vs ${r.fastPathOf}`);
  }
  if (r.variant === "peftlab") {
    const base = all.find((x) => x.workload === r.workload && x.variant === "tfjs-kernels");
    if (base?.status === "ok" && base.imgPerS && r.imgPerS)
      notes.push(`${(r.imgPerS / base.imgPerS).toFixed(2)}× vs tfjs kernels`);
    if (base?.status === "failed") notes.push("tfjs kernels: fails");
  }
  const diff = r.extra.mergedVsUnmergedMaxAbsDiff;
  if (typeof diff === "number") notes.push(`merged-unmerged |Δ| ${diff.toExponential(1)}`);
  if (typeof r.extra.cacheFillImgPerS === "number") notes.push(`fill ${r.extra.cacheFillImgPerS} img/s once`);
  if (typeof r.extra.readyMs === "number") {
    const e = r.extra;
    notes.push(
      `ready ${e.readyMs} ms, 1st cell +${e.firstCellMs} ms (sum ${e.sumMs} ms), again ${e.secondCellMs} ms, ` +
        `inspect ${e.firstInspectMs} ms, load ${e.loadAvg1}`,
    );
  }
  return notes.join("; ");
}

/** The human report: header lines, the workload table, and the reference table when --compare was used. */
export function formatBenchReport(rep: BenchReport): string {
  const ok = rep.results.find((r) => r.status === "ok") ?? rep.results[0];
  const head = [
    `peftlab bench — ${rep.date} — ${rep.host.cpus} × ${rep.host.cpuModel}, node ${rep.host.node}, tfjs ${rep.host.tfjs}`,
    ok
      ? `backend ${ok.backend} (threads ${ok.threads}, simd ${ok.simd}, fma ${ok.fma}, gemm ${ok.gemm}); kernel overrides: ${ok.overrides.length ? ok.overrides.join(", ") : "none"}`
      : "no workload ran",
    ...(ok?.adapter
      ? [
          `webgpu adapter ${ok.adapter.name}${ok.adapter.software ? ` [software: ${ok.adapter.software}]` : ""}; ` +
            `peak GPU bytes ${rep.results.map((r) => `${r.workload} ${mib(r.memory?.gpuPeakBytes)}`).join(", ")}`,
        ]
      : []),
    `load average (1/5/15 min): start ${rep.host.loadStart.join(" ")}, end ${rep.host.loadEnd.join(" ")}` +
      `${rep.options.quick ? "; --quick (tiny shapes, not comparable)" : ""}`,
  ];
  const rows = rep.results.map((r) => [
    r.workload,
    r.variant,
    fmt(r.imgPerS),
    fmt(r.gflops),
    fmt(r.medianS, 3),
    r.batchSize === null ? "-" : String(r.batchSize),
    fmt(r.memory?.maxRssMiB, 0),
    mib(r.memory?.tfPeakBytes),
    r.loadBefore.length ? r.loadBefore[0].toFixed(1) : "-",
    note(r, rep.results),
  ]);
  let text = head.join("\n") + "\n\n";
  text += textTable(
    ["workload", "variant", "img/s", "GFLOP/s", "median s", "batch", "maxRSS MiB", "tf peak MiB", "load", "note"],
    rows,
  );
  if (rep.ratios.length) {
    const rr = rep.ratios.map((r) => [
      r.workload,
      r.reference,
      fmt(r.referenceImgPerS),
      fmt(r.referenceGflops),
      fmt(r.peftlabImgPerS),
      r.ratio === null ? "-" : `${r.ratio.toFixed(2)}×`,
    ]);
    text += "\n" + textTable(["workload", "reference", "ref img/s", "ref GFLOP/s", "peftlab img/s", "peftlab/ref"], rr);
    for (const ref of rep.references) {
      text += `reference \`${ref.command}\`: ${ref.wallS.toFixed(1)} s, load ${ref.loadBefore[0]} → ${ref.loadAfter[0]}\n`;
    }
  }
  return text;
}
