// guest.ts — random guest kernels for the every-mode fuzz campaign (modes.ts). Each program is a flat multiboot
// image (header flag bit 16: loaded at IMAGE_BASE, no ELF) whose prologue sets up a valid-ish state — a GDT with
// ring-0/3 segments, a TSS and random extra descriptors, an IDT whose gates lead into the random code, and in
// native/full mode sometimes paging (4 KiB and 4 MiB pages, random PDEs, a recursive PDE), sometimes ring 3 —
// then a code area of random bytes mixed with biased templates: privileged instructions, mov to/from CRn/DRn,
// lgdt/lidt/lldt/ltr with random pointers and selectors, segment loads, far jumps and calls, iret/retf, int n,
// port I/O to every device port (rep ins/outs included), MMIO to the APIC/IOAPIC/virtio pages, stores into the
// live page tables and descriptor tables, runaway REP strings, and (para) VMCALL with random and biased numbers
// and arguments (trap tables, GDTs, mmu_update/mmuext batches aimed at the page tables and the VMM hole).
import { Rng } from "../diff/gen.ts";
import { HC, VMM_SIZE as PARA_VMM_SIZE, HOLE_VA, HOLE_MMIO_VA, SHARED_VA } from "../../host/para/abi.ts";

export type Mode = "native" | "full" | "para" | "hw";
export const MODES: Mode[] = ["native", "full", "para"];
/** hw mode gets the native programs (an unmodified kernel); its campaign is test/fuzz-modes.test.ts's own case */
export const ALL_MODES: Mode[] = [...MODES, "hw"];

/** guest RAM per mode (small: random addresses often fall outside it) */
export const GUEST_MEM: Record<Mode, number> = { native: 4 << 20, full: 4 << 20, para: 8 << 20, hw: 4 << 20 };

export const IMAGE_BASE = 0x100000;
const GDT = IMAGE_BASE + 0x1000;     // 16 descriptors
const PSEUDO = IMAGE_BASE + 0x1800;  // gdtr at +0, idtr at +8
const TSS = IMAGE_BASE + 0x1900;
const IDT = IMAGE_BASE + 0x2000;     // 256 gates
const PD = IMAGE_BASE + 0x3000;
const PT0 = IMAGE_BASE + 0x4000;     // maps [0, 4 MiB)
export const CODE = IMAGE_BASE + 0x5000;
const CODE_END = IMAGE_BASE + 0xc000;
const DATA = IMAGE_BASE + 0xc000;    // random tables for random pointers (lgdt, hypercall batches)
export const IMAGE_END = IMAGE_BASE + 0x10000;
const STACK = 0x80000, STACK0 = 0x90000, STACK3 = 0x70000;

/** Device ports of the PC platform (host/devices) and the ones around them. */
const PORTS = [
  0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x60, 0x64, 0x70, 0x71, 0x80, 0x92, 0xe9, 0x3f8, 0x3f9, 0x3fa,
  0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x2f8, 0x2fd, 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6, 0x170,
  0x177, 0x376, 0x3d4, 0x3d5, 0x3c0, 0x3da, 0x4d0, 0x4d1, 0xcf8, 0xcfc, 0x510, 0x511, 0x402, 0x8900,
];
/** isa-debug-exit ends the program: only now and then */
const DEBUG_EXIT = 0xf4;
const MMIO = [0xfee00000, 0xfec00000, 0xfeb00000, 0xfeb00200, 0xfeb00400];

export interface Program { mode: Mode; image: Uint8Array; paging: boolean; ring3: boolean }

class Emitter {
  readonly b: number[] = [];
  byte(...x: number[]) { for (const v of x) this.b.push(v & 0xff); }
  d16(v: number) { this.byte(v, v >>> 8); }
  d32(v: number) { this.byte(v, v >>> 8, v >>> 16, v >>> 24); }
  movImm(reg: number, v: number) { this.byte(0xb8 + reg); this.d32(v); }
}
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, ESI = 6, EDI = 7;

function put32(img: Uint8Array, addr: number, v: number) {
  const o = addr - IMAGE_BASE;
  img[o] = v; img[o + 1] = v >>> 8; img[o + 2] = v >>> 16; img[o + 3] = v >>> 24;
}
function desc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

/** Para layout as ParaVm computes it for a given memory size (host/para/vm.ts constructor). */
export function paraLayout(mem: number) {
  const vmmBase = mem - PARA_VMM_SIZE;
  const ptFrames = 1 + Math.ceil(vmmBase / (4 << 20));
  return { vmmBase, ptBase: vmmBase - ptFrames * 4096, ptFrames };
}

export function generate(mode: Mode, r: Rng): Program {
  const mem = GUEST_MEM[mode];
  const img = new Uint8Array(IMAGE_END - IMAGE_BASE);
  for (let i = 0; i < img.length; i++) img[i] = r.int(256);
  const para = mode === "para";
  const lay = paraLayout(GUEST_MEM.para);

  /** a pointer biased toward interesting places */
  const ptr = (): number => {
    switch (r.int(12)) {
      case 0: return r.u32();
      case 1: return mem - r.int(64);                       // the end of RAM
      case 2: return (r.int(mem >>> 12) << 12) - r.int(4);  // page-crossing
      case 3: return MMIO[r.int(MMIO.length)] + r.int(0x400);
      case 4: return para ? HOLE_VA + r.int(0x10000) : 0xffc00000 + r.int(0x400000); // the VMM's linear region
      case 5: return para ? lay.ptBase + r.int((lay.ptFrames) * 4096) : PD + r.int(0x2000);
      case 6: return GDT + r.int(0x1000);
      case 7: return DATA + r.int(0x4000);
      case 8: return para ? SHARED_VA + r.int(0x1000) : CODE + r.int(CODE_END - CODE);
      default: return r.int(mem);
    }
  };
  const value = (): number => {
    switch (r.int(6)) {
      case 0: return r.u32();
      case 1: return r.int(16);
      case 2: return ptr();
      case 3: return (ptr() & ~0xfff) | r.int(0x200);        // a PTE-looking value
      case 4: return [0, 0xffffffff, 0x80000000, 0x7fffffff, 1][r.int(5)];
      default: return r.int(0x10000);
    }
  };
  const selector = (): number => r.chance(0.6) ? (r.int(16) << 3) | r.int(4) : r.int(0x10000);

  // ---- descriptor tables ----
  const gdt: [number, number][] = [
    [0, 0],
    desc(0, 0xfffff, 0x9a, 0xc), desc(0, 0xfffff, 0x92, 0xc), desc(0, 0xfffff, 0xfa, 0xc), desc(0, 0xfffff, 0xf2, 0xc),
    desc(TSS, 0x67, 0x89, 0),
  ];
  for (let i = 6; i < 16; i++) {
    if (r.chance(0.3)) gdt.push([r.u32(), r.u32()]);
    else if (r.chance(0.3)) { // a call gate to a random place in the code, to a random selector
      const off = CODE + r.int(CODE_END - CODE), sel = r.chance(0.7) ? [0x08, 0x1b][r.int(2)] : selector();
      gdt.push([((sel & 0xffff) << 16) | (off & 0xffff), ((off & 0xffff0000) | 0x8000 | (r.int(4) << 13) | (0x0c << 8) | r.int(4)) >>> 0]);
    } else gdt.push(desc(r.chance(0.5) ? 0 : ptr(), r.chance(0.5) ? 0xfffff : r.int(0x100000), 0x80 | 0x10 | (r.int(4) << 5) | r.int(16), r.int(16)));
  }
  gdt.forEach(([lo, hi], i) => { put32(img, GDT + 8 * i, lo); put32(img, GDT + 8 * i + 4, hi); });
  // gdtr at PSEUDO (limit, base), idtr at PSEUDO+8
  img[PSEUDO - IMAGE_BASE + 2] = GDT; img[PSEUDO - IMAGE_BASE + 3] = GDT >>> 8; img[PSEUDO - IMAGE_BASE + 4] = GDT >>> 16; img[PSEUDO - IMAGE_BASE + 5] = GDT >>> 24;
  img[PSEUDO - IMAGE_BASE] = 0x7f; img[PSEUDO - IMAGE_BASE + 1] = 0;
  const idtr = PSEUDO + 8;
  img[idtr - IMAGE_BASE] = 0xff; img[idtr - IMAGE_BASE + 1] = 0x07;
  put32(img, idtr + 2, IDT);
  // TSS: ss0:esp0, ss1:esp1 (para), an I/O bitmap base that is sometimes inside the limit
  for (let i = 0; i < 0x68; i += 4) put32(img, TSS + i, 0);
  put32(img, TSS + 4, STACK0); put32(img, TSS + 8, 0x10);
  put32(img, TSS + 100, (r.chance(0.5) ? 0x68 : r.int(0x10000)) << 16);
  // IDT: gates into the random code (the handlers are random code too), some garbage
  for (let v = 0; v < 256; v++) {
    const off = CODE + r.int(CODE_END - CODE);
    if (r.chance(0.9)) {
      // para's set_trap_table refuses a whole table with one bad gate: there, bad gates are rare
      const garbage = r.chance(para ? 0.0005 : 0.05);
      const sel = garbage ? selector() : 0x08;
      const type = garbage ? r.int(16) : r.chance(0.7) ? 0x0e : 0x0f;
      put32(img, IDT + 8 * v, ((sel & 0xffff) << 16) | (off & 0xffff));
      put32(img, IDT + 8 * v + 4, ((off & 0xffff0000) | 0x8000 | ((r.chance(0.3) ? 3 : r.int(4)) << 13) | (type << 8)) >>> 0);
    } else if (para || r.chance(0.5)) { put32(img, IDT + 8 * v, 0); put32(img, IDT + 8 * v + 4, 0); } // not present (else garbage)

  }
  // page tables: PT0 identity maps [0, 4 MiB) with a few random entries; random PDEs above
  const paging = !para && r.chance(0.6);
  const pse = r.chance(0.5);
  for (let i = 0; i < 1024; i++) {
    let pte = (i << 12) | 0x7;
    if (r.chance(0.02)) pte = r.chance(0.5) ? value() : pte & ~r.int(8);
    put32(img, PT0 + 4 * i, pte);
  }
  for (let i = 0; i < 1024; i++) {
    let pde = 0;
    if (i === 0) pde = PT0 | 7;
    else if (pse && (i === 1019 || i === 1018)) pde = (i << 22) | 0x9b; // the APIC / virtio pages, 4 MiB, PCD
    else if (r.chance(0.03)) pde = value();
    else if (i === 1023 && r.chance(0.2)) pde = PD | 3; // recursive: the VMM window in full mode
    put32(img, PD + 4 * i, pde);
  }
  // random data area: fragments that look like batches (pointer, value pairs) for mmu_update and mmuext
  for (let a = DATA; a < IMAGE_END; a += 8) {
    if (r.chance(0.5)) {
      put32(img, a, para ? (lay.ptBase + 4 * r.int(lay.ptFrames * 1024)) | (r.chance(0.8) ? 0 : r.int(4)) : ptr());
      put32(img, a + 4, r.chance(0.5) ? (r.int(mem >>> 12) << 12) | r.int(0x80) : value());
    }
  }

  // ---- prologue ----
  const e = new Emitter();
  const ring3 = !para && r.chance(0.2);
  if (!para) {
    e.byte(0x0f, 0x01, 0x15); e.d32(PSEUDO);            // lgdt [PSEUDO]
    const next = CODE_BASE_PROLOGUE + e.b.length + 7;
    e.byte(0xea); e.d32(next); e.d16(0x08);              // jmp 0x08:next
    e.movImm(EAX, 0x10);
    for (const m of [0xd8, 0xc0, 0xd0, 0xe0, 0xe8]) e.byte(0x8e, m); // mov ds/es/ss/fs/gs, ax
    e.movImm(ESP, STACK);
    e.byte(0x0f, 0x01, 0x1d); e.d32(idtr);               // lidt [idtr]
    if (r.chance(0.7)) { e.movImm(EAX, 0x28); e.byte(0x0f, 0x00, 0xd8); } // ltr ax
    if (paging) {
      e.movImm(EAX, PD); e.byte(0x0f, 0x22, 0xd8);       // mov cr3, eax
      if (pse) { e.byte(0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x10 | (r.chance(0.3) ? 0x80 : 0), 0x0f, 0x22, 0xe0); } // cr4 |= PSE (|PGE)
      e.byte(0x0f, 0x20, 0xc0); e.byte(0x0d); e.d32(r.chance(0.5) ? 0x80010000 : 0x80000000); e.byte(0x0f, 0x22, 0xc0); // cr0 |= PG (|WP)
    }
    if (r.chance(0.3)) e.byte(0xfb);                       // sti
    if (ring3) {                                          // iret to ring 3 at the random code
      e.byte(0x6a, 0x23); e.byte(0x68); e.d32(STACK3); e.byte(0x9c); e.byte(0x6a, 0x1b); e.byte(0x68); e.d32(CODE); e.byte(0xcf);
    }
  } else {
    const hc = (nr: number, b: number, c: number) => { e.movImm(EAX, nr); e.movImm(EBX, b); e.movImm(ECX, c); e.byte(0x0f, 0x01, 0xc1); };
    hc(HC.SET_TRAP_TABLE, IDT, 256);
    if (r.chance(0.5)) hc(HC.SET_GDT, GDT, 16);
    hc(HC.STACK_SWITCH, 0x11, STACK0);
    e.movImm(ESP, STACK);
    if (r.chance(0.5)) hc(HC.SET_TIMER, 10_000 + r.int(1_000_000), 0);
    if (r.chance(0.5)) { hc(HC.EVTCHN_OP, 0, 0); e.byte(0x83, 0x25); e.d32(SHARED_VA); e.byte(0); } // unmask port 0; and [upcall_mask], 0
  }
  e.byte(0xe9); e.d32(CODE - (CODE_BASE_PROLOGUE + e.b.length + 4)); // jmp CODE
  if (e.b.length > 0x1000 - 0x40) throw new Error("prologue too long");
  img.set(e.b, CODE_BASE_PROLOGUE - IMAGE_BASE);

  // ---- the random code ----
  let at = CODE;
  while (at < CODE_END - 64) {
    const t = new Emitter();
    template(t, r, mode, ptr, value, selector);
    img.set(t.b, at - IMAGE_BASE);
    at += t.b.length;
  }

  // ---- multiboot header (flag 16: the address fields) and the jump to the prologue ----
  const flags = 0x10000;
  put32(img, IMAGE_BASE, 0x1badb002); put32(img, IMAGE_BASE + 4, flags); put32(img, IMAGE_BASE + 8, -(0x1badb002 + flags) >>> 0);
  put32(img, IMAGE_BASE + 12, IMAGE_BASE); put32(img, IMAGE_BASE + 16, IMAGE_BASE);
  put32(img, IMAGE_BASE + 20, 0); put32(img, IMAGE_BASE + 24, 0); put32(img, IMAGE_BASE + 28, CODE_BASE_PROLOGUE);
  return { mode, image: img, paging, ring3 };
}
const CODE_BASE_PROLOGUE = IMAGE_BASE + 0x40;

/** One biased instruction template (or a run of random bytes). */
function template(e: Emitter, r: Rng, mode: Mode, ptr: () => number, value: () => number, selector: () => number): void {
  const para = mode === "para";
  const k = r.int(para ? 30 : 26);
  switch (k) {
    case 0: case 1: case 2: { const n = 1 + r.int(8); for (let i = 0; i < n; i++) e.byte(r.int(256)); return; } // random bytes
    case 3: // one-byte and two-byte privileged / sensitive instructions
      e.byte(...[[0xfa], [0xfb], [0xf4], [0x0f, 0x06], [0x0f, 0x08], [0x0f, 0x09], [0x0f, 0x30], [0x0f, 0x31], [0x0f, 0x32], [0x0f, 0xa2],
        [0x9c], [0x9d], [0xcf], [0xcb], [0xcc], [0xce], [0xf1], [0x0f, 0x34], [0x0f, 0x35], [0x0f, 0x05], [0x0f, 0x0b], [0x0f, 0x01, 0xe0],
        [0x0f, 0x00, 0xc0], [0x0f, 0x00, 0xc8], [0x17], [0x1f], [0x07], [0x0f, 0xa1], [0x0f, 0xa9], [0x0e], [0x16]][r.int(31)]);
      return;
    case 4: { // mov crN, eax / mov eax, crN
      const n = r.chance(0.9) ? [0, 2, 3, 4][r.int(4)] : r.int(8);
      let v = value();
      if (n === 0 && r.chance(0.6)) v = (0x11 | (r.chance(0.5) ? 0x80000000 : 0) | (r.chance(0.3) ? 0x10000 : 0) | (r.chance(0.2) ? 0x8 : 0) | (r.chance(0.1) ? 0x4 : 0) | (r.chance(0.1) ? 0x60000000 : 0)) >>> 0;
      if (n === 3 && r.chance(0.6)) v = (ptr() & ~0xfff) >>> 0;
      if (n === 4 && r.chance(0.6)) v = r.int(0x800);
      e.movImm(EAX, v); e.byte(0x0f, r.chance(0.8) ? 0x22 : 0x20, 0xc0 | (n << 3)); return;
    }
    case 5: { const n = r.int(8); e.movImm(EAX, value()); e.byte(0x0f, r.chance(0.6) ? 0x23 : 0x21, 0xc0 | (n << 3)); return; } // mov drN
    case 6: { // lgdt / lidt / sgdt / sidt [eax] with a random pointer
      e.movImm(EAX, ptr()); e.byte(0x0f, 0x01, [0x10, 0x18, 0x00, 0x08][r.int(4)]); return;
    }
    case 7: { // lldt / ltr / verr / verw / lar / lsl with a random selector
      e.movImm(EAX, selector()); e.movImm(ECX, selector());
      e.byte(...[[0x0f, 0x00, 0xd0], [0x0f, 0x00, 0xd8], [0x0f, 0x00, 0xe0], [0x0f, 0x00, 0xe8], [0x0f, 0x02, 0xc1], [0x0f, 0x03, 0xc1]][r.int(6)]); return;
    }
    case 8: { // mov sreg, ax
      e.movImm(EAX, selector()); e.byte(0x8e, 0xc0 | ([0, 2, 3, 4, 5, 1][r.int(r.chance(0.95) ? 5 : 6)] << 3)); return;
    }
    case 9: { // far jmp / call / lcall through memory / lds-lss
      const off = r.chance(0.7) ? CODE + r.int(CODE_END - CODE) : r.u32();
      const f = r.int(4);
      if (f === 0) { e.byte(0xea); e.d32(off); e.d16(selector()); }
      else if (f === 1) { e.byte(0x9a); e.d32(off); e.d16(selector()); }
      else { e.movImm(EAX, ptr()); e.byte(...[[0xff, 0x28], [0xff, 0x18], [0x0f, 0xb2, 0x00], [0xc5, 0x00]][r.int(4)]); }
      return;
    }
    case 10: { // iret / retf with a crafted frame
      const n = r.int(5);
      for (let i = 0; i < n; i++) { e.byte(0x68); e.d32(i === 1 || i === 4 ? selector() : i === 2 ? r.int(0x10000) | 2 : r.chance(0.5) ? CODE + r.int(CODE_END - CODE) : value()); }
      e.byte(r.chance(0.6) ? 0xcf : 0xcb); return;
    }
    case 11: e.byte(0xcd, r.int(256)); return; // int n
    case 12: case 13: case 14: { // port I/O
      const port = r.chance(0.01) ? DEBUG_EXIT : r.chance(0.85) ? PORTS[r.int(PORTS.length)] : r.int(0x10000);
      e.movImm(EDX, port); e.movImm(EAX, value());
      const f = r.int(10);
      if (f < 6) e.byte(...[[0xec], [0xed], [0x66, 0xed], [0xee], [0xef], [0x66, 0xef]][f]);
      else if (f < 8 && port < 256) e.byte(r.chance(0.5) ? 0xe4 : 0xe6, port);
      else { e.movImm(ECX, r.chance(0.7) ? r.int(64) : value()); e.movImm(EDI, ptr()); e.movImm(ESI, ptr()); e.byte(0xf3, 0x6c + r.int(4)); }
      return;
    }
    case 15: case 16: { // MMIO to the APIC / IOAPIC / virtio pages (para: the virtio window in the hole)
      const base = para ? HOLE_MMIO_VA + 0x200 * r.int(3) : MMIO[r.int(2)];
      const off = r.chance(0.8) ? r.int(0x100) * 4 : r.int(0x1000);
      e.movImm(EAX, base + off); e.movImm(ECX, value());
      e.byte(...[[0xc7, 0x00], [0x89, 0x08], [0x8b, 0x08], [0x88, 0x08], [0x66, 0x89, 0x08], [0x8a, 0x08]][r.int(6)]);
      if (e.b[e.b.length - 2] === 0xc7) e.d32(value());
      return;
    }
    case 17: { // store into a descriptor table or a page table that may be live
      const a = para ? ptr() : [GDT + 8 * r.int(16) + 4 * r.int(2), IDT + 4 * r.int(512), PD + 4 * r.int(1024), PT0 + 4 * r.int(1024), TSS + 4 * r.int(26)][r.int(5)];
      e.movImm(EAX, a); e.byte(0xc7, 0x00); e.d32(value()); return;
    }
    case 18: { // runaway REP strings (issue 9 item 3)
      e.movImm(ECX, r.chance(0.5) ? 0xffffffff : value()); e.movImm(EDI, ptr()); e.movImm(ESI, ptr());
      e.byte(0xf3, [0xab, 0xa5, 0xaa, 0xa4, 0xad, 0xa7][r.int(6)]); return;
    }
    case 19: e.movImm(EAX, ptr()); e.byte(0x0f, 0x01, 0x38); return; // invlpg [eax]
    case 20: e.movImm(EAX, value()); e.byte(0x0f, 0x01, 0xf0); return; // lmsw ax
    case 21: e.byte(0xe9); e.d32(r.int(0x400) - 0x200); return; // jmp near random
    case 22: e.byte(0xeb, r.int(256)); return;
    case 23: { const reg = r.int(8); e.movImm(reg === ESP && r.chance(0.7) ? EAX : reg, value()); return; }
    case 24: e.movImm(ECX, value()); e.movImm(EAX, value()); e.movImm(EDX, value()); e.byte(0x0f, 0x30); return; // wrmsr
    case 25: e.byte(0x6a, r.int(256), 0x9d); return; // push imm; popf
    default: { // para: VMCALL with random and biased arguments
      const nr = r.chance(0.85) ? r.int(14) : r.chance(0.5) ? r.int(256) : r.u32();
      e.movImm(EAX, nr); e.movImm(EBX, r.chance(0.6) ? ptr() : value()); e.movImm(ECX, r.chance(0.6) ? r.int(20) : value()); e.movImm(EDX, value());
      e.byte(0x0f, 0x01, 0xc1); return;
    }
  }
}

/** A multiboot image (header flag 16) of raw code, entered at IMAGE_BASE + 0x40: for the regression tests. */
export function flatImage(code: number[]): Uint8Array {
  const img = new Uint8Array(0x40 + code.length);
  const flags = 0x10000;
  const put = (o: number, v: number) => { img[o] = v; img[o + 1] = v >>> 8; img[o + 2] = v >>> 16; img[o + 3] = v >>> 24; };
  put(0, 0x1badb002); put(4, flags); put(8, -(0x1badb002 + flags) >>> 0);
  put(12, IMAGE_BASE); put(16, IMAGE_BASE); put(20, 0); put(24, 0); put(28, CODE_BASE_PROLOGUE);
  img.set(code, 0x40);
  return img;
}
