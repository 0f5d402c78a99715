/**
 * lib/metrics: pure metric functions over plain and typed arrays (no tfjs), matching scikit-learn 1.2 within 1e-9.
 * A leaf module: it depends only on lib/errors.
 */
// Only the matrix types and converter of validate.ts are public; its checks are internal helpers.
export { type MatrixInput, type ScoreMatrix, isScoreMatrix, toScoreMatrix } from "./validate";
export * from "./classification";
export * from "./kappa";
export * from "./roc";
export * from "./multilabel";
export * from "./calibration";
export * from "./prng";
export * from "./bootstrap";
export * from "./predictions";
export * from "./compute";
