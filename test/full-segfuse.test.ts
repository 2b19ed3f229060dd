// full-segfuse.test.ts — runs of segment-register loads in one exit: after a trapped `mov sreg` (a DPL-0 data
// selector at real CPL 3), the following `mov ds/es/fs/gs` are emulated in the same exit with the full checks at
// the virtual CPL; a fault on one of them is raised at its own EIP after the earlier loads took effect, as on the
// CPU. The same guest runs deprivileged and natively (test/full-minivm.ts).
import { describe, it, expect } from "vitest";
import { miniVm, nativeVm, go, d16, KDATA, UDATA } from "./full-minivm.ts";

const HLT = 0xf4;
const movAx = (v: number) => [0x66, 0xb8, ...d16(v)];
const movCx = (v: number) => [0x66, 0xb9, ...d16(v)];
const MOV_DS_AX = [0x8e, 0xd8], MOV_ES_AX = [0x8e, 0xc0], MOV_FS_AX = [0x8e, 0xe0], MOV_GS_AX = [0x8e, 0xe8], MOV_FS_CX = [0x8e, 0xe1];
const SEGS = ["es", "ds", "fs", "gs"] as const;

/** full mode with the CPU's fast paths off (the monitor's fused loads; README "Fast paths") and on, and native */
function both(body: number[]) {
  const f = miniVm(body, { fastPaths: false });
  const fr = go(f.mo);
  const fast = miniVm(body);
  go(fast.mo);
  const n = nativeVm(body);
  n.m.run(1_000_000);
  const view = (m: { getSegment(s: string): { selector: number } ; eip: number }, seen: number) =>
    ({ segs: SEGS.map((s) => m.getSegment(s).selector & 0xffff), vector: seen });
  const native = view(n.m as never, n.seen());
  expect(view(fast.m as never, fast.seen())).toEqual(native); // the kernel's loads done in the CPU
  return { f, fr, full: view(f.m as never, f.seen()), native };
}

describe("segment loads fused into one exit", () => {
  it("a kernel entry's DS/ES/FS/GS reloads: one exit, four checked loads", () => {
    const body = [...movAx(0), MOV_FS_AX[0], 0xe0, ...movAx(KDATA), ...MOV_DS_AX, ...MOV_ES_AX, ...MOV_FS_AX, ...MOV_GS_AX, HLT];
    const { f, full, native } = both(body);
    expect(full).toEqual(native);
    expect(full.segs).toEqual([KDATA, KDATA, KDATA, KDATA]);
    expect(f.mo.stats.emulated["mov fs (fused)"]).toBeGreaterThanOrEqual(1);
    expect(f.mo.stats.emulated["mov gs (fused)"]).toBe(1);
  });
  it("a fault on a fused load (RPL 3 > DPL 0) is raised at that load, after the earlier ones", () => {
    const body = [...movAx(KDATA), ...movCx(KDATA | 3), ...MOV_DS_AX, ...MOV_ES_AX, ...MOV_FS_CX, ...MOV_GS_AX, HLT];
    const { f, full, native } = both(body);
    expect(native.vector).toBe(13);
    expect(full).toEqual(native);
    expect(f.mo.stats.reflected["13"]).toBe(1);
    // the #GP frame: error code = the selector, EIP = the faulting mov fs
    expect(f.stack(0)).toBe(KDATA);
  });
  it("user data selectors (DPL 3) in a run load the same way", () => {
    const body = [...movAx(KDATA), ...MOV_DS_AX, ...movAx(UDATA), ...MOV_ES_AX, ...MOV_FS_AX, HLT];
    const { full, native } = both(body);
    expect(full).toEqual(native);
    expect(full.segs).toEqual([UDATA, KDATA, UDATA, KDATA]); // GS: the flat 0x10 it started with
  });
});
