/**
 * A restricted pickle virtual machine (protocols 2–5) for reading PyTorch checkpoints without Python.
 * It never executes code: GLOBAL / STACK_GLOBAL only ask `hooks.findGlobal`, which returns an inert value or a
 * `PyCallable` implemented here in TypeScript, or throws. REDUCE / NEWOBJ can only apply such callables.
 * Python values map to JS as: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list → array, tuple → frozen array, dict → PyDict (a Map), set → Set.
 */
import { CheckpointError } from "../errors";

/** A Python dict (insertion-ordered, like OrderedDict); `attrs` is what BUILD set on it (a state dict's _metadata). */
export class PyDict extends Map<PyKey, PyValue> {
  attrs?: PyDict;
}

/** Dict keys a pickle can produce that a JS Map compares by value. */
export type PyKey = string | number | bigint | boolean | null | PyValue;

/** A value the VM can hold. Objects made by allow-listed callables (tensors, storages) are `object`s of their own. */
export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyDict | Set<PyValue> | object;

/** A Python callable implemented in TypeScript: the only thing REDUCE and NEWOBJ can apply. */
export class PyCallable {
  constructor(
    /** `module.name`, for messages. */
    readonly qualname: string,
    /** Applies the callable to positional arguments; `where` is `file:offset` for errors. */
    readonly call: (args: PyValue[], where: string) => PyValue,
  ) {}
}

/** An object that accepts pickle's BUILD (`__setstate__`). */
export interface PyBuildable {
  setState(state: PyValue, where: string): void;
}

/** What the VM asks its owner. */
export interface UnpickleHooks {
  /** Resolves `module.name` to an inert value or a PyCallable; throws a CheckpointError to refuse it. */
  findGlobal(module: string, name: string, where: string): PyValue | PyCallable;
  /** Resolves a persistent id (BINPERSID); PyTorch uses it for tensor storages. */
  persistentLoad?(pid: PyValue, where: string): PyValue;
}

/** The result of one pickle: its value and the offset just past its STOP opcode (legacy files chain pickles). */
export interface UnpickleResult {
  value: PyValue;
  end: number;
}

const MARK = Symbol("mark");
const NOT_LITERAL = Symbol("not a literal");
type Slot = PyValue | PyCallable | typeof MARK;

/** Opcodes outside the supported subset, named in errors (text-protocol, extension-registry and out-of-band ones). */
const UNSUPPORTED: Record<number, string> = Object.fromEntries(
  "I:INT L:LONG F:FLOAT S:STRING V:UNICODE p:PUT g:GET P:PERSID i:INST o:OBJ"
    .split(" ")
    .map((kv) => [kv.charCodeAt(0), kv.slice(2)] as [number, string])
    .concat([
      [0x82, "EXT1"],
      [0x83, "EXT2"],
      [0x84, "EXT4"],
      [0x92, "NEWOBJ_EX"],
      [0x97, "NEXT_BUFFER"],
      [0x98, "READONLY_BUFFER"],
    ]),
);

const FIX_CORRUPT = "the checkpoint is corrupt or not a PyTorch checkpoint; re-save it with torch.save(state_dict, f)";

/** Runs one pickle starting at `start` of `data`; `file` names the source in errors. Executes no code. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks, file: string, start = 0): UnpickleResult {
  return new Machine(data, hooks, file, start).run();
}

class Machine {
  private pos: number;
  private stack: Slot[] = [];
  private marks: number[] = [];
  private memo = new Map<number, Slot>();
  private readonly view: DataView;
  private opAt = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly hooks: UnpickleHooks,
    private readonly file: string,
    start: number,
  ) {
    this.pos = start;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  run(): UnpickleResult {
    for (;;) {
      this.opAt = this.pos;
      const op = this.u8();
      if (op === 0x2e) {
        const value = this.pop();
        if (value instanceof PyCallable) throw this.fail("pickle returns a callable", "a value", value.qualname);
        return { value, end: this.pos };
      }
      this.step(op);
    }
  }

  private step(op: number): void {
    const lit = this.literal(op);
    if (lit !== NOT_LITERAL) return this.push(lit);
    // prettier-ignore
    switch (op) {
      case 0x80: // PROTO
        if (this.u8() > 5) throw this.fail("unsupported pickle protocol", "2..5", String(this.data[this.pos - 1]));
        return;
      case 0x95: // FRAME: framing is only a read-ahead hint
        this.take(8);
        return;
      case 0x28: // MARK
        this.marks.push(this.stack.length);
        this.stack.push(MARK);
        return;
      case 0x71: return this.put(this.u8()); // BINPUT
      case 0x72: return this.put(this.len(4)); // LONG_BINPUT
      case 0x94: return this.put(this.memo.size); // MEMOIZE
      case 0x68: return this.get(this.u8()); // BINGET
      case 0x6a: return this.get(this.len(4)); // LONG_BINGET
      case 0x30: return void this.pop(); // POP
      case 0x31: return void this.popMark(); // POP_MARK
      case 0x32: return void this.stack.push(this.topSlot()); // DUP
      case 0x63: // GLOBAL "module\nname\n": resolved by the allow-list, never imported
        return void this.stack.push(this.hooks.findGlobal(this.line(), this.line(), this.where()));
      case 0x93: { // STACK_GLOBAL
        const [module, name] = this.popN(2);
        if (typeof module !== "string" || typeof name !== "string") {
          throw this.fail("STACK_GLOBAL needs two strings", "strings", `${describe(module)}, ${describe(name)}`);
        }
        return void this.stack.push(this.hooks.findGlobal(module, name, this.where()));
      }
      case 0x52: // REDUCE: callable(*args)
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args), which the allow-list implements as a call
        const args = this.pop();
        return this.push(this.apply(this.popSlot(), args));
      }
      case 0x62: { // BUILD
        const state = this.pop();
        return this.build(this.top(), state);
      }
      case 0x51: { // BINPERSID
        const pid = this.pop();
        if (!this.hooks.persistentLoad) throw this.fail("persistent id outside a checkpoint", "none", describe(pid));
        return this.push(this.hooks.persistentLoad(pid, this.where()));
      }
    }
    if (!this.container(op)) {
      const hex = `0x${op.toString(16).padStart(2, "0")}`;
      throw this.fail(
        `unsupported pickle opcode ${UNSUPPORTED[op] ?? hex}`,
        "an opcode of the protocol 2–5 subset PyTorch state dicts use",
        hex,
        "re-save the checkpoint with torch.save(model.state_dict(), f) (tensors and plain containers only)",
      );
    }
  }

  /** Opcodes that push one constant; NOT_LITERAL for any other opcode (nothing consumed then). */
  private literal(op: number): PyValue | typeof NOT_LITERAL {
    // prettier-ignore
    switch (op) {
      case 0x4e: return null; // NONE
      case 0x88: return true; // NEWTRUE
      case 0x89: return false; // NEWFALSE
      case 0x4b: return this.u8(); // BININT1
      case 0x4d: return this.le(2); // BININT2
      case 0x4a: return this.view.getInt32(this.advance(4), true); // BININT
      case 0x8a: return this.long(this.u8()); // LONG1
      case 0x8b: return this.long(this.len(4)); // LONG4
      case 0x47: return this.view.getFloat64(this.advance(8), false); // BINFLOAT (big-endian)
      case 0x8c: return this.utf8(this.u8()); // SHORT_BINUNICODE
      case 0x58: return this.utf8(this.len(4)); // BINUNICODE
      case 0x8d: return this.utf8(this.len(8)); // BINUNICODE8
      case 0x55: return this.latin1(this.u8()); // SHORT_BINSTRING (a Python 2 str)
      case 0x54: return this.latin1(this.len(4)); // BINSTRING
      case 0x43: return this.take(this.u8()).slice(); // SHORT_BINBYTES
      case 0x42: return this.take(this.len(4)).slice(); // BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: return this.take(this.len(8)).slice(); // BYTEARRAY8
      case 0x7d: return new PyDict(); // EMPTY_DICT
      case 0x5d: return []; // EMPTY_LIST
      case 0x29: return tuple([]); // EMPTY_TUPLE
      case 0x8f: return new Set<PyValue>(); // EMPTY_SET
      default: return NOT_LITERAL;
    }
  }

  /** Opcodes that build or fill a container; false for any other opcode. */
  private container(op: number): boolean {
    // prettier-ignore
    switch (op) {
      case 0x85: this.push(tuple(this.popN(1))); break; // TUPLE1
      case 0x86: this.push(tuple(this.popN(2))); break; // TUPLE2
      case 0x87: this.push(tuple(this.popN(3))); break; // TUPLE3
      case 0x74: this.push(tuple(this.popMark())); break; // TUPLE
      case 0x6c: this.push(this.popMark()); break; // LIST
      case 0x64: this.push(this.fillDict(new PyDict(), this.popMark())); break; // DICT
      case 0x91: this.push(new Set(this.popMark())); break; // FROZENSET
      case 0x61: { // APPEND
        const v = this.pop();
        this.list(this.top()).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = this.popMark();
        this.list(this.top()).push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const [k, v] = this.popN(2);
        this.dict(this.top()).set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = this.popMark();
        this.fillDict(this.dict(this.top()), items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = this.popMark();
        const s = this.top();
        if (!(s instanceof Set)) throw this.fail("ADDITEMS on a non-set", "a set", describe(s));
        for (const v of items) s.add(v);
        break;
      }
      default:
        return false;
    }
    return true;
  }

  private apply(fn: Slot, args: PyValue): PyValue {
    if (!(fn instanceof PyCallable)) {
      throw this.fail(
        "REDUCE/NEWOBJ applied to a value that is not an allow-listed callable",
        "a callable",
        describe(fn),
      );
    }
    if (!Array.isArray(args)) throw this.fail(`arguments of ${fn.qualname} are not a tuple`, "a tuple", describe(args));
    return fn.call(args, this.where());
  }

  private build(obj: PyValue, state: PyValue): void {
    if (obj instanceof PyDict && state instanceof PyDict) {
      obj.attrs = state;
      return;
    }
    if (obj !== null && typeof obj === "object" && typeof (obj as Partial<PyBuildable>).setState === "function") {
      (obj as PyBuildable).setState(state, this.where());
      return;
    }
    throw this.fail("BUILD on an object that takes no state", "a dict or an allow-listed object", describe(obj));
  }

  private fillDict(d: PyDict, items: PyValue[]): PyDict {
    if (items.length % 2 !== 0) throw this.fail("odd number of dict items", "key/value pairs", `${items.length} items`);
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
    return d;
  }

  private put(i: number): void {
    this.memo.set(i, this.topSlot());
  }

  private get(i: number): void {
    if (!this.memo.has(i)) throw this.fail("memo key is not set", "a key written by PUT/MEMOIZE", String(i));
    this.stack.push(this.memo.get(i)!);
  }

  private push(v: PyValue): void {
    this.stack.push(v);
  }

  private popSlot(): PyValue | PyCallable {
    const v = this.stack.pop();
    if (v === undefined || v === MARK)
      throw this.fail("stack underflow", "a value on the stack", v === MARK ? "a MARK" : "an empty stack");
    return v;
  }

  private pop(): PyValue {
    const v = this.popSlot();
    if (v instanceof PyCallable) throw this.fail(`${v.qualname} used as a value`, "a value", "a callable");
    return v;
  }

  private popN(n: number): PyValue[] {
    const out = new Array<PyValue>(n);
    for (let i = n - 1; i >= 0; i--) out[i] = this.pop();
    return out;
  }

  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw this.fail("no MARK to pop to", "a MARK on the stack", "none");
    const items = this.stack.splice(m + 1);
    this.stack.pop(); // the MARK itself
    for (const v of items) {
      if (v === MARK || v instanceof PyCallable) throw this.fail("unexpected item inside MARK", "values", describe(v));
    }
    return items as PyValue[];
  }

  private topSlot(): Slot {
    if (this.stack.length === 0) throw this.fail("stack underflow", "a value on the stack", "an empty stack");
    return this.stack[this.stack.length - 1];
  }

  private top(): PyValue {
    const v = this.topSlot();
    if (v === MARK || v instanceof PyCallable)
      throw this.fail("expected a value on top of the stack", "a value", describe(v));
    return v;
  }

  private list(v: PyValue): PyValue[] {
    if (!Array.isArray(v) || Object.isFrozen(v)) throw this.fail("APPEND on a non-list", "a list", describe(v));
    return v;
  }

  private dict(v: PyValue): PyDict {
    if (!(v instanceof PyDict)) throw this.fail("SETITEM on a non-dict", "a dict", describe(v));
    return v;
  }

  private advance(n: number): number {
    if (n > this.data.length - this.pos) {
      throw this.fail("pickle ends in the middle of an opcode", `${n} more bytes`, `${this.data.length - this.pos}`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }

  private take(n: number): Uint8Array {
    const p = this.advance(n);
    return this.data.subarray(p, p + n);
  }

  private u8(): number {
    return this.data[this.advance(1)];
  }

  private le(n: number): number {
    let v = 0;
    const p = this.advance(n);
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.data[p + i];
    return v;
  }

  /** A length field: unsigned little-endian, which must fit in what is left of the data. */
  private len(n: number): number {
    const v = this.le(n);
    if (v > this.data.length - this.pos)
      throw this.fail("length runs past the end of the pickle", `<= ${this.data.length - this.pos}`, String(v));
    return v;
  }

  /** A two's-complement little-endian integer of `n` bytes (LONG1/LONG4). */
  private long(n: number): number | bigint {
    const b = this.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private utf8(n: number): string {
    return Buffer.from(this.take(n)).toString("utf8");
  }

  private latin1(n: number): string {
    return Buffer.from(this.take(n)).toString("latin1");
  }

  private line(): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) throw this.fail("GLOBAL name is not newline-terminated", "module\\nname\\n", "end of data");
    return this.latin1(nl - this.pos + 1).slice(0, -1);
  }

  private where(): string {
    return `${this.file}:${this.opAt}`;
  }

  private fail(what: string, expected: string, got: string, fix = FIX_CORRUPT): CheckpointError {
    return new CheckpointError(`Pickle: ${what}`, { where: this.where(), expected, got, fix });
  }
}

/** Marks an array as a Python tuple (frozen, so APPEND on it fails like in Python). */
function tuple(items: PyValue[]): PyValue[] {
  Object.freeze(items);
  return items;
}

/** A short description of a stack slot for error messages. */
function describe(v: Slot | undefined): string {
  if (v === MARK) return "a MARK";
  if (v instanceof PyCallable) return `callable ${v.qualname}`;
  if (v === null) return "None";
  if (Array.isArray(v)) return Object.isFrozen(v) ? `a tuple of ${v.length}` : `a list of ${v.length}`;
  if (v instanceof PyDict) return `a dict of ${v.size}`;
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  if (typeof v === "object") return v?.constructor?.name ?? "an object";
  return `${typeof v} ${String(v).slice(0, 40)}`;
}
