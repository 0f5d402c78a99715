/**
 * The allow-list of Python globals a PyTorch checkpoint may reference. Each is an inert value (a storage type, a dtype
 * name) or a TypeScript re-implementation (OrderedDict, _rebuild_tensor_v2, ...); nothing is ever imported or run.
 * Any other global is refused, or, when the caller asks for it, replaced by an inert placeholder that records its
 * arguments and state without interpreting them (so tensors elsewhere in a training checkpoint can still be read).
 */
import { CheckpointError } from "../errors";
import { PyCallable, PyDict, type PyBuildable, type PyValue } from "./torch_pickle";
import { rebuildTensor, TORCH_STORAGES, TorchStorage, TorchStorageType, TorchTensor } from "./torch_tensor";

/** How to treat globals outside the allow-list. */
export interface GlobalPolicy {
  /** Replace them by inert `PyOpaque` placeholders instead of refusing the file (default false). */
  inertGlobals?: boolean;
}

/** What an unknown global became under `inertGlobals`: its name, the arguments it was applied to and BUILD state. */
export class PyOpaque implements PyBuildable {
  state: PyValue = null;
  constructor(
    readonly qualname: string,
    readonly args: PyValue[],
  ) {}

  /** Records the state; never interprets it. */
  setState(state: PyValue): void {
    this.state = state;
  }
}

const FIX_TRUST =
  "if the file is a training checkpoint (args, optimizer, numpy values next to the weights), pass " +
  "--inert-globals (API: { inertGlobals: true }) to read its tensors with those objects as inert placeholders; or " +
  "re-save only the weights in Python: torch.save(model.state_dict(), 'weights.pt')";

/** Returns the resolver for GLOBAL / STACK_GLOBAL under a policy. */
export function globalResolver(
  policy: GlobalPolicy = {},
): (m: string, n: string, where: string) => PyValue | PyCallable {
  return (module, name, where) => {
    const hit = allowListed(module, name);
    if (hit !== undefined) return hit;
    const q = `${module}.${name}`;
    if (policy.inertGlobals) return new PyCallable(q, (args) => new PyOpaque(q, args));
    throw new CheckpointError(`Checkpoint references the Python global ${q}, which is not allow-listed`, {
      where,
      expected: "only tensors, storages and plain containers (collections.OrderedDict, torch._utils._rebuild_*)",
      got: `${q}; nothing was executed (peftlab never runs pickled code)`,
      fix: FIX_TRUST,
    });
  };
}

/** The allow-listed globals; undefined for any other. */
function allowListed(module: string, name: string): PyValue | PyCallable | undefined {
  const q = `${module}.${name}`;
  if (module === "torch" && name in TORCH_STORAGES) return new TorchStorageType(q, TORCH_STORAGES[name]);
  switch (q) {
    case "collections.OrderedDict":
      return new PyCallable(q, (args, at) => {
        const d = new PyDict();
        const items = args[0];
        if (args.length > 1 || (items != null && !Array.isArray(items))) badArgs(q, at, "() or ([(k, v), ...],)");
        for (const kv of (items as PyValue[] | null) ?? []) {
          if (!Array.isArray(kv) || kv.length !== 2) badArgs(q, at, "(key, value) pairs");
          d.set(kv[0], kv[1]);
        }
        return d;
      });
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2":
      return new PyCallable(q, (args, at) => {
        const [storage, offset, size, stride, requiresGrad] = args;
        if (!(storage instanceof TorchStorage) || typeof offset !== "number")
          badArgs(q, at, "(storage, offset, size, stride, ...)");
        const t = rebuildTensor(storage, offset, intTuple(size, q, at), intTuple(stride, q, at), at);
        return new TorchTensor(t, storage.dtype, requiresGrad === true, false);
      });
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      return new PyCallable(q, (args, at) => {
        const [data, requiresGrad, , state] = args;
        if (!(data instanceof TorchTensor)) badArgs(q, at, "(tensor, requires_grad, hooks[, state])");
        const p = data.asParameter(requiresGrad === true);
        if (state !== undefined) p.setState(state);
        return p;
      });
    case "torch.Size":
      return new PyCallable(q, (args, at) => Object.freeze([...intTuple(args[0] ?? [], q, at)]));
    case "builtins.set":
    case "builtins.frozenset":
    case "__builtin__.set": // protocol 2 writes Python 2 names
    case "__builtin__.frozenset":
      return new PyCallable(q, (args) => new Set(Array.isArray(args[0]) ? args[0] : []));
    case "_codecs.encode": // protocol 2 pickles Python 3 bytes as _codecs.encode(str, "latin1")
      return new PyCallable(q, (args, at) => {
        if (typeof args[0] !== "string" || args[1] !== "latin1") badArgs(q, at, '(str, "latin1")');
        return Uint8Array.from(Buffer.from(args[0] as string, "latin1"));
      });
  }
  if (module === "torch" && /^(u?int\d+|float\d*|bfloat16|half|double|long|bool)$/.test(name)) return q; // a dtype
  return undefined;
}

function badArgs(q: string, where: string, expected: string): never {
  throw new CheckpointError(`Unexpected arguments to ${q}`, {
    where,
    expected,
    got: "something else",
    fix: "the checkpoint is corrupt or was written by an unsupported torch version; re-save it with torch.save",
  });
}

function intTuple(v: PyValue, q: string, where: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isInteger(x))) {
    badArgs(q, where, "a tuple of integers");
  }
  return v as number[];
}
