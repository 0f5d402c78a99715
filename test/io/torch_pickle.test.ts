import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CheckpointError } from "../../lib/errors";
import type { HostTensor } from "../../lib/io/host_tensor";
import { readSafetensors, SafetensorsFile } from "../../lib/io/safetensors";
import {
  convertTorchToSafetensors,
  extractStateDict,
  PyOpaque,
  loadTorchStateDict,
  PyDict,
  readTorchCheckpoint,
  TorchTensor,
  type PyValue,
} from "../../lib/io/torch_checkpoint";
import { unpickle, PyCallable } from "../../lib/io/torch_pickle";

/** Written by test/fixtures/make_torch_checkpoints.py with real PyTorch (torch.save / torch.load). */
const DIR = path.join(__dirname, "..", "fixtures", "torch");
interface TensorCase {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}
interface Case {
  state_dict?: Record<string, TensorCase>;
  from?: string;
  scalars?: Record<string, unknown>;
  error?: string;
  marker?: string;
  value?: unknown;
  inert?: Record<string, Record<string, unknown>>;
  pickles?: Record<string, string>;
}
const EXPECTED = JSON.parse(fs.readFileSync(path.join(DIR, "expected.json"), "utf8")) as {
  torch: string;
  cases: Record<string, Case>;
};
const SD_CASES = Object.entries(EXPECTED.cases).filter(([, c]) => c.state_dict && !c.error);
const EVIL_CASES = Object.entries(EXPECTED.cases).filter(([, c]) => c.error && !c.state_dict);
const TRAINING_CASES = Object.entries(EXPECTED.cases).filter(([, c]) => c.error && c.state_dict);

/** torch dtype → (HostTensor dtype, safetensors dtype). */
const DTYPES: Record<string, [string, string]> = {
  float32: ["float32", "F32"],
  float16: ["float32", "F16"],
  bfloat16: ["float32", "BF16"],
  float64: ["float64", "F64"],
  int64: ["int64", "I64"],
  int32: ["int32", "I32"],
  int16: ["int16", "I16"],
  int8: ["int8", "I8"],
  uint8: ["uint8", "U8"],
  bool: ["bool", "BOOL"],
};

/** Checks a host tensor bit for bit against what torch.load returned. */
function assertTensor(got: HostTensor | undefined, want: TensorCase, name: string): void {
  assert.ok(got, `${name} missing`);
  assert.equal(got.dtype, DTYPES[want.dtype][0], `${name} dtype`);
  assert.deepEqual(got.shape, want.shape, `${name} shape`);
  const d = got.data;
  let values: (number | string)[];
  if (want.dtype === "float32" || want.dtype === "float16" || want.dtype === "bfloat16") {
    values = Array.from(new Int32Array(d.buffer, d.byteOffset, d.length)); // float32 bit patterns
  } else if (want.dtype === "int64") {
    values = Array.from(d as BigInt64Array, (v) => v.toString());
  } else if (want.dtype === "float64") {
    values = Array.from(d as Float64Array);
    assert.deepEqual(
      values,
      want.values.map((s) => Number(s)),
      `${name} values`,
    );
    return;
  } else {
    values = Array.from(d as ArrayLike<number>);
  }
  assert.deepEqual(values, want.values, `${name} values`);
}

/** The tagged JSON form make_torch_checkpoints.py writes, computed from an unpickled value. */
function tag(v: PyValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: v.toString() };
  if (typeof v === "number")
    return Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) <= 2 ** 53 ? v : { float: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString("hex") };
  if (v instanceof Set) return { set: [...v].map(tag).sort() };
  if (v instanceof PyDict) return { dict: [...v].map(([k, x]) => [tag(k), tag(x)]) };
  if (Array.isArray(v)) return Object.isFrozen(v) ? { tuple: v.map(tag) } : v.map(tag);
  throw new Error(`untaggable ${String(v)}`);
}

/** Python float reprs ("1.0", "5e-324") → numbers, so integral floats compare with the VM's numbers. */
function untagFloats(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(untagFloats);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.float === "string") {
      const x = Number(o.float);
      return Number.isInteger(x) && Math.abs(x) <= 2 ** 53 ? x : { float: x };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, untagFloats(x)]));
  }
  return v;
}

describe("io/torch_pickle: PyTorch checkpoints written by real torch", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-torch-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("has fixtures from torch", () => {
    assert.match(EXPECTED.torch, /^\d+\.\d+/);
    assert.ok(SD_CASES.length >= 8 && EVIL_CASES.length >= 3);
  });

  for (const [file, c] of SD_CASES) {
    it(`${file}: every tensor equals torch.load's, in order, bit for bit`, () => {
      const got = loadTorchStateDict(path.join(DIR, file));
      assert.deepEqual([...got.stateDict.keys()], Object.keys(c.state_dict!));
      for (const [k, want] of Object.entries(c.state_dict!)) {
        assertTensor(got.stateDict.get(k), want, `${file}:${k}`);
        assert.equal(got.dtypes.get(k), DTYPES[want.dtype][1], `${file}:${k} safetensors dtype`);
      }
      assert.equal(got.from, c.from ?? "");
    });

    it(`${file}: converts to safetensors that reads back identically, in the original dtypes`, () => {
      const out = path.join(tmp, `${file}.safetensors`);
      convertTorchToSafetensors(path.join(DIR, file), out);
      const back = readSafetensors(out);
      assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(c.state_dict!).sort());
      for (const [k, want] of Object.entries(c.state_dict!)) {
        assertTensor(back.tensors.get(k), want, `${out}:${k}`);
        assert.equal(back.dtypes.get(k), DTYPES[want.dtype][1], `${out}:${k} dtype on disk`);
      }
      assert.equal(back.metadata.format, "pt");
    });
  }

  it("keeps plain Python values of a nested checkpoint and strips DDP's module. prefix", () => {
    const top = readTorchCheckpoint(path.join(DIR, "nested.pth"));
    assert.ok(top instanceof PyDict);
    const scalars = EXPECTED.cases["nested.pth"].scalars!;
    for (const [k, v] of Object.entries(scalars)) assert.deepEqual(top.get(k), v, k);
    assert.ok(Object.isFrozen(top.get("pair")), "a tuple is a frozen array");
    const sd = extractStateDict(top);
    assert.equal(sd.from, "model");
    assert.equal(sd.strippedPrefix, "module.");
    assert.ok([...(top.get("model") as PyDict).keys()].every((k) => String(k).startsWith("module.")));
  });

  it("rebuilds tied weights from one shared storage and keeps nn.Parameter flags", () => {
    const top = readTorchCheckpoint(path.join(DIR, "shared.pt")) as PyDict;
    const a = top.get("embed.weight") as TorchTensor;
    const b = top.get("head.weight") as TorchTensor;
    assert.ok(a.isParameter && a.requiresGrad);
    assert.equal(a, b, "one Parameter saved under two keys is one object (a memo reference), as in Python");
    const half = top.get("head.half") as TorchTensor;
    assert.ok(!half.isParameter);
    assert.deepEqual(
      Array.from(half.tensor.data as Float32Array),
      Array.from(a.tensor.data as Float32Array).slice(2, 6),
    );
  });

  it("keeps a state dict's _metadata (set by BUILD) apart from its entries", () => {
    const top = readTorchCheckpoint(path.join(DIR, "module.bin")) as PyDict;
    assert.ok(top.attrs?.get("_metadata") instanceof PyDict);
    assert.ok(![...top.keys()].includes("_metadata"));
  });

  for (const [file, c] of EVIL_CASES) {
    it(`${file}: refuses ${c.error} with a CheckpointError and runs nothing`, () => {
      const markers = [path.resolve(c.marker!), path.join(DIR, c.marker!), path.join(os.tmpdir(), c.marker!)];
      for (const m of markers) assert.ok(!fs.existsSync(m), `${m} exists before the test`);
      assert.throws(
        () => readTorchCheckpoint(path.join(DIR, file)),
        (e: unknown) =>
          e instanceof CheckpointError &&
          e.message.includes(c.error!) &&
          /nothing was executed/.test(e.message) &&
          e.where!.startsWith(path.join(DIR, file)),
      );
      for (const m of markers) assert.ok(!fs.existsSync(m), `${m} was created`);
      assert.throws(() => convertTorchToSafetensors(path.join(DIR, file), path.join(tmp, "evil.safetensors")));
      assert.ok(!fs.existsSync(path.join(tmp, "evil.safetensors")), "no output is written for a refused file");
    });
  }

  for (const [file, c] of TRAINING_CASES) {
    it(`${file}: refuses ${c.error} by default; with inertGlobals reads the weights and keeps placeholders`, () => {
      const f = path.join(DIR, file);
      assert.throws(
        () => loadTorchStateDict(f),
        (e: unknown) =>
          e instanceof CheckpointError && e.message.includes(c.error!) && /--inert-globals/.test(e.message),
      );
      const got = loadTorchStateDict(f, { inertGlobals: true });
      assert.equal(got.from, c.from);
      for (const [k, want] of Object.entries(c.state_dict!)) assertTensor(got.stateDict.get(k), want, `${file}:${k}`);
      const top = readTorchCheckpoint(f, { inertGlobals: true }) as PyDict;
      for (const [k, attrs] of Object.entries(c.inert!)) {
        const o = top.get(k);
        assert.ok(o instanceof PyOpaque, k);
        assert.equal(o.qualname, c.error);
        assert.deepEqual(Object.fromEntries(o.state as PyDict), attrs);
      }
    });
  }

  it("inertGlobals never runs a payload either: os.system becomes a placeholder", () => {
    const top = readTorchCheckpoint(path.join(DIR, "malicious.pt"), { inertGlobals: true });
    assert.ok(top instanceof PyOpaque && top.qualname === "os.system");
    assert.deepEqual(top.args, ["touch peftlab_pwned_marker"]);
    assert.ok(!fs.existsSync(path.resolve("peftlab_pwned_marker")));
    assert.throws(() => extractStateDict(top), /No state dict/);
  });

  it("rejects files that are not checkpoints with a CheckpointError naming the file", () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ["text.pt", Buffer.from("hello world"), /Not a PyTorch checkpoint/],
      ["plain.pkl", Buffer.from("80027d710058010000006171014b01732e", "hex"), /magic/],
      ["trunc.pt", fs.readFileSync(path.join(DIR, "dtypes.pt")).subarray(0, 600), /zip|Corrupt/i],
    ];
    for (const [name, bytes, re] of cases) {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, bytes);
      assert.throws(
        () => loadTorchStateDict(f),
        (e: unknown) => e instanceof CheckpointError && re.test(e.message) && e.message.includes(f),
        name,
      );
    }
  });

  it("finds no state dict in a dict without tensors, and says where it looked", () => {
    const d = new PyDict([["epoch", 3]]);
    assert.throws(() => extractStateDict(d, "x.pt"), /No state dict.*state_dict, model_state_dict, model, teacher/);
  });
});

describe("io/torch_pickle: the restricted VM on Python's own pickles", () => {
  const c = EXPECTED.cases.pickles;
  const hooks = {
    findGlobal(module: string, name: string): PyValue | PyCallable {
      const q = `${module}.${name}`;
      if (q === "collections.OrderedDict") return new PyCallable(q, () => new PyDict());
      if (/^(__builtin__|builtins)\.(set|frozenset)$/.test(q)) {
        return new PyCallable(q, (args) => new Set(args[0] as PyValue[]));
      }
      if (q === "_codecs.encode")
        return new PyCallable(q, (args) => Uint8Array.from(Buffer.from(args[0] as string, "latin1")));
      throw new CheckpointError(`refused ${q}`);
    },
  };
  for (const [proto, hex] of Object.entries(c.pickles!)) {
    it(`protocol ${proto}: equals the value Python pickled`, () => {
      const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
      const r = unpickle(bytes, hooks, `p${proto}`);
      assert.equal(r.end, bytes.length);
      assert.deepEqual(untagFloats(tag(r.value)), untagFloats(c.value));
      const shared = (r.value as PyDict).get("shared") as PyValue[][];
      assert.equal(shared[0], shared[1], "memo references give the same object, like Python");
    });
  }

  const bad: [string, string, RegExp][] = [
    ["truncated", "80024b", /ends in the middle|stack underflow/],
    ["text INT opcode", "80024930310a2e", /unsupported pickle opcode INT/],
    ["INST calls a class", "8002286900", /unsupported pickle opcode INST/],
    ["missing memo key", "8002680a2e", /memo key is not set/],
    ["unknown protocol", "80092e", /protocol/],
    ["length past the end", "800258ffffff0f2e", /past the end/],
    ["APPEND to a tuple", "8002294b01612e", /APPEND on a non-list/],
    ["REDUCE on a value", "80024b01294e522e", /not an allow-listed callable/],
  ];
  for (const [name, hex, re] of bad) {
    it(`refuses a malformed pickle: ${name}`, () => {
      assert.throws(
        () => unpickle(Uint8Array.from(Buffer.from(hex, "hex")), hooks, "bad.pkl"),
        (e: unknown) => e instanceof CheckpointError && re.test(e.message) && /bad\.pkl:\d+/.test(e.message),
      );
    });
  }

  it("reads a legacy checkpoint written by torch's pre-1.6 serializer", () => {
    // Independent of the zip path: the same tensors come out of both containers.
    const zip = loadTorchStateDict(path.join(DIR, "dtypes.pt")).stateDict;
    const legacy = loadTorchStateDict(path.join(DIR, "legacy.pt")).stateDict;
    assert.deepEqual([...legacy.keys()], [...zip.keys()]);
    for (const [k, t] of zip) assert.deepEqual(legacy.get(k), t, k);
  });

  it("writes F16 and BF16 tensors back as F16 and BF16 (lossless), not as float32", () => {
    const out = path.join(os.tmpdir(), `peftlab-torch-${process.pid}.safetensors`);
    try {
      convertTorchToSafetensors(path.join(DIR, "dtypes.pt"), out);
      const f = SafetensorsFile.open(out);
      try {
        assert.equal(f.info("half").dtype, "F16");
        assert.equal(f.info("half").end - f.info("half").begin, 2 * 6);
        assert.equal(f.info("bf16").dtype, "BF16");
      } finally {
        f.close();
      }
    } finally {
      fs.rmSync(out, { force: true });
    }
  });
});
