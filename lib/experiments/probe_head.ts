/**
 * The linear probe as the starting head of an adapted arm (e.g. "LoRA, head initialised from the probe"): the
 * probe is fitted exactly as `logisticProbeRun` fits it (L-BFGS logistic regression, C = d·K/100, 1000 iterations)
 * on the run's own training features, so the arm starts where the probe arm ends. The vision-only analogue of
 * CLIP-LoRA's classifier initialised from text embeddings (Zanella & Ben Ayed, CVPRW 2024, the code seed 000 builds
 * on) and the first stage of LP-FT (Kumar et al., ICLR 2022).
 */
import type { HostImages } from "../data/host_data";
import { ShapeError } from "../errors";
import type { ImageClassifier } from "../models/types";
import { initHeadFromProbe } from "../peft/probe/head_init";
import { fitLogisticRegression, uniC, type LogRegModel } from "../peft/probe/logreg";

/**
 * Fits the logistic probe on `train` (frozen pre-logits features [n, d] of the model's own backbone, labels
 * 0..numClasses−1) and sets the model's head to it in place; returns the probe. Call before the strategy's setup.
 */
export function headFromProbe(
  model: ImageClassifier,
  train: HostImages,
  numClasses: number,
  o: { C?: number; maxIter?: number } = {},
): LogRegModel {
  if (train.itemShape.length !== 1) {
    throw new ShapeError("headFromProbe needs feature vectors, not images", {
      where: "headFromProbe.train",
      expected: "itemShape [d] (e.g. hostFeatures of the backbone)",
      got: `[${train.itemShape.join(", ")}]`,
    });
  }
  const d = train.itemShape[0];
  const probe = fitLogisticRegression({ data: train.x, n: train.n, d }, train.labels, {
    C: o.C ?? uniC(d, numClasses),
    maxIter: o.maxIter ?? 1000,
  });
  initHeadFromProbe(model, probe);
  return probe;
}
