/**
 * The ZMQ side: tslab's ZmqServer binds the five sockets and runs the heartbeat; this subclass replaces its message
 * dispatch to answer every request type correctly (kernel_info with status, comm_info_reply, history_reply,
 * interrupt), serialise the shell channel, publish busy/idle for every request and honour stop_on_error without
 * tslab's timed 200 ms abort window.
 */
import { ZmqServer } from "tslab/dist/jupyter";
import * as ts from "@tslab/typescript-for-tslab";
import { jupyter } from "../lib";
import type { KernelSession } from "./session";
import type { HistoryRequest } from "./history";

const { childMessage, decodeMessage, encodeMessage, PROTOCOL_VERSION } = jupyter;
type JupyterMessage = jupyter.JupyterMessage;

/** Requests answered at once, even while a cell runs (they do not touch the executor). */
const IMMEDIATE = new Set(["kernel_info_request", "comm_info_request", "interrupt_request", "shutdown_request"]);

/** kernel_info_reply content. */
export function kernelInfo(version: string): Record<string, unknown> {
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "peftlab",
    implementation_version: version,
    language_info: {
      name: "typescript",
      version: ts.version,
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
      // The same CodeMirror setting tslab uses: highlights TypeScript in Notebook and Lab.
      codemirror_mode: { name: "javascript", mode: "typescript", typescript: true },
    },
    banner: `peftlab kernel ${version} (TypeScript ${ts.version} via tslab, Node ${process.version})`,
    help_links: [{ text: "peftlab", url: "https://github.com/peftlab/peftlab" }],
    debugger: false,
  };
}

interface Socket {
  send(frames: Buffer[]): Promise<void>;
}

/** How long an error waits for already-sent requests to be read before it decides which ones to abort. */
const ABORT_POLL_MS = 5;

export class PeftlabServer extends ZmqServer {
  private shellQueue: Promise<void> = Promise.resolve();
  private readonly sendChains = new Map<Socket, Promise<void>>();
  /** Shell messages are numbered on arrival; after an error, queued executes up to this number are aborted. */
  private arrived = 0;
  private abortThrough = 0;
  /** Resolves when startup work (converter warm-up, prelude) is done; executes wait for it. */
  ready: Promise<void> = Promise.resolve();
  onShutdown: () => void = () => process.exit(0);
  /** Shown as stderr in the first executed cell (e.g. a failed prelude), then cleared. */
  startupWarning = "";
  /** Called after each kernel_info_reply (startup waits for the client's handshake before blocking work). */
  onKernelInfo: () => void = () => {};
  /**
   * kernel_info_reply waits for this: the kernel says it is ready once it can run a cell at once, as ipykernel does
   * after its imports. Clients buffer or queue requests until then (Notebook 6.4 sends them once connected).
   */
  infoReady: Promise<void> = Promise.resolve();

  constructor(
    configPath: string,
    private readonly session: KernelSession,
    private readonly version: string,
  ) {
    super(session.tslab, configPath);
  }

  override async handleShellMessage(sock: unknown, ...frames: Buffer[]): Promise<void> {
    let msg: JupyterMessage;
    try {
      msg = decodeMessage(this.connInfo.key, frames);
    } catch (e) {
      process.stderr.write(`peftlab kernel: dropped a message: ${(e as Error).message}\n`);
      return;
    }
    const s = sock as Socket;
    if (IMMEDIATE.has(msg.header.msg_type)) return this.withStatus(msg, () => this.dispatch(s, msg, 0));
    const seq = ++this.arrived;
    const task = this.shellQueue.then(() => this.withStatus(msg, () => this.dispatch(s, msg, seq)));
    this.shellQueue = task.catch(() => {});
    return task;
  }

  private async withStatus(msg: JupyterMessage, fn: () => Promise<void>): Promise<void> {
    this.publish(msg, "status", { execution_state: "busy" });
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`peftlab kernel: ${msg.header.msg_type} failed: ${(e as Error).stack}\n`);
    } finally {
      this.publish(msg, "status", { execution_state: "idle" });
    }
  }

  /** Publishes an iopub message caused by `parent`. */
  publish(parent: JupyterMessage, msgType: string, content: Record<string, unknown>): void {
    const m = childMessage(parent, msgType, content);
    m.identities = [Buffer.from(`kernel.${msgType}`)];
    this.sendOn(this.iopub as unknown as Socket, encodeMessage(this.connInfo.key, m));
  }

  private reply(sock: Socket, parent: JupyterMessage, msgType: string, content: Record<string, unknown>): void {
    this.sendOn(sock, encodeMessage(this.connInfo.key, childMessage(parent, msgType, content)));
  }

  /** zeromq 6 allows one pending send per socket: chain them. */
  private sendOn(sock: Socket, frames: Buffer[]): void {
    const prev = this.sendChains.get(sock) ?? Promise.resolve();
    const next = prev
      .then(() => sock.send(frames))
      .catch((e: Error) => {
        process.stderr.write(`peftlab kernel: send failed: ${e.message}\n`);
      });
    this.sendChains.set(sock, next);
  }

  private async dispatch(sock: Socket, msg: JupyterMessage, seq: number): Promise<void> {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        await this.infoReady;
        this.reply(sock, msg, "kernel_info_reply", kernelInfo(this.version));
        return this.onKernelInfo();
      case "comm_info_request":
        return this.reply(sock, msg, "comm_info_reply", { status: "ok", comms: {} });
      case "execute_request":
        return this.execute(sock, msg, seq);
      case "is_complete_request":
        return this.reply(sock, msg, "is_complete_reply", this.session.isComplete(String(c.code ?? "")));
      case "inspect_request":
        // After the prelude, so `peftlab`, `tf` and `aq` have their types (not `any`) right after start.
        await this.ready;
        return this.reply(
          sock,
          msg,
          "inspect_reply",
          this.session.inspect(String(c.code ?? ""), Number(c.cursor_pos ?? 0), Number(c.detail_level ?? 0)),
        );
      case "complete_request":
        await this.ready;
        return this.reply(sock, msg, "complete_reply", {
          ...this.session.tslab.handleComplete(c as never),
        } as Record<string, unknown>);
      case "history_request":
        return this.reply(sock, msg, "history_reply", {
          status: "ok",
          history: this.session.history.query(c as HistoryRequest),
        });
      case "interrupt_request":
        this.session.interrupt();
        return this.reply(sock, msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request":
        this.reply(sock, msg, "shutdown_reply", { status: "ok", restart: c.restart === true });
        setTimeout(() => {
          this.close();
          this.onShutdown();
        }, 50);
        return;
      case "comm_open":
      case "comm_msg":
      case "comm_close":
        return; // No comm targets: per the spec a kernel may ignore these.
      default:
        process.stderr.write(`peftlab kernel: unsupported message type ${msg.header.msg_type}\n`);
    }
  }

  private async execute(sock: Socket, msg: JupyterMessage, seq: number): Promise<void> {
    await this.ready;
    if (seq <= this.abortThrough) {
      // Queued behind a failed cell with stop_on_error: aborted, as ipykernel does. Like ipykernel's, the reply
      // carries no execution_count, so frontends leave the skipped cell's prompt empty (`In [ ]`).
      return this.reply(sock, msg, "execute_reply", { status: "aborted" });
    }
    const c = msg.content;
    if (c.silent !== true) {
      // What start-up has to say goes into the first cell that shows output: the prelude's displays (the backend
      // note, as a quiet display_data), and a failed prelude's error as stderr.
      for (const content of this.session.startupOutputs.splice(0)) this.publish(msg, "display_data", content);
      if (this.startupWarning !== "") this.publish(msg, "stream", { name: "stderr", text: this.startupWarning });
      this.startupWarning = "";
    }
    const reply = await this.session.execute(
      {
        code: String(c.code ?? ""),
        silent: c.silent === true,
        store_history: c.store_history !== false,
        stop_on_error: c.stop_on_error !== false,
      },
      (t, content) => this.publish(msg, t, content),
    );
    if (reply.status === "error" && c.stop_on_error !== false) {
      // A synchronous cell blocks the event loop, so requests sent while it ran are still unread: give the loop
      // I/O polls to number them, then abort everything that arrived before this error reply goes out.
      // zeromq hands over one queued message per poll, so keep polling until a poll brings nothing new.
      let seen = -1;
      for (let i = 0; i < 40 && seen !== this.arrived; i++) {
        seen = this.arrived;
        await new Promise((r) => setTimeout(r, ABORT_POLL_MS));
      }
      this.abortThrough = this.arrived;
    }
    this.reply(sock, msg, "execute_reply", reply as unknown as Record<string, unknown>);
  }
}
