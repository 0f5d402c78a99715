/**
 * Maps errors thrown by compiled cells back to the TypeScript the user wrote.
 *
 * tslab compiles a cell TS → ESM JS → CommonJS and runs it with vm.runInThisContext, without a source map (its compiler
 * options are fixed and the TypeScript module's exports cannot be patched). So the kernel names each compiled cell
 * with a `//# sourceURL=` comment (frames then say which cell they are in, even for functions defined cells ago) and
 * maps a JS position to the TS source by aligning the two token streams: the JS is the TS minus types plus a few
 * inserted tokens (`exports.`, helpers), so a longest-common-subsequence alignment pins almost every JS token to the
 * TS token it came from.
 */
import * as ts from "@tslab/typescript-for-tslab";

/** One lexical token with its 0-based position. */
export interface Token {
  text: string;
  line: number;
  col: number;
}

/** A compiled cell the kernel has run, kept so later tracebacks can name and map its frames. */
export interface CompiledCell {
  /** The `//# sourceURL` the cell was compiled under, e.g. `peftlab-cell-4.js`. */
  url: string;
  /** How the traceback names the cell, e.g. `In [3]`. */
  label: string;
  /** The TypeScript the user wrote. */
  source: string;
  /** The JavaScript that ran (without the executor's wrapper prefix). */
  js: string;
  /** Characters the executor put before the JS on its first line (`(function(exports, require) { `). */
  firstLineOffset: number;
  /** Lazily computed JS-token → TS-token alignment. */
  alignment?: { ts: Token[]; js: Token[]; match: Int32Array };
}

/** A parsed V8 stack frame. */
export interface StackFrame {
  fn?: string;
  file: string;
  line: number;
  col: number;
  raw: string;
}

/** The structured error Jupyter expects in `error` messages and error replies. */
export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Splits code into non-trivia tokens with the TypeScript scanner (works for JS and TS alike). */
export function tokenize(code: string): Token[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, code);
  const starts = lineStarts(code);
  const out: Token[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    const pos = scanner.getTokenPos();
    const line = lineOf(starts, pos);
    out.push({ text: scanner.getTokenText(), line, col: pos - starts[line] });
  }
  return out;
}

function lineStarts(code: string): number[] {
  const starts = [0];
  for (let i = 0; i < code.length; i++) if (code.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], pos: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** LCS alignment: for each token of `b`, the index of the token of `a` it matches, or -1. */
export function alignTokens(a: readonly Token[], b: readonly Token[], maxCells = 6_000_000): Int32Array {
  const match = new Int32Array(b.length).fill(-1);
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return match;
  if ((n + 1) * (m + 1) > maxCells) return greedyAlign(a, b, match);
  // dp[i][j] = LCS of a[i:] and b[j:]; Uint32 since long cells can exceed 65535 matches only past maxCells anyway.
  const w = m + 1;
  const dp = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i * w + j] =
        a[i].text === b[j].text ? dp[(i + 1) * w + j + 1] + 1 : Math.max(dp[(i + 1) * w + j], dp[i * w + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i].text === b[j].text) {
      match[j] = i;
      i++;
      j++;
    } else if (dp[(i + 1) * w + j] >= dp[i * w + j + 1]) i++;
    else j++;
  }
  return match;
}

/** Fallback for huge cells: match each JS token to the next equal TS token within a window. */
function greedyAlign(a: readonly Token[], b: readonly Token[], match: Int32Array): Int32Array {
  let i = 0;
  for (let j = 0; j < b.length && i < a.length; j++) {
    for (let k = i; k < Math.min(a.length, i + 64); k++) {
      if (a[k].text === b[j].text) {
        match[j] = k;
        i = k + 1;
        break;
      }
    }
  }
  return match;
}

/** Maps a 1-based position in the executed script of `cell` to a 1-based TS line and column. */
export function mapToSource(cell: CompiledCell, line: number, col: number): { line: number; col: number } | undefined {
  if (!cell.alignment) {
    const tsTokens = tokenize(cell.source);
    const jsTokens = tokenize(cell.js);
    cell.alignment = { ts: tsTokens, js: jsTokens, match: alignTokens(tsTokens, jsTokens) };
  }
  const { ts: tsTokens, js: jsTokens, match } = cell.alignment;
  const l0 = line - 1;
  const c0 = col - 1 - (l0 === 0 ? cell.firstLineOffset : 0);
  // The last JS token starting at or before the position, then back to the nearest one with a TS counterpart.
  let k = -1;
  for (let t = 0; t < jsTokens.length; t++) {
    const tok = jsTokens[t];
    if (tok.line < l0 || (tok.line === l0 && tok.col <= c0)) k = t;
    else break;
  }
  for (let t = k; t >= 0; t--) {
    if (match[t] >= 0) return { line: tsTokens[match[t]].line + 1, col: tsTokens[match[t]].col + 1 };
  }
  for (let t = Math.max(k, 0); t < jsTokens.length; t++) {
    if (match[t] >= 0) return { line: tsTokens[match[t]].line + 1, col: tsTokens[match[t]].col + 1 };
  }
  return undefined;
}

const FRAME_RE = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?\s*$/;

/** Parses the `    at …` lines of a V8 stack; other lines are ignored. */
export function parseStack(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const raw of stack.split("\n")) {
    const m = FRAME_RE.exec(raw);
    if (!m) continue;
    frames.push({ fn: m[1], file: m[2], line: Number(m[3]), col: Number(m[4]), raw: raw.trim() });
  }
  return frames;
}

/** True for frames of Node internals, tslab and the kernel itself: noise in a user's traceback. */
export function isInternalFrame(f: StackFrame): boolean {
  return (
    f.file.startsWith("node:") ||
    f.file === "<anonymous>" ||
    /[\\/]tslab[\\/]dist[\\/]/.test(f.file) ||
    /[\\/]kernel-ext[\\/]/.test(f.file) ||
    /^(evalmachine|vm\.js)/.test(f.file)
  );
}

/** The name and message of anything thrown (Errors, strings, objects). */
export function describeThrown(err: unknown): { ename: string; evalue: string; stack?: string } {
  if (err !== null && typeof err === "object" && "message" in err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    const ename = typeof e.name === "string" && e.name !== "" ? e.name : "Error";
    return { ename, evalue: String(e.message), stack: typeof e.stack === "string" ? e.stack : undefined };
  }
  return { ename: "Thrown", evalue: typeof err === "string" ? err : String(err) };
}

/** Builds Jupyter's error content for a runtime error, with frames in known cells mapped to TS lines. */
export function formatRuntimeError(err: unknown, cells: ReadonlyMap<string, CompiledCell>): ErrorContent {
  const { ename, evalue, stack } = describeThrown(err);
  const traceback = [`${ename}: ${evalue}`];
  let excerpt: string[] = [];
  for (const f of stack ? parseStack(stack) : []) {
    const cell = cells.get(f.file);
    // The executor's closing `})(__tslab__.exports, …)` line sits after the cell's JS and its sourceURL line.
    if (cell && f.line > cell.js.split("\n").length + 1) continue;
    if (cell) {
      const pos = mapToSource(cell, f.line, f.col);
      const where = pos ? `${cell.label}, line ${pos.line}:${pos.col}` : cell.label;
      traceback.push(`    at ${f.fn ? `${f.fn} (${where})` : where}`);
      if (excerpt.length === 0 && pos) excerpt = sourceExcerpt(cell.label, cell.source, pos.line, pos.col);
    } else if (!isInternalFrame(f)) {
      traceback.push(`    ${f.raw}`);
    }
  }
  return { ename, evalue, traceback: excerpt.length > 0 ? [...traceback, "", ...excerpt] : traceback };
}

/** A TypeScript diagnostic as the executor reports it (0-based line/character in the cell). */
export interface CellDiagnostic {
  fileName?: string;
  line: number;
  character: number;
  message: string;
}

/** Builds Jupyter's error content for compile errors; evalue names the first, the traceback lists all. */
export function formatCompileErrors(label: string, source: string, diags: readonly CellDiagnostic[]): ErrorContent {
  const first = diags[0];
  const evalue =
    (first ? `${first.fileName ?? label} ${first.line + 1}:${first.character + 1} - ${first.message}` : "") +
    (diags.length > 1 ? ` (and ${diags.length - 1} more)` : "");
  const traceback = [`CompileError: ${diags.length} TypeScript error${diags.length === 1 ? "" : "s"}`];
  for (const d of diags) {
    traceback.push(`  ${d.fileName ?? label} ${d.line + 1}:${d.character + 1} - ${d.message}`);
    if (d.fileName === undefined) traceback.push(...sourceExcerpt(label, source, d.line + 1, d.character + 1, 0));
  }
  return { ename: "CompileError", evalue, traceback };
}

/** A few numbered source lines around `line` (1-based) with an arrow and a caret under `col`. */
export function sourceExcerpt(label: string, source: string, line: number, col: number, context = 2): string[] {
  const lines = source.split("\n");
  if (line < 1 || line > lines.length) return [];
  const from = Math.max(1, line - context);
  const to = Math.min(lines.length, line + context);
  const width = String(to).length;
  const out = context > 0 ? [`${label}:`] : [];
  for (let l = from; l <= to; l++) {
    const mark = l === line ? "-->" : "   ";
    out.push(`${mark} ${String(l).padStart(width)} | ${lines[l - 1]}`);
    if (l === line) out.push(`    ${" ".repeat(width)} | ${" ".repeat(Math.max(0, col - 1))}^`);
  }
  return out;
}
