/**
 * tslab's own display API (`import * as tslab from "tslab"; tslab.display.html(…)`, `tslab.newDisplay()`) in the
 * peftlab kernel. tslab's public module writes through `lastWriteDisplayData` in tslab/dist/jupyter, which only
 * tslab's own server sets (hence its "Not ready" here); the kernel points it at its display sink, so tslab's displays
 * and peftlab's go the same way: display_data, and update_display_data for a newDisplay() drawn again.
 */
import type { DisplaySink, MimeBundle } from "../lib";

/** What tslab's public display functions hand to lastWriteDisplayData. */
export interface TslabDisplayData {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}

/** tslab's writer signature, routed to `sink`. */
export function tslabWriter(sink: DisplaySink): (d: TslabDisplayData, update: boolean) => void {
  return (d, update) => {
    const bundle = d.data as MimeBundle;
    const metadata = d.metadata ?? {};
    const id = d.transient?.display_id;
    if (update && id !== undefined) sink.update(id, bundle, metadata);
    else sink.display(bundle, { metadata, displayId: id });
  };
}

/** Points tslab's public display API (the module `import "tslab"` gives cells) at `sink`. */
export function installTslabDisplay(sink: DisplaySink): void {
  const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
  jupyter.lastWriteDisplayData = tslabWriter(sink);
}
