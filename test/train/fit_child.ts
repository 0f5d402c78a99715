/**
 * Child process of the kill -9 test: trains the tiny net with a checkpoint after every update into argv[2] and keeps
 * going until the parent SIGKILLs it (a pause per step leaves the parent time to act at a chosen step).
 * argv[3]: which tiny model ("cnn", the default, or "vit").
 */
import { initBackend } from "../../lib/backend";
import { tinyPbc, trainTiny, type TinyKind } from "./tiny";

(async () => {
  await initBackend({ prefer: "cpu", log: null, env: {} });
  await trainTiny(tinyPbc(), {
    kind: (process.argv[3] ?? "cnn") as TinyKind,
    checkpointDir: process.argv[2],
    checkpointEverySteps: 1,
    callbacks: [{ onBatchEnd: () => new Promise((r) => setTimeout(r, 150)) }],
  });
  process.stdout.write("finished\n");
})();
