import { strict as assert } from "node:assert";
import * as vm from "node:vm";
import * as ts from "@tslab/typescript-for-tslab";
import {
  alignTokens,
  formatCompileErrors,
  formatRuntimeError,
  mapToSource,
  parseStack,
  tokenize,
  type CompiledCell,
} from "../../kernel-ext/traceback";

const PREFIX = "(function(exports, require) { ";

/** Compiles TS the way tslab's pipeline ends (CommonJS), so mapping is tested against real emitted JS. */
function compile(src: string, url: string): CompiledCell {
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  return { url, label: "In [1]", source: src, js, firstLineOffset: PREFIX.length };
}

/** Runs a compiled cell as the executor does and returns what it threw. */
function runCell(cell: CompiledCell): unknown {
  try {
    vm.runInThisContext(`${PREFIX}${cell.js}\n//# sourceURL=${cell.url}\n})({}, undefined)`);
  } catch (e) {
    return e;
  }
  assert.fail("cell did not throw");
}

describe("kernel-ext traceback", () => {
  it("tokenizes with positions", () => {
    const t = tokenize("const a = 1;\n  foo(a)");
    assert.deepEqual(
      t.map((x) => [x.text, x.line, x.col]),
      [
        ["const", 0, 0],
        ["a", 0, 6],
        ["=", 0, 8],
        ["1", 0, 10],
        [";", 0, 11],
        ["foo", 1, 2],
        ["(", 1, 5],
        ["a", 1, 6],
        [")", 1, 7],
      ],
    );
  });

  it("aligns tokens by longest common subsequence", () => {
    const m = alignTokens(tokenize("let x: number = f(y)"), tokenize("let x = exports.f(y)"));
    // let x = → 0 1 4 ; exports . unmatched ; f ( y ) → 5 6 7 8
    assert.deepEqual(Array.from(m), [0, 1, 4, -1, -1, 5, 6, 7, 8]);
  });

  const cases: { name: string; src: string; line: number; fnLine?: number }[] = [
    {
      name: "types removed above the throw",
      src: "interface A {\n  x: number;\n}\ntype B = A;\nconst a: B = { x: 1 };\nthrow new Error('x' + a.x);",
      line: 6,
    },
    {
      name: "throw inside a function",
      src: "type T = { a: number };\nfunction boom(t: T): number {\n  const y: number = t.a;\n  throw new RangeError(String(y));\n}\nboom({ a: 3 });",
      line: 4,
      fnLine: 6,
    },
    { name: "first line of the cell", src: "null!.toString();", line: 1 },
  ];
  for (const c of cases) {
    it(`maps runtime errors to TS lines: ${c.name}`, () => {
      const cell = compile(c.src, `test-cell-${c.line}-${c.name.length}.js`);
      const err = runCell(cell) as Error;
      const frames = parseStack(err.stack ?? "").filter((f) => f.file === cell.url);
      assert.ok(frames.length > 0, err.stack);
      assert.equal(mapToSource(cell, frames[0].line, frames[0].col)?.line, c.line);
      const content = formatRuntimeError(err, new Map([[cell.url, cell]]));
      assert.equal(content.ename, err.name);
      assert.match(content.traceback.join("\n"), new RegExp(`In \\[1\\], line ${c.line}:`));
      if (c.fnLine) assert.match(content.traceback.join("\n"), new RegExp(`line ${c.fnLine}:`));
      assert.ok(!content.traceback.some((l) => l.includes("node:vm")), "internal frames are dropped");
    });
  }

  it("describes non-Error throws", () => {
    const c = formatRuntimeError("plain string", new Map());
    assert.deepEqual([c.ename, c.evalue], ["Thrown", "plain string"]);
  });

  it("formats compile errors with a caret", () => {
    const c = formatCompileErrors("In [2]", "const a = 1;\nconst n: number = 'x';", [
      { line: 1, character: 6, message: "Type 'string' is not assignable to type 'number'." },
    ]);
    assert.equal(c.ename, "CompileError");
    assert.match(c.evalue, /^In \[2\] 2:7 - Type 'string'/);
    assert.ok(c.traceback.includes("--> 2 | const n: number = 'x';"));
    assert.ok(
      c.traceback.some((l) => /^\s+\|\s{7}\^$/.test(l)),
      c.traceback.join("\n"),
    );
  });
});
