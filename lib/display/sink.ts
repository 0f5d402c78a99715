/**
 * The display sink: where displays go. A kernel injects a Jupyter sink (display_data, update_display_data,
 * clear_output); outside a notebook the terminal sink prints a compact text rendering. Libraries receive a sink (or a
 * Display built on one) as an argument; nothing here is a mutable module global.
 */
import type { MimeBundle } from "./bundle";

export interface DisplayOptions {
  /** Per-MIME metadata (e.g. `{"image/png": {width: 400}}`). */
  metadata?: Record<string, unknown>;
  /** Makes the output updatable in place through `update(displayId, …)`. */
  displayId?: string;
}

/** Where displays are sent. Implemented by the kernel (kernel-ext) and by terminalSink/memorySink below. */
export interface DisplaySink {
  readonly kind: "jupyter" | "terminal" | "memory";
  /** Shows a bundle as a new output. */
  display(bundle: MimeBundle, options?: DisplayOptions): void;
  /** Replaces the output shown earlier under `displayId`. */
  update(displayId: string, bundle: MimeBundle, metadata?: Record<string, unknown>): void;
  /** Clears the cell's outputs; with `wait`, only when the next output arrives (no flicker). */
  clear(wait?: boolean): void;
}

/** True when `v` has the DisplaySink methods (used to validate an injected sink). */
export function isDisplaySink(v: unknown): v is DisplaySink {
  const s = v as Record<string, unknown> | null;
  return (
    s !== null &&
    typeof s === "object" &&
    typeof s.display === "function" &&
    typeof s.update === "function" &&
    typeof s.clear === "function"
  );
}

/** What a memory sink recorded, in Jupyter message terms. */
export type SinkMessage =
  | { type: "display_data"; data: MimeBundle; metadata: Record<string, unknown>; displayId?: string }
  | { type: "update_display_data"; data: MimeBundle; metadata: Record<string, unknown>; displayId: string }
  | { type: "clear_output"; wait: boolean };

/** A sink that records messages (tests, and collecting outputs without a kernel). */
export function memorySink(): DisplaySink & { messages: SinkMessage[] } {
  const messages: SinkMessage[] = [];
  return {
    kind: "memory",
    messages,
    display: (data, o = {}) =>
      messages.push({ type: "display_data", data, metadata: o.metadata ?? {}, displayId: o.displayId }),
    update: (displayId, data, metadata = {}) =>
      messages.push({ type: "update_display_data", data, metadata, displayId }),
    clear: (wait = false) => messages.push({ type: "clear_output", wait }),
  };
}

/** Minimal writable the terminal sink prints to (process.stdout by default). */
export interface TextOut {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** Prints text/plain (or a compact note for rich-only bundles); on a TTY a one-line update redraws in place. */
export function terminalSink(out: TextOut = process.stdout): DisplaySink {
  let lastId: string | undefined;
  let lastWasLine = false;
  const text = (b: MimeBundle): string =>
    typeof b["text/plain"] === "string" ? b["text/plain"] : `[${Object.keys(b).join(", ")}]`;
  return {
    kind: "terminal",
    display(bundle, o = {}) {
      if (lastWasLine) out.write("\n");
      const t = text(bundle);
      lastId = o.displayId;
      lastWasLine = out.isTTY === true && o.displayId !== undefined && !t.includes("\n");
      out.write(lastWasLine ? t : `${t}\n`);
    },
    update(displayId, bundle) {
      const t = text(bundle);
      if (out.isTTY === true && displayId === lastId && lastWasLine && !t.includes("\n")) {
        out.write(`\r\x1b[K${t}`);
        return;
      }
      if (lastWasLine) out.write("\n");
      lastWasLine = false;
      lastId = displayId;
      out.write(`${t}\n`);
    },
    clear() {
      if (lastWasLine) out.write("\n");
      lastWasLine = false;
    },
  };
}
