/** kernel-ext's surface for the CLI: kernelspec management and the headless notebook runner. */
export * from "./kernelspec";
export {
  runNotebook,
  defaultOutputPath,
  readNotebook,
  type RunNotebookOptions,
  type RunNotebookResult,
} from "./runner/run";
export { parseParameter } from "./runner/notebook";
export { TSLAB_VERSION } from "./kernel";
export { peftlabRoot } from "./resolve_alias";
