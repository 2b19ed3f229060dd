// shadow.ts — shadow page tables for full mode.
//
// The CPU walks only shadow tables (in VMM-owned machine memory) that map guest-virtual → machine-physical.
// Guest-physical X is machine-physical X + ramOffset. Shadows are built lazily on hidden page faults, one per
// (guest CR3, virtual privilege mode): the "K" shadow is used while the guest kernel runs (deprivileged at CPL 3,
// so guest supervisor pages are mapped U=1 there), the "U" shadow while guest user code runs (guest supervisor
// pages are absent, so user accesses fault and are reflected). The guest's page directories and page tables are
// write-protected in every shadow; a write to one is decoded and emulated by the monitor, which hands it to
// writeEntries() (exactly the derived shadow entries of the changed guest words are dropped), or, for forms it
// does not decode, single-stepped between snapshot() and commitWrite(), which diffs the frame.
// PDE 1023 of every shadow maps the VMM's own region (real GDT/IDT/TSS) supervisor-only. Guest mappings of
// guest-physical addresses outside guest RAM become MMIO (mmioMachineAddr): machine addresses past machine RAM.
import { walk as guestWalk, markAccessed, access, PTE_P, PTE_W, PTE_U, PTE_A, PTE_D, PTE_FRAME, type TableMemory } from "../memory/paging.ts";
import { GuestRangeError } from "../memory/guest-memory.ts";
import * as A from "../abi.generated.ts";
import { MapCounts, type PtMirror, type WriteCounts } from "./ptmirror.ts";
export { GuestRangeError };
export const VMM_PDE = 1023;
export const VMM_LINEAR = 0xffc00000;
/** the machine page a page of the top of guest-physical space is stepped through (mapWindow) */
export const MMIO_WINDOW = 0xfffff000;

/** machine-physical memory as the VMM sees it */
export interface PhysMem {
  read32(mpa: number): number;
  write32(mpa: number, v: number): void;
  fill(mpa: number, len: number, v: number): void;
  read(mpa: number, len: number): Uint8Array;
  /** bulk write (optional; falls back to write32 per word) */
  write?(mpa: number, data: Uint8Array): void;
  flushTlb(): void;
  /** drop the TLB entries of one linear page (optional; falls back to flushTlb) */
  invlpg?(lin: number): void;
}

export interface GuestPaging {
  /** CR0.PG */
  pg: boolean;
  /** CR0.WP */
  wp: boolean;
  /** CR4.PSE */
  pse: boolean;
  cr3: number;
}

export interface WalkResult {
  ok: boolean;
  /** guest-physical address (ok) */
  gpa: number;
  /** page-fault error code (not ok) */
  err: number;
  /** the guest mapping allows writes for this access mode */
  writable: boolean;
  /** guest PTE (or 4 MiB PDE) dirty bit already set */
  dirty: boolean;
  /** guest-physical address of the PDE / PTE used (-1 if none) */
  pdeAddr: number;
  pteAddr: number;
  /** guest-physical frame of the page table (-1 for 4 MiB pages or paging off) */
  ptFrame: number;
  /** the guest's entries allow user accesses (U in the PDE and the PTE; true with paging off) */
  userOk: boolean;
  /** the guest's entries allow writes to everyone (R/W in the PDE and the PTE; true with paging off) */
  rw: boolean;
}

export interface Shadow {
  key: string;
  /** machine address of the shadow page directory */
  pd: number;
  /** guest-physical frame number of the guest page directory, -1 with paging off */
  gpdFrame: number;
  user: boolean;
  /** pdi → machine address of the shadow page table */
  pts: Map<number, number>;
  /** pdi → guest PT frame the shadow PT was built from (-1 for 4 MiB pages / paging off) */
  ptSrc: Map<number, number>;
  lastUse: number;
}

export interface ShadowStats {
  hiddenFaults: number;
  trueFaults: number;
  shadowsCreated: number;
  shadowsEvicted: number;
  ptWrites: number;
  /** PT writes decoded and emulated by the monitor (no single-step, no frame diff) */
  ptWritesEmulated: number;
  /** PT writes single-stepped with the page opened, then diffed (forms the emulator does not decode) */
  ptWritesStepped: number;
  ptWriteZaps: number;
  unshadowed: number;
  invlpg: number;
  cr3Switches: number;
  /** K/U switches that kept the TLB (U → K: no flush) */
  tlbKept: number;
}

export interface ShadowOptions {
  mem: PhysMem;
  ramOffset: number;
  ramSize: number;
  /** machine pages available for shadow tables: [poolStart, poolEnd) */
  poolStart: number;
  poolEnd: number;
  /** machine address of the VMM page table installed at PDE 1023 */
  vmmPt: number;
  /** at most this many shadows (address space × mode) are cached */
  maxShadows?: number;
  /** frames the monitor write-protects for its own reasons (translated kernel code) */
  isCodeFrame?: (frame: number) => boolean;
  /**
   * The guest kernel runs at real ring 0 (hw mode --npt off, first-generation VT-x) instead of deprivileged at
   * ring 3: one shadow per address space, whose entries keep the guest's U/S and R/W (the real CR0.WP is 1 so
   * write protection traps the kernel too; a guest with CR0.WP=0 gets a kernel-only writable entry for a
   * supervisor write to a read-only page, as KVM does), and no VMM region in the guest's linear space (vmmPt unused).
   */
  ring0Guest?: boolean;
  /** the reverse map mirrored for the CPU's own fills and page-table stores (ptmirror.ts); also keeps the write counts */
  mirror?: PtMirror | null;
}

export const FLOOD = 24;

export class ShadowMmu {
  readonly stats: ShadowStats = { hiddenFaults: 0, trueFaults: 0, shadowsCreated: 0, shadowsEvicted: 0, ptWrites: 0, ptWritesEmulated: 0, ptWritesStepped: 0, ptWriteZaps: 0, unshadowed: 0, invlpg: 0, cr3Switches: 0, tlbKept: 0 };
  private readonly mem: PhysMem;
  readonly ramOffset: number;
  readonly ramSize: number;
  private free: number[] = [];
  private readonly vmmPt: number;
  private readonly maxShadows: number;
  private shadows = new Map<string, Shadow>();
  current: Shadow | null = null;
  /**
   * The last activate() switched U → K in the same address space: the real CR3 may be loaded without a TLB
   * flush. (The TLB then holds translations of both siblings of the current address space; every path that
   * changes or forgets a shadow entry of either invalidates by linear address or flushes.)
   */
  keepTlb = false;
  private tick = 0;
  /** guest PT frame → shadows/pdis whose shadow PT was built from it */
  private ptUsers = new Map<number, Set<string>>();
  /** guest PD frame → shadow keys */
  private pdUsers = new Map<number, Set<string>>();
  /** guest frame → machine addresses of shadow PTEs that map it writable */
  private rmapW = new Map<number, Set<number>>();
  /** emulated writes to a protected frame since a shadow last used it (the mirror's when there is one: the CPU's too) */
  private readonly counts: WriteCounts;
  isCodeFrame: (frame: number) => boolean;
  readonly ring0Guest: boolean;
  /** the PDE the VMM's region takes in every shadow (-1: none, ring0Guest) */
  private readonly vmmPde: number;
  readonly mirror: PtMirror | null;

  constructor(o: ShadowOptions) {
    this.mirror = o.mirror ?? null;
    this.counts = this.mirror ?? new MapCounts();
    this.ring0Guest = o.ring0Guest ?? false;
    this.vmmPde = this.ring0Guest ? -1 : VMM_PDE;
    this.mem = o.mem;
    this.ramOffset = o.ramOffset;
    this.ramSize = o.ramSize;
    this.vmmPt = o.vmmPt;
    this.maxShadows = o.maxShadows ?? 16;
    this.isCodeFrame = o.isCodeFrame ?? (() => false);
    for (let p = o.poolEnd - 4096; p >= o.poolStart; p -= 4096) this.free.push(p);
  }

  get freePages(): number { return this.free.length; }
  get shadowCount(): number { return this.shadows.size; }
  /** changes whenever a shadow is created or dropped (what cachedPd answers can only change then) */
  generation = 0;

  // ---- the guest's page walk ----
  /** The guest's tables as the one walker (host/memory/paging.ts) reads them: guest-physical, open bus outside. */
  private readonly tables: TableMemory = {
    peek32: (gpa) => (gpa >= 0 && gpa + 4 <= this.ramSize ? this.mem.read32(gpa + this.ramOffset) >>> 0 : undefined),
    poke32: (gpa, v) => { if (gpa >= 0 && gpa + 4 <= this.ramSize) this.mem.write32(gpa + this.ramOffset, v >>> 0); },
  };

  /**
   * The guest's own page walk (SDM 4.3) for one access: the side-effect-free walk, then, with `setAD`, the
   * accessed/dirty update hardware makes when it fills a TLB entry (a shadow entry is one). Page tables outside
   * guest RAM are refused (GuestRangeError) rather than read as an open bus.
   */
  walk(pg: GuestPaging, lin: number, write: boolean, user: boolean, setAD: boolean): WalkResult {
    const regs = { cr0: (pg.pg ? A.CR0_PG : 0) | (pg.wp ? A.CR0_WP : 0), cr3: pg.cr3, cr4: pg.pse ? A.CR4_PSE : 0 };
    const w = guestWalk(this.tables, regs, lin, access(write, user));
    if (setAD) markAccessed(this.tables, w, write);
    if (w.outside >= 0) throw new GuestRangeError(`guest-physical 0x${(w.outside >>> 0).toString(16)} is outside guest RAM`);
    const leafDirty = w.level === 0 || !!(w.leaf & PTE_D) || (setAD && w.ok && write);
    const bits = w.level === 0 ? PTE_U | PTE_W : w.level === 2 ? w.pde & w.pte : w.pde;
    return {
      ok: w.ok, gpa: w.ok ? w.phys : 0, err: w.errorCode, writable: w.writable, dirty: leafDirty,
      pdeAddr: w.pdeAddr, pteAddr: w.pteAddr, ptFrame: w.level === 2 ? ((w.pde & PTE_FRAME) >>> 0) / 4096 : -1,
      userOk: (bits & PTE_U) !== 0, rw: (bits & PTE_W) !== 0,
    };
  }

  // ---- shadows ----
  /** Frames the shadows derive from (guest PTs and PDs) or that hold translated code: writes must be trapped. */
  isProtected(frame: number): boolean {
    return this.ptUsers.has(frame) || this.pdUsers.has(frame) || this.isCodeFrame(frame);
  }

  /** Makes `key`'s shadow current (creating it); returns the machine address to load into the real CR3. */
  activate(pg: GuestPaging, user: boolean): number {
    const gpd = pg.pg ? (pg.cr3 >>> 12) : -1;
    if (pg.pg && (pg.cr3 & ~0xfff) >>> 0 >= this.ramSize) throw new GuestRangeError(`CR3 0x${(pg.cr3 >>> 0).toString(16)} points outside guest RAM`);
    const key = `${user ? "U" : "K"}:${pg.pg ? gpd : "nopg"}`;
    let s = this.shadows.get(key);
    if (!s) {
      if (this.shadows.size >= this.maxShadows) this.evictOne();
      const pd = this.alloc();
      s = { key, pd, gpdFrame: gpd, user, pts: new Map(), ptSrc: new Map(), lastUse: 0 };
      if (this.vmmPde >= 0) this.mem.write32(pd + this.vmmPde * 4, this.vmmPt | PTE_P | PTE_W);
      this.shadows.set(key, s);
      this.generation++;
      if (gpd >= 0) { this.addUser(this.pdUsers, gpd, key); this.mirror?.link(pd / 4096, gpd, user ? A.FPT_KIND_PD_U : A.FPT_KIND_PD_K, 0); }
      this.stats.shadowsCreated++;
    }
    const prev = this.current;
    if (prev !== s) this.stats.cr3Switches++;
    // U → K within one address space: every translation the U shadow allows, the K shadow allows too (same
    // frame; a user-writable, dirty, unprotected page is kernel-writable), so the CPU's TLB may be kept
    this.keepTlb = prev !== null && prev !== s && prev.user && !s.user && prev.gpdFrame === s.gpdFrame && prev.key.slice(1) === s.key.slice(1);
    if (this.keepTlb) this.stats.tlbKept++;
    s.lastUse = ++this.tick;
    this.current = s;
    return s.pd;
  }

  /** The machine address of the shadow PD for (`pg`, `user`) if it is cached, else 0; never creates or touches one
   *  (the CPU's fast INT/IRET switch between the two shadows of an address space: assembly/fullfast.ts). */
  cachedPd(pg: GuestPaging, user: boolean): number {
    return this.shadows.get(`${user ? "U" : "K"}:${pg.pg ? pg.cr3 >>> 12 : "nopg"}`)?.pd ?? 0;
  }

  /** Drops every shadow (CR0.PG/WP or CR4.PSE changed: every derived entry may be wrong). */
  flushAll(): void {
    for (const s of [...this.shadows.values()]) this.destroy(s);
    this.current = null;
    this.mem.flushTlb();
  }

  private evictOne(): void {
    let victim: Shadow | null = null;
    for (const s of this.shadows.values()) if (s !== this.current && (!victim || s.lastUse < victim.lastUse)) victim = s;
    if (victim) { this.destroy(victim); this.stats.shadowsEvicted++; }
  }

  private destroy(s: Shadow): void {
    this.generation++;
    // the current shadow's sibling (other privilege view of the same address space) may have entries in the TLB
    const sibling = this.current !== null && s !== this.current && s.key.slice(1) === this.current.key.slice(1);
    for (const pdi of [...s.pts.keys()]) this.zapPde(s, pdi);
    if (sibling) this.mem.flushTlb();
    if (s.gpdFrame >= 0) { this.delUser(this.pdUsers, s.gpdFrame, s.key); this.mirror?.unlink(s.pd / 4096); }
    this.mem.fill(s.pd, 4096, 0);
    this.free.push(s.pd);
    this.shadows.delete(s.key);
    if (this.current === s) this.current = null;
  }

  private alloc(): number {
    if (!this.free.length) {
      this.evictOne();
      if (!this.free.length && this.current) {
        // only the current shadow is left: start it over
        for (const pdi of [...this.current.pts.keys()]) this.zapPde(this.current, pdi);
        this.mem.flushTlb();
      }
      if (!this.free.length) throw new Error("wasmvisor full: out of shadow page-table memory");
    }
    return this.free.pop()!;
  }

  private addUser(m: Map<number, Set<string>>, frame: number, who: string): void {
    let set = m.get(frame);
    if (!set) {
      m.set(frame, (set = new Set()));
      this.revokeWrites(frame);
    }
    set.add(who);
  }
  private delUser(m: Map<number, Set<string>>, frame: number, who: string): void {
    const set = m.get(frame);
    if (!set) return;
    set.delete(who);
    if (!set.size) m.delete(frame);
  }

  /** Removes write access to `frame` from every shadow PTE (it became a page table or translated code). */
  revokeWrites(frame: number): void {
    this.takeCpuFills();
    const set = this.rmapW.get(frame);
    if (!set) return;
    const want = ((frame * 4096 + this.ramOffset) >>> 0);
    let changed = false;
    for (const a of set) {
      const e = this.mem.read32(a) >>> 0;
      if ((e & PTE_P) && (e & PTE_W) && ((e & PTE_FRAME) >>> 0) === want) { this.mem.write32(a, e & ~PTE_W); changed = true; }
    }
    this.rmapW.delete(frame);
    if (changed) this.mem.flushTlb();
  }

  private zapPde(s: Shadow, pdi: number): void {
    const pt = s.pts.get(pdi);
    if (pt === undefined) return;
    this.mem.write32(s.pd + pdi * 4, 0);
    this.mem.fill(pt, 4096, 0);
    this.free.push(pt);
    s.pts.delete(pdi);
    const src = s.ptSrc.get(pdi)!;
    s.ptSrc.delete(pdi);
    if (src >= 0) { this.delUser(this.ptUsers, src, `${s.key}/${pdi}`); this.mirror?.unlink(pt / 4096); }
  }

  /**
   * Fills the current shadow's entry for `lin` from a successful guest walk. `write`: the faulting access was a
   * write (the mapping is made writable only if the guest allows it, the guest PTE is dirty and the frame is
   * not protected). Returns false if the frame is protected and the access is a write (the caller emulates it).
   */
  fill(lin: number, w: WalkResult, write: boolean): boolean {
    const s = this.current!;
    const pdi = lin >>> 22;
    const mmio = w.gpa >= this.ramSize;
    if (mmio && this.mmioMachineAddr(w.gpa) < 0) throw new GuestRangeError(`guest maps 0x${(lin >>> 0).toString(16)} to guest-physical 0x${(w.gpa >>> 0).toString(16)}: the top ${this.ramOffset >>> 20} MiB of the physical address space have no machine address (mapWindow)`);
    const frame = w.gpa >>> 12;
    if (w.ptFrame >= 0) this.counts.set(w.ptFrame, 0);
    const pt = this.ptFor(s, pdi, w);
    const prot = !mmio && this.isProtected(frame);
    if (write && prot) return false;
    if (w.ptFrame < 0 && this.prefillLarge) { this.fillLarge(pt, lin, w, write); return true; }
    const canWrite = w.writable && w.dirty && !prot && (!this.ring0Guest || w.rw || write);
    const spte = pt + ((lin >>> 12) & 0x3ff) * 4;
    const old = this.mem.read32(spte) >>> 0;
    const val = (((frame * 4096 + this.ramOffset) >>> 0) | PTE_P | this.userBit(w, canWrite) | (canWrite ? PTE_W : 0)) >>> 0;
    this.mem.write32(spte, val);
    if (canWrite && !mmio) this.addRmap(frame, spte);
    if (old & PTE_P) this.flushPage(lin);
    return true;
  }

  /**
   * U of a shadow entry. Deprivileged guest kernel (full mode): always 1 (the kernel runs at ring 3; the U shadow
   * omits supervisor pages). Ring-0 guest: the guest's own U, except a kernel-only writable entry for a supervisor
   * write the guest's CR0.WP=0 allows to a read-only page (a user access then faults and refills it read-only).
   */
  private userBit(w: WalkResult, canWrite: boolean): number {
    if (!this.ring0Guest) return PTE_U;
    return w.userOk && (w.rw || !canWrite) ? PTE_U : 0;
  }

  /** the current shadow's page table for `pdi` as derived from the walk `w` (made, or remade if the guest's changed) */
  private ptFor(s: Shadow, pdi: number, w: WalkResult): number {
    let pt = s.pts.get(pdi);
    if (pt !== undefined && s.ptSrc.get(pdi) !== w.ptFrame) { this.zapPde(s, pdi); this.mem.flushTlb(); pt = undefined; }
    if (pt === undefined) {
      pt = this.alloc();
      if (!this.shadows.has(s.key)) throw new Error("wasmvisor full: current shadow evicted"); // cannot happen: never the current
      s.pts.set(pdi, pt);
      s.ptSrc.set(pdi, w.ptFrame);
      if (w.ptFrame >= 0) { this.addUser(this.ptUsers, w.ptFrame, `${s.key}/${pdi}`); this.mirror?.link(pt / 4096, w.ptFrame, A.FPT_KIND_PT, pdi); }
      this.mem.write32(s.pd + pdi * 4, pt | PTE_P | PTE_W | PTE_U);
    }
    return pt;
  }

  /**
   * Maps `lin` (a page of the top ramOffset bytes of guest-physical space, which has no machine address of its own)
   * onto the machine page MMIO_WINDOW for one single-stepped instruction; returns the previous entry for
   * restoreSpte. The caller attributes MMIO exits on the window to the guest page it stepped.
   */
  mapWindow(lin: number, w: WalkResult): number {
    const pt = this.ptFor(this.current!, lin >>> 22, w);
    const a = pt + ((lin >>> 12) & 0x3ff) * 4;
    const old = this.mem.read32(a) >>> 0;
    this.mem.write32(a, (MMIO_WINDOW | PTE_P | PTE_U | (w.writable && w.dirty ? PTE_W : 0)) >>> 0);
    this.flushPage(lin);
    return old;
  }

  /** fill whole 4 MiB regions at once where that is exact (paging off, guest 4 MiB pages); default true */
  prefillLarge = true;

  /**
   * Paging off or a guest 4 MiB page: every 4 KiB piece of the region has the same permissions and the same A/D
   * bits (none with paging off, the PDE's with a 4 MiB page, already set by this walk), so the whole shadow PT is
   * filled at once — one hidden fault per 4 MiB instead of one per page (boot code touching all of RAM before
   * it enables paging took 16 K hidden faults). Read-only where the guest PDE is not dirty yet (the first write
   * faults and sets D, as hardware would) and on protected frames; never past guest RAM.
   */
  private fillLarge(pt: number, lin: number, w: WalkResult, write: boolean): void {
    const base = (w.gpa - (lin & 0x3fffff)) >>> 0;
    const canWrite = w.writable && w.dirty && (!this.ring0Guest || w.rw || write);
    const u = this.userBit(w, canWrite);
    const words = new Uint32Array(1024);
    for (let i = 0; i < 1024; i++) {
      const gpa = base + i * 4096;
      if (gpa >= this.ramSize) {
        // device (or unbacked) pages of the region: MMIO, as native; the top pieces that have no machine address
        // stay absent (a touch stops the VM through fill())
        if (this.mmioMachineAddr(gpa) >= 0) words[i] = ((gpa + this.ramOffset) | PTE_P | u | (canWrite ? PTE_W : 0)) >>> 0;
        continue;
      }
      const frame = gpa >>> 12;
      const wr = canWrite && !this.isProtected(frame);
      words[i] = ((gpa + this.ramOffset) | PTE_P | (wr ? u : this.userBit(w, false)) | (wr ? PTE_W : 0)) >>> 0;
      if (wr) this.addRmap(frame, pt + i * 4);
    }
    const bytes = new Uint8Array(words.buffer);
    if (this.mem.write) this.mem.write(pt, bytes);
    else for (let i = 0; i < 1024; i++) this.mem.write32(pt + i * 4, words[i]);
    this.mem.flushTlb();
  }

  /**
   * Guest-physical addresses outside guest RAM (device registers, or nothing) are MMIO: the shadow maps them to
   * machine-physical gpa + ramOffset, which lies past the machine's RAM (guest RAM ends there), so the CPU exits
   * on every access and never touches memory. This is the machine address for `gpa` (>= ramSize), or -1 for the
   * top `ramOffset` bytes of the 4 GiB space, whose machine addresses would wrap into the VMM region.
   */
  mmioMachineAddr(gpa: number): number {
    gpa >>>= 0;
    if (gpa < this.ramSize) throw new Error("wasmvisor full: mmioMachineAddr of guest RAM");
    const m = gpa + this.ramOffset;
    return m > 0xffffffff ? -1 : m;
  }

  /** The guest-physical address of an MMIO exit's machine-physical address (the inverse of mmioMachineAddr). */
  mmioGuestAddr(mpa: number): number {
    mpa >>>= 0;
    if (mpa < this.ramOffset + this.ramSize) throw new Error(`wasmvisor full: MMIO exit at machine-physical 0x${mpa.toString(16)}, inside machine RAM`);
    return mpa - this.ramOffset;
  }

  /** (first, the writable entries the CPU's own fills made — assembly/fullpt.ts — join the reverse map) */
  private takeCpuFills(): void { this.mirror?.drain((f, a) => this.addRmap(f, a, true)); }
  private addRmap(frame: number, spte: number, cpu = false): void {
    if (!cpu) this.takeCpuFills();
    let set = this.rmapW.get(frame);
    if (!set) this.rmapW.set(frame, (set = new Set()));
    set.add(spte);
  }

  /** drop one linear page from the CPU's TLB (only the current shadow's translations can be cached there) */
  private flushPage(lin: number): void {
    if (this.mem.invlpg) this.mem.invlpg(lin >>> 0); else this.mem.flushTlb();
  }

  /** Machine address of the current shadow PTE for `lin`, or -1. */
  spteAddr(lin: number): number {
    const s = this.current;
    if (!s) return -1;
    const pt = s.pts.get(lin >>> 22);
    return pt === undefined ? -1 : pt + ((lin >>> 12) & 0x3ff) * 4;
  }

  /** Temporarily maps `lin` → `gpa` writable in the current shadow (to single-step a write to a protected frame). */
  mapTemporarilyWritable(lin: number, gpa: number): number {
    const a = this.spteAddr(lin);
    if (a < 0) throw new Error("wasmvisor full: no shadow entry to open");
    const old = this.mem.read32(a) >>> 0;
    this.mem.write32(a, ((((gpa >>> 12) * 4096 + this.ramOffset) >>> 0) | PTE_P | (this.ring0Guest ? old & PTE_U : PTE_U) | PTE_W) >>> 0);
    this.flushPage(lin);
    return old;
  }
  restoreSpte(lin: number, old: number): void {
    const a = this.spteAddr(lin);
    if (a < 0) return;
    this.mem.write32(a, old & ~PTE_W);
    this.flushPage(lin);
  }

  /** A copy of a guest frame, before a trapped write to it. */
  snapshot(frame: number): Uint8Array {
    return this.mem.read(frame * 4096 + this.ramOffset, 4096);
  }

  /**
   * After a trapped write to a guest page-table frame: drop the shadow entries derived from every changed guest
   * entry. Returns the number of entries that changed. A frame written many times without being used by a
   * shadow fill in between is "unshadowed" (stops being tracked: likely freed and reused as data).
   */
  commitWrite(frame: number, before: Uint8Array): number {
    this.stats.ptWrites++;
    const after = this.mem.read(frame * 4096 + this.ramOffset, 4096);
    const bv = new Uint32Array(before.buffer, before.byteOffset, 1024), av = new Uint32Array(after.buffer, after.byteOffset, 1024);
    const z = this.zapper(frame);
    for (let i = 0; i < 1024; i++) if (bv[i] !== av[i]) z.entry(i, bv[i], av[i]);
    return this.finishWrite(frame, z);
  }

  /**
   * A store the monitor emulates into a protected frame (decoded from the faulting instruction, or its own
   * accesses): writes `data` at guest-physical `gpa` (within one frame) and drops exactly the shadow entries
   * derived from the guest entries it changed (at most the 1–2 words the store touches, or a run for REP STOS),
   * with single-page TLB invalidations — no snapshot and no 4 KiB diff. Returns the number of entries changed.
   */
  writeEntries(gpa: number, data: Uint8Array): number {
    const off = gpa & 0xfff;
    if (gpa < 0 || gpa + data.length > this.ramSize || off + data.length > 4096) throw new GuestRangeError(`guest-physical 0x${(gpa >>> 0).toString(16)}+${data.length} is outside guest RAM or crosses a frame`);
    this.stats.ptWrites++;
    const frame = gpa >>> 12;
    const base = frame * 4096 + this.ramOffset;
    const first = off >>> 2, last = (off + data.length - 1) >>> 2;
    const before = new Uint32Array(last - first + 1);
    for (let i = first; i <= last; i++) before[i - first] = this.mem.read32(base + i * 4) >>> 0;
    if (this.mem.write) this.mem.write(base + off, data);
    else {
      // byte-wise through read/modify/write of whole words
      for (let i = first; i <= last; i++) {
        let w = before[i - first];
        for (let b = 0; b < 4; b++) {
          const k = i * 4 + b - off;
          if (k >= 0 && k < data.length) w = (w & ~(0xff << (8 * b))) | (data[k] << (8 * b));
        }
        this.mem.write32(base + i * 4, w >>> 0);
      }
    }
    const z = this.zapper(frame);
    for (let i = first; i <= last; i++) {
      const a = before[i - first], b = this.mem.read32(base + i * 4) >>> 0;
      if (a !== b) z.entry(i, a, b);
    }
    return this.finishWrite(frame, z);
  }

  /** per-write bookkeeping: which shadow entries derive from entry i of `frame`, and the TLB pages to drop */
  private zapper(frame: number) {
    const ptU = this.ptUsers.get(frame), pdU = this.pdUsers.get(frame);
    const cur = this.current;
    const curSpace = cur ? cur.key.slice(1) : "";
    const self = this;
    return {
      changed: 0, flushAll: false, pages: [] as number[],
      entry(i: number, before: number, after: number): void {
        // A/D-only changes do not change a translation
        if (((before ^ after) & ~(PTE_A | PTE_D)) === 0) return;
        this.changed++;
        if (ptU) for (const who of ptU) {
          const slash = who.indexOf("/");
          const key = who.slice(0, slash);
          const s = self.shadows.get(key);
          const pdi = Number(who.slice(slash + 1));
          const pt = s?.pts.get(pdi);
          if (pt !== undefined) {
            self.mem.write32(pt + i * 4, 0);
            // the TLB may hold translations of the current address space from either of its two shadows (K/U)
            if (s === cur || key.slice(1) === curSpace) this.pages.push(((pdi << 22) | (i << 12)) >>> 0);
          }
        }
        if (pdU && i !== self.vmmPde) for (const key of [...pdU]) {
          const s = self.shadows.get(key);
          if (s && s.pts.has(i)) { self.zapPde(s, i); if (s === cur || key.slice(1) === curSpace) this.flushAll = true; }
        }
      },
    };
  }

  private finishWrite(frame: number, z: { changed: number; flushAll: boolean; pages: number[] }): number {
    if (z.changed) {
      this.stats.ptWriteZaps += z.changed;
      if (z.flushAll || z.pages.length > 16) this.mem.flushTlb(); else for (const p of z.pages) this.flushPage(p);
    }
    const n = this.counts.get(frame) + 1;
    this.counts.set(frame, n);
    if (n >= FLOOD) this.unshadow(frame);
    return z.changed;
  }

  /** Stop tracking `frame` as a page table: drop every shadow piece derived from it. */
  unshadow(frame: number): void {
    this.counts.set(frame, 0);
    const ptU = this.ptUsers.get(frame);
    if (ptU) for (const who of [...ptU]) {
      const [key, pdiS] = who.split("/");
      const s = this.shadows.get(key);
      if (s) this.zapPde(s, Number(pdiS));
    }
    const pdU = this.pdUsers.get(frame);
    if (pdU) for (const key of [...pdU]) {
      const s = this.shadows.get(key);
      if (s && s !== this.current) this.destroy(s);
      else if (s) for (const pdi of [...s.pts.keys()]) this.zapPde(s, pdi);
    }
    this.stats.unshadowed++;
    this.mem.flushTlb();
  }

  /** INVLPG: drop the current shadows' entries for `lin` (both modes of this address space). */
  invlpg(lin: number): void {
    this.stats.invlpg++;
    const cur = this.current;
    if (!cur) return;
    const suffix = cur.key.slice(1);
    for (const key of ["K" + suffix, "U" + suffix]) {
      const s = this.shadows.get(key);
      const pt = s?.pts.get(lin >>> 22);
      if (pt !== undefined) this.mem.write32(pt + ((lin >>> 12) & 0x3ff) * 4, 0);
    }
    this.flushPage(lin);
  }
}
