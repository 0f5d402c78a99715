/**
 * Kernel start-up keeps behaviour (real kernel over ZMQ; needs `npm run build`): right after kernel_info, with the
 * TypeScript worker (the default) and with compilation in the main thread (PEFTLAB_KERNEL_TS_WORKER=0), the first
 * inspect sees the prelude's types, a compile error in the first cell is still a CompileError with its count, and
 * the prelude's names work in the next cell; with the worker, kernel_info waits for the warm-up. No timings are
 * asserted (`peftlab bench`'s kernel_startup measures them).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KernelClient } from "../../lib/jupyter/runner/client";

const MODES: { name: string; env: NodeJS.ProcessEnv }[] = [
  { name: "TypeScript worker", env: { ...process.env, PEFTLAB_KERNEL_TS_WORKER: "1" } },
  { name: "main thread", env: { ...process.env, PEFTLAB_KERNEL_TS_WORKER: "0" } },
];

describe("kernel start-up (real kernel over ZMQ)", function () {
  this.timeout(600_000);
  for (const mode of MODES) {
    describe(mode.name, () => {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kstart-"));
      let k: KernelClient;
      before(async () => {
        k = await KernelClient.start({ cwd, env: mode.env });
      });
      after(async () => {
        await k?.shutdown();
        fs.rmSync(cwd, { recursive: true, force: true });
      });

      it("the first request, an inspect, gets peftlab's signature (not `any`)", async () => {
        const code = "peftlab.loraScaling(";
        const r = await k.call("inspect_request", { code, cursor_pos: code.length, detail_level: 0 });
        assert.equal(r.content.found, true, JSON.stringify(r.content));
        const text = String((r.content.data as Record<string, unknown>)["text/plain"]);
        assert.match(text, /loraScaling\(/);
        assert.notEqual(text.trim(), "any");
      });

      it("a compile error in the first cell is a CompileError, counted, with the backend note shown", async () => {
        const { reply, messages } = await k.execute('const n: number = "x";');
        assert.equal(reply.content.status, "error");
        assert.equal(reply.content.ename, "CompileError");
        assert.match(String(reply.content.evalue), /not assignable to type 'number'/);
        assert.equal(reply.content.execution_count, 1);
        const note = messages.find((m) => m.header.msg_type === "display_data");
        assert.match(String((note?.content.data as Record<string, unknown>)["text/plain"]), /\[peftlab\] backend/);
        assert.ok(!messages.some((m) => m.header.msg_type === "stream" && m.content.name === "stderr"));
      });

      it("the next cell uses the prelude's names, typed", async () => {
        const { reply, messages } = await k.execute("const s: number[] = tf.tensor([1, 2, 3]).shape; s");
        assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
        const result = messages.find((m) => m.header.msg_type === "execute_result");
        assert.equal((result?.content.data as Record<string, unknown>)["text/plain"], "[ 3 ]");
        const bad = await k.execute("tf.tensor([1]).noSuchMethod()");
        assert.equal(bad.reply.content.ename, "CompileError");
      });
    });
  }

  describe("a prelude that does not compile (compiled ahead by the worker)", () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kstart-"));
    const prelude = path.join(cwd, "prelude.ts");
    let k: KernelClient;
    before(async () => {
      fs.writeFileSync(prelude, 'const broken: number = "not a number";\nconst fine = 1;\n');
      k = await KernelClient.start({ cwd, preludePath: prelude, env: MODES[0].env });
    });
    after(async () => {
      await k?.shutdown();
      fs.rmSync(cwd, { recursive: true, force: true });
    });

    it("the first cell shows the prelude's compile error on stderr, and the kernel works without the prelude", async () => {
      const { reply, messages } = await k.execute("1 + 1");
      assert.equal(reply.content.status, "ok");
      const err = messages.find((m) => m.header.msg_type === "stream" && m.content.name === "stderr");
      assert.match(String(err?.content.text), /prelude .* failed: CompileError/);
      assert.match(String(err?.content.text), /not assignable to type 'number'/);
      const noPrelude = await k.execute("fine");
      assert.equal(noPrelude.reply.content.ename, "CompileError");
    });
  });

  describe("ready means warm (TypeScript worker)", () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kstart-"));
    const log = path.join(cwd, "kernel.log");
    let k: KernelClient;
    before(async () => {
      k = await KernelClient.start({ cwd, env: { ...MODES[0].env, PEFTLAB_KERNEL_DEBUG: log } });
    });
    after(async () => {
      await k?.shutdown();
      fs.rmSync(cwd, { recursive: true, force: true });
    });

    it("kernel_info is answered only after the prelude ran and the warm-up cell compiled (the kernel's log order)", () => {
      const lines = fs.readFileSync(log, "utf8").split("\n");
      const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
      const warm = at(/^first cell warm at \d+ ms/);
      const answered = at(/^kernel_info answered at \d+ ms/);
      assert.ok(warm >= 0 && answered >= 0, lines.join("\n"));
      assert.ok(answered > warm, `kernel_info answered before the warm-up ended:\n${lines.join("\n")}`);
      assert.ok(
        lines.some((l) => /code cache (hit|miss|rejected);/.test(l)),
        lines.join("\n"),
      );
    });

    it("the first cell after ready runs, counted 1, with the backend note", async () => {
      const { reply, messages } = await k.execute("1 + 1");
      assert.equal(reply.content.status, "ok");
      assert.equal(reply.content.execution_count, 1);
      const note = messages.find((m) => m.header.msg_type === "display_data");
      assert.match(String((note?.content.data as Record<string, unknown>)["text/plain"]), /\[peftlab\] backend/);
    });
  });
});
