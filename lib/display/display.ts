/**
 * The Display facade notebooks use (`display.show(x)`, `display.live()`), bound to an injected DisplaySink. The
 * kernel's prelude builds one on the kernel's sink; scripts get one on the terminal sink.
 */
import { randomBytes } from "node:crypto";
import { ConfigError } from "../errors";
import {
  isArqueroTable,
  isDisplayable,
  isTensorLike,
  JUPYTER_DISPLAY,
  normalizeBundle,
  textRepr,
  type MimeBundle,
} from "./bundle";
import { isDisplaySink, terminalSink, type DisplayOptions, type DisplaySink } from "./sink";
import { tableBundle } from "./table";
import { tensorBundle } from "./tensor";

/** The rich bundle of any value: Jupyter.display protocol, Arquero tables, tensors, else text/plain. */
export async function toBundle(value: unknown): Promise<MimeBundle> {
  if (isDisplayable(value)) return normalizeBundle(await value[JUPYTER_DISPLAY](), value);
  if (isArqueroTable(value)) return tableBundle(value);
  if (isTensorLike(value)) return tensorBundle(value);
  return { "text/plain": textRepr(value) };
}

/** An output that can be replaced in place (progress, dashboards). */
export class LiveDisplay {
  private shown = false;
  constructor(
    private readonly sink: DisplaySink,
    readonly displayId: string,
  ) {}

  /** Shows the bundle the first time, then updates the same output in place. */
  render(bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
    if (!this.shown) {
      this.shown = true;
      this.sink.display(bundle, { displayId: this.displayId, metadata });
    } else {
      this.sink.update(this.displayId, bundle, metadata);
    }
  }

  /** Like render, for any value (converted with toBundle). */
  async update(value: unknown): Promise<void> {
    this.render(await toBundle(value));
  }
}

/** Display helpers bound to one sink. */
export class Display {
  constructor(readonly sink: DisplaySink) {}

  /** Shows any value as a new output. */
  async show(value: unknown, options: DisplayOptions = {}): Promise<void> {
    this.sink.display(await toBundle(value), options);
  }

  /** Shows a ready-made MIME bundle (JSON types as objects). */
  bundle(bundle: MimeBundle, options: DisplayOptions = {}): void {
    this.sink.display(normalizeBundle(bundle), options);
  }

  html(html: string): void {
    this.bundle({ "text/html": html, "text/plain": "<HTML output>" });
  }

  markdown(md: string): void {
    this.bundle({ "text/markdown": md, "text/plain": md });
  }

  /** Shows PNG bytes. */
  png(bytes: Uint8Array, metadata: Record<string, unknown> = {}): void {
    this.bundle(
      { "image/png": bytes, "text/plain": `<PNG ${bytes.length} bytes>` },
      { metadata: { "image/png": metadata } },
    );
  }

  /** A quiet informational line: small grey text in a notebook, plain text elsewhere (e.g. the backend choice). */
  note(text: string): void {
    const esc = text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
    this.bundle(
      { "text/html": `<div class="peftlab-note" style="color:#888;font-size:85%">${esc}</div>`, "text/plain": text },
      { metadata: { peftlab: { note: true } } },
    );
  }

  json(value: unknown): void {
    this.bundle({ "application/json": value as object, "text/plain": textRepr(value) });
  }

  /** A new output that later calls update in place. */
  live(displayId = randomBytes(8).toString("hex")): LiveDisplay {
    return new LiveDisplay(this.sink, displayId);
  }

  /** Clears the cell's outputs (with `wait`, when the next output arrives). */
  clear(wait = false): void {
    this.sink.clear(wait);
  }
}

/** A Display on `sink` (the kernel's, injected by the prelude), or on the terminal when none is given. */
export function createDisplay(sink?: unknown): Display {
  if (sink === undefined || sink === null) return new Display(terminalSink());
  if (!isDisplaySink(sink)) {
    throw new ConfigError("createDisplay() got something that is not a display sink", {
      where: "createDisplay(sink)",
      expected: "an object with display(), update() and clear()",
      got: typeof sink,
      fix: "pass the kernel's sink, terminalSink() or memorySink(), or nothing for the terminal",
    });
  }
  return new Display(sink);
}
