/**
 * The kernel's V8 code cache (kernel-ext/code_cache.ts): a module loads the same through it whatever state the cache
 * is in (none, valid, corrupt, stale, unwritable), the cache is written once and then reused, and a real kernel
 * started twice on one cache folder reports a miss, then a hit, and runs cells both times.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Module from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { cacheFileFor, kernelCacheDir, requireWithCodeCache } from "../../kernel-ext/code_cache";
import { cacheRoot } from "../../lib/paths";
import { KernelClient } from "../../lib/jupyter/runner/client";

interface Fixture {
  add(a: number, b: number): number;
  self: string;
  resolves: string;
  counter(): number;
}

const SOURCE = `let n = 0;
exports.add = (a, b) => a + b;
exports.self = __filename;
exports.resolves = require.resolve("node:path");
exports.counter = () => ++n;
`;

/** A CommonJS module in its own folder, and a cache folder beside it. */
function fixture(source = SOURCE): { file: string; from: string; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-codecache-"));
  const file = path.join(root, "mod.js");
  fs.writeFileSync(file, source);
  return { file, from: path.join(root, "index.js"), dir: path.join(root, "cache") };
}

/** Loads `./mod.js` through the cache, as a fresh process would (Node's module cache cleared first). */
function load(f: { file: string; from: string }, dir: string | null): ReturnType<typeof requireWithCodeCache<Fixture>> {
  delete Module.createRequire(f.from).cache[f.file];
  return requireWithCodeCache<Fixture>("./mod.js", f.from, dir);
}

function works(m: Fixture, file: string): void {
  assert.equal(m.add(2, 3), 5);
  assert.equal(m.self, file);
  assert.equal(m.resolves, "node:path");
  assert.equal(m.counter(), 1);
}

describe("kernel code cache", () => {
  const cases: { name: string; before: (f: ReturnType<typeof fixture>) => void; want: string }[] = [
    { name: "no cache yet", before: () => {}, want: "miss" },
    {
      name: "a corrupt cache file",
      before: (f) => {
        fs.mkdirSync(f.dir, { recursive: true });
        fs.writeFileSync(cacheFileFor(f.file, f.dir), Buffer.from("not a V8 code cache"));
      },
      want: "rejected",
    },
    {
      name: "a cache of other source under this name",
      before: (f) => {
        const other = fixture("exports.add = () => 0;\n");
        const m = load(other, other.dir);
        assert.equal(m.save(), "written");
        fs.mkdirSync(f.dir, { recursive: true });
        fs.copyFileSync(cacheFileFor(other.file, other.dir), cacheFileFor(f.file, f.dir));
      },
      want: "rejected",
    },
  ];
  for (const c of cases) {
    it(`${c.name}: loads (${c.want}), writes the cache, then hits it`, () => {
      const f = fixture();
      c.before(f);
      const first = load(f, f.dir);
      assert.equal(first.use, c.want);
      works(first.exports, f.file);
      assert.equal(first.save(), "written");
      assert.ok(fs.statSync(first.file!).size > 0);
      assert.deepEqual(
        fs.readdirSync(f.dir).filter((n) => n.endsWith(".tmp")),
        [],
      );
      const second = load(f, f.dir);
      assert.equal(second.use, "hit");
      works(second.exports, f.file);
      assert.equal(second.save(), "kept");
    });
  }

  it("an edited module gets its own cache file (a miss, not a stale hit), even at the same length", () => {
    const f = fixture();
    assert.equal(load(f, f.dir).save(), "written");
    const before = cacheFileFor(f.file, f.dir);
    fs.writeFileSync(f.file, SOURCE.replace("let n = 0;", "let n = 5;"));
    assert.notEqual(cacheFileFor(f.file, f.dir), before);
    const m = load(f, f.dir);
    assert.equal(m.use, "miss");
    assert.equal(m.exports.counter(), 6);
  });

  it("an unwritable cache folder costs only the speed-up", () => {
    const f = fixture();
    const blocker = path.join(path.dirname(f.file), "a-file");
    fs.writeFileSync(blocker, "");
    const m = load(f, path.join(blocker, "cache"));
    works(m.exports, f.file);
    assert.match(m.save(), /^not written \(.*ENOTDIR/);
  });

  it("no folder, or a module already loaded: plain require, nothing cached", () => {
    const f = fixture();
    const off = load(f, null);
    assert.equal(off.use, "off");
    works(off.exports, f.file);
    const again = requireWithCodeCache<Fixture>("./mod.js", f.from, f.dir);
    assert.equal(again.use, "off");
    assert.equal(again.exports, off.exports);
    assert.equal(again.save(), "off");
    assert.equal(fs.existsSync(f.dir), false);
  });

  it("a module that throws while loading is not left in Node's module cache", () => {
    const f = fixture('throw new Error("boom at load");\n');
    assert.throws(() => load(f, f.dir), /boom at load/);
    assert.equal(Module.createRequire(f.from).cache[f.file], undefined);
  });

  const envs: NodeJS.ProcessEnv[] = [{}, { PEFTLAB_CACHE: "" }, { PEFTLAB_CACHE: "/srv/cache/peftlab" }];
  for (const env of envs) {
    it(`the kernel's folder is peftlab's cacheRoot()/kernel (${JSON.stringify(env)})`, () => {
      assert.equal(kernelCacheDir(env), path.join(cacheRoot(env), "kernel"));
    });
  }
});

describe("kernel code cache in a real kernel (needs `npm run build`)", function () {
  this.timeout(600_000);
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kcache-"));
  after(() => fs.rmSync(cache, { recursive: true, force: true }));

  for (const want of ["miss", "hit"]) {
    it(`start ${want === "miss" ? "1: code cache miss, then written" : "2: code cache hit"}; cells run`, async () => {
      const cwd = fs.mkdtempSync(path.join(cache, "nb-"));
      const log = path.join(cwd, "kernel.log");
      const env = { ...process.env, PEFTLAB_CACHE: cache, PEFTLAB_KERNEL_DEBUG: log, PEFTLAB_KERNEL_TS_WORKER: "1" };
      const k = await KernelClient.start({ cwd, env });
      try {
        const { reply, messages } = await k.execute("const v: number = 1 + 1; v");
        assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
        const result = messages.find((m) => m.header.msg_type === "execute_result");
        assert.equal((result?.content.data as Record<string, unknown>)["text/plain"], "2");
      } finally {
        await k.shutdown();
      }
      assert.match(fs.readFileSync(log, "utf8"), new RegExp(`code cache ${want};`));
      const files = fs.readdirSync(path.join(cache, "kernel"));
      assert.equal(files.filter((n) => n.endsWith(".v8cache")).length, 1, files.join(", "));
    });
  }
});
