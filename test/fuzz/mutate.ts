/**
 * Seeded mutations for the fuzz campaign. Every mutation is a pure function of (seed bytes, rng), so a case is
 * reproduced from the campaign seed and its index alone.
 */

/** mulberry32: a small seeded PRNG (uint32 state). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** What a format-aware mutator knows about a seed's layout. */
export type Format = "safetensors" | "npy" | "zip" | "json" | "pickle" | "image" | "notebook";

/** A mutation: new bytes from old; `name` is recorded with each case. */
export interface Mutation {
  name: string;
  apply(b: Uint8Array, r: Rng): Uint8Array;
}

const INTERESTING32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const copy = (b: Uint8Array) => new Uint8Array(b);

/** Byte-level mutations that apply to every format. */
export const GENERIC: Mutation[] = [
  {
    name: "bitflip",
    apply: (b, r) => {
      const o = copy(b);
      const k = 1 + r.int(4);
      for (let i = 0; i < k && o.length; i++) o[r.int(o.length)] ^= 1 << r.int(8);
      return o;
    },
  },
  {
    name: "byte-overwrite",
    apply: (b, r) => {
      const o = copy(b);
      const k = 1 + r.int(8);
      for (let i = 0; i < k && o.length; i++) o[r.int(o.length)] = r.pick([0, 0xff, 0x7f, 0x80, r.int(256)]);
      return o;
    },
  },
  {
    name: "u32-overwrite",
    apply: (b, r) => {
      const o = copy(b);
      if (o.length < 4) return o;
      const at = r.int(o.length - 3);
      new DataView(o.buffer).setUint32(at, r.pick(INTERESTING32), r.next() < 0.5);
      return o;
    },
  },
  { name: "truncate", apply: (b, r) => b.slice(0, r.int(b.length + 1)) },
  {
    name: "extend",
    apply: (b, r) => {
      const extra = new Uint8Array(1 + r.int(512)).map(() => (r.next() < 0.5 ? 0 : r.int(256)));
      const o = new Uint8Array(b.length + extra.length);
      o.set(b);
      o.set(extra, b.length);
      return o;
    },
  },
  {
    name: "chunk-duplicate",
    apply: (b, r) => {
      if (b.length < 2) return copy(b);
      const s = r.int(b.length - 1);
      const e = s + 1 + r.int(Math.min(256, b.length - s));
      const at = r.int(b.length);
      const o = new Uint8Array(b.length + (e - s));
      o.set(b.subarray(0, at));
      o.set(b.subarray(s, e), at);
      o.set(b.subarray(at), at + (e - s));
      return o;
    },
  },
  { name: "empty", apply: () => new Uint8Array(0) },
];

const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const dec = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** Replaces the first match of `re` in the latin1 text of `b` (or returns a bit flip when nothing matches). */
function textEdit(b: Uint8Array, r: Rng, edits: [RegExp, (r: Rng) => string][]): Uint8Array {
  const t = dec(b);
  const [re, make] = r.pick(edits);
  const m = re.exec(t);
  if (!m) return GENERIC[0].apply(b, r);
  return enc(t.slice(0, m.index) + make(r) + t.slice(m.index + m[0].length));
}

const HUGE = ["18446744073709551615", "9007199254740993", "1099511627776", "-1", "4294967296", "1e308", "0"];

/** JSON edits: unknown dtypes, overflowing shapes, negative/overlapping offsets, duplicate keys, wrong types. */
const JSON_EDITS: [RegExp, (r: Rng) => string][] = [
  [/"dtype":\s*"[A-Z0-9]+"/, (r) => `"dtype":"${r.pick(["Q7", "F128", "", "BOOL", "F8_E4M3", "U64"])}"`],
  [/"shape":\s*\[[^\]]*\]/, (r) => `"shape":[${r.pick(HUGE)},${r.pick(HUGE)},${r.pick(HUGE)}]`],
  [/"data_offsets":\s*\[\d+,\s*\d+\]/, (r) => `"data_offsets":[${r.pick(HUGE)},${r.pick(["0", "8", "-5", "3"])}]`],
  [/"data_offsets":\s*\[\d+,/, () => `"data_offsets":[0,`],
  [/\{"/, () => `{"dup":1,"dup":2,"`],
  [/"[a-z_]+":/, (r) => `"${r.pick(["__proto__", "constructor", "", "x".repeat(300)])}":`],
  [/: ?"[^"]*"/, (r) => `:${r.pick(["null", "[]", "{}", "-1", "true", '"\\ud800"', "1e999"])}`],
  [/\d+/, (r) => r.pick(HUGE)],
  [/[\]}]\s*$/, () => ""],
];

/** .npy header dict edits (the header is plain text near the start of the file). */
const NPY_EDITS: [RegExp, (r: Rng) => string][] = [
  [
    /'descr': '[^']*'/,
    (r) => `'descr': '${r.pick(["|S0", "<U0", "|O", "<c8", "<U99999999999", "<f16", "x", "<i4'"])}'`,
  ],
  [/\([^)]*\)/, (r) => `(${r.pick(["1099511627776, 1099511627776", "100000000,", "-1,", "1.5,", "3", "", "0, 9e9"])})`],
  [/True|False/, (r) => r.pick(["1", "None", "'False'", "Fals"])],
  [/'shape'/, (r) => r.pick(["'shap'", "'shape', 'x': 1", "shape"])],
  [/\{/, (r) => r.pick(["[", "{'descr': '<f4', ", "{{", "y"])],
  [/,/, (r) => r.pick(["", ";", ",,"])],
];

/** Format-aware mutations: length fields, header text, zip records. */
export function formatMutations(f: Format): Mutation[] {
  const out: Mutation[] = [];
  if (f === "safetensors") {
    out.push({
      name: "st-header-length",
      apply: (b, r) => {
        const o = copy(b);
        if (o.length >= 8)
          new DataView(o.buffer).setBigUint64(
            0,
            r.pick([0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, BigInt(o.length), 100000001n]),
            true,
          );
        return o;
      },
    });
    out.push({ name: "st-json-edit", apply: (b, r) => safetensorsJsonEdit(b, r) });
  }
  if (f === "npy") {
    out.push({ name: "npy-dict-edit", apply: (b, r) => textEdit(b, r, NPY_EDITS) });
    out.push({
      name: "npy-header-length",
      apply: (b, r) => {
        const o = copy(b);
        if (o.length >= 12) {
          const v = new DataView(o.buffer);
          if (r.next() < 0.5) v.setUint16(8, r.pick([0, 1, 0xffff, o.length]), true);
          else {
            o[6] = 2;
            v.setUint32(8, r.pick([0xffffffff, 10001, 0, o.length]), true);
          }
        }
        return o;
      },
    });
    out.push({
      name: "npy-dict-bitflip",
      apply: (b, r) => {
        const o = copy(b);
        const end = Math.min(o.length, 10 + 60);
        if (end > 10) o[10 + r.int(end - 10)] ^= 1 << r.int(8);
        return o;
      },
    });
  }
  if (f === "zip") out.push({ name: "zip-record", apply: (b, r) => zipRecordEdit(b, r) });
  if (f === "json" || f === "notebook") out.push({ name: "json-edit", apply: (b, r) => textEdit(b, r, JSON_EDITS) });
  if (f === "pickle") {
    out.push({
      name: "pickle-length",
      apply: (b, r) => {
        const o = copy(b);
        // Overwrite the 4 bytes after a length-prefixed opcode (BINUNICODE X, BINBYTES B, BINSTRING T, LONG4 \x8b).
        const ops = [...o.keys()].filter(
          (i) => [0x58, 0x42, 0x54, 0x8b, 0x8d, 0x8e].includes(o[i]) && i + 5 <= o.length,
        );
        if (ops.length === 0) return GENERIC[0].apply(b, r);
        new DataView(o.buffer).setUint32(r.pick(ops) + 1, r.pick(INTERESTING32), true);
        return o;
      },
    });
  }
  return out;
}

function safetensorsJsonEdit(b: Uint8Array, r: Rng): Uint8Array {
  if (b.length < 8) return copy(b);
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  if (n > b.length - 8) return copy(b);
  const json = textEdit(b.subarray(8, 8 + n), r, JSON_EDITS);
  const o = new Uint8Array(8 + json.length + (b.length - 8 - n));
  new DataView(o.buffer).setBigUint64(0, BigInt(json.length), true);
  o.set(json, 8);
  o.set(b.subarray(8 + n), 8 + json.length);
  return o;
}

/** Corrupts a field of a zip central-directory or local-header record (sizes, offsets, CRC, lengths, method). */
function zipRecordEdit(b: Uint8Array, r: Rng): Uint8Array {
  const o = copy(b);
  const v = new DataView(o.buffer);
  const sigs: [number, number[]][] = [
    [0x02014b50, [10, 16, 20, 24, 28, 30, 42]], // central: method, crc, csize, size, name/extra len, local offset
    [0x04034b50, [8, 14, 18, 22, 26, 28]], // local: method, crc, csize, size, name/extra len
    [0x06054b50, [10, 12, 16]], // end: count, cd size, cd offset
  ];
  const [sig, fields] = r.pick(sigs);
  const at: number[] = [];
  for (let i = 0; i + 4 <= o.length; i++) if (v.getUint32(i, true) === sig) at.push(i);
  if (at.length === 0) return GENERIC[0].apply(b, r);
  const p = r.pick(at);
  const f = r.pick(fields);
  const two = (sig === 0x02014b50 && [10, 28, 30].includes(f)) || (sig !== 0x02014b50 && [8, 26, 28, 10].includes(f));
  if (p + f + 4 > o.length) return o;
  if (two) v.setUint16(p + f, r.pick([0, 1, 0xffff, 12, 99]), true);
  else v.setUint32(p + f, r.pick([...INTERESTING32, v.getUint32(p + f, true) + 1]), true);
  return o;
}

/** Picks and applies one or two mutations (format-aware ones half the time). */
export function mutate(seed: Uint8Array, f: Format, r: Rng): { bytes: Uint8Array; ops: string[] } {
  const pool = [...GENERIC, ...formatMutations(f), ...formatMutations(f)];
  let b = seed;
  const ops: string[] = [];
  const k = r.next() < 0.75 ? 1 : 2;
  for (let i = 0; i < k; i++) {
    const m = r.pick(pool);
    b = m.apply(b, r);
    ops.push(m.name);
  }
  return { bytes: b, ops };
}
