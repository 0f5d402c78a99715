/** worker_threads entry of WorkerProcessor: runs the same InlineProcessor and returns the float image. */
import { parentPort, workerData } from "node:worker_threads";
import { PeftlabError } from "../errors";
import { InlineProcessor } from "./processor";
import type { ImageItem } from "./types";

const wd = workerData as { transform: ConstructorParameters<typeof InlineProcessor>[0]; cacheBytes: number };
const proc = new InlineProcessor(wd.transform, wd.cacheBytes);
const size = wd.transform.size;

parentPort?.on("message", (m: { id: number; item: ImageItem; seed?: number }) => {
  const out = new Float32Array(size * size * 3);
  proc.process(m.item, 0, m.seed, out, 0).then(
    () => parentPort!.postMessage({ id: m.id, data: out, stats: proc.cacheStats() }, [out.buffer]),
    (e: unknown) => {
      const err = e as Error;
      parentPort!.postMessage({
        id: m.id,
        error: { message: err instanceof PeftlabError ? err.message : String(err?.message ?? e) },
      });
    },
  );
});
