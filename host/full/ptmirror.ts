// ptmirror.ts — what the CPU needs to resolve shadow-paging faults itself (abi.ts "full-ptw", assembly/fullpt.ts),
// mirrored by the monitor into the VMM region below its shadow pool (machine memory the guest can never map: shadows only map
// guest RAM, device pages past machine RAM and the tables below POOL_START). The monitor keeps the policy (which
// shadows exist, unshadowing, eviction: shadow.ts); this is its reverse map as the CPU reads it:
//   - per guest frame one word: bits 0..11 the head of the chain of VMM pages (shadow PTs and PDs) built from the
//     frame (page + 1; 0: none, the frame is not protected), bits 24..31 the monitor's emulated-write count (the
//     unshadow heuristic, shadow.ts FLOOD: the CPU's stores count too);
//   - per VMM page two words: the guest frame it was built from + 1 (0: not a linked shadow page), and the next
//     page of the chain + 1 | kind << 12 | pdi << 16;
//   - a log of the writable shadow PTEs the CPU made (count, then frame/spte pairs): the monitor's reverse map of
//     writable entries (shadow.ts rmapW) takes them in before it looks at it, so that revoking write access to a
//     frame that becomes a page table finds them.
import * as A from "../abi.generated.ts";

/** machine memory as the mirror writes it (shadow.ts PhysMem has these) */
interface PhysMem { read32(mpa: number): number; write32(mpa: number, v: number): void; fill(mpa: number, len: number, v: number): void }

const LOG_CAP = 1023;

/** emulated writes per guest frame since a shadow fill last used it as a page table (shadow.ts FLOOD) */
export interface WriteCounts { get(frame: number): number; set(frame: number, n: number): void }
/** the counts without a mirror (hw mode's shadow paging, a guest too large for one) */
export class MapCounts implements WriteCounts {
  private m = new Map<number, number>();
  get(frame: number): number { return this.m.get(frame) ?? 0; }
  set(frame: number, n: number): void { if (n) this.m.set(frame, n); else this.m.delete(frame); }
}
/** guest RAM beyond which no mirror is kept (the frame table would eat the shadow pool): the fast path stays off */
const MAX_FRAME_TABLE = 2 << 20;

export class PtMirror implements WriteCounts {
  /** machine address where the mirror ends (the shadow pool starts here) */
  readonly end: number;
  readonly frames: number;
  readonly log: number;
  readonly pages: number;
  readonly nPages: number;
  readonly nFrames: number;

  /**
   * A mirror for `guestRam` at `base` in the VMM region [0, vmmSize) (low, where the shadow pool would start: RAM is
   * backed from the bottom up), or null when it would not fit.
   */
  static create(mem: PhysMem, base: number, vmmSize: number, guestRam: number): PtMirror | null {
    const nFrames = Math.floor(guestRam / 4096);
    if (nFrames * 4 > MAX_FRAME_TABLE || vmmSize / 4096 > A.FPT_HEAD_MASK) return null;
    return new PtMirror(mem, base, vmmSize, nFrames);
  }

  private constructor(private readonly mem: PhysMem, base: number, vmmSize: number, nFrames: number) {
    this.nFrames = nFrames;
    this.nPages = vmmSize / 4096;
    const frameBytes = Math.ceil((nFrames * 4) / 4096) * 4096;
    const pageBytes = Math.ceil((this.nPages * 8) / 4096) * 4096;
    const logBytes = Math.ceil((8 + LOG_CAP * 8) / 4096) * 4096;
    this.log = base;
    this.pages = this.log + logBytes;
    this.frames = this.pages + pageBytes;
    this.end = this.frames + frameBytes;
    mem.fill(base, this.end - base, 0);
  }

  /** tells the CPU where it is (scratch above VCPU_STATE_SIZE: again after a restore) */
  publish(set: (off: number, v: number) => void, flood: number, ramOffset: number): void {
    set(A.OFF_FPT_FRAMES, this.frames);
    set(A.OFF_FPT_NFRAMES, this.nFrames);
    set(A.OFF_FPT_PAGES, this.pages);
    set(A.OFF_FPT_NPAGES, this.nPages);
    set(A.OFF_FPT_RAMOFF, ramOffset);
    set(A.OFF_FPT_LOG, this.log);
    set(A.OFF_FPT_LOG_CAP, LOG_CAP);
    set(A.OFF_FPT_FLOOD, flood);
  }

  private fw(frame: number): number { return this.mem.read32(this.frames + frame * 4) >>> 0; }
  private setFw(frame: number, v: number): void { this.mem.write32(this.frames + frame * 4, v >>> 0); }

  /** VMM page `page` (a shadow PT for `pdi`, or a K/U shadow PD) was built from guest frame `frame` */
  link(page: number, frame: number, kind: number, pdi: number): void {
    if (frame < 0 || frame >= this.nFrames) return;
    const w = this.fw(frame);
    this.mem.write32(this.pages + page * 8, frame + 1);
    this.mem.write32(this.pages + page * 8 + 4, ((w & A.FPT_HEAD_MASK) | (kind << A.FPT_KIND_SHIFT) | (pdi << 16)) >>> 0);
    this.setFw(frame, (w & ~A.FPT_HEAD_MASK) | (page + 1));
  }

  /** VMM page `page` is no longer a shadow page built from a guest frame */
  unlink(page: number): void {
    const src = this.mem.read32(this.pages + page * 8) >>> 0;
    if (src === 0) return;
    const frame = src - 1;
    const next = (this.mem.read32(this.pages + page * 8 + 4) >>> 0) & A.FPT_HEAD_MASK;
    const w = this.fw(frame);
    if ((w & A.FPT_HEAD_MASK) === page + 1) this.setFw(frame, (w & ~A.FPT_HEAD_MASK) | next);
    else {
      let q = w & A.FPT_HEAD_MASK;
      for (let k = 0; q !== 0 && k < this.nPages; k++) {
        const a = this.pages + (q - 1) * 8 + 4;
        const l = this.mem.read32(a) >>> 0;
        if ((l & A.FPT_HEAD_MASK) === page + 1) { this.mem.write32(a, ((l & ~A.FPT_HEAD_MASK) | next) >>> 0); break; }
        q = l & A.FPT_HEAD_MASK;
      }
    }
    this.mem.write32(this.pages + page * 8, 0);
    this.mem.write32(this.pages + page * 8 + 4, 0);
  }

  /** the emulated-write count of `frame` (shadow.ts FLOOD) */
  get(frame: number): number { return frame >= 0 && frame < this.nFrames ? this.fw(frame) >>> A.FPT_COUNT_SHIFT : 0; }
  set(frame: number, n: number): void {
    if (frame < 0 || frame >= this.nFrames) return;
    const w = this.fw(frame);
    this.setFw(frame, (w & ((1 << A.FPT_COUNT_SHIFT) - 1)) | (Math.min(n, 255) << A.FPT_COUNT_SHIFT));
  }

  /** hands the writable shadow PTEs the CPU made since the last call to `add`, and empties the log */
  drain(add: (frame: number, spte: number) => void): void {
    const n = this.mem.read32(this.log) >>> 0;
    if (n === 0) return;
    for (let i = 0; i < Math.min(n, LOG_CAP); i++) add(this.mem.read32(this.log + 8 + i * 8) >>> 0, this.mem.read32(this.log + 12 + i * 8) >>> 0);
    this.mem.write32(this.log, 0);
  }
}
