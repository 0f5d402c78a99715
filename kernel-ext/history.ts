/**
 * The session's input history, answering history_request (tail, range, search) as IPython does: entries are
 * [session, line, input] or, with output=true, [session, line, [input, output]].
 */

export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  /** The text/plain of the execute_result, if any. */
  output: string | null;
}

export interface HistoryRequest {
  hist_access_type?: string;
  output?: boolean;
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}

type Row = [number, number, string | [string, string | null]];

/** Converts a glob (`*`, `?`, as IPython's sqlite GLOB) into an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

/** In-memory history of one kernel session (session number 1, like a fresh IPython history). */
export class History {
  readonly session = 1;
  private readonly entries: HistoryEntry[] = [];

  /** Records an executed cell under its execution count. */
  add(line: number, input: string, output: string | null = null): void {
    this.entries.push({ session: this.session, line, input, output });
  }

  /** Sets the output text of an already recorded line. */
  setOutput(line: number, output: string): void {
    const e = this.entries.find((x) => x.line === line);
    if (e) e.output = output;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Answers a history_request's content with the `history` list. */
  query(req: HistoryRequest): Row[] {
    const withOutput = req.output === true;
    let rows: HistoryEntry[];
    switch (req.hist_access_type) {
      case "range": {
        // IPython: session 0 or negative means the current session; stop is exclusive.
        const session = req.session === undefined || req.session <= 0 ? this.session : req.session;
        const start = req.start ?? 1;
        const stop = req.stop ?? Number.POSITIVE_INFINITY;
        rows = this.entries.filter((e) => e.session === session && e.line >= start && e.line < stop);
        break;
      }
      case "search": {
        const re = globToRegExp(req.pattern ?? "*");
        rows = this.entries.filter((e) => re.test(e.input));
        if (req.unique) {
          const seen = new Set<string>();
          rows = rows
            .slice()
            .reverse()
            .filter((e) => (seen.has(e.input) ? false : (seen.add(e.input), true)))
            .reverse();
        }
        if (req.n !== undefined && req.n > 0) rows = rows.slice(-req.n);
        break;
      }
      default: {
        const n = req.n ?? 10;
        rows = n > 0 ? this.entries.slice(-n) : [];
      }
    }
    return rows.map((e) => [e.session, e.line, withOutput ? [e.input, e.output] : e.input]);
  }
}
