// Mocha's spec reporter, plus a JSON summary (passes, failures incl. hook failures) for scripts/run-tests.mjs.
const Mocha = require("mocha");
const fs = require("node:fs");
const path = require("node:path");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const out = process.env.PEFTLAB_MOCHA_STATS;
      if (!out) return;
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify({ passes: runner.stats.passes, failures: runner.stats.failures }));
    });
  }
}
module.exports = SpecWithSummary;
