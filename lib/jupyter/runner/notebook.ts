/**
 * nbformat 4.5 notebooks: reading, papermill-style parameter injection, and turning kernel messages into stored
 * outputs (streams merged, display_id updates applied in place, clear_output honoured), as nbclient does.
 */
import { randomBytes } from "node:crypto";
import type { MimeBundle } from "../../display";
import { ConfigError } from "../../errors";

export interface NotebookCell {
  id?: string;
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: NotebookOutput[];
  execution_count?: number | null;
}

export type NotebookOutput =
  | { output_type: "stream"; name: string; text: string }
  | { output_type: "display_data"; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; data: MimeBundle; metadata: Record<string, unknown>; execution_count: number }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

/** A cell's source as one string. */
export function cellSource(c: NotebookCell): string {
  return Array.isArray(c.source) ? c.source.join("") : c.source;
}

/** Upgrades to nbformat 4.5: every cell gets an id, code cells get outputs and an execution count. */
export function normalizeNotebook(nb: Notebook): Notebook {
  const seen = new Set<string>();
  const cells = nb.cells.map((c) => {
    let id =
      typeof c.id === "string" && /^[a-zA-Z0-9-_]{1,64}$/.test(c.id) && !seen.has(c.id)
        ? c.id
        : randomBytes(4).toString("hex");
    while (seen.has(id)) id = randomBytes(4).toString("hex");
    seen.add(id);
    const base = { ...c, id, source: cellSource(c), metadata: c.metadata ?? {} };
    return c.cell_type === "code"
      ? { ...base, outputs: c.outputs ?? [], execution_count: c.execution_count ?? null }
      : base;
  });
  return { ...nb, nbformat: 4, nbformat_minor: Math.max(5, nb.nbformat === 4 ? nb.nbformat_minor : 5), cells };
}

/** Parses `KEY=VALUE` as papermill does: JSON when it parses, otherwise the string. */
export function parseParameter(kv: string): [string, unknown] {
  const i = kv.indexOf("=");
  if (i <= 0) {
    throw new ConfigError("Bad notebook parameter", {
      where: "-p",
      expected: "KEY=VALUE",
      got: JSON.stringify(kv),
      fix: "write e.g. -p epochs=3 -p name=vit",
    });
  }
  const key = kv.slice(0, i).trim();
  const raw = kv.slice(i + 1);
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

const hasTag = (c: NotebookCell, tag: string): boolean =>
  Array.isArray(c.metadata?.tags) && c.metadata.tags.includes(tag);

/** The TypeScript of an injected-parameters cell, re-declaring each name with the keyword the parameters cell used. */
export function parametersSource(params: Record<string, unknown>, parametersCell?: string): string {
  const lines = ["// Parameters injected by peftlab run-notebook"];
  for (const [k, v] of Object.entries(params)) {
    if (!/^[A-Za-z_$][\w$]*$/.test(k)) {
      throw new ConfigError("Notebook parameter name is not an identifier", {
        where: "-p",
        expected: "a TypeScript identifier",
        got: JSON.stringify(k),
        fix: "use letters, digits, _ or $",
      });
    }
    const kw = parametersCell
      ? (new RegExp(`\\b(const|let|var)\\s+${k.replace(/\$/g, "\\$")}\\b`).exec(parametersCell)?.[1] ?? "const")
      : "const";
    lines.push(`${kw} ${k} = ${JSON.stringify(v)};`);
  }
  return `${lines.join("\n")}\n`;
}

/** Inserts an `injected-parameters` cell after the `parameters` cell (or first), replacing an earlier injection. */
export function injectParameters(
  nb: Notebook,
  params: Record<string, unknown>,
): { notebook: Notebook; warnings: string[] } {
  const warnings: string[] = [];
  if (Object.keys(params).length === 0) return { notebook: nb, warnings };
  const cells = nb.cells.filter((c) => !hasTag(c, "injected-parameters"));
  const at = cells.findIndex((c) => hasTag(c, "parameters"));
  const paramSrc = at >= 0 ? cellSource(cells[at]) : undefined;
  if (at < 0) warnings.push("no cell tagged `parameters`: parameters injected as the first cell");
  for (const k of Object.keys(params)) {
    if (paramSrc !== undefined && !new RegExp(`\\b${k.replace(/\$/g, "\\$")}\\b`).test(paramSrc)) {
      warnings.push(`parameter ${k} is not declared in the parameters cell`);
    }
  }
  const injected: NotebookCell = {
    id: randomBytes(4).toString("hex"),
    cell_type: "code",
    source: parametersSource(params, paramSrc),
    metadata: { tags: ["injected-parameters"] },
    outputs: [],
    execution_count: null,
  };
  cells.splice(at + 1, 0, injected);
  return { notebook: { ...nb, cells }, warnings };
}

/** Accumulates a notebook's outputs from kernel messages, across cells (display ids can update earlier cells). */
export class OutputCollector {
  private readonly byDisplayId = new Map<string, { data: MimeBundle; metadata: Record<string, unknown> }[]>();
  private clearPending = false;

  /** Applies one iopub message to `outputs` (the current cell's list). */
  apply(outputs: NotebookOutput[], msgType: string, c: Record<string, unknown>): void {
    if (msgType === "clear_output") {
      if (c.wait === true) this.clearPending = true;
      else outputs.length = 0;
      return;
    }
    if (msgType === "update_display_data") {
      const id = (c.transient as { display_id?: string } | undefined)?.display_id;
      for (const o of id ? (this.byDisplayId.get(id) ?? []) : []) {
        o.data = c.data as MimeBundle;
        o.metadata = (c.metadata as Record<string, unknown>) ?? {};
      }
      return;
    }
    const out = toOutput(msgType, c);
    if (!out) return;
    if (this.clearPending) {
      outputs.length = 0;
      this.clearPending = false;
    }
    const last = outputs[outputs.length - 1];
    if (out.output_type === "stream" && last?.output_type === "stream" && last.name === out.name) {
      last.text += out.text;
      return;
    }
    outputs.push(out);
    const id = (c.transient as { display_id?: string } | undefined)?.display_id;
    if (id && out.output_type === "display_data") {
      const list = this.byDisplayId.get(id) ?? [];
      list.push(out);
      this.byDisplayId.set(id, list);
    }
  }
}

function toOutput(msgType: string, c: Record<string, unknown>): NotebookOutput | undefined {
  switch (msgType) {
    case "stream":
      return { output_type: "stream", name: String(c.name), text: String(c.text) };
    case "display_data":
      return {
        output_type: "display_data",
        data: c.data as MimeBundle,
        metadata: (c.metadata as Record<string, unknown>) ?? {},
      };
    case "execute_result":
      return {
        output_type: "execute_result",
        data: c.data as MimeBundle,
        metadata: (c.metadata as Record<string, unknown>) ?? {},
        execution_count: Number(c.execution_count),
      };
    case "error":
      return {
        output_type: "error",
        ename: String(c.ename),
        evalue: String(c.evalue),
        traceback: (c.traceback as string[]) ?? [],
      };
    default:
      return undefined;
  }
}
