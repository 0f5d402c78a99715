/** Every dataset preparer, by the name `peftlab data prepare <name>` takes. */
import { breakhis } from "./breakhis";
import { cellPreparers } from "./cells";
import type { Preparer } from "./common";
import { nih, rsna } from "./cxr";
import { hicervix } from "./hicervix";
import { kagglePreparers } from "./kaggle";
import { medmnist } from "./medmnist";
import { pbc } from "./pbc";

export { makeContext, type PrepareContext, type PrepareResult, type Preparer } from "./common";
export { download, hashFile, type DownloadOptions, type DownloadResult } from "./download";
export { extractArchive } from "./archive";

/** Preparers in the order `peftlab data list` shows them. */
export const PREPARERS: readonly Preparer[] = [
  medmnist,
  pbc,
  ...kagglePreparers,
  hicervix,
  ...cellPreparers,
  nih,
  rsna,
  breakhis,
];

/** The preparer of a name, or undefined. */
export function findPreparer(name: string): Preparer | undefined {
  return PREPARERS.find((p) => p.name === name.toLowerCase());
}
export {
  prepareQuickstart,
  fetchTfjsModel,
  fetchVitTiny,
  subsampleFolder,
  MOBILENET_V2_035_TFJS_URL,
  VIT_TINY_HUB_URL,
} from "./quickstart";
