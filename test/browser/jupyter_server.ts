/**
 * A throwaway Jupyter Notebook server for the browser test: its own config, data, runtime and kernelspec folders under
 * `tmp`, a random token, a free port on 127.0.0.1, started in its own process group so that stop() ends the server and
 * every kernel it started, in every case.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as path from "node:path";

export interface NotebookServer {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** True when `python -m notebook` (Notebook 6) can be imported. */
export function jupyterAvailable(python: string): boolean {
  const r = spawnSync(python, ["-c", "import notebook, jupyter_client"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** Starts the server and resolves once its REST API answers with the token. */
export async function startNotebookServer(o: {
  python: string;
  tmp: string;
  notebookDir: string;
  port: number;
  timeoutMs?: number;
  /** Added to the server's environment (kernels inherit it). */
  env?: NodeJS.ProcessEnv;
}): Promise<NotebookServer> {
  const token = randomBytes(24).toString("hex");
  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(o.tmp, "share"),
    JUPYTER_CONFIG_DIR: path.join(o.tmp, "config"),
    JUPYTER_DATA_DIR: path.join(o.tmp, "data"),
    JUPYTER_RUNTIME_DIR: path.join(o.tmp, "runtime"),
    IPYTHONDIR: path.join(o.tmp, "ipython"),
    PYTHONDONTWRITEBYTECODE: "1",
    ...o.env,
  };
  const args = [
    "-m",
    "notebook",
    "--no-browser",
    "--ip=127.0.0.1",
    `--port=${o.port}`,
    "--port-retries=0",
    `--NotebookApp.token=${token}`,
    `--notebook-dir=${o.notebookDir}`,
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []), // CI containers run as root
  ];
  const child: ChildProcess = spawn(o.python, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
  let exited = false;
  child.on("exit", () => (exited = true));
  const url = `http://127.0.0.1:${o.port}`;

  const stop = async (): Promise<void> => {
    if (!exited) {
      // Ask politely (it shuts its kernels down), then end the whole process group.
      await fetch(`${url}/api/shutdown?token=${token}`, { method: "POST" }).catch(() => undefined);
      const gone = new Promise((r) => child.once("exit", r));
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      try {
        process.kill(-(child.pid as number), sig);
      } catch {
        break; // the group is gone
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`jupyter notebook exited during start-up:\n${log}`);
    const ok = await fetch(`${url}/api/status?token=${token}`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { url, token, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`jupyter notebook did not answer within ${o.timeoutMs ?? 60_000} ms:\n${log}`);
}
