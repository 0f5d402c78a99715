/**
 * The Jupyter wire protocol (messaging spec 5.3): parse, sign and build messages. Pure functions shared by the kernel
 * server and the headless runner's client, so both sides sign and verify the same way.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The delimiter between ZMQ routing identities and the signed message parts. */
export const DELIM = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

/** A decoded Jupyter message. Content is loosely typed: each handler validates what it reads. */
export interface JupyterMessage {
  identities: Buffer[];
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers: Buffer[];
}

/** HMAC-SHA256 hex digest over the four JSON parts; empty when the connection has no key. */
export function sign(key: string, parts: readonly (string | Buffer)[]): string {
  if (key === "") return "";
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Decodes raw frames, verifying the signature; throws on a missing delimiter or a bad signature. */
export function decodeMessage(key: string, frames: readonly Buffer[]): JupyterMessage {
  const at = frames.findIndex((f) => f.equals(DELIM));
  if (at < 0 || frames.length < at + 6) throw new Error(`malformed Jupyter message: ${frames.length} frames`);
  const signature = frames[at + 1].toString();
  const parts = frames.slice(at + 2, at + 6);
  const want = sign(key, parts);
  const a = Buffer.from(signature);
  const b = Buffer.from(want);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new Error("invalid message signature");
  return {
    identities: frames.slice(0, at),
    header: JSON.parse(parts[0].toString()) as MessageHeader,
    parent_header: JSON.parse(parts[1].toString()) as Partial<MessageHeader>,
    metadata: JSON.parse(parts[2].toString()) as Record<string, unknown>,
    content: JSON.parse(parts[3].toString()) as Record<string, unknown>,
    buffers: frames.slice(at + 6),
  };
}

/** Encodes a message into signed frames ready for a ZMQ send. */
export function encodeMessage(key: string, msg: JupyterMessage): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => Buffer.from(JSON.stringify(p)));
  return [...msg.identities, DELIM, Buffer.from(sign(key, parts)), ...parts, ...msg.buffers];
}

/** A fresh header for a message of `msgType` in `session`. */
export function newHeader(msgType: string, session: string, username = "peftlab"): MessageHeader {
  return {
    msg_id: randomBytes(16).toString("hex"),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** A message answering or caused by `parent` (same identities for replies on the same socket). */
export function childMessage(
  parent: JupyterMessage,
  msgType: string,
  content: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): JupyterMessage {
  return {
    identities: parent.identities,
    header: newHeader(msgType, parent.header.session, parent.header.username),
    parent_header: parent.header,
    metadata,
    content,
    buffers: [],
  };
}

/** A new request (client side). */
export function requestMessage(msgType: string, session: string, content: Record<string, unknown>): JupyterMessage {
  return { identities: [], header: newHeader(msgType, session), parent_header: {}, metadata: {}, content, buffers: [] };
}
