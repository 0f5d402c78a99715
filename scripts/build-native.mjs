#!/usr/bin/env node
// Builds peftlab's optional native addon (lib/backend/addon) into dist/native/peftlab_native.node with the
// machine's C compiler and Node's own headers. It never fails the build: where there is no x86-64 CPU, compiler or
// node_api.h, it says why and peftlab computes with its wasm kernels instead. PEFTLAB_NATIVE=0 skips it.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "lib/backend/addon");
const outDir = path.join(root, "dist/native");
const out = path.join(outDir, "peftlab_native.node");
const quiet = process.argv.includes("--quiet");
const say = (line) => {
  if (!quiet) console.error(`[native] ${line}`);
};

function skip(why) {
  say(`skipped: ${why}; peftlab uses its wasm kernels`);
  try {
    fs.rmSync(out, { force: true }); // never leave a stale build behind
  } catch {}
  process.exit(0);
}

if (process.env.PEFTLAB_NATIVE === "0") skip("PEFTLAB_NATIVE=0");
if (process.arch !== "x64") skip(`the addon's kernel is x86-64 (AVX2 + FMA) and this is ${process.arch}`);
if (process.platform === "win32") skip("no build recipe for Windows yet");

const headerDirs = [
  process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include/node"),
  path.join(path.dirname(process.execPath), "../include/node"),
  "/usr/include/node",
  "/usr/local/include/node",
].filter(Boolean);
const include = headerDirs.find((d) => fs.existsSync(path.join(d, "node_api.h")));
if (!include) skip(`Node's headers (node_api.h) are not in ${headerDirs.join(", ")}`);

const cc = [process.env.CC, "cc", "gcc", "clang"].filter(Boolean).find((c) => {
  try {
    execFileSync(c, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
if (!cc) skip("no C compiler (set CC, or install gcc or clang)");

const sources = fs
  .readdirSync(src)
  .filter((f) => /\.[ch]$/.test(f)) // C sources and headers (loader.ts, the addon's TypeScript loader, lives beside them)
  .map((f) => path.join(src, f));
const newest = Math.max(
  ...sources.map((f) => fs.statSync(f).mtimeMs),
  fs.statSync(fileURLToPath(import.meta.url)).mtimeMs,
);
if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) {
  say(`up to date: ${path.relative(root, out)}`);
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-native-"));
const common = ["-std=gnu11", "-O3", "-fPIC", "-fvisibility=hidden", "-pthread", "-Wall", "-I", include];
try {
  // The *_avx2.c kernels alone get AVX2 + FMA code; the glue checks the CPU before calling them.
  const units = fs
    .readdirSync(src)
    .filter((f) => f.endsWith(".c"))
    .sort();
  const objs = units
    .map((file) => [file, file.endsWith("_avx2.c") ? ["-mavx2", "-mfma"] : []])
    .map(([file, flags]) => {
      const obj = path.join(tmp, file.replace(/\.c$/, ".o"));
      execFileSync(cc, [...common, ...flags, "-c", path.join(src, file), "-o", obj], { stdio: "inherit" });
      return obj;
    });
  const linkFlags = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : [];
  const built = path.join(tmp, "peftlab_native.node");
  execFileSync(cc, ["-shared", "-pthread", ...linkFlags, ...objs, "-o", built], { stdio: "inherit" });
  fs.mkdirSync(outDir, { recursive: true });
  const staged = `${out}.${process.pid}.tmp`;
  fs.copyFileSync(built, staged);
  fs.renameSync(staged, out); // atomic: a running process keeps the old file
  say(`built ${path.relative(root, out)} with ${cc} (headers: ${include})`);
} catch (e) {
  fs.rmSync(tmp, { recursive: true, force: true });
  skip(`compiling failed (${e.message.split("\n")[0]})`);
}
fs.rmSync(tmp, { recursive: true, force: true });
