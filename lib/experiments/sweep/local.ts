/**
 * The local executor (and the in-process one): N runs at a time on this machine, each claimed before it starts, so
 * another executor on the same folder skips it. Progress bar with the whole sweep's ETA.
 */
import { tryClaim, type ClaimTiming } from "./claim";
import { executeRun, type ExecuteResult } from "./execute";
import { SweepProgress } from "./progress";
import type { SweepManifest, SweepStore } from "./store";

/** Options of runLocal. */
export interface LocalOptions {
  mode: "process" | "in-process";
  parallel: number;
  quiet?: boolean;
  timing?: ClaimTiming;
  env?: NodeJS.ProcessEnv;
  cli?: string;
  /** One line per finished or skipped run. */
  log?: (line: string) => void;
  /** Runs already done or failed when this session starts (for the bar). */
  alreadyDone: number;
  total: number;
}

/** What a local session did. */
export interface LocalResult {
  results: ExecuteResult[];
  /** Ids another executor held (or finished) when this one reached them. */
  skipped: string[];
}

/** Runs `ids` (in order) N at a time; returns each execution's result. */
export async function runLocal(
  store: SweepStore,
  m: SweepManifest,
  ids: string[],
  o: LocalOptions,
): Promise<LocalResult> {
  const parallel = o.mode === "in-process" ? 1 : Math.max(1, o.parallel);
  const queue = [...ids];
  const results: ExecuteResult[] = [];
  const skipped: string[] = [];
  const progress = new SweepProgress(`sweep ${m.name}`, parallel, o.quiet ?? false);
  let running = 0;
  let failed = 0;
  let done = 0;
  const show = () => progress.update({ done: o.alreadyDone + done, failed, running, total: o.total });
  const executor = o.mode === "in-process" ? "in-process" : "local";
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const claim = tryClaim(store.dir, id, { executor }, o.timing, (prev, why) =>
        store.event({ event: "lost", id, reason: why, holder: prev }),
      );
      if (claim === null) {
        skipped.push(id);
        o.log?.(`run ${id}: held by another executor, skipped`);
        continue;
      }
      if (store.records().has(id)) {
        claim.release(); // finished by another executor since this one planned
        skipped.push(id);
        continue;
      }
      running++;
      show();
      const r = await executeRun(store, m, id, claim, { mode: o.mode, env: o.env, cli: o.cli });
      running--;
      results.push(r);
      progress.addWallTime(r.wallTimeS);
      if (r.ok) done++;
      else failed++;
      show();
      o.log?.(
        r.ok
          ? `run ${id}: done in ${r.wallTimeS.toFixed(1)} s`
          : `run ${id}: FAILED (${r.failure?.reason}); log ${store.logFile(id)}`,
      );
    }
  };
  show();
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    progress.stop();
  }
  return { results, skipped };
}
