import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { DataError } from "../../lib/errors";
import { imageFolderDataset, splitListDataset } from "../../lib/data/sources";
import { manifestDataset } from "../../lib/data/manifest";
import { npzDataset } from "../../lib/data/sources_npz";
import { hasShared, sharedPath } from "../../lib/paths";
import { tmpDir } from "../helpers/tmp";

async function writePng(file: string, w: number, h: number, rgb: [number, number, number]): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toFile(file);
}

describe("data sources", () => {
  it("PBC jpeg folder: 2,400 images in 8 sorted classes of 300", function () {
    if (!hasShared()) this.skip();
    const ds = imageFolderDataset(sharedPath("data", "pbc-jpeg"));
    assert.equal(ds.items.length, 2400);
    assert.deepEqual(ds.classes, [
      "basophil",
      "eosinophil",
      "erythroblast",
      "ig",
      "lymphocyte",
      "monocyte",
      "neutrophil",
      "platelet",
    ]);
    const counts = new Array(8).fill(0);
    for (const it of ds.items) counts[it.label!]++;
    assert.deepEqual(counts, new Array(8).fill(300));
    assert.equal(new Set(ds.items.map((i) => i.id)).size, 2400);
  });

  const npzCases: [string, Record<string, number>, number, string[] | null][] = [
    [
      "pbc_28.npz",
      { train: 11685, val: 1669, test: 3338 },
      8,
      ["basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte", "neutrophil", "platelet"],
    ],
    ["pneumoniamnist.npz", { train: 3882, val: 524, test: 624 }, 2, ["normal", "pneumonia"]],
    ["breastmnist.npz", { train: 546, val: 78, test: 156 }, 2, ["malignant", "normal, benign"]],
  ];
  for (const [file, sizes, K, classes] of npzCases) {
    it(`npz ${file}: split sizes, ${K} classes, labels in range`, function () {
      if (!hasShared()) this.skip();
      const ds = npzDataset(sharedPath("data", file));
      assert.equal(ds.task, "multiclass");
      assert.equal(ds.classes.length, K);
      if (classes) assert.deepEqual(ds.classes, classes);
      for (const [s, n] of Object.entries(sizes)) assert.equal(ds.items.filter((i) => i.split === s).length, n, s);
      const seen = new Set(ds.items.map((i) => i.label));
      assert.deepEqual(
        [...seen].sort(),
        Array.from({ length: K }, (_, i) => i),
      );
      const p = ds.items[0].pixels!;
      assert.equal(p.width, 28);
      assert.equal(p.data.length, 28 * 28 * p.channels);
    });
  }

  it("image folder with train/val/test layout sets splits; an empty class is a DataError naming it", async () => {
    const d = tmpDir("peftlab-data-");
    await writePng(path.join(d, "train", "a", "1.png"), 4, 4, [255, 0, 0]);
    await writePng(path.join(d, "train", "b", "1.png"), 4, 4, [0, 255, 0]);
    await writePng(path.join(d, "valid", "a", "2.png"), 4, 4, [255, 0, 0]);
    const ds = imageFolderDataset(d);
    assert.deepEqual(ds.classes, ["a", "b"]);
    assert.deepEqual(
      ds.items.map((i) => [i.id, i.split, i.label]),
      [
        ["train/a/1.png", "train", 0],
        ["train/b/1.png", "train", 1],
        ["valid/a/2.png", "val", 0],
      ],
    );
    fs.mkdirSync(path.join(d, "train", "c"));
    assert.throws(
      () => imageFolderDataset(d),
      (e: unknown) => e instanceof DataError && /"c"/.test(e.message),
    );
  });

  it("CSV manifest: names, groups, splits; unknown label names the row", () => {
    const d = tmpDir("peftlab-data-");
    fs.writeFileSync(path.join(d, "m.csv"), "path,label,group,split\nx/1.png,cat,p1,train\nx/2.png,dog,p2,test\n");
    const ds = manifestDataset(path.join(d, "m.csv"));
    assert.deepEqual(ds.classes, ["cat", "dog"]);
    assert.equal(ds.items[1].path, path.join(d, "x/2.png"));
    assert.deepEqual(
      ds.items.map((i) => [i.label, i.group, i.split]),
      [
        [0, "p1", "train"],
        [1, "p2", "test"],
      ],
    );
    fs.writeFileSync(path.join(d, "bad.csv"), "path,label\na.png,cat\nb.png,cow\n");
    assert.throws(
      () => manifestDataset(path.join(d, "bad.csv"), { classes: ["cat", "dog"] }),
      (e: unknown) => e instanceof DataError && /row 2/.test(e.message) && /cow/.test(e.message),
    );
  });

  it("JSON manifest with multi-label columns", () => {
    const d = tmpDir("peftlab-data-");
    const f = path.join(d, "m.json");
    fs.writeFileSync(
      f,
      JSON.stringify([
        { path: "a.png", A: 1, B: 0 },
        { path: "b.png", A: 1, B: 1 },
      ]),
    );
    const ds = manifestDataset(f, { labelColumns: ["A", "B"] });
    assert.equal(ds.task, "multilabel");
    assert.deepEqual(
      ds.items.map((i) => i.labels),
      [
        [1, 0],
        [1, 1],
      ],
    );
  });

  it("MED-PEFT split lists: path then labels, one file per split", () => {
    const d = tmpDir("peftlab-data-");
    fs.writeFileSync(path.join(d, "train_1.txt"), "00000001_000.png 0 1 0\n00000002_000.png 1 0 0\n");
    fs.writeFileSync(path.join(d, "test_list.txt"), "00000003_000.png 0 0 1\n");
    const ds = splitListDataset(
      { train: path.join(d, "train_1.txt"), test: path.join(d, "test_list.txt") },
      { classes: ["A", "B", "C"], imageRoot: path.join(d, "all_classes") },
    );
    assert.deepEqual(
      ds.items.map((i) => [i.split, i.labels]),
      [
        ["train", [0, 1, 0]],
        ["train", [1, 0, 0]],
        ["test", [0, 0, 1]],
      ],
    );
    assert.equal(ds.items[0].path, path.join(d, "all_classes", "00000001_000.png"));
    fs.writeFileSync(path.join(d, "bad.txt"), "a.png 0 1\n");
    assert.throws(
      () => splitListDataset({ train: path.join(d, "bad.txt") }, { classes: ["A", "B", "C"], imageRoot: d }),
      /bad\.txt:1/,
    );
  });
});
