/**
 * The Jupyter host side of peftlab: the kernelspec (`peftlab kernel install`), the kernel wire protocol (shared with
 * kernel-ext's server) and the headless notebook runner (`peftlab run-notebook`), which starts the kernel as its own
 * process by path (dist/kernel-ext/main.js) and so never imports kernel-ext.
 */
export * from "./kernelspec";
export * from "./wire";
export {
  runNotebook,
  defaultOutputPath,
  readNotebook,
  type RunNotebookOptions,
  type RunNotebookResult,
} from "./runner/run";
export { parseParameter } from "./runner/notebook";
export { KernelClient } from "./runner/client";
