import { strict as assert } from "node:assert";
import { ConfigError } from "../../lib/errors";
import {
  injectParameters,
  normalizeNotebook,
  OutputCollector,
  parseParameter,
  type Notebook,
  type NotebookOutput,
} from "../../lib/jupyter/runner/notebook";

const nb = (cells: Notebook["cells"]): Notebook => ({ nbformat: 4, nbformat_minor: 2, metadata: {}, cells });

describe("kernel-ext notebook runner pieces", () => {
  const params: [string, unknown][] = [
    ["epochs=3", 3],
    ["name=vit", "vit"],
    ['name="quoted"', "quoted"],
    ["lrs=[0.1,0.01]", [0.1, 0.01]],
    ["flag=true", true],
    ["expr=a=b", "a=b"],
  ];
  for (const [kv, v] of params) it(`parses ${kv}`, () => assert.deepEqual(parseParameter(kv)[1], v));
  it("rejects a parameter without =", () => assert.throws(() => parseParameter("epochs"), ConfigError));

  it("injects a tagged cell after the parameters cell, keeping let/const", () => {
    const src = nb([
      { cell_type: "markdown", source: "# t", metadata: {} },
      { cell_type: "code", source: "let epochs = 1;\nconst name = 'a';", metadata: { tags: ["parameters"] } },
      { cell_type: "code", source: "epochs", metadata: {} },
    ]);
    const { notebook, warnings } = injectParameters(normalizeNotebook(src), { epochs: 5, name: "b", extra: 1 });
    const cell = notebook.cells[2];
    assert.deepEqual(cell.metadata.tags, ["injected-parameters"]);
    assert.match(String(cell.source), /let epochs = 5;/);
    assert.match(String(cell.source), /const name = "b";/);
    assert.deepEqual(warnings, ["parameter extra is not declared in the parameters cell"]);
    const again = injectParameters(notebook, { epochs: 6 }).notebook;
    assert.equal(again.cells.filter((c) => c.metadata.tags?.includes("injected-parameters")).length, 1);
  });

  it("normalises to nbformat 4.5 with unique cell ids", () => {
    const n = normalizeNotebook(
      nb([
        { cell_type: "code", source: ["a", "b"], metadata: {}, id: "x" },
        { cell_type: "code", source: "", metadata: {}, id: "x" },
      ]),
    );
    assert.equal(n.nbformat_minor, 5);
    assert.notEqual(n.cells[0].id, n.cells[1].id);
    assert.equal(n.cells[0].source, "ab");
  });

  it("collects outputs: merged streams, in-place display updates, clear_output(wait)", () => {
    const c = new OutputCollector();
    const first: NotebookOutput[] = [];
    c.apply(first, "stream", { name: "stdout", text: "a" });
    c.apply(first, "stream", { name: "stdout", text: "b" });
    c.apply(first, "display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "d" } });
    const second: NotebookOutput[] = [];
    c.apply(second, "update_display_data", {
      data: { "text/plain": "v2" },
      metadata: {},
      transient: { display_id: "d" },
    });
    assert.deepEqual(first, [
      { output_type: "stream", name: "stdout", text: "ab" },
      { output_type: "display_data", data: { "text/plain": "v2" }, metadata: {} },
    ]);
    c.apply(second, "stream", { name: "stdout", text: "x" });
    c.apply(second, "clear_output", { wait: true });
    assert.equal(second.length, 1, "wait=true clears only when the next output arrives");
    c.apply(second, "execute_result", { data: { "text/plain": "1" }, metadata: {}, execution_count: 2 });
    assert.deepEqual(second, [
      { output_type: "execute_result", data: { "text/plain": "1" }, metadata: {}, execution_count: 2 },
    ]);
  });
});
