/**
 * The CLI's command list. To add a command, write `lib/cli/commands/<name>.ts` exporting `register(program)` and add
 * it to COMMANDS below.
 */
import type { Command } from "commander";
import * as adapter from "./adapter";
import * as data from "./data";
import * as bench from "./bench";
import * as info from "./info";
import * as weights from "./weights";
import * as inspect from "./inspect";
import * as train from "./train";
import * as evalCmd from "./eval";
import * as extract from "./extract";
import * as metrics from "./metrics";
import * as kernel from "./kernel";
import * as runNotebook from "./run_notebook";
import * as checkParity from "./check_parity";
import * as sweep from "./sweep";

/** A command module: adds one (sub)command to the program. */
export interface CommandModule {
  register(program: Command): void;
}

/** Every command, in the order `peftlab --help` lists them. */
export const COMMANDS: readonly CommandModule[] = [
  info,
  inspect,
  kernel,
  runNotebook,
  adapter,
  checkParity,
  data,
  weights,
  train,
  evalCmd,
  extract,
  sweep,
  metrics,
  bench,
];
