// persist.ts — the state of a device, a mode or any other host object as plain JSON-able data, and back, in the
// spirit of Firecracker's persist.rs (each device saves its state; the wiring is rebuilt by the constructor).
//
// saveState(obj) walks the object's own fields: numbers, booleans, strings, bigints, null, arrays, typed arrays,
// Maps, Sets and nested objects (class instances included) are state; functions are wiring and are left out, as
// are the fields named in WIRING (references to the machine, memory, backends, callbacks: what the constructor
// of a fresh VM with the same configuration re-creates) and DataViews. loadState(obj, s) writes the data back
// into an object built the same way: fields in place (typed arrays and nested objects keep their identity, so
// readonly arrays and references held elsewhere stay valid), Maps and Sets refilled.
import { runtime } from "./runtime/index.ts";

export type Saved = null | boolean | number | string | Saved[] | { [k: string]: Saved };

/** Field names that are wiring, never state (a fresh VM's constructors set them). */
export const WIRING = new Set([
  "m", "machine", "mem", "memory", "dma", "io", "log", "backend", "irq", "irq1", "irq12", "intr", "opts", "extInt",
  "onExit", "onWrite", "onCode", "onOutput", "onTransmit", "onReset", "onEoi", "deliver", "bus", "cpu",
  // views of the machine's whole memory (the monitor's): RAM is saved apart, as pages
  "dv", "u8",
]);

const TYPED: Record<string, { new (b: ArrayBuffer): ArrayBufferView }> = {
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float64Array, Float32Array,
};

export class PersistError extends Error {}

/** path of the first place each object was saved, so a second reference is saved as {$ref: path} */
type Seen = Map<object, string>;

function enc(v: unknown, seen: Seen, skip: Set<string>, path: string): Saved | undefined {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0) ? v : { $n: Object.is(v, -0) ? "-0" : String(v) };
    case "boolean": case "string": return v;
    case "bigint": return { $b: v.toString() };
    case "undefined": return { $u: 1 };
    case "function": case "symbol": return undefined;
  }
  if (v === null) return null;
  const o = v as object;
  if (o instanceof DataView || o instanceof ArrayBuffer) return undefined;
  // a second reference to one object (the current shadow, also in the cache; port 0x61 → its PIT) stays shared
  const first = seen.get(o);
  if (first !== undefined) return { $ref: first };
  seen.set(o, path);
  if (ArrayBuffer.isView(o)) {
    const name = o.constructor.name;
    if (!TYPED[name]) return undefined;
    return { $ta: name, d: runtime.Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString("base64") };
  }
  if (Array.isArray(o)) return o.map((x, i) => enc(x, seen, skip, `${path}/${i}`) ?? null);
  if (o instanceof Map) return { $map: [...o.entries()].map(([k, x], i) => [enc(k, seen, skip, `${path}/k${i}`) ?? null, enc(x, seen, skip, `${path}/${i}`) ?? null]) };
  if (o instanceof Set) return { $set: [...o].map((x, i) => enc(x, seen, skip, `${path}/${i}`) ?? null) };
  const out: { [k: string]: Saved } = {};
  for (const [k, x] of Object.entries(o)) {
    if (skip.has(k)) continue;
    const e = enc(x, seen, skip, `${path}/${k}`);
    if (e !== undefined) out[k] = e;
  }
  return out;
}

type Obj = { [k: string]: Saved };
function isTagged(s: Saved, tag: string): boolean {
  return typeof s === "object" && s !== null && !Array.isArray(s) && tag in s;
}

/** objects restored so far, by the path they were saved at (for {$ref}) */
type Placed = Map<string, unknown>;
const TAGS = ["$n", "$b", "$u", "$ta", "$map", "$set", "$ref"];

/** A fresh value from saved data (no existing object to fill). */
function dec(s: Saved, placed: Placed, path: string): unknown {
  if (s === null || typeof s !== "object") return s;
  if (Array.isArray(s)) { const a: unknown[] = []; placed.set(path, a); s.forEach((v, i) => a.push(dec(v, placed, `${path}/${i}`))); return a; }
  return decObj(s, placed, path);
}
function decObj(s: Obj, placed: Placed, path: string): unknown {
  if (isTagged(s, "$ref")) return placed.get(s.$ref as string);
  if (isTagged(s, "$n")) return Number(s.$n);
  if (isTagged(s, "$b")) return BigInt(s.$b as string);
  if (isTagged(s, "$u")) return undefined;
  if (isTagged(s, "$ta")) {
    const T = TYPED[s.$ta as string];
    if (!T) throw new PersistError(`unknown array type ${String(s.$ta)}`);
    const b = runtime.Buffer.from(s.d as string, "base64");
    const a = new T(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    placed.set(path, a);
    return a;
  }
  if (isTagged(s, "$map")) {
    const m = new Map();
    placed.set(path, m);
    (s.$map as Saved[][]).forEach(([k, v], i) => m.set(dec(k, placed, `${path}/k${i}`), dec(v, placed, `${path}/${i}`)));
    return m;
  }
  if (isTagged(s, "$set")) {
    const set = new Set();
    placed.set(path, set);
    (s.$set as Saved[]).forEach((v, i) => set.add(dec(v, placed, `${path}/${i}`)));
    return set;
  }
  const o: Record<string, unknown> = {};
  placed.set(path, o);
  for (const [k, v] of Object.entries(s)) o[k] = dec(v, placed, `${path}/${k}`);
  return o;
}

/** Writes saved data into an existing value where it can (keeping identity); returns the value to store. */
function into(cur: unknown, s: Saved, placed: Placed, path: string): unknown {
  if (s === null || typeof s !== "object") return s;
  if (isTagged(s, "$ref")) return placed.has((s as Obj).$ref as string) ? placed.get((s as Obj).$ref as string) : cur;
  if (cur && typeof cur === "object") {
    if (ArrayBuffer.isView(cur) && isTagged(s, "$ta")) {
      const fresh = dec(s, new Map(), path) as ArrayBufferView;
      if (fresh.byteLength !== cur.byteLength || fresh.constructor !== cur.constructor) { placed.set(path, fresh); return fresh; }
      new Uint8Array(cur.buffer, cur.byteOffset, cur.byteLength).set(new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.byteLength));
      placed.set(path, cur);
      return cur;
    }
    if (cur instanceof Map && isTagged(s, "$map")) {
      placed.set(path, cur);
      const old = new Map(cur);
      cur.clear();
      ((s as Obj).$map as Saved[][]).forEach(([k, v], i) => {
        const key = dec(k, placed, `${path}/k${i}`);
        cur.set(key, into(old.get(key), v as Saved, placed, `${path}/${i}`));
      });
      return cur;
    }
    if (cur instanceof Set && isTagged(s, "$set")) {
      placed.set(path, cur);
      cur.clear();
      ((s as Obj).$set as Saved[]).forEach((v, i) => cur.add(dec(v, placed, `${path}/${i}`)));
      return cur;
    }
    if (Array.isArray(cur) && Array.isArray(s)) {
      placed.set(path, cur);
      const old = cur.slice();
      cur.length = 0;
      s.forEach((v, i) => cur.push(into(old[i], v, placed, `${path}/${i}`)));
      return cur;
    }
    if (!Array.isArray(cur) && !Array.isArray(s) && !(cur instanceof Map) && !(cur instanceof Set) && !ArrayBuffer.isView(cur)
        && !TAGS.some((t) => isTagged(s, t))) {
      fill(cur as Record<string, unknown>, s as Obj, placed, path);
      return cur;
    }
  }
  return dec(s, placed, path);
}

function fill(obj: Record<string, unknown>, s: Obj, placed: Placed, path: string): void {
  placed.set(path, obj);
  for (const [k, v] of Object.entries(s)) obj[k] = into(obj[k], v, placed, `${path}/${k}`);
}

/** The state of `obj` (its own fields minus wiring), as JSON-able data. `skip` adds field names to leave out. */
export function saveState(obj: object, skip: readonly string[] = []): Saved {
  const sk = skip.length ? new Set([...WIRING, ...skip]) : WIRING;
  return enc(obj, new Map(), sk, "") ?? null;
}

/** Puts saved state back into `obj`, an object built like the one saved. */
export function loadState(obj: object, s: Saved): void {
  if (s === null || typeof s !== "object" || Array.isArray(s)) throw new PersistError("saved state is not an object");
  fill(obj as Record<string, unknown>, s as Obj, new Map(), "");
}
