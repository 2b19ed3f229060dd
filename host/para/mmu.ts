// mmu.ts — validated direct paging, as Xen's mmu_update/mmuext_op: the guest's own page tables are the ones the CPU
// walks, and the VMM checks every change to them. Per guest frame the VMM tracks (like Xen's page_info):
//   type      NONE (ordinary data), L1 (page table), L2 (page directory)
//   typeRefs  how many validated PDEs reference this L1, + 1 if pinned (an L2 is only ever pinned)
//   writable  how many present+writable PTEs in validated L1s map this frame
// Invariants, checked before any change is made (a failing request changes nothing):
//   * a PTE/PDE may only point at guest frames [0, guestFrames): never the VMM region, never outside RAM;
//   * a frame is never both a page table (L1/L2) and writably mapped: a writable PTE to an L1/L2 frame is refused,
//     and a frame becomes an L1/L2 only while no writable mapping of it exists (so the guest must map its page
//     tables read-only first — with CR0.WP set the CPU then enforces it against the ring-1 kernel too);
//   * PDEs are 4 KiB page tables only (no PSE), and an L2 cannot be used as an L1 (no linear page-table tricks);
//   * PDE 1023 (the hypervisor hole) belongs to the VMM: it is installed when an L2 is pinned and the guest may not
//     change it;
//   * only a pinned L2 may become the base pointer (CR3); the current one cannot be unpinned.
// A batch (mmu_update) is all-or-nothing: on the first invalid entry the earlier ones are undone.
// The per-frame state lives in the guest-memory policy (policy.ts), which devices consult too: a frame with a device
// write in flight cannot become a page table (−EBUSY), and no device may write a page-table frame.
import { E, HOLE_PDX, PAGE } from "./abi.ts";
import { FT, MemoryPolicy } from "./policy.ts";
import { PTE_P, PTE_W, PTE_U, PTE_PS } from "../memory/paging.ts";

// the x86 entry bits are host/memory/paging.ts's (the CPU's own, from assembly/abi.ts); re-exported for para's users
export { PTE_P, PTE_W, PTE_U, PTE_PS };
const NONE = FT.RAM, L1 = FT.L1, L2 = FT.L2;

export interface PhysMem {
  read32(paddr: number): number;
  write32(paddr: number, v: number): void;
}

export interface MmuStats {
  updates: number;
  batches: number;
  pins: number;
  unpins: number;
  baseptrSwitches: number;
  flushes: number;
  rejected: Record<string, number>;
}

class Reject {
  constructor(readonly errno: number, readonly why: string) {}
}

export class PvMmu {
  readonly policy: MemoryPolicy;
  readonly type: Uint8Array;
  readonly typeRefs: Uint32Array;
  readonly pinned: Uint8Array;
  readonly writable: Uint32Array;
  private readonly deviceWrites: Uint32Array;
  /** the current base pointer (a pinned L2 frame), or -1 */
  cr3Frame = -1;
  readonly stats: MmuStats = { updates: 0, batches: 0, pins: 0, unpins: 0, baseptrSwitches: 0, flushes: 0, rejected: {} };
  lastError = "";

  /**
   * @param guestFrames frames the guest owns: [0, guestFrames)
   * @param holePde the PDE value the VMM puts at index 1023 of every pinned L2
   * @param policy the frame types shared with the devices (default: a policy of the guest's frames alone)
   */
  constructor(readonly mem: PhysMem, readonly guestFrames: number, readonly holePde: number, policy?: MemoryPolicy) {
    this.policy = policy ?? new MemoryPolicy(guestFrames, guestFrames);
    if (this.policy.guestFrames !== guestFrames) throw new RangeError("wasmvisor para: mmu and policy disagree on the guest's frames");
    ({ type: this.type, typeRefs: this.typeRefs, pinned: this.pinned, writable: this.writable, deviceWrites: this.deviceWrites } = this.policy);
  }

  private reject(errno: number, why: string): Reject {
    this.lastError = why;
    const k = why.split(":")[0];
    this.stats.rejected[k] = (this.stats.rejected[k] ?? 0) + 1;
    return new Reject(errno, why);
  }

  // ---------------------------------------------------------------- references
  private checkFrame(f: number, what: string): Reject | null {
    return f < this.guestFrames ? null : this.reject(E.PERM, `foreign frame: ${what} 0x${(f * PAGE).toString(16)} is not the guest's`);
  }

  /** Take the references a PTE value implies (validation included). */
  private getPte(v: number): Reject | null {
    if (!(v & PTE_P)) return null;
    const f = v >>> 12;
    const r = this.checkFrame(f, "PTE maps");
    if (r) return r;
    if (v & PTE_W) {
      if (this.type[f] !== NONE) return this.reject(E.PERM, `writable page table: PTE maps page-table frame 0x${(f * PAGE).toString(16)} writable`);
      this.writable[f]++;
    }
    return null;
  }
  private putPte(v: number): void {
    if ((v & (PTE_P | PTE_W)) === (PTE_P | PTE_W)) this.writable[v >>> 12]--;
  }

  private getPde(v: number): Reject | null {
    if (!(v & PTE_P)) return null;
    if (v & PTE_PS) return this.reject(E.INVAL, "large page: PDE with PS set");
    const f = v >>> 12;
    const r = this.checkFrame(f, "PDE references");
    if (r) return r;
    return this.getType(f, L1);
  }
  private putPde(v: number): void {
    if (v & PTE_P) this.putType(v >>> 12);
  }

  /** Take a type reference on frame f as an L1/L2, validating its contents if it was untyped. */
  private getType(f: number, t: number): Reject | null {
    if (this.type[f] === t) { this.typeRefs[f]++; return null; }
    if (this.type[f] !== NONE) return this.reject(E.INVAL, `type conflict: frame 0x${(f * PAGE).toString(16)} is already an L${this.type[f]}`);
    if (this.writable[f]) return this.reject(E.PERM, `writable page table: frame 0x${(f * PAGE).toString(16)} still has ${this.writable[f]} writable mapping(s)`);
    if (this.deviceWrites[f]) return this.reject(E.BUSY, `device write in flight: frame 0x${(f * PAGE).toString(16)}`);
    const base = f * PAGE;
    const n = t === L2 ? HOLE_PDX : 1024; // an L2's hole entry is the VMM's
    if (t === L2 && (this.mem.read32(base + HOLE_PDX * 4) & PTE_P) && this.mem.read32(base + HOLE_PDX * 4) !== this.holePde) {
      return this.reject(E.PERM, "hole: the guest may not use PDE 1023");
    }
    this.type[f] = t; // provisional: refuses self-references while validating
    for (let i = 0; i < n; i++) {
      const v = this.mem.read32(base + i * 4);
      const r = t === L1 ? this.getPte(v) : this.getPde(v);
      if (r) {
        for (let k = 0; k < i; k++) { const w = this.mem.read32(base + k * 4); if (t === L1) this.putPte(w); else this.putPde(w); }
        this.type[f] = NONE;
        return r;
      }
    }
    if (t === L2) this.mem.write32(base + HOLE_PDX * 4, this.holePde);
    this.typeRefs[f] = 1;
    return null;
  }
  private putType(f: number): void {
    if (--this.typeRefs[f] > 0) return;
    const t = this.type[f], base = f * PAGE;
    const n = t === L2 ? HOLE_PDX : 1024;
    for (let i = 0; i < n; i++) { const w = this.mem.read32(base + i * 4); if (t === L1) this.putPte(w); else this.putPde(w); }
    if (t === L2) this.mem.write32(base + HOLE_PDX * 4, 0);
    this.type[f] = NONE;
  }

  // ---------------------------------------------------------------- the guest's requests

  /** One PTE/PDE write at physical address ptr (inside a frame that is an L1 or L2 now). */
  private update(ptr: number, val: number): Reject | null {
    if (ptr % 4 || !(ptr >= 0)) return this.reject(E.INVAL, `bad pointer: 0x${ptr.toString(16)}`);
    const f = Math.floor(ptr / PAGE);
    if (f >= this.guestFrames) return this.reject(E.PERM, `foreign frame: update of 0x${ptr.toString(16)}`);
    const t = this.type[f];
    if (t === NONE) return this.reject(E.INVAL, `not a page table: update of 0x${ptr.toString(16)} in an ordinary frame`);
    const idx = (ptr % PAGE) / 4;
    if (t === L2 && idx === HOLE_PDX) return this.reject(E.PERM, "hole: the guest may not change PDE 1023");
    const old = this.mem.read32(ptr);
    val >>>= 0;
    const r = t === L1 ? this.getPte(val) : this.getPde(val);
    if (r) return r;
    this.mem.write32(ptr, val);
    if (t === L1) this.putPte(old); else this.putPde(old);
    this.stats.updates++;
    return null;
  }

  /** mmu_update: reqs = [ptr, val] pairs; all-or-nothing. Returns 0 or a negative errno. */
  mmuUpdate(reqs: ArrayLike<number>, count: number): number {
    this.stats.batches++;
    const undo: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const ptr = reqs[2 * i] >>> 0, val = reqs[2 * i + 1] >>> 0;
      const okPtr = ptr % 4 === 0 && Math.floor(ptr / PAGE) < this.guestFrames;
      const old = okPtr ? this.mem.read32(ptr) : 0;
      const r = this.update(ptr, val);
      if (r) {
        for (let k = undo.length - 1; k >= 0; k--) this.update(undo[k][0], undo[k][1]);
        this.stats.updates -= undo.length * 2;
        return r.errno;
      }
      undo.push([ptr, old]);
    }
    return 0;
  }

  pin(f: number, level: 1 | 2): number {
    if (!(f >= 0 && f < this.guestFrames)) return this.reject(E.PERM, `foreign frame: pin of frame ${f}`).errno;
    if (this.pinned[f]) return this.reject(E.INVAL, "already pinned").errno;
    const r = this.getType(f, level === 1 ? L1 : L2);
    if (r) return r.errno;
    this.pinned[f] = 1;
    this.stats.pins++;
    return 0;
  }

  unpin(f: number): number {
    if (!(f >= 0 && f < this.guestFrames) || !this.pinned[f]) return this.reject(E.INVAL, `not pinned: frame ${f}`).errno;
    if (f === this.cr3Frame) return this.reject(E.BUSY, "busy: unpin of the current page directory").errno;
    this.pinned[f] = 0;
    this.putType(f);
    this.stats.unpins++;
    return 0;
  }

  /** new_baseptr: returns 0 if frame f may become CR3 (a pinned L2). */
  newBaseptr(f: number): number {
    if (!(f >= 0 && f < this.guestFrames) || !this.pinned[f] || this.type[f] !== L2) return this.reject(E.INVAL, `not a pinned L2: baseptr frame ${f}`).errno;
    this.cr3Frame = f;
    this.stats.baseptrSwitches++;
    return 0;
  }

  /** Builds the initial (pinned, current) page directory at boot: identity map of [0, identTop), page tables RO. */
  buildInitial(l2: number, l1s: number[], identTop: number): void {
    const ptFrames = new Set([l2, ...l1s]);
    for (let i = 0; i < l1s.length; i++) {
      for (let j = 0; j < 1024; j++) {
        const pa = (i * 1024 + j) * PAGE;
        const v = pa < identTop ? pa | PTE_P | (ptFrames.has(pa / PAGE) ? 0 : PTE_W) : 0;
        this.mem.write32(l1s[i] * PAGE + j * 4, v);
      }
    }
    for (let i = 0; i < 1024; i++) this.mem.write32(l2 * PAGE + i * 4, i < l1s.length ? (l1s[i] * PAGE) | PTE_P | PTE_W : 0);
    const r = this.pin(l2, 2);
    if (r) throw new Error(`wasmvisor para: initial page tables invalid: ${this.lastError}`);
    this.newBaseptr(l2);
  }
}
