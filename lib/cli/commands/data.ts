/** `peftlab data list` and `peftlab data prepare <name>`: download, verify and convert datasets (data-scripts). */
import * as path from "node:path";
import type { Command } from "commander";
import { ConfigError } from "../../errors";
import { findPreparer, makeContext, prepareQuickstart, PREPARERS } from "../../data/prepare";
import { formatTable, writeJson, writeOut } from "../output";

interface PrepareFlags {
  dest?: string;
  downloads?: string;
  baseUrl?: string;
  name?: string;
  size?: string;
  images?: string;
  level?: string;
  seed?: string;
  url?: string;
  splitsUrl?: string;
  patchSize?: string;
  json?: boolean;
}

/** Adds `data` with its `list` and `prepare` subcommands to the program. */
export function register(program: Command): void {
  const data = program
    .command("data")
    .description("prepare datasets: download over HTTPS with resume, verify checksums, write peftlab manifests");
  data
    .command("list")
    .description("list the datasets `data prepare` knows")
    .action(function (this: Command) {
      writeOut(
        this,
        formatTable(
          ["name", "what"],
          PREPARERS.map((p) => [p.name, p.description]),
        ),
      );
    });
  data
    .command("prepare <name>")
    .description("download and convert one dataset into DEST (dataset.json + manifest.csv or .npz)")
    .option("--dest <dir>", "output folder (default ./datasets/<name>)")
    .option("--downloads <dir>", "where archives are kept (default <dest>/downloads)")
    .option("--name <dataset>", "MedMNIST dataset name (bloodmnist, chestmnist, ...)")
    .option("--size <px>", "MedMNIST size: 28, 64, 128 or 224", "28")
    .option("--images <dir>", "folder of manually downloaded images (NIH, RSNA, MIDOG++, CCMCT)")
    .option("--level <level>", "HiCervix label level: level_1, level_2 or level_3", "level_3")
    .option("--seed <n>", "seed of peftlab-made splits", "0")
    .option("--url <url>", "alternative HTTPS URL for the archive (BreakHis mirror)")
    .option("--splits-url <url>", "alternative base URL of MED-PEFT's DatasetsSplits/<dataset>")
    .option("--patch-size <px>", "patch side around each cell (MIDOG++, CCMCT)", "224")
    .option("--base-url <url>", "serve every file from this base URL instead of the official one (mirrors, tests)")
    .option("--json", "print the result as JSON")
    .action(async function (this: Command, name: string, o: PrepareFlags) {
      const p = findPreparer(name);
      if (!p) {
        throw new ConfigError(`Unknown dataset "${name}"`, {
          where: "data prepare <name>",
          expected: PREPARERS.map((x) => x.name).join(", "),
          got: name,
          fix: "run `peftlab data list`",
        });
      }
      const dest = path.resolve(
        o.dest ?? path.join("datasets", name === "medmnist" && o.name ? `${o.name}_${o.size}` : name),
      );
      const ctx = makeContext(dest, {
        downloads: o.downloads,
        baseUrl: o.baseUrl,
        options: {
          name: o.name,
          size: o.size,
          images: o.images,
          level: o.level,
          seed: o.seed,
          url: o.url,
          "splits-url": o.splitsUrl,
          "patch-size": o.patchSize,
        },
      });
      const r = await p.prepare(ctx);
      if (o.json) return writeJson(this, r);
      writeOut(
        this,
        `${p.name}: wrote ${r.descriptor}\n` +
          formatTable(
            ["split", "items"],
            Object.entries(r.counts).map(([k, v]) => [k, String(v)]),
            new Set([1]),
          ) +
          r.notes.map((n) => `note: ${n}\n`).join(""),
      );
    });
  data
    .command("quickstart")
    .description("fetch the quickstart's real data and weights (PBC JPEGs, MobileNetV2-0.35) in shared/'s layout")
    .option("--dest <dir>", "output folder, usable as PEFTLAB_SHARED", path.join(".peftlab-cache", "quickstart"))
    .option("--per-class <n>", "PBC images kept per class", "300")
    .action(async function (this: Command, o: { dest: string; perClass: string }) {
      const root = await prepareQuickstart({ dest: path.resolve(o.dest), perClass: Number(o.perClass) });
      writeOut(this, `quickstart data and weights ready in ${root} (use it as PEFTLAB_SHARED)\n`);
    });
}
