/**
 * peftlab's layering, as dependency-cruiser rules (checked by `npm run lint` through scripts/lint-deps.mjs).
 * docs/ARCHITECTURE.md ("Dependencies point one way") explains the layers; each rule below names the statement it
 * enforces. Bottom to top:
 *
 *   errors.ts, paths.ts (shared by every layer)
 *   backend → io → nn → models → peft → train → experiments → bench → cli, jupyter (lib/index.ts: the public entry)
 *   leaves beside them: metrics (errors only), data (io's file formats), results (io, metrics)
 *   display: above train (its live dashboard is a training callback), below experiments
 *   kernel-ext/ and notebooks/: the public entry only
 */

/** Everything at or above the experiment layer. */
const TOP = "^lib/(experiments|bench|cli|jupyter)/|^lib/index\\.ts$";

/** A rule: `from` (a path regex) must not import anything matching `to`. */
function rule(name, comment, from, to) {
  return { name, comment, severity: "error", from: { path: from }, to: { path: to } };
}

module.exports = {
  forbidden: [
    rule(
      "io-is-a-leaf",
      "lib/io (file formats) imports only itself, lib/errors.ts and lib/paths.ts",
      "^lib/io/",
      "^lib/(?!io/|errors\\.ts$|paths\\.ts$)",
    ),
    rule(
      "metrics-is-a-leaf",
      "lib/metrics (scikit-learn's metrics) imports only itself and lib/errors.ts",
      "^lib/metrics/",
      "^lib/(?!metrics/|errors\\.ts$)",
    ),
    rule(
      "data-is-a-leaf",
      "lib/data imports only itself, lib/io's file formats, lib/errors.ts and lib/paths.ts",
      "^lib/data/",
      "^lib/(?!data/|io/|errors\\.ts$|paths\\.ts$)",
    ),
    rule(
      "results-is-a-leaf",
      "lib/results (run records, tables, published numbers) imports only itself, lib/io, lib/metrics and lib/errors.ts",
      "^lib/results/",
      "^lib/(?!results/|io/|metrics/|errors\\.ts$|paths\\.ts$)",
    ),
    rule(
      "backend-is-the-bottom",
      "lib/backend (tfjs backends and kernels) imports only itself, lib/errors.ts and lib/paths.ts",
      "^lib/backend/",
      "^lib/(?!backend/|errors\\.ts$|paths\\.ts$)",
    ),
    rule(
      "nn-never-imports-models",
      "lib/nn (module tree, layers) sits below lib/models",
      "^lib/nn/",
      "^lib/models/",
    ),
    rule(
      "nn-and-models-never-import-peft-or-train",
      "lib/nn and lib/models sit below lib/peft and lib/train (and everything above them)",
      "^lib/(nn|models)/",
      `^lib/(peft|train|display|results)/|${TOP}`,
    ),
    rule(
      "peft-never-imports-train",
      "lib/peft sits below lib/train (and everything above it)",
      "^lib/peft/",
      `^lib/(train|display)/|${TOP}`,
    ),
    rule(
      "train-never-imports-experiments",
      "lib/train sits below lib/experiments, lib/display, the bench, the CLI and the public entry",
      "^lib/train/",
      `^lib/display/|${TOP}`,
    ),
    rule(
      "display-below-experiments",
      "lib/display renders for the layers above it and never imports them",
      "^lib/display/",
      TOP,
    ),
    rule(
      "experiments-below-bench-and-cli",
      "lib/experiments never import the bench, the CLI, lib/jupyter or the public entry",
      "^lib/experiments/",
      "^lib/(bench|cli|jupyter)/|^lib/index\\.ts$",
    ),
    rule(
      "bench-below-cli",
      "lib/bench never imports the CLI, lib/jupyter or the public entry",
      "^lib/bench/",
      "^lib/(cli|jupyter)/|^lib/index\\.ts$",
    ),
    rule(
      "only-the-cli-imports-jupyter",
      "lib/jupyter (kernelspec, wire protocol, headless runner) is used by lib/cli and re-exported by lib/index.ts",
      "^lib/(?!cli/|jupyter/|index\\.ts$)",
      "^lib/jupyter/",
    ),
    rule(
      "lib-never-imports-kernel-ext",
      "lib (the CLI's run-notebook and kernel commands included) never imports kernel-ext, which imports lib: the " +
        "headless runner (lib/jupyter/runner) starts the kernel as a process by path",
      "^lib/",
      "^kernel-ext/",
    ),
    rule(
      "kernel-ext-imports-only-the-public-entry",
      "kernel-ext imports lib only through the public entry lib/index.ts (published as peftlab)",
      "^kernel-ext/",
      "^lib/(?!index\\.ts$)",
    ),
    rule(
      "public-entry-is-for-outside",
      "inside lib only the CLI imports the public entry lib/index.ts (anything else would be a cycle)",
      "^lib/(?!cli/)",
      "^lib/index\\.ts$",
    ),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
