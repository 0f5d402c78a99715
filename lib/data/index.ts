/**
 * lib/data: dataset sources, decoding, transforms, splits, samplers and the batch loader (a leaf module).
 * Generic helper names are re-exported with image/data-specific aliases so `export * from "./data"` in lib/index.ts
 * cannot collide with other modules.
 */
export * from "./types";
export { createRng as createDataRng, deriveSeed, permutation as seededPermutation, type Rng as DataRng } from "./rng";
export {
  imageFolderDataset,
  splitListDataset,
  IMAGE_EXTENSIONS,
  type ImageFolderOptions,
  type SplitListOptions,
} from "./sources";
export { manifestDataset, type ManifestOptions } from "./manifest";
export { npzDataset, type NpzDatasetOptions } from "./sources_npz";
export * from "./prepared";
export { decodeItem, centreCrop, resizeShorterSize, imageSize, type RgbImage, type BaseSpec } from "./decode";
export {
  toFloat as toFloatImage,
  hflip as hflipImage,
  vflip as vflipImage,
  rot90 as rot90Image,
  rotate as rotateImage,
  randomResizedCropBox,
  resolveNorm,
  normalizeInto as normalizeImageInto,
  NORM_PRESETS,
  type FloatImage,
  type CropBox,
  type NormStats,
  type NormalizeSpec,
} from "./transforms";
export { sampleJitter, applyJitter, gaussianBlur as gaussianBlurImage, type ColorJitterOptions } from "./color";
export {
  buildTransform as buildImageTransform,
  processItem,
  type AugmentOptions,
  type TransformOptions as ImageTransformOptions,
  type Transform as ImageTransform,
} from "./pipeline";
export {
  stratifiedSplit,
  groupSplit,
  assertNoGroupLeak,
  kShot,
  perClassSubset,
  stratifiedFraction,
  monteCarloSplits,
  type SplitFractions,
  type MonteCarloSplit,
} from "./splits";
export { epochOrder, balancedEpoch, classWeights } from "./samplers";
export { ImageCache } from "./cache";
export {
  DataLoader,
  type DataLoaderOptions,
  type Batch as ImageBatch,
  type LoaderState,
  type SkippedItem,
} from "./loader";
export { throughput as dataThroughput, DEFAULT_BENCH_TRANSFORM, type ThroughputResult } from "./throughput";
export {
  MEDMNIST_INFO,
  MEDMNIST_SIZES,
  medmnistFileName,
  medmnistUrl,
  type MedmnistInfo,
} from "./prepare/medmnist_info";
export * from "./host_data";
export * from "./host_views";
export * from "./host_batches";
