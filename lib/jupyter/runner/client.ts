/**
 * A minimal Jupyter client in Node: starts the peftlab kernel as a child process with its own connection file and
 * talks to it over ZMQ (zeromq comes with tslab), so notebooks run headless without Python or Jupyter, through exactly
 * the kernel Jupyter would start.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type * as zmqTypes from "zeromq";
import { ConfigError } from "../../errors";
import { kernelEntry } from "../kernelspec";
import { decodeMessage, encodeMessage, requestMessage, type JupyterMessage } from "../wire";

export interface KernelClientOptions {
  /** The kernel's working directory (the notebook's folder). */
  cwd: string;
  preludePath?: string;
  noPrelude?: boolean;
  /** Seconds to wait for kernel_info (default 60). */
  startupTimeout?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ExecuteOutcome {
  reply: JupyterMessage;
  /** iopub messages caused by the request, in order (status and execute_input excluded). */
  messages: JupyterMessage[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** zeromq resolved from tslab's install, the way the kernel itself loads it. */
function loadZmq(): typeof zmqTypes {
  const tslabDir = path.dirname(require.resolve("tslab/package.json"));
  return require(require.resolve("zeromq", { paths: [tslabDir] })) as typeof zmqTypes;
}

/** The kernel process exited while a request was running (a crash, an out-of-memory abort, a kill). */
export class KernelDiedError extends Error {
  constructor(
    message: string,
    /** The last lines of the kernel's stderr. */
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = "KernelDiedError";
  }
}

export class KernelClient {
  readonly session = randomBytes(16).toString("hex");
  private readonly waiters = new Map<string, (m: JupyterMessage) => void>();
  private readonly iopubSinks = new Map<string, (m: JupyterMessage) => void>();
  private stderr = "";
  private exited: number | null = null;
  kernelInfo?: Record<string, unknown>;
  /** Milliseconds from spawn to the first kernel_info_reply. */
  startupMs = 0;

  private constructor(
    private readonly child: ChildProcess,
    private readonly key: string,
    private readonly shell: zmqTypes.Dealer,
    private readonly control: zmqTypes.Dealer,
    private readonly iopub: zmqTypes.Subscriber,
    private readonly connFile: string,
  ) {}

  /** Spawns the kernel, connects, and waits until it answers kernel_info with iopub flowing. */
  static async start(o: KernelClientOptions): Promise<KernelClient> {
    const zmq = loadZmq();
    const entry = kernelEntry();
    if (!fs.existsSync(entry)) {
      throw new ConfigError("The kernel is not built", {
        where: entry,
        expected: "dist/kernel-ext/main.js",
        got: "missing",
        fix: "npm run build",
      });
    }
    const ports = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const key = randomBytes(32).toString("hex");
    const conn = {
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      ip: "127.0.0.1",
      key,
      transport: "tcp",
      signature_scheme: "hmac-sha256",
      kernel_name: "peftlab",
    };
    const connFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-run-")), "kernel.json");
    fs.writeFileSync(connFile, JSON.stringify(conn));
    const args = [entry, "--config-path", connFile];
    if (o.noPrelude) args.push("--no-prelude");
    else if (o.preludePath) args.push("--prelude", path.resolve(o.preludePath));
    const t0 = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const shell = new zmq.Dealer();
    const control = new zmq.Dealer();
    const iopub = new zmq.Subscriber();
    shell.connect(`tcp://127.0.0.1:${conn.shell_port}`);
    control.connect(`tcp://127.0.0.1:${conn.control_port}`);
    iopub.connect(`tcp://127.0.0.1:${conn.iopub_port}`);
    iopub.subscribe();
    const c = new KernelClient(child, key, shell, control, iopub, connFile);
    child.stderr?.on("data", (d: Buffer) => (c.stderr = (c.stderr + d.toString()).slice(-20000)));
    child.stdout?.on("data", () => {});
    child.on("exit", (code) => (c.exited = code ?? -1));
    void c.pump(shell);
    void c.pump(control);
    void c.pumpIopub();
    await c.waitReady(o.startupTimeout ?? 60);
    c.startupMs = Date.now() - t0;
    return c;
  }

  /** The kernel's process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The kernel's exit code (-1 for a signal), or null while it runs. */
  get exitCode(): number | null {
    return this.exited;
  }

  /** Interrupts the running cell as Jupyter does for interrupt_mode "signal" (SIGINT), or by interrupt_request. */
  async interrupt(mode: "signal" | "message" = "signal"): Promise<void> {
    if (this.exited !== null) return;
    if (mode === "signal") this.child.kill("SIGINT");
    else await this.request(this.control, requestMessage("interrupt_request", this.session, {}), 10_000);
  }

  /** The kernel's stderr so far (for error reports). */
  get kernelStderr(): string {
    return this.stderr;
  }

  private async pump(sock: zmqTypes.Dealer): Promise<void> {
    try {
      for await (const frames of sock) {
        const m = decodeMessage(this.key, frames as Buffer[]);
        const w = this.waiters.get(m.parent_header.msg_id ?? "");
        if (w) w(m);
      }
    } catch {
      // Socket closed.
    }
  }

  private async pumpIopub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        const m = decodeMessage(this.key, frames as Buffer[]);
        this.iopubSinks.get(m.parent_header.msg_id ?? "")?.(m);
      }
    } catch {
      // Socket closed.
    }
  }

  private async waitReady(timeoutS: number): Promise<void> {
    const deadline = Date.now() + timeoutS * 1000;
    while (Date.now() < deadline) {
      if (this.exited !== null) {
        throw new ConfigError("The kernel exited during startup", {
          where: "peftlab kernel",
          expected: "a running kernel",
          got: `exit ${this.exited}: ${this.stderr.slice(-2000)}`,
          fix: "run `node dist/kernel-ext/main.js` errors shown above; rebuild with npm run build",
        });
      }
      // Like jupyter_client: ask until both the reply and an iopub status arrive (iopub subscriptions join late).
      const req = requestMessage("kernel_info_request", this.session, {});
      let sawIopub = false;
      this.iopubSinks.set(req.header.msg_id, () => (sawIopub = true));
      const reply = await this.request(this.shell, req, 1000).catch(() => undefined);
      if (reply) {
        this.kernelInfo = reply.content;
        for (let i = 0; i < 20 && !sawIopub; i++) await new Promise((r) => setTimeout(r, 25));
      }
      this.iopubSinks.delete(req.header.msg_id);
      if (reply && sawIopub) return;
    }
    throw new ConfigError("The kernel did not answer kernel_info in time", {
      where: "peftlab kernel",
      expected: `a reply within ${timeoutS} s`,
      got: "no reply",
      fix: "check the kernel's stderr; raise --timeout",
    });
  }

  private request(sock: zmqTypes.Dealer, msg: JupyterMessage, timeoutMs: number): Promise<JupyterMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(msg.header.msg_id);
        reject(new Error("timeout"));
      }, timeoutMs);
      this.waiters.set(msg.header.msg_id, (m) => {
        clearTimeout(t);
        this.waiters.delete(msg.header.msg_id);
        resolve(m);
      });
      void sock.send(encodeMessage(this.key, msg));
    });
  }

  /** Sends any shell request (inspect_request, complete_request, …) and resolves with its reply. */
  call(msgType: string, content: Record<string, unknown>, timeoutMs = 60_000): Promise<JupyterMessage> {
    return this.request(this.shell, requestMessage(msgType, this.session, content), timeoutMs);
  }

  /** Runs code; resolves with the reply once the kernel is idle again. Rejects on timeout (the kernel is interrupted). */
  async execute(
    code: string,
    o: { timeoutS?: number; onMessage?: (m: JupyterMessage) => void } = {},
  ): Promise<ExecuteOutcome> {
    const msg = requestMessage("execute_request", this.session, {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const messages: JupyterMessage[] = [];
    let idle!: () => void;
    const idleP = new Promise<void>((r) => (idle = r));
    this.iopubSinks.set(msg.header.msg_id, (m) => {
      if (m.header.msg_type === "status") {
        if (m.content.execution_state === "idle") idle();
        return;
      }
      if (m.header.msg_type === "execute_input") return;
      messages.push(m);
      o.onMessage?.(m);
    });
    // One exit listener per request, removed when the request ends (else every cell adds one: MaxListenersExceeded).
    let exitListener: (() => void) | undefined;
    try {
      const timeoutMs = o.timeoutS !== undefined && o.timeoutS > 0 ? o.timeoutS * 1000 : 2 ** 31 - 1;
      const died = new Promise<never>((_, reject) => {
        const onExit = () =>
          reject(
            new KernelDiedError(
              `the kernel died while running the cell (exit ${this.exited})`,
              this.stderr.split("\n").filter(Boolean).slice(-5).join("\n"),
            ),
          );
        if (this.exited !== null) onExit();
        else {
          exitListener = () => setImmediate(onExit);
          this.child.once("exit", exitListener);
        }
      });
      died.catch(() => undefined);
      const reply = await Promise.race([this.request(this.shell, msg, timeoutMs), died]).catch((e: Error) => {
        if (this.exited === null) this.child.kill("SIGINT");
        throw e;
      });
      await Promise.race([idleP, new Promise((r) => setTimeout(r, 5000))]);
      return { reply, messages };
    } finally {
      this.iopubSinks.delete(msg.header.msg_id);
      if (exitListener) this.child.removeListener("exit", exitListener);
    }
  }

  /** Asks the kernel to shut down, then makes sure it is gone, and closes the sockets. */
  async shutdown(): Promise<void> {
    if (this.exited === null) {
      const req = requestMessage("shutdown_request", this.session, { restart: false });
      await this.request(this.control, req, 3000).catch(() => undefined);
      const gone = new Promise((r) => this.child.once("exit", r));
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (this.exited === null) this.child.kill("SIGKILL");
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    fs.rmSync(path.dirname(this.connFile), { recursive: true, force: true });
  }
}
