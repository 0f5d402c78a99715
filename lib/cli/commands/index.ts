/**
 * The CLI's command list. To add a command, write `lib/cli/commands/<name>.ts` exporting `register(program)` and add
 * it to COMMANDS below.
 */
import type { Command } from "commander";
import * as info from "./info";
import * as inspect from "./inspect";

/** A command module: adds one (sub)command to the program. */
export interface CommandModule {
  register(program: Command): void;
}

/** Every command, in the order `peftlab --help` lists them. */
export const COMMANDS: readonly CommandModule[] = [info, inspect];
