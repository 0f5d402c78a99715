/** Toy host data and a tiny ViT shared by the experiment-layer tests (HostBatches, trainEvaluate, sweeps, ViT transfer). */
import { createVit, type VisionTransformer } from "../../lib/models/vit";
import type { HostImages, HostSplits } from "../../lib/data/host_data";

/** N items of shape [4, 4, 3] whose label is decided by the sign of the mean of channel 0 (learnable). */
export function toyImages(n: number, seed: number): HostImages {
  const per = 4 * 4 * 3;
  const x = new Float32Array(n * per);
  let s = seed * 9301 + 49297;
  const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280) * 2 - 1;
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    labels[i] = y;
    for (let j = 0; j < per; j++) x[i * per + j] = rnd() * 0.5 + (j % 3 === 0 ? (y ? 0.8 : -0.8) : 0);
  }
  return { x, n, itemShape: [4, 4, 3], labels, ids: Array.from({ length: n }, (_, i) => `item${i}`) };
}

/** Train 48 / val 16 / test 16 toy items, two classes. */
export function toySplits(): HostSplits {
  return { name: "toy", classes: ["a", "b"], train: toyImages(48, 1), val: toyImages(16, 2), test: toyImages(16, 3) };
}

/** A 4×4-input ViT (patch 2, D 16, 2 blocks, 2 heads) with timm names. */
export function tinyVitModel(numClasses: number, seed = 0): VisionTransformer {
  return createVit({ imgSize: 4, patchSize: 2, embedDim: 16, depth: 2, numHeads: 2, numClasses, seed });
}
