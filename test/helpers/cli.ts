/** The peftlab CLI as tests drive it: in-process with its output captured, or the built CLI as a child process. */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { runCli } from "../../lib/cli/main";

/** The built CLI entry (`npm run build` writes it). */
export const CLI_MAIN = path.resolve(__dirname, "../../dist/lib/cli/main.js");

/** Runs the CLI in-process with an empty environment and captures what it writes. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

/** Runs the built CLI (CLI_MAIN) as a child process with `env`; resolves with its exit code and output. */
export function cliProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, out, err }));
  });
}
