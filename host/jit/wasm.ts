// jit/wasm.ts — the little of the WebAssembly binary format the block compiler needs: a code buffer with
// LEB128 immediates and a module assembler (types, imports, functions, exports, code).

export const enum Op {
  block = 0x02, loop = 0x03, if_ = 0x04, else_ = 0x05, end = 0x0b, br = 0x0c, br_if = 0x0d, return_ = 0x0f,
  call = 0x10, drop = 0x1a, select = 0x1b,
  local_get = 0x20, local_set = 0x21, local_tee = 0x22,
  i32_load = 0x28, i32_load8_u = 0x2d, i32_load16_u = 0x2f, i32_store = 0x36, i32_store8 = 0x3a, i32_store16 = 0x3b,
  i32_const = 0x41,
  i32_eqz = 0x45, i32_eq = 0x46, i32_ne = 0x47, i32_lt_s = 0x48, i32_lt_u = 0x49, i32_gt_s = 0x4a, i32_gt_u = 0x4b,
  i32_le_s = 0x4c, i32_le_u = 0x4d, i32_ge_s = 0x4e, i32_ge_u = 0x4f,
  i32_add = 0x6a, i32_sub = 0x6b, i32_and = 0x71, i32_or = 0x72, i32_xor = 0x73, i32_shl = 0x74, i32_shr_s = 0x75,
  i32_shr_u = 0x76, i32_rotl = 0x77, i32_rotr = 0x78, i32_mul = 0x6c,
  i64_const = 0x42, i64_mul = 0x7e, i64_shr_s = 0x87, i32_wrap_i64 = 0xa7, i64_extend_i32_s = 0xac,
  i32_extend8_s = 0xc0, i32_extend16_s = 0xc1, i32_popcnt = 0x69,
}
export const I32 = 0x7f;
export const VOID = 0x40;

/** A growable byte buffer with the encodings instructions need. */
export class Code {
  private buf: Uint8Array;
  constructor(size = 64) { this.buf = new Uint8Array(size); }
  length = 0;
  byte(b: number): this {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
    return this;
  }
  bytes(bs: ArrayLike<number>): this {
    if (this.length + bs.length > this.buf.length) this.grow(bs.length);
    if (bs instanceof Uint8Array) this.buf.set(bs, this.length); // (module assembly copies whole bodies)
    else for (let i = 0; i < bs.length; i++) this.buf[this.length + i] = bs[i];
    this.length += bs.length;
    return this;
  }
  private grow(more: number) {
    let size = this.buf.length * 2;
    while (size < this.length + more) size *= 2;
    const n = new Uint8Array(size); n.set(this.buf.subarray(0, this.length)); this.buf = n;
  }
  u32(v: number): this { // unsigned LEB128
    v >>>= 0;
    do { let b = v & 0x7f; v >>>= 7; if (v) b |= 0x80; this.byte(b); } while (v);
    return this;
  }
  s32(v: number): this { // signed LEB128
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && !(b & 0x40)) || (v === -1 && (b & 0x40))) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }
  op(o: Op): this { return this.byte(o); }
  get(l: number): this { return this.byte(Op.local_get).u32(l); }
  set(l: number): this { return this.byte(Op.local_set).u32(l); }
  tee(l: number): this { return this.byte(Op.local_tee).u32(l); }
  i32(v: number): this { return this.byte(Op.i32_const).s32(v); }
  load(offset: number): this { return this.byte(Op.i32_load).u32(2).u32(offset); }
  load8u(offset: number): this { return this.byte(Op.i32_load8_u).u32(0).u32(offset); }
  store(offset: number): this { return this.byte(Op.i32_store).u32(2).u32(offset); }
  store8(offset: number): this { return this.byte(Op.i32_store8).u32(0).u32(offset); }
  load16u(offset: number): this { return this.byte(Op.i32_load16_u).u32(1).u32(offset); }
  store16(offset: number): this { return this.byte(Op.i32_store16).u32(1).u32(offset); }
  call(f: number): this { return this.byte(Op.call).u32(f); }
  bytesView(): Uint8Array { return this.buf.subarray(0, this.length); }
}

export interface FuncType { params: number[]; results: number[] }
export interface ModuleSpec {
  types: FuncType[];
  /** imported functions (module "env"), by type index; the memory is imported as env.memory */
  importFuncs: { name: string; type: number }[];
  /** defined functions: type index, extra i32 locals, body (without the final `end`) */
  funcs: { type: number; locals: number; body: Code; export: string }[];
}

function vec(out: Code, items: Code[]): void { out.u32(items.length); for (const it of items) out.bytes(it.bytesView()); }
const utf8 = new TextEncoder();
function name(out: Code, s: string): void { const b = utf8.encode(s); out.u32(b.length).bytes(b); }
function section(out: Code, id: number, body: Code): void { out.byte(id).u32(body.length).bytes(body.bytesView()); }

export function assemble(m: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new Code().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  vecSection(out, 1, m.types.map((t) => new Code().byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results)));
  const imports = [
    (() => { const c = new Code(); name(c, "env"); name(c, "memory"); return c.byte(0x02).byte(0x00).u32(0); })(),
    ...m.importFuncs.map((f) => { const c = new Code(); name(c, "env"); name(c, f.name); return c.byte(0x00).u32(f.type); }),
  ];
  vecSection(out, 2, imports);
  vecSection(out, 3, m.funcs.map((f) => new Code().u32(f.type)));
  vecSection(out, 7, m.funcs.map((f, i) => { const c = new Code(); name(c, f.export); return c.byte(0x00).u32(m.importFuncs.length + i); }));
  vecSection(out, 10, m.funcs.map((f) => {
    const body = new Code();
    if (f.locals) body.u32(1).u32(f.locals).byte(I32); else body.u32(0);
    body.bytes(f.body.bytesView()).op(Op.end);
    return new Code().u32(body.length).bytes(body.bytesView());
  }));
  return new Uint8Array(out.bytesView()); // a copy that owns its ArrayBuffer (what WebAssembly.Module takes)
}
function vecSection(out: Code, id: number, items: Code[]): void { const b = new Code(); vec(b, items); section(out, id, b); }
