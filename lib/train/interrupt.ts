/**
 * Cooperative interrupts for long async work (fit()): a front end's interrupt (the kernel's SIGINT or
 * interrupt_request) bumps a process-wide counter, and fit() checks it between updates, after the last checkpoint
 * was published, so an interrupted run resumes from that checkpoint. The counter lives on a global symbol so that
 * every copy of this module in the process (the kernel's and the notebook's `peftlab`) shares it.
 */
const KEY = Symbol.for("peftlab.interrupts");
const g = globalThis as unknown as Record<symbol, number | undefined>;

/** How many interrupts were requested in this process so far. */
export function interruptCount(): number {
  return g[KEY] ?? 0;
}

/** Requests that running fit() calls stop at their next update boundary. */
export function requestInterrupt(): void {
  g[KEY] = interruptCount() + 1;
}

/** Lets queued I/O and signals (an interrupt among them) run: one macrotask turn. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
