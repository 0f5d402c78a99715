/**
 * Reads PyTorch checkpoints (`torch.save` files: .pt, .pth, .bin) without Python and without executing any pickled
 * code. The zip format (torch >= 1.6: `<name>/data.pkl`, `<name>/data/<key>`, `<name>/byteorder`) and the legacy
 * format (chained pickles followed by raw storages) are both read. The pickle runs on a restricted VM
 * (torch_pickle.ts) whose only callables are the allow-list in torch_globals.ts; any other global is refused with a
 * CheckpointError (or, with `inertGlobals`, becomes an inert placeholder).
 */
import * as fs from "node:fs";
import { CheckpointError, DataError } from "../errors";
import { readAt, openForRead, readWholeFile } from "./file_read";
import { HOST_LITTLE_ENDIAN } from "./float_bits";
import type { StateDict } from "./host_tensor";
import { writeSafetensors } from "./safetensors";
import type { SafeDType } from "./safetensors_header";
import { globalResolver, type GlobalPolicy } from "./torch_globals";
import { PyDict, unpickle, type PyValue, type UnpickleHooks } from "./torch_pickle";
import { TorchStorage, TorchStorageType, TorchTensor } from "./torch_tensor";
import { ZipReader, type ZipEntry } from "./zip";

export { PyCallable, PyDict, type PyValue } from "./torch_pickle";
export { PyOpaque, type GlobalPolicy } from "./torch_globals";
export { TORCH_STORAGES, TorchTensor, type TorchDTypeInfo } from "./torch_tensor";

const FIX_RESAVE =
  "re-save only the weights in Python: torch.save(model.state_dict(), 'weights.pt') " +
  "(or save_file(state_dict, 'model.safetensors') with safetensors.torch)";

/** Options of the checkpoint readers. */
export type TorchReadOptions = GlobalPolicy;

/** Reads a PyTorch checkpoint and returns its top-level object (a PyDict for state dicts). Executes no code. */
export function readTorchCheckpoint(file: string, opts: TorchReadOptions = {}): PyValue {
  const findGlobal = globalResolver(opts);
  const fd = openForRead(file, CheckpointError, "PyTorch checkpoint");
  let magic: Uint8Array;
  try {
    const size = fs.fstatSync(fd).size;
    magic = readAt(fd, 0, Math.min(size, 512), file, CheckpointError);
  } finally {
    fs.closeSync(fd);
  }
  if (magic[0] === 0x50 && magic[1] === 0x4b && magic[2] === 0x03 && magic[3] === 0x04)
    return readZip(file, findGlobal);
  if (magic[0] === 0x80 && magic[1] >= 2) return readLegacy(file, findGlobal);
  const isTar = Buffer.from(magic.subarray(257, 262)).toString("latin1") === "ustar";
  throw new CheckpointError(
    isTar ? "Tar-format PyTorch checkpoints (torch < 0.4) are not supported" : "Not a PyTorch checkpoint",
    {
      where: file,
      expected: "a torch.save file (zip archive, or a legacy pickle starting with 0x80 0x02)",
      got: `first bytes ${Buffer.from(magic.subarray(0, 4)).toString("hex")}`,
      fix: isTar ? `load it with torch >= 1.6 and ${FIX_RESAVE}` : "pass a .pt/.pth/.bin written by torch.save",
    },
  );
}

/** Where `extractStateDict` found the tensors, and their original dtypes (to write float16 / bfloat16 back as such). */
export interface ExtractedStateDict {
  stateDict: StateDict;
  /** safetensors dtype per key that keeps the stored values exactly (F16 for a float16 tensor, ...). */
  dtypes: Map<string, SafeDType>;
  /** The key path of the dict that held the tensors ("" for the top level, "teacher", "model", ...). */
  from: string;
  /** The prefix removed from every key ("module." from DistributedDataParallel), or "". */
  strippedPrefix: string;
}

/** Keys under which training scripts nest the weights, in the order they are tried (DINO: teacher, not student). */
export const STATE_DICT_KEYS = ["state_dict", "model_state_dict", "model", "teacher", "module", "net", "network"];

/** Finds the state dict in a checkpoint's top object (top level, or under STATE_DICT_KEYS) and strips "module.". */
export function extractStateDict(obj: PyValue, where = "checkpoint"): ExtractedStateDict {
  const found = findTensorDict(obj, "", 0);
  if (!found) {
    const keys = obj instanceof PyDict ? [...obj.keys()].map(String).slice(0, 12).join(", ") : describeTop(obj);
    throw new CheckpointError("No state dict found in the checkpoint", {
      where,
      expected: `a dict of tensors, at the top level or under one of ${STATE_DICT_KEYS.join(", ")}`,
      got: obj instanceof PyDict ? `a dict with keys ${keys}` : keys,
      fix: FIX_RESAVE,
    });
  }
  const { dict, from } = found;
  const names = [...dict.keys()].map(String);
  const strippedPrefix = names.length > 0 && names.every((k) => k.startsWith("module.")) ? "module." : "";
  const stateDict: StateDict = new Map();
  const dtypes = new Map<string, SafeDType>();
  for (const [k, v] of dict) {
    const name = String(k).slice(strippedPrefix.length);
    if (!(v instanceof TorchTensor)) {
      throw new CheckpointError("State dict entry is not a tensor", {
        where: `${where}${from ? ` [${from}]` : ""} key ${String(k)}`,
        expected: "a tensor",
        got: describeTop(v),
        fix: FIX_RESAVE,
      });
    }
    stateDict.set(name, v.tensor);
    dtypes.set(name, v.dtype.safe);
  }
  return { stateDict, dtypes, from, strippedPrefix };
}

/** Reads a checkpoint and returns its state dict (see extractStateDict). */
export function loadTorchStateDict(file: string, opts: TorchReadOptions = {}): ExtractedStateDict {
  return extractStateDict(readTorchCheckpoint(file, opts), file);
}

/** Converts a PyTorch checkpoint to safetensors, keeping each tensor's dtype; returns what was written. */
export function convertTorchToSafetensors(
  input: string,
  output: string,
  metadata: Record<string, string> = { format: "pt" },
  opts: TorchReadOptions = {},
): ExtractedStateDict {
  const sd = loadTorchStateDict(input, opts);
  writeSafetensors(output, sd.stateDict, { dtypes: sd.dtypes, metadata });
  return sd;
}

function findTensorDict(obj: PyValue, path: string, depth: number): { dict: PyDict; from: string } | undefined {
  if (!(obj instanceof PyDict) || depth > 2) return undefined;
  const values = [...obj.values()];
  if (values.length > 0 && values.every((v) => v instanceof TorchTensor)) return { dict: obj, from: path };
  for (const k of STATE_DICT_KEYS) {
    const hit = findTensorDict(obj.get(k) ?? null, path ? `${path}.${k}` : k, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

function describeTop(v: PyValue): string {
  if (v === null) return "None";
  if (v instanceof TorchTensor) return `a tensor [${v.tensor.shape.join(", ")}]`;
  if (v instanceof PyDict) return `a dict of ${v.size}`;
  if (Array.isArray(v)) return `a list/tuple of ${v.length}`;
  return typeof v === "object" ? (v.constructor?.name ?? "an object") : `${typeof v} ${String(v).slice(0, 40)}`;
}

/** Persistent ids: ("storage", StorageType, key, location, numel[, view_metadata]) → a lazily read storage. */
function storageLoader(
  open: (key: string, dtype: TorchStorageType, numel: number) => TorchStorage,
): NonNullable<UnpickleHooks["persistentLoad"]> {
  const seen = new Map<string, TorchStorage>();
  return (pid, where) => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof TorchStorageType)) {
      throw new CheckpointError("Unsupported persistent id in checkpoint", {
        where,
        expected: '("storage", torch.<Type>Storage, key, location, numel)',
        got: describeTop(pid),
        fix: FIX_RESAVE,
      });
    }
    const [, type, key, , numel, view] = pid as [string, TorchStorageType, PyValue, PyValue, PyValue, PyValue];
    const k = String(key);
    let s = seen.get(k);
    if (!s) {
      s = open(k, type, Number(numel));
      seen.set(k, s);
    }
    if (Array.isArray(view) && view.length === 3) {
      const vk = String(view[0]);
      if (!seen.has(vk)) seen.set(vk, s.view(vk, Number(view[1]), Number(view[2])));
      return seen.get(vk)!;
    }
    return s;
  };
}

// ---- containers ---------------------------------------------------------------------------------------------------

type Resolver = UnpickleHooks["findGlobal"];

function readZip(file: string, findGlobal: Resolver): PyValue {
  let zip: ZipReader;
  try {
    zip = ZipReader.open(file);
  } catch (e) {
    throw rewrap(e, file);
  }
  try {
    const pkl = zip.entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (!pkl) {
      throw new CheckpointError("Zip file is not a PyTorch checkpoint (no <name>/data.pkl)", {
        where: file,
        expected: "<name>/data.pkl as written by torch.save",
        got:
          zip.entries
            .slice(0, 5)
            .map((e) => e.name)
            .join(", ") || "an empty archive",
        fix: "pass a file written by torch.save",
      });
    }
    const prefix = pkl.name.slice(0, -"data.pkl".length);
    const byName = new Map(zip.entries.map((e) => [e.name, e]));
    const member = (name: string): ZipEntry | undefined => byName.get(prefix + name);
    const order = member("byteorder");
    const big = order !== undefined && Buffer.from(zip.read(order)).toString("latin1").trim() === "big";
    const swap = big === HOST_LITTLE_ENDIAN;
    const persistentLoad = storageLoader((key, type, numel) => {
      const e = member(`data/${key}`);
      if (!e) {
        throw new CheckpointError("Checkpoint storage is missing", {
          where: `${file} (${prefix}data/${key})`,
          expected: "a member for every storage data.pkl names",
          got: "none",
          fix: "the checkpoint is truncated or corrupt; re-download or re-save it",
        });
      }
      return new TorchStorage(key, type.dtype, numel, () => readMember(zip, e, file), swap);
    });
    // Storages are read while unpickling (each tensor is rebuilt at once), so the zip stays open until then.
    return unpickle(readMember(zip, pkl, file), { findGlobal, persistentLoad }, `${file}:${pkl.name}`).value;
  } finally {
    zip.close();
  }
}

function readMember(zip: ZipReader, e: ZipEntry, file: string): Uint8Array {
  try {
    return zip.read(e);
  } catch (err) {
    throw rewrap(err, file);
  }
}

function rewrap(e: unknown, file: string): unknown {
  if (!(e instanceof DataError)) return e;
  return new CheckpointError(`Corrupt PyTorch zip checkpoint: ${e.message.replace(/\. Fix: .*$/, "")}`, {
    where: file,
    fix: "re-download the file, or re-save it with torch.save",
  });
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Pre-1.6 format: pickles of magic, protocol version, sys_info, the object, the storage keys; then raw storages. */
function readLegacy(file: string, findGlobal: Resolver): PyValue {
  const data = readWholeFile(file, CheckpointError, "PyTorch checkpoint");
  const none: UnpickleHooks = { findGlobal: globalResolver() }; // the header pickles are plain data, always strict
  const magic = unpickle(data, none, file, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheckpointError("Not a PyTorch checkpoint (a plain pickle without torch's magic number)", {
      where: `${file}:0`,
      expected: `torch's legacy magic ${LEGACY_MAGIC}`,
      got: describeTop(magic.value),
      fix: "pass a file written by torch.save; plain pickles are not read",
    });
  }
  const proto = unpickle(data, none, file, magic.end);
  const sys = unpickle(data, none, file, proto.end);
  if (proto.value !== 1001) {
    throw new CheckpointError("Unsupported legacy checkpoint protocol", {
      where: `${file}:${magic.end}`,
      expected: "1001",
      got: String(proto.value),
      fix: `load it with torch and ${FIX_RESAVE}`,
    });
  }
  const little = !(sys.value instanceof PyDict) || sys.value.get("little_endian") !== false;
  // Storage bytes follow the object's pickle, whose end is known only after running it: a first pass over zero-filled
  // storages finds that end and each storage's size; the second pass rebuilds the tensors from the real bytes.
  const sizes = new Map<string, { type: TorchStorageType; numel: number }>();
  const dry = storageLoader((key, type, numel) => {
    if (!Number.isSafeInteger(numel) || numel < 0 || numel * type.dtype.itemsize > data.length) {
      // The storage's bytes follow in this file, so a larger count is corrupt: refuse it before allocating.
      throw new CheckpointError("Legacy checkpoint storage is larger than the file", {
        where: `${file} (storage ${key})`,
        expected: `at most ${data.length} bytes`,
        got: `${numel} × ${type.dtype.itemsize} bytes`,
        fix: FIX_RESAVE,
      });
    }
    sizes.set(key, { type, numel });
    return new TorchStorage(key, type.dtype, numel, () => new Uint8Array(numel * type.dtype.itemsize), false);
  });
  const first = unpickle(data, { findGlobal, persistentLoad: dry }, file, sys.end);
  const raw = legacyStorages(data, file, first.end, sizes, findGlobal, little);
  const persistentLoad = storageLoader(
    (key, type, numel) =>
      new TorchStorage(key, type.dtype, numel, () => raw.get(key)!.slice(), little !== HOST_LITTLE_ENDIAN),
  );
  return unpickle(data, { findGlobal, persistentLoad }, file, sys.end).value;
}

/** The raw storage records after the object's pickle: a pickled key list, then per key an int64 count and the bytes. */
function legacyStorages(
  data: Uint8Array,
  file: string,
  start: number,
  sizes: Map<string, { type: TorchStorageType; numel: number }>,
  findGlobal: Resolver,
  little: boolean,
): Map<string, Uint8Array> {
  const bad = (at: number, expected: string, got: string) =>
    new CheckpointError("Legacy checkpoint storage records are corrupt", {
      where: `${file}:${at}`,
      expected,
      got,
      fix: FIX_RESAVE,
    });
  const keys = unpickle(data, { findGlobal }, file, start);
  if (!Array.isArray(keys.value)) throw bad(start, "a pickled list of storage keys", describeTop(keys.value));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const raw = new Map<string, Uint8Array>();
  let p = keys.end;
  for (const key of keys.value.map(String)) {
    const info = sizes.get(key);
    if (!info) throw bad(p, "a key the object's pickle named", key);
    if (p + 8 > data.length) throw bad(p, `storage ${key}`, "end of file");
    const n = Number(view.getBigInt64(p, little)); // written in the saving machine's byte order
    const bytes = n * info.type.dtype.itemsize;
    if (n !== info.numel || p + 8 + bytes > data.length) {
      throw bad(p, `${info.numel} elements for storage ${key}`, `${n} (${data.length - p - 8} bytes left in the file)`);
    }
    raw.set(key, data.subarray(p + 8, p + 8 + bytes));
    p += 8 + bytes;
  }
  for (const key of sizes.keys()) if (!raw.has(key)) throw bad(p, `a record for storage ${key}`, "none");
  return raw;
}
