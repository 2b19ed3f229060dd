// para-policy.test.ts — the para-mode memory-policy fuzz campaign (test/fuzz/para-policy.ts) at CI size; the large
// run is `npm run fuzz:para -- --requests N --batches M` (scripts/fuzz-para.mjs).
import { describe, it, expect } from "vitest";
import { fuzzParaPolicy } from "./para-policy.ts";

describe("fuzz: para guest-memory policy", () => {
  it("random virtio requests and mmu batches keep every invariant (CI size)", () => {
    const r = fuzzParaPolicy({ requests: 3000, batches: 1000, seed: 0x5eed });
    expect(r.violations).toEqual([]);
    expect(r.hostExceptions).toBe(0);
    expect(r.hangs).toBe(0);
    // the campaign really reaches the policy: refusals, accepted and rejected page-table changes, broken queues
    expect(r.requestsRefusedByPolicy).toBeGreaterThan(50);
    expect(r.queueErrors.policy).toBeGreaterThan(0);
    expect(r.mmuAccepted).toBeGreaterThan(100);
    expect(r.mmuRejected).toBeGreaterThan(100);
    expect(r.invariantChecks).toBe(4001);
  });

  it("notices a VMM that lets devices write page tables (the campaign can fail)", () => {
    const r = fuzzParaPolicy({
      requests: 3000, batches: 0, seed: 7,
      tamper: (vm) => { vm.policy.deviceMayWrite = () => true; vm.policy.checkDeviceWrite = () => true; },
    });
    expect(r.violations.join("\n")).toMatch(/a device changed page-table frame|writable/);
  });

  it("notices a stray host write outside guest RAM", () => {
    const r = fuzzParaPolicy({
      requests: 50, batches: 50, seed: 8, checkEvery: 10,
      tamper: (vm) => { const c = vm.call.bind(vm); let n = 0; vm.call = (nr, b, cc) => { if (++n === 20) new Uint8Array(vm.machine.memory.buffer)[100] ^= 1; return c(nr, b, cc); }; },
    });
    expect(r.violations.join("\n")).toMatch(/host memory outside guest RAM changed at wasm offset 0x64/);
  });
});
