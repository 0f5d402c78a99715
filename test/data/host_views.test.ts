import { strict as assert } from "node:assert";
import { ShapeError } from "../../lib/errors";
import type { HostImages } from "../../lib/data/host_data";
import { hostViews, type HostViews } from "../../lib/data/host_views";

/** Pixel (y, x) of a 2×2 RGB image: channel c holds 10·y + x + 100·c (every pixel distinct). */
const px = (y: number, x: number) => [0, 1, 2].map((c) => 10 * y + x + 100 * c);
const img = (pixels: number[][][]): number[] => pixels.flat(2);
const A = img([
  [px(0, 0), px(0, 1)],
  [px(1, 0), px(1, 1)],
]);
const host = (items: number[][], labels: number[], shape = [2, 2, 3]): HostImages => ({
  x: Float32Array.from(items.flat()),
  n: items.length,
  itemShape: shape,
  labels: Float32Array.from(labels),
  ids: items.map((_, i) => `img${i}`),
});
const view = (h: HostImages, i: number) => Array.from(h.x.subarray(i * 12, (i + 1) * 12));

describe("data/host_views", () => {
  const cases: { views: HostViews; want: number[][] }[] = [
    {
      views: "hflip",
      want: [
        A,
        img([
          [px(0, 1), px(0, 0)],
          [px(1, 1), px(1, 0)],
        ]),
      ],
    },
    {
      views: "d4",
      // numpy's rot90 (counter-clockwise) of the image and of its mirror, k = 0 … 3, interleaved.
      want: [
        A,
        img([
          [px(0, 1), px(0, 0)],
          [px(1, 1), px(1, 0)],
        ]),
        img([
          [px(0, 1), px(1, 1)],
          [px(0, 0), px(1, 0)],
        ]),
        img([
          [px(0, 0), px(1, 0)],
          [px(0, 1), px(1, 1)],
        ]),
        img([
          [px(1, 1), px(1, 0)],
          [px(0, 1), px(0, 0)],
        ]),
        img([
          [px(1, 0), px(1, 1)],
          [px(0, 0), px(0, 1)],
        ]),
        img([
          [px(1, 0), px(0, 0)],
          [px(1, 1), px(0, 1)],
        ]),
        img([
          [px(1, 1), px(0, 1)],
          [px(1, 0), px(0, 0)],
        ]),
      ],
    },
  ];
  for (const c of cases) {
    it(`${c.views}: ${c.want.length} views per image, view-major, labels and ids carried`, () => {
      const B = A.map((v) => v + 1000);
      const h = hostViews(host([A, B], [3, 5]), c.views);
      const v = c.want.length;
      assert.equal(h.n, 2 * v);
      assert.deepEqual(h.itemShape, [2, 2, 3]);
      for (let j = 0; j < v; j++) {
        assert.deepEqual(view(h, j), c.want[j], `view ${j} of image 0`);
        assert.deepEqual(
          view(h, v + j),
          c.want[j].map((x) => x + 1000),
          `view ${j} of image 1`,
        );
      }
      assert.equal(new Set(Array.from({ length: v }, (_, j) => view(h, j).join())).size, v, "views are distinct");
      assert.deepEqual(Array.from(h.labels), [...Array(v).fill(3), ...Array(v).fill(5)]);
      assert.deepEqual(h.ids.slice(0, 2), ["img0#0", "img0#1"]);
      assert.equal(h.ids[v], "img1#0");
    });
  }

  const bad: { name: string; h: HostImages; views: HostViews }[] = [
    { name: "feature vectors", h: host([[1, 2, 3]], [0], [3]), views: "hflip" },
    { name: "a non-square image with d4", h: host([Array(18).fill(0)], [0], [2, 3, 3]), views: "d4" },
  ];
  for (const b of bad) {
    it(`rejects ${b.name} with a ShapeError`, () => {
      assert.throws(() => hostViews(b.h, b.views), ShapeError);
    });
  }
});
