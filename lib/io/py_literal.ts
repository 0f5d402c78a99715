/**
 * A parser for the small subset of Python literals that a .npy header may hold (what numpy's `ast.literal_eval`
 * accepts there): dicts, tuples, lists, strings, integers, True/False/None. Anything else is a syntax error, as in
 * numpy, so a header corrupted by a bit flip is refused instead of being half-read by a regular expression.
 */

/** A parsed Python literal. Tuples are marked so that `(3,)` and `[3]` stay distinct. */
export type PyLit =
  string | number | boolean | null | { tuple: PyLit[] } | PyLit[] | { dict: Map<string | number, PyLit> };

/** Thrown for text that is not a Python literal; `offset` is where parsing stopped. */
export class PyLiteralSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 32;

/** Parses `text` (surrounding whitespace allowed) as one Python literal. */
export function parsePyLiteral(text: string): PyLit {
  let i = 0;
  const fail = (msg: string): never => {
    throw new PyLiteralSyntaxError(`${msg} at offset ${i}`, i);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const value = (depth: number): PyLit => {
    if (depth > MAX_DEPTH) fail("literal nested too deeply");
    ws();
    const c = text[i];
    if (c === "{") return dict(depth);
    if (c === "(") return seq(depth, ")", true);
    if (c === "[") return seq(depth, "]", false);
    if (c === "'" || c === '"') return str();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return int();
    for (const [word, v] of [
      ["True", true],
      ["False", false],
      ["None", null],
    ] as const) {
      if (text.startsWith(word, i) && !/[A-Za-z0-9_]/.test(text[i + word.length] ?? "")) {
        i += word.length;
        return v;
      }
    }
    return fail(c === undefined ? "unexpected end of literal" : `unexpected ${JSON.stringify(c)}`);
  };
  const int = (): number => {
    const m = /^-?(0|[1-9][0-9]*)L?/.exec(text.slice(i, i + 40));
    if (!m) return fail("malformed number");
    i += m[0].length;
    if (/[A-Za-z0-9_.]/.test(text[i] ?? "")) fail("malformed number");
    return Number(m[0].replace(/L$/, ""));
  };
  const str = (): string => {
    const q = text[i++];
    let out = "";
    while (i < text.length && text[i] !== q) {
      if (text[i] === "\n") fail("newline inside a string");
      if (text[i] === "\\") {
        const e = text[i + 1];
        const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };
        if (e === undefined || !(e in simple)) fail("unsupported string escape");
        out += simple[e];
        i += 2;
      } else out += text[i++];
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    return out;
  };
  const seq = (depth: number, close: string, tuple: boolean): PyLit => {
    i++;
    const items: PyLit[] = [];
    let sawComma = false;
    for (;;) {
      ws();
      if (text[i] === close) break;
      items.push(value(depth + 1));
      ws();
      if (text[i] === ",") {
        i++;
        sawComma = true;
        continue;
      }
      if (text[i] !== close) fail(`expected "," or "${close}"`);
      sawComma = false;
      break;
    }
    i++;
    // (x) is a parenthesised value, not a tuple; (x,) and () are tuples.
    if (tuple) return items.length === 1 && !sawComma ? items[0] : { tuple: items };
    return items;
  };
  const dict = (depth: number): PyLit => {
    i++;
    const m = new Map<string | number, PyLit>();
    for (;;) {
      ws();
      if (text[i] === "}") break;
      const k = value(depth + 1);
      if (typeof k !== "string" && typeof k !== "number") fail("dict key is not a string or number");
      ws();
      if (text[i] !== ":") fail('expected ":"');
      i++;
      m.set(k as string | number, value(depth + 1));
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] !== "}") fail('expected "," or "}"');
      break;
    }
    i++;
    return { dict: m };
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("trailing characters after the literal");
  return v;
}

/** Whether a parsed literal is a tuple / dict. */
export const isTuple = (v: PyLit): v is { tuple: PyLit[] } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && "tuple" in v;
export const isDict = (v: PyLit): v is { dict: Map<string | number, PyLit> } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && "dict" in v;
