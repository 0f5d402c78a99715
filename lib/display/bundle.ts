/**
 * MIME bundles: the one currency of every display. Values reach a notebook as `{mime: data}` objects, JSON MIME types
 * carry objects (not strings), binary data is base64, and every bundle has a `text/plain` fallback.
 */
import { inspect } from "node:util";

/** Deno's convention, also honoured by the peftlab kernel: `value[JUPYTER_DISPLAY]()` returns a MIME bundle. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as typeof JUPYTER_DISPLAY;

/** MIME type → data. JSON types (`application/json`, `…+json`) hold objects; binary types hold base64 strings. */
export type MimeBundle = Record<string, unknown>;

/** Anything that knows how to show itself in a notebook. */
export interface Displayable {
  [JUPYTER_DISPLAY](): MimeBundle | Promise<MimeBundle>;
}

/** True when `v` implements the Jupyter.display protocol. */
export function isDisplayable(v: unknown): v is Displayable {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function"
  );
}

/** True for MIME types whose data is JSON (kept as an object in messages and notebooks). */
export function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

/** util.inspect with notebook-friendly settings. */
export function textRepr(value: unknown): string {
  return typeof value === "string" ? value : inspect(value, { depth: 4, maxArrayLength: 50, breakLength: 100 });
}

/** Normalises a bundle: base64 for binary, objects for JSON types (parsing strings), a text/plain fallback. */
export function normalizeBundle(bundle: MimeBundle, value?: unknown): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, data] of Object.entries(bundle)) {
    if (data === undefined) continue;
    if (data instanceof Uint8Array)
      out[mime] = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
    else if (isJsonMime(mime) && typeof data === "string") out[mime] = parseOr(data);
    else out[mime] = data;
  }
  if (typeof out["text/plain"] !== "string") {
    out["text/plain"] = value === undefined ? `<${Object.keys(out).join(", ") || "empty"} output>` : textRepr(value);
  }
  return out;
}

function parseOr(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** Duck-typed Arquero ColumnTable (no import: arquero stays optional to anything that only shows values). */
export function isArqueroTable(
  v: unknown,
): v is { numRows(): number; columnNames(): string[]; toHTML(o?: object): string } {
  const t = v as Record<string, unknown> | null;
  return (
    t !== null &&
    typeof t === "object" &&
    typeof t.toHTML === "function" &&
    typeof t.numRows === "function" &&
    typeof t.columnNames === "function"
  );
}

/** Duck-typed tf.Tensor (shape, dtype, dataSync), so the check needs no tfjs import. */
export function isTensorLike(v: unknown): v is { shape: number[]; dtype: string; dataSync(): ArrayLike<number> } {
  const t = v as Record<string, unknown> | null;
  return (
    t !== null &&
    typeof t === "object" &&
    Array.isArray(t.shape) &&
    typeof t.dtype === "string" &&
    typeof t.dataSync === "function"
  );
}
