// persist.ts — the state of a device, a mode or any other host object as plain JSON-able data, and back, in the
// spirit of Firecracker's persist.rs (each device saves its state; the wiring is rebuilt by the constructor).
//
// saveState(obj) walks the object's own fields: numbers, booleans, strings, bigints, null, arrays, typed arrays,
// Maps, Sets and nested objects (class instances included) are state; functions are wiring and are left out, as
// are the fields named in WIRING (references to the machine, memory, backends, callbacks: what the constructor
// of a fresh VM with the same configuration re-creates) and DataViews. loadState(obj, s) writes the data back
// into an object built the same way: fields in place (typed arrays and nested objects keep their identity, so
// readonly arrays and references held elsewhere stay valid), Maps and Sets refilled.
export type Saved = null | boolean | number | string | Saved[] | { [k: string]: Saved };

/** Field names that are wiring, never state (a fresh VM's constructors set them). */
export const WIRING = new Set([
  "m", "machine", "mem", "memory", "dma", "io", "log", "backend", "irq", "irq1", "irq12", "intr", "opts", "extInt",
  "onExit", "onWrite", "onCode", "onOutput", "onTransmit", "onReset", "onEoi", "deliver", "bus", "dv", "u8", "cpu",
]);

const TYPED: Record<string, { new (b: ArrayBuffer): ArrayBufferView }> = {
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float64Array, Float32Array,
};

export class PersistError extends Error {}

function enc(v: unknown, seen: Set<object>, skip: Set<string>): Saved | undefined {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0) ? v : { $n: String(v) };
    case "boolean": case "string": return v;
    case "bigint": return { $b: v.toString() };
    case "undefined": return { $u: 1 };
    case "function": case "symbol": return undefined;
  }
  if (v === null) return null;
  const o = v as object;
  if (o instanceof DataView || o instanceof ArrayBuffer) return undefined;
  if (seen.has(o)) return undefined; // a back reference (e.g. port 0x61 → its PIT): saved where it is owned
  seen.add(o);
  if (ArrayBuffer.isView(o)) {
    const name = o.constructor.name;
    if (!TYPED[name]) return undefined;
    return { $ta: name, d: Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString("base64") };
  }
  if (Array.isArray(o)) return o.map((x) => enc(x, seen, skip) ?? null);
  if (o instanceof Map) return { $map: [...o.entries()].map(([k, x]) => [enc(k, seen, skip) ?? null, enc(x, seen, skip) ?? null]) };
  if (o instanceof Set) return { $set: [...o].map((x) => enc(x, seen, skip) ?? null) };
  const out: { [k: string]: Saved } = {};
  for (const [k, x] of Object.entries(o)) {
    if (skip.has(k)) continue;
    const e = enc(x, seen, skip);
    if (e !== undefined) out[k] = e;
  }
  return out;
}

type Obj = { [k: string]: Saved };
function isTagged(s: Saved, tag: string): boolean {
  return typeof s === "object" && s !== null && !Array.isArray(s) && tag in s;
}

/** A fresh value from saved data (no existing object to fill). */
function dec(s: Saved): unknown {
  if (s === null || typeof s !== "object") return s;
  if (Array.isArray(s)) return s.map(dec);
  return decObj(s);
}
function decObj(s: Obj): unknown {
  if (isTagged(s, "$n")) return Number(s.$n);
  if (isTagged(s, "$b")) return BigInt(s.$b as string);
  if (isTagged(s, "$u")) return undefined;
  if (isTagged(s, "$ta")) {
    const T = TYPED[s.$ta as string];
    if (!T) throw new PersistError(`unknown array type ${String(s.$ta)}`);
    const b = Buffer.from(s.d as string, "base64");
    return new T(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  if (isTagged(s, "$map")) return new Map((s.$map as Saved[][]).map(([k, v]) => [dec(k), dec(v)]));
  if (isTagged(s, "$set")) return new Set((s.$set as Saved[]).map(dec));
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) o[k] = dec(v);
  return o;
}

/** Writes saved data into an existing value where it can (keeping identity); returns the value to store. */
function into(cur: unknown, s: Saved): unknown {
  if (s === null || typeof s !== "object") return s;
  if (cur && typeof cur === "object") {
    if (ArrayBuffer.isView(cur) && isTagged(s, "$ta")) {
      const fresh = dec(s) as ArrayBufferView;
      if (fresh.byteLength !== cur.byteLength || fresh.constructor !== cur.constructor) return fresh;
      new Uint8Array(cur.buffer, cur.byteOffset, cur.byteLength).set(new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.byteLength));
      return cur;
    }
    if (cur instanceof Map && isTagged(s, "$map")) {
      const old = new Map(cur);
      cur.clear();
      for (const [k, v] of (s as Obj).$map as Saved[][]) { const key = dec(k); cur.set(key, into(old.get(key), v as Saved)); }
      return cur;
    }
    if (cur instanceof Set && isTagged(s, "$set")) {
      cur.clear();
      for (const v of (s as Obj).$set as Saved[]) cur.add(dec(v));
      return cur;
    }
    if (Array.isArray(cur) && Array.isArray(s)) {
      const old = cur.slice();
      cur.length = 0;
      s.forEach((v, i) => cur.push(into(old[i], v)));
      return cur;
    }
    if (!Array.isArray(cur) && !Array.isArray(s) && !(cur instanceof Map) && !(cur instanceof Set) && !ArrayBuffer.isView(cur)
        && !["$n", "$b", "$u", "$ta", "$map", "$set"].some((t) => isTagged(s, t))) {
      fill(cur as Record<string, unknown>, s as Obj);
      return cur;
    }
  }
  return dec(s);
}

function fill(obj: Record<string, unknown>, s: { [k: string]: Saved }): void {
  for (const [k, v] of Object.entries(s)) obj[k] = into(obj[k], v);
}

/** The state of `obj` (its own fields minus wiring), as JSON-able data. `skip` adds field names to leave out. */
export function saveState(obj: object, skip: readonly string[] = []): Saved {
  const sk = skip.length ? new Set([...WIRING, ...skip]) : WIRING;
  return enc(obj, new Set(), sk) ?? null;
}

/** Puts saved state back into `obj`, an object built like the one saved. */
export function loadState(obj: object, s: Saved): void {
  if (s === null || typeof s !== "object" || Array.isArray(s)) throw new PersistError("saved state is not an object");
  fill(obj as Record<string, unknown>, s);
}
