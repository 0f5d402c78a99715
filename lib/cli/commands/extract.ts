/**
 * `peftlab extract --model ID --data PATH [--out DIR]`: fills lib/peft's feature cache for a model and an image
 * folder. The entry's key (backbone weights hash + preprocessing) is the one a probe run computes for the same model,
 * weights and transform, so the run then reads these features instead of extracting them.
 */
import * as path from "node:path";
import type { Command } from "commander";
import {
  currentBackend,
  datasetFeatures,
  featureCacheDir,
  imageFolderDataset,
  initBackend,
  runModelSpec,
} from "../../index";
import { writeJson, writeOut } from "../output";

/** Adds `extract` to the program. */
export function register(program: Command): void {
  program
    .command("extract")
    .description("extract frozen-backbone features of an image folder into the feature cache")
    .requiredOption("--model <id>", "model id (a registry id, e.g. mobilenetv2_035_224.tfjs_keras, or fixture:<case>)")
    .requiredOption("--data <path>", "image folder")
    .option("--weights <path>", "weights (default the model's own)")
    .option("--out <dir>", "cache folder (default $PEFTLAB_CACHE/features)")
    .option("--size <n>", "input size (default the model's)", (v) => parseInt(v, 10))
    .option("--batch-size <n>", "batch size", (v) => parseInt(v, 10), 32)
    .option("--json", "print JSON")
    .action(async function (
      this: Command,
      opts: {
        model: string;
        data: string;
        weights?: string;
        out?: string;
        size?: number;
        batchSize: number;
        json?: boolean;
      },
    ) {
      if (!currentBackend()) await initBackend({ log: null });
      const spec = runModelSpec(opts.model);
      const weights = opts.weights ?? spec.defaultWeights();
      const model = spec.build({ weights, numClasses: 0, seed: 0 });
      const ds = imageFolderDataset(opts.data);
      const t0 = Date.now();
      try {
        const f = await datasetFeatures(model, ds, {
          transform: { size: opts.size ?? spec.size, normalize: spec.normalize },
          batchSize: opts.batchSize,
          cacheDir: opts.out ?? featureCacheDir(),
        });
        const file = path.join(f.cacheDir, `${f.key}.safetensors`);
        const report = {
          file,
          key: f.key,
          extracted: f.computed,
          cached: f.n - f.computed,
          n: f.n,
          d: f.d,
          wallTimeS: (Date.now() - t0) / 1000,
        };
        if (opts.json) return writeJson(this, report);
        writeOut(
          this,
          `${f.n} × ${f.d} features (${f.computed} extracted, ${f.n - f.computed} already cached) → ${file}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}
