/**
 * Fixed geometric views of host images, for few-shot training sets too small for random augmentation to be drawn
 * often: each image with its mirror (2 views), or the 8 symmetries of the square (the dihedral group D4: 4 right-angle
 * rotations, each mirrored). Use them only where orientation carries no label, e.g. blood-cell or cytology crops.
 */
import { ShapeError } from "../errors";
import type { HostImages } from "./host_data";
import { hflip, rot90, type FloatImage } from "./transforms";

/** Which views: the image and its left↔right mirror, or all 8 symmetries of the square. */
export type HostViews = "hflip" | "d4";

/**
 * Every image of `h` ([n, H, W, 3] normalised floats) in each view, view-major within an image: item i's views are
 * rows i·v … i·v + v − 1 (v = 2 or 8), same label, ids `<id>#<view>` (view 0 the image itself). D4 needs H = W.
 */
export function hostViews(h: HostImages, views: HostViews): HostImages {
  const [H, W, C] = h.itemShape;
  if (h.itemShape.length !== 3 || C !== 3 || (views === "d4" && H !== W)) {
    throw new ShapeError("hostViews needs RGB images (square for d4)", {
      where: "hostViews",
      expected: views === "d4" ? "itemShape [S, S, 3]" : "itemShape [H, W, 3]",
      got: `[${h.itemShape.join(", ")}]`,
    });
  }
  const per = H * W * C;
  const v = views === "d4" ? 8 : 2;
  const x = new Float32Array(h.n * v * per); // [n·v, H, W, 3]
  const labels = new Float32Array(h.n * v);
  const ids: string[] = [];
  for (let i = 0; i < h.n; i++) {
    const img: FloatImage = { data: h.x.subarray(i * per, (i + 1) * per), width: W, height: H };
    const all = views === "d4" ? [0, 1, 2, 3].flatMap((k) => [rot90(img, k), rot90(hflip(img), k)]) : [img, hflip(img)];
    all.forEach((view, j) => {
      x.set(view.data, (i * v + j) * per);
      labels[i * v + j] = h.labels[i];
      ids.push(`${h.ids[i]}#${j}`);
    });
  }
  return { x, n: h.n * v, itemShape: [...h.itemShape], labels, ids };
}
