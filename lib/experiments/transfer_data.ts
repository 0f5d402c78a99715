/**
 * The train / val / test sources a paper notebook hands to trainEvaluate, built the same way at both scales:
 * from in-memory MedMNIST splits (CI) or from prepared image datasets through lib/data's DataLoader (full scale).
 */
import { DataLoader } from "../data/loader";
import type { TransformOptions } from "../data/pipeline";
import type { ImageDataset } from "../data/types";
import type { EvalSource } from "../train/evaluate";
import type { TrainSource } from "../train/fit";
import { HostBatches } from "../data/host_batches";
import { mapHostImages, mapHostImagesAsync, type HostSplits } from "../data/host_data";
import type * as tf from "@tensorflow/tfjs";

/** Sources of one run, plus sizes for the record and the schedule. */
export interface TransferData {
  train: TrainSource;
  val: EvalSource;
  test: EvalSource;
  nTrain: number;
  nVal: number;
  nTest: number;
  /** Releases loader workers (a no-op for host data). */
  close(): Promise<void>;
}

/** Options shared by both builders. */
export interface TransferDataOptions {
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  /** "float32" for a one-logit binary / multi-label head (BCE), "int32" for softmax heads. */
  labelDtype: "int32" | "float32";
  /** Cap of training items per (pseudo-)epoch (host data only). */
  itemsPerEpoch?: number;
}

/** Sources over in-memory splits (images or cached feature maps). */
export function hostTransferData(s: HostSplits, o: TransferDataOptions): TransferData {
  const ev = (d: HostSplits["val"]) =>
    new HostBatches(d, { batchSize: o.evalBatchSize, shuffle: false, seed: o.seed, labelDtype: o.labelDtype });
  return {
    train: new HostBatches(s.train, {
      batchSize: o.batchSize,
      shuffle: true,
      seed: o.seed,
      labelDtype: o.labelDtype,
      itemsPerEpoch: o.itemsPerEpoch,
    }),
    val: ev(s.val),
    test: ev(s.test),
    nTrain: s.train.n,
    nVal: s.val.n,
    nTest: s.test.n,
    close: async () => undefined,
  };
}

/** Sources over prepared datasets via DataLoader: augmentation on train only, eval transform on val / test. */
export function loaderTransferData(
  s: { train: ImageDataset; val: ImageDataset; test: ImageDataset },
  o: TransferDataOptions & { transform: TransformOptions; workers?: number },
): TransferData {
  const train = new DataLoader(s.train, {
    batchSize: o.batchSize,
    transform: o.transform,
    augment: o.transform.augment !== undefined,
    shuffle: true,
    seed: o.seed,
    workers: o.workers,
  });
  const ev = (ds: ImageDataset) =>
    new DataLoader(ds, {
      batchSize: o.evalBatchSize,
      transform: { ...o.transform, augment: undefined },
      augment: false,
      shuffle: false,
      workers: o.workers,
    });
  const val = ev(s.val);
  const test = ev(s.test);
  return {
    train,
    val,
    test,
    nTrain: s.train.items.length,
    nVal: s.val.items.length,
    nTest: s.test.items.length,
    close: async () => {
      await Promise.all([train.close(), val.close(), test.close()]);
    },
  };
}

/** Every split of `s` passed once through `fn` (a frozen prefix): the cached inputs of the trainable tail. */
export function mapHostSplits(s: HostSplits, fn: (x: tf.Tensor) => tf.Tensor, batchSize = 64): HostSplits {
  return {
    name: s.name,
    classes: s.classes,
    train: mapHostImages(s.train, fn, batchSize),
    val: mapHostImages(s.val, fn, batchSize),
    test: mapHostImages(s.test, fn, batchSize),
  };
}

/** mapHostSplits with asynchronous reads (works on webgpu, where synchronous reads fail). */
export async function mapHostSplitsAsync(
  s: HostSplits,
  fn: (x: tf.Tensor) => tf.Tensor,
  batchSize = 64,
): Promise<HostSplits> {
  return {
    name: s.name,
    classes: s.classes,
    train: await mapHostImagesAsync(s.train, fn, batchSize),
    val: await mapHostImagesAsync(s.val, fn, batchSize),
    test: await mapHostImagesAsync(s.test, fn, batchSize),
  };
}
