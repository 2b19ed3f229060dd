// commands.ts — the GDB remote commands the stub answers (gdb manual, "Packets", "General Query Packets",
// "Stop Reply Packets"): registers (g/G/p/P over the target description), guest-virtual memory (m/M/X),
// step/continue (s/c/vCont), breakpoints and watchpoints (Z0-Z4/z0-z4) on the CPU's host debug unit, and
// `monitor` commands (qRcmd) for wasmvisor's own state. Every number the client sends is checked: a bad
// packet gets an `E` reply, never an exception.
import type { DebugTarget } from "./target.ts";
import { walk, readVirt, writeVirt, SEG_ORDER } from "./target.ts";
import type { DebugUnit, DebugStop, WatchKind } from "./unit.ts";
import { REGS, TARGET_XML } from "./target-xml.ts";
import { MAX_PACKET } from "./packets.ts";

/** What the server must do after a packet. */
export type Action =
  | { reply: string[] }                     // packets to send (the last one answers the command)
  | { resume: "step" | "continue" }         // run; the stop reply comes when the guest stops
  | { kill: true }                          // end the guest
  | { detach: true; reply: string };        // let the guest run free and drop the client

export interface SessionHooks {
  /** wasmvisor's counters for `monitor info` */
  exitCounters(): Record<string, number>;
  instructions(): number;
}

/** Largest memory read answered at once (hex doubles it; fits the advertised PacketSize). */
export const MAX_MEM = (MAX_PACKET / 2) - 16;

const toHex32 = (v: number) => { let s = ""; for (let i = 0; i < 4; i++) s += ((v >>> (8 * i)) & 0xff).toString(16).padStart(2, "0"); return s; };
const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const hexText = (s: string) => hexBytes(new TextEncoder().encode(s));
function parseHexNum(s: string): number | null {
  if (!/^[0-9a-fA-F]{1,8}$/.test(s)) return null;
  return parseInt(s, 16) >>> 0;
}
function parseHexBytes(s: string): Uint8Array | null {
  if (s.length % 2 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}
const le32 = (s: string) => { const b = parseHexBytes(s); return b && b.length === 4 ? (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 : null; };

export class GdbSession {
  constructor(private readonly t: DebugTarget, private readonly unit: DebugUnit, private readonly hooks: SessionHooks) {}

  /** The stop reply for a debug-unit stop, an interrupt or the guest's end. */
  static stopReply(stop: DebugStop | "interrupt" | "initial"): string {
    if (stop === "interrupt") return "T02thread:01;";
    if (stop === "initial") return "T05thread:01;";
    switch (stop.cause) {
      case "step": return "T05thread:01;";
      case "breakpoint": return `T05thread:01;${stop.hardware ? "hwbreak" : "swbreak"}:;`;
      case "watch": return `T05thread:01;${stop.kind === "read" ? "rwatch" : stop.kind === "access" ? "awatch" : "watch"}:${stop.addr.toString(16)};`;
    }
  }

  handle(p: string, lastStop: string): Action {
    const r = (s: string): Action => ({ reply: [s] });
    const c = p[0];
    switch (c) {
      case "?": return r(lastStop);
      case "g": return r(this.readAll());
      case "G": return r(this.writeAll(p.slice(1)));
      case "p": { const n = parseHexNum(p.slice(1)); return r(n === null || n >= REGS.length ? "E00" : this.readReg(n)); }
      case "P": {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]+)$/.exec(p);
        const n = m ? parseHexNum(m[1]) : null;
        if (!m || n === null || n >= REGS.length) return r("E00");
        return r(this.writeReg(n, m[2]) ? "OK" : "E00");
      }
      case "m": return r(this.readMem(p.slice(1)));
      case "M": return r(this.writeMem(p.slice(1), false));
      case "X": return r(this.writeMem(p.slice(1), true));
      case "s": case "c": case "S": case "C": {
        // an address argument resumes there (`c addr` / `s addr`); a signal argument is ignored
        const arg = p.slice(1).split(";");
        const addr = (c === "s" || c === "c") ? arg[0] : arg[1];
        if (addr) { const a = parseHexNum(addr); if (a === null) return r("E00"); this.t.setEip(a); }
        return { resume: c === "s" || c === "S" ? "step" : "continue" };
      }
      case "v": return this.vPacket(p);
      case "Z": case "z": return r(this.breakpoint(p));
      case "q": return this.query(p);
      case "H": case "T": return r("OK"); // one thread
      case "k": return { kill: true };
      case "D": return { detach: true, reply: "OK" };
      default: return r(""); // unsupported
    }
  }

  private vPacket(p: string): Action {
    if (p === "vCont?") return { reply: ["vCont;c;C;s;S"] };
    if (p.startsWith("vCont;")) {
      // one thread: the first action decides (gdb sends e.g. vCont;s:1;c or vCont;c)
      const a = p.slice(6).split(";")[0].split(":")[0];
      if (a === "s" || a.startsWith("S")) return { resume: "step" };
      if (a === "c" || a.startsWith("C")) return { resume: "continue" };
      return { reply: ["E00"] };
    }
    if (p.startsWith("vKill")) return { kill: true };
    return { reply: [""] }; // vMustReplyEmpty, vFile, ...
  }

  private query(p: string): Action {
    const r = (s: string): Action => ({ reply: [s] });
    if (p.startsWith("qSupported")) return r(`PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+`);
    if (p.startsWith("qXfer:features:read:")) {
      const m = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
      if (!m) return r("E00");
      if (m[1] !== "target.xml") return r("E00");
      const off = parseHexNum(m[2]), len = parseHexNum(m[3]);
      if (off === null || len === null) return r("E00");
      const chunk = TARGET_XML.slice(off, off + Math.min(len, MAX_PACKET - 16));
      return r((off + chunk.length >= TARGET_XML.length ? "l" : "m") + chunk);
    }
    if (p === "qAttached") return r("1");
    if (p === "qC") return r("QC01");
    if (p === "qfThreadInfo") return r("m01");
    if (p === "qsThreadInfo") return r("l");
    if (p.startsWith("qRcmd,")) {
      const b = parseHexBytes(p.slice(6));
      if (!b) return r("E00");
      const out = this.monitor(new TextDecoder().decode(b).trim());
      return { reply: [...out.map((line) => "O" + hexText(line + "\n")), "OK"] };
    }
    return r("");
  }

  // ---- registers: the REGS order of target-xml.ts ----
  private regValue(n: number): number | null {
    const t = this.t;
    if (n < 8) return t.getGpr(n);
    if (n === 8) return t.getEip();
    if (n === 9) return t.getEflags();
    if (n < 16) return t.getSel(SEG_ORDER[n - 10]);
    const name = REGS[n].name;
    if (name === "cr0" || name === "cr2" || name === "cr3" || name === "cr4") return t.getCr(name);
    return null; // x87/SSE: no such unit
  }
  private readReg(n: number): string {
    const v = this.regValue(n);
    return v === null ? "00".repeat(REGS[n].bits / 8) : toHex32(v);
  }
  private readAll(): string { return REGS.map((_, i) => this.readReg(i)).join(""); }
  private writeReg(n: number, hex: string): boolean {
    if (hex.length !== REGS[n].bits / 4) return false;
    if (REGS[n].bits !== 32 || n >= REGS.length - 4) return this.regValue(n) === null; // FPU/SSE ignored; CRs read-only
    const v = le32(hex);
    if (v === null) return false;
    const t = this.t;
    if (n < 8) t.setGpr(n, v);
    else if (n === 8) t.setEip(v);
    else if (n === 9) t.setEflags(v);
    else if (n < 16) return (t.getSel(SEG_ORDER[n - 10]) === (v & 0xffff)); // a selector load needs a descriptor: unchanged only
    return true;
  }
  private writeAll(hex: string): string {
    const total = REGS.reduce((s, r) => s + r.bits / 4, 0);
    if (hex.length !== total || !/^[0-9a-fA-F]*$/.test(hex)) return "E00";
    let off = 0;
    for (let i = 0; i < REGS.length; i++) {
      const w = REGS[i].bits / 4;
      if (i < 10) this.writeReg(i, hex.slice(off, off + w)); // general registers, EIP, EFLAGS
      off += w;
    }
    return "OK";
  }

  // ---- memory by guest-virtual address ----
  private readMem(args: string): string {
    const m = /^([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})$/.exec(args);
    if (!m) return "E00";
    const addr = parseInt(m[1], 16) >>> 0, len = parseInt(m[2], 16) >>> 0;
    if (len === 0) return "";
    const b = readVirt(this.t, addr, Math.min(len, MAX_MEM));
    return b.length ? hexBytes(b) : "E14"; // EFAULT
  }
  private writeMem(args: string, binary: boolean): string {
    const colon = args.indexOf(":");
    const m = /^([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})$/.exec(colon < 0 ? "" : args.slice(0, colon));
    if (!m) return "E00";
    const addr = parseInt(m[1], 16) >>> 0, len = parseInt(m[2], 16) >>> 0;
    const payload = args.slice(colon + 1);
    let data: Uint8Array | null;
    if (binary) data = Uint8Array.from(payload, (ch) => ch.charCodeAt(0) & 0xff);
    else data = parseHexBytes(payload);
    if (!data || data.length !== len) return "E00";
    if (len === 0) return "OK";
    return writeVirt(this.t, addr, data) ? "OK" : "E14";
  }

  // ---- breakpoints and watchpoints (the CPU's host unit; guest memory is never written) ----
  private breakpoint(p: string): string {
    const m = /^([Zz])([0-4]),([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})(;.*)?$/.exec(p);
    if (!m) return "E00";
    const insert = m[1] === "Z", type = Number(m[2]);
    const addr = parseInt(m[3], 16) >>> 0, len = parseInt(m[4], 16) >>> 0;
    const u = this.unit;
    if (type === 0) return (insert ? u.addBreakpoint(addr) : (u.removeBreakpoint(addr), true)) ? "OK" : "E28"; // ENOSPC
    const kind: WatchKind = (["exec", "write", "read", "access"] as const)[type - 1];
    const size = type === 1 ? 1 : len;
    if (size < 1 || size > 4096) return "E16"; // EINVAL
    if (!insert) { u.removeWatch(addr, size, kind); return "OK"; }
    return u.addWatch(addr, size, kind) ? "OK" : "E28";
  }

  // ---- monitor commands ----
  private monitor(cmd: string): string[] {
    const [verb, ...args] = cmd.split(/\s+/);
    switch (verb) {
      case "":
      case "help":
        return [
          "wasmvisor monitor commands:",
          "  info           mode, instructions retired, exits by cause",
          "  walk <addr>    the guest page-table walk of a virtual address (and the shadow entry in full mode)",
          "  breakpoints    the host debug unit's breakpoints and watchpoints",
        ];
      case "info": {
        const ex = Object.entries(this.hooks.exitCounters()).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
        return [`mode: ${this.t.mode}`, `instructions: ${this.hooks.instructions()}`, `exits: ${ex.join(", ") || "none"}`, ...this.t.info()];
      }
      case "walk": {
        const a = args[0] ? parseHexNum(args[0].replace(/^0x/i, "")) : null;
        if (a === null) return ["usage: monitor walk <hex address>"];
        return this.walkLines(a);
      }
      case "breakpoints": {
        const u = this.unit;
        const lines = u.breakpoints.map((a) => `break 0x${a.toString(16)}`);
        for (const w of u.watches) lines.push(`${w.kind} 0x${w.addr.toString(16)} len ${w.len}`);
        return lines.length ? lines : ["none"];
      }
      default:
        return [`unknown monitor command '${verb.slice(0, 40)}' (try: monitor help)`];
    }
  }
  private walkLines(a: number): string[] {
    const w = walk(this.t, a);
    const h = (n: number) => "0x" + (n >>> 0).toString(16).padStart(8, "0");
    const lines = [`virtual ${h(a)}: ${w.paging ? "paging on" : "paging off (linear = physical)"}`];
    if (w.pde) lines.push(`  PDE[${a >>> 22}] at ${h(w.pde.addr)} = ${h(w.pde.value)}${w.pde.value & 1 ? "" : " (not present)"}${w.large ? " (4 MiB page)" : ""}`);
    if (w.pte) lines.push(`  PTE[${(a >>> 12) & 0x3ff}] at ${h(w.pte.addr)} = ${h(w.pte.value)}${w.pte.value & 1 ? "" : " (not present)"}`);
    lines.push(w.phys === null ? "  not mapped" : `  guest-physical ${h(w.phys)}`);
    if (this.t.shadowOf && w.paging) lines.push("  " + this.t.shadowOf(a));
    return lines;
  }
}
