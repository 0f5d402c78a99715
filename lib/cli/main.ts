#!/usr/bin/env node
/**
 * The `peftlab` command line. Commands live in ./commands (one file each, listed in commands/index.ts).
 * peftlab's own errors print as one `error: ...` line and exit 2; anything unexpected prints its stack and exits 1.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { PeftlabError } from "../index";
import { COMMANDS } from "./commands";

/** Where the CLI writes; injectable so tests can run it in-process. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Builds the program with every registered command. */
export function buildProgram(io: Partial<CliIO> = {}): Command {
  const program = new Command();
  program
    .name("peftlab")
    .description("parameter-efficient fine-tuning of image models on TensorFlow.js")
    .version(readOwnVersion(), "-V, --version")
    .configureOutput({
      writeOut: io.out ?? ((s) => process.stdout.write(s)),
      writeErr: io.err ?? ((s) => process.stderr.write(s)),
    })
    .exitOverride()
    .showHelpAfterError();
  for (const c of COMMANDS) c.register(program);
  return program;
}

/** Runs the CLI on `argv` (user arguments only, without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  const env = io.env ?? process.env;
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    // commander already printed its own usage message; --help and --version arrive here with code 0.
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof PeftlabError) {
      err(`error: ${e.message}\n`);
      if (env.PEFTLAB_DEBUG === "1" && e.stack) err(`${e.stack}\n`);
      return 2;
    }
    err(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

function readOwnVersion(): string {
  // Walk up from this file: it sits at lib/cli (tsx) or dist/lib/cli (built).
  for (let dir = __dirname, i = 0; i < 5; dir = path.dirname(dir), i++) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "peftlab" && pkg.version) return pkg.version;
  }
  return "0.0.0";
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
