// Mocha runs the TypeScript tests through tsx; the reporter writes the pass/fail summary for run-tests.mjs.
module.exports = {
  require: ["tsx/cjs", "test/helpers/setup.ts"],
  spec: ["test/**/*.test.ts"],
  reporter: "test/helpers/reporter.cjs",
  timeout: 120000,
  "node-option": ["max-old-space-size=8192"],
  // Quit when the tests end: native handles some suites keep on purpose (Dawn's GPU instances stay referenced for the
  // process's life, see lib/backend/webgpu.ts) would otherwise hold the event loop open.
  exit: true,
};
