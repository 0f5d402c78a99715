/**
 * The kernel's display sink: turns DisplaySink calls into Jupyter iopub messages (display_data with JSON values as
 * objects, update_display_data by display_id, clear_output). It sends through `send`, which the session points at the
 * request being executed; plotly.js is inlined into the first Plotly output of the session only.
 */
import { normalizeBundle, withOfflinePlotly, type DisplaySink, type MimeBundle, type PlotlySessionState } from "../lib";

/** Sends one iopub message of the current request. */
export type IopubSend = (msgType: string, content: Record<string, unknown>) => void;

/** Content of a display_data / update_display_data message. */
export function displayContent(
  bundle: MimeBundle,
  metadata: Record<string, unknown>,
  displayId: string | undefined,
  state: PlotlySessionState,
): Record<string, unknown> {
  return {
    data: withOfflinePlotly(normalizeBundle(bundle), state),
    metadata,
    transient: displayId === undefined ? {} : { display_id: displayId },
  };
}

/** A DisplaySink that publishes on iopub through `send`. */
export function jupyterSink(send: IopubSend, state: PlotlySessionState): DisplaySink {
  return {
    kind: "jupyter",
    display(bundle, o = {}) {
      send("display_data", displayContent(bundle, o.metadata ?? {}, o.displayId, state));
    },
    update(displayId, bundle, metadata = {}) {
      send("update_display_data", displayContent(bundle, metadata, displayId, state));
    },
    clear(wait = false) {
      send("clear_output", { wait });
    },
  };
}
