// exit-reuse.ts — the exit record read into objects a Machine reuses (issue 11, branch exit-rt): the run loop
// (core/vm.ts) handles one exit per slice, and building a fresh Exit plus a 20-field instruction object for each
// was a fifth of a monitor round trip's CPU side, in allocation and garbage. Machine.runReused returns these; they
// hold the same fields with the same values as Machine.run's fresh objects (test/exit-rt.test.ts), an absent
// optional field as undefined, and stay valid until the next runReused. Anything that outlives the exit (a
// RunResult) takes a detached copy (detachExit). Machine.run / exit() still build fresh objects.
import * as A from "./abi.generated.ts";
import type { DecodedInsn, Exit, IoQualification, CrQualification, DrQualification } from "./exit-types.ts";

const CR_ACCESS = ["mov-to", "mov-from", "clts", "lmsw"] as const;

export const newInsn = (): DecodedInsn => ({
  addr: 0, len: 0, op: 0, opsize16: false, addrsize16: false, seg: -1, segment: 0, rep: 0, lock: false, hasModrm: false,
  mod: 0, reg: 0, rm: 0, mem: false, base: -1, index: -1, scale: 1, disp: 0, imm: 0, imm2: 0,
});
export const newIo = (): IoQualification => ({ port: 0, size: 1, in: false, string: false, rep: false, count: 0, immediate: false });

/** The decoder's DEC_* record at STATE offset `off` (the STATE block as words `w`) into `d`: Machine.decode and
 *  every exit's instruction, fresh or reused, read it here. */
export function readDecoded(w: Uint32Array, off: number, addr: number, d: DecodedInsn): DecodedInsn {
  const o = off >>> 2;
  const op = w[o + (A.DEC_OP >>> 2)], pfx = w[o + (A.DEC_PFX >>> 2)], modrm = w[o + (A.DEC_MODRM >>> 2)], mem = w[o + (A.DEC_MEM >>> 2)] !== 0;
  const base = w[o + (A.DEC_BASE >>> 2)], index = w[o + (A.DEC_INDEX >>> 2)], ovr = (pfx >> 4) & 7;
  d.addr = addr; d.len = w[o + (A.DEC_LEN >>> 2)];
  d.op = op === A.DEC_OP_UD ? -1 : op === A.DEC_OP_GP ? -2 : op >= 0x100 ? 0x0f00 | (op & 0xff) : op;
  d.opsize16 = (pfx & A.DPFX_O16) !== 0; d.addrsize16 = (pfx & A.DPFX_A16) !== 0; d.seg = ovr ? ovr - 1 : -1;
  d.segment = w[o + (A.DEC_SEG >>> 2)]; d.rep = pfx & A.DPFX_REP ? 0xf3 : pfx & A.DPFX_REPNE ? 0xf2 : 0; d.lock = (pfx & A.DPFX_LOCK) !== 0;
  d.hasModrm = w[o + (A.DEC_HAS_MODRM >>> 2)] !== 0; d.mod = modrm >> 6; d.reg = (modrm >> 3) & 7; d.rm = modrm & 7; d.mem = mem;
  d.base = mem && base < 8 ? base : -1; d.index = mem && index < 8 ? index : -1; d.scale = 1 << w[o + (A.DEC_SCALE >>> 2)];
  d.disp = w[o + (A.DEC_DISP >>> 2)] | 0; d.imm = w[o + (A.DEC_IMM1 >>> 2)]; d.imm2 = w[o + (A.DEC_IMM2 >>> 2)];
  return d;
}
/** The I/O exit qualification (OFF_EXIT_QUAL, OFF_EXIT_IO_COUNT) into `q`. */
export function readIoQual(w: Uint32Array, q: IoQualification): IoQualification {
  const v = w[A.OFF_EXIT_QUAL >>> 2], size = (v & 7) + 1;
  q.port = v >>> 16; q.size = size === 1 || size === 2 ? size : 4; q.in = (v & A.QIO_IN) !== 0; q.string = (v & A.QIO_STRING) !== 0;
  q.rep = (v & A.QIO_REP) !== 0; q.count = w[A.OFF_EXIT_IO_COUNT >>> 2]; q.immediate = (v & A.QIO_IMM) !== 0;
  return q;
}

/** One object per exit shape, filled in place. */
export class ReusedExits {
  readonly insn = newInsn();
  readonly io = newIo();
  readonly cr: CrQualification = { cr: 0, access: "mov-to", gpr: 0, lmswData: undefined };
  readonly dr: DrQualification = { dr: 0, access: "mov-to", gpr: 0 };
  private readonly exception = { reason: "exception" as const, code: A.EXIT_EXCEPTION, eip: 0, vector: 0, errorCode: undefined as number | undefined, insn: undefined as DecodedInsn | undefined, insnLength: undefined as number | undefined, io: undefined as IoQualification | undefined, cr: undefined as CrQualification | undefined, dr: undefined as DrQualification | undefined };
  private readonly softint = { reason: "softint" as const, code: A.EXIT_SOFTINT, eip: 0, vector: 0, insnLength: 0 };
  private readonly sensitive = { reason: "sensitive" as const, code: A.EXIT_SENSITIVE, eip: 0, insn: undefined as DecodedInsn | undefined, insnLength: 0 };
  private readonly ioIn = { reason: "io-in" as const, code: A.EXIT_IO_IN, eip: 0, insnLength: 0, port: 0, size: 1 as 1 | 2 | 4, in: false, string: false, rep: false, count: 0, immediate: false };
  private readonly ioOut = { reason: "io-out" as const, code: A.EXIT_IO_OUT, eip: 0, insnLength: 0, port: 0, size: 1 as 1 | 2 | 4, in: false, string: false, rep: false, count: 0, immediate: false, value: 0 };
  private readonly hlt = { reason: "hlt" as const, code: A.EXIT_HLT, eip: 0, insnLength: 0 };
  private readonly hypercall = { reason: "hypercall" as const, code: A.EXIT_HYPERCALL, eip: 0, insnLength: 3 };
  private readonly plain: Record<number, { reason: "budget" | "shutdown" | "intr-window" | "debug"; code: number; eip: number }> = {
    [A.EXIT_BUDGET]: { reason: "budget", code: A.EXIT_BUDGET, eip: 0 }, [A.EXIT_SHUTDOWN]: { reason: "shutdown", code: A.EXIT_SHUTDOWN, eip: 0 },
    [A.EXIT_INTR_WINDOW]: { reason: "intr-window", code: A.EXIT_INTR_WINDOW, eip: 0 }, [A.EXIT_DEBUG]: { reason: "debug", code: A.EXIT_DEBUG, eip: 0 },
  };
  private readonly mmioRead = { reason: "mmio-read" as const, code: A.EXIT_MMIO_READ, eip: 0, port: 0, address: 0, size: 0, write: false as const, insnLength: 0 };
  private readonly mmioWrite = { reason: "mmio-write" as const, code: A.EXIT_MMIO_WRITE, eip: 0, port: 0, address: 0, size: 0, write: true as const, value: 0, insnLength: 0 };

  /** The exit record `code` (the STATE block as words `w`) in this set's objects: what Machine.exit(code) builds. */
  read(w: Uint32Array, code: number): Exit {
    const eip = w[A.OFF_EXIT_EIP >>> 2], insnLength = w[A.OFF_EXIT_INSN_LEN >>> 2];
    switch (code) {
      case A.EXIT_EXCEPTION: {
        const e = this.exception;
        e.eip = eip; e.vector = w[A.OFF_EXIT_VECTOR >>> 2];
        e.errorCode = w[A.OFF_EXIT_HAS_ERROR >>> 2] ? w[A.OFF_EXIT_ERROR >>> 2] : undefined;
        e.insn = undefined; e.insnLength = undefined; e.io = undefined; e.cr = undefined; e.dr = undefined;
        const insn = this.exitInsn(w);
        if (insn) {
          e.insn = insn; e.insnLength = insn.len;
          const k = w[A.OFF_EXIT_QUAL_KIND >>> 2];
          if (k === A.QK_IO) e.io = this.ioQual(w, this.io);
          else if (k === A.QK_CR) e.cr = this.crQual(w);
          else if (k === A.QK_DR) e.dr = this.drQual(w);
        }
        return e;
      }
      case A.EXIT_SOFTINT: { const e = this.softint; e.eip = eip; e.vector = w[A.OFF_EXIT_VECTOR >>> 2]; e.insnLength = insnLength; return e; }
      case A.EXIT_SENSITIVE: { const e = this.sensitive; e.eip = eip; e.insn = this.exitInsn(w); e.insnLength = insnLength; return e; }
      case A.EXIT_IO_IN: { const e = this.ioIn; e.eip = eip; e.insnLength = insnLength; this.ioQual(w, e); return e; }
      case A.EXIT_IO_OUT: { const e = this.ioOut; e.eip = eip; e.insnLength = insnLength; this.ioQual(w, e); e.value = w[A.OFF_EXIT_VALUE >>> 2]; return e; }
      case A.EXIT_MMIO_READ: case A.EXIT_MMIO_WRITE: {
        const e = code === A.EXIT_MMIO_READ ? this.mmioRead : this.mmioWrite;
        e.eip = eip; e.port = e.address = w[A.OFF_EXIT_PORT >>> 2]; e.size = w[A.OFF_EXIT_SIZE >>> 2]; e.insnLength = insnLength;
        if (e.write) e.value = w[A.OFF_EXIT_VALUE >>> 2];
        return e;
      }
      case A.EXIT_HLT: { const e = this.hlt; e.eip = eip; e.insnLength = insnLength; return e; }
      case A.EXIT_HYPERCALL: { const e = this.hypercall; e.eip = eip; return e; }
      case A.EXIT_SHUTDOWN: case A.EXIT_INTR_WINDOW: case A.EXIT_DEBUG: case A.EXIT_BUDGET: {
        const e = this.plain[code]; e.eip = eip; return e;
      }
      default: return null as unknown as Exit; // (vmexit, and codes the CPU never returns: Machine.exit builds them)
    }
  }

  /** OFF_EXIT_INSN into the reused instruction */
  private exitInsn(w: Uint32Array): DecodedInsn | undefined {
    if (!w[(A.OFF_EXIT_INSN + A.DEC_VALID) >>> 2]) return undefined;
    return readDecoded(w, A.OFF_EXIT_INSN, w[A.OFF_EXIT_EIP >>> 2], this.insn);
  }
  private ioQual(w: Uint32Array, q: IoQualification): IoQualification { return readIoQual(w, q); }
  private crQual(w: Uint32Array): CrQualification {
    const q = w[A.OFF_EXIT_QUAL >>> 2], t = (q >> 4) & 3, c = this.cr;
    c.cr = q & 15; c.access = CR_ACCESS[t];
    c.gpr = t === A.QCR_CLTS || (t === A.QCR_LMSW && q & A.QCR_LMSW_MEM) ? -1 : (q >> 8) & 15;
    c.lmswData = t === A.QCR_LMSW && !(q & A.QCR_LMSW_MEM) ? q >>> 16 : undefined;
    return c;
  }
  private drQual(w: Uint32Array): DrQualification {
    const q = w[A.OFF_EXIT_QUAL >>> 2], d = this.dr;
    d.dr = q & 7; d.access = q & A.QDR_FROM ? "mov-from" : "mov-to"; d.gpr = (q >> 8) & 15;
    return d;
  }
}

/** A copy of a (possibly reused) exit that outlives it, with only the fields that are set, as Machine.exit builds it. */
export function detachExit(e: Exit): Exit {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    out[k] = v !== null && typeof v === "object" ? detachPlain(v as Record<string, unknown>) : v;
  }
  return out as unknown as Exit;
}
function detachPlain(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
