#!/usr/bin/env node
// Thin entry point: `node data-scripts/prepare.mjs <name> [options]` = `peftlab data prepare <name> [options]`.
// The work is in lib/data/prepare/*.ts (compiled to dist/ by `npm run build`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/lib/cli/main.js");
if (!existsSync(cli)) {
  console.error(`peftlab is not built (${cli} missing): run \`npm run build\` first`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [cli, "data", "prepare", ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
