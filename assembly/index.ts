// index.ts — the wasm module's exports: the kvm_run-like boundary.
//   run(budget)            execute up to `budget` instructions; returns an exit reason (abi.ts EXIT_*)
//   reset()                power-on state (registers zero, EFLAGS=2, CR0.ET), empty TLB and block cache
//   flushTlb()             the host changed CR0/CR3/CR4/segments or page tables behind the CPU's back
//   invlpg(lin)            the host changed the mapping of one linear page
//   notifyHostWrite(p, n)  the host wrote guest memory: predecoded code in that range is invalidated
//   stateLoaded()          the host replaced the vCPU state and RAM (Machine.loadState): rebuild every cache
//   decodeAt(eip)          the CPU's decoder for the host: bytes at OFF_DECODE_BYTES -> DEC_* record at OFF_DECODE
//   tssStackSlot, newSsCheck, …, popFlags, ioBitsAllow: protection, delivery, EFLAGS and I/O-bitmap rules
//                          (ops/rules.ts) as pure functions, shared with the full-mode monitor so each exists once
//   recycle(all, ram)      zero what a guest left (the pages it wrote, or all RAM) for the machine pool (recycle.ts)
//   backRamTo(end)         back guest RAM up to `end` for a host access, as the CPU's first touch would (ram-backing.ts)
//   jit*                   helpers for blocks compiled by the host (host/jit/), see jit.ts
//   blockGeneration()      changes whenever the whole block cache is dropped (the JIT reuses its table slots then)
export { run, reset, flushTlb, invlpg, notifyHostWrite, stateLoaded, jitExec, blockGeneration } from "./cpu";
export { jitRd32, jitRd8, jitWr32, jitCF, jitCond, jitFlags, jitShift, jitGP, jitWr8, jitShadow } from "./jit";
export { decodeAt } from "./decodeat";
export { hwCpuid, invvpid } from "./vmx"; // (invvpid: the host's INVVPID, abi.ts PROC2_VPID)
export { recycle } from "./recycle";
export { backRamTo } from "./ram-backing"; // (the host grows RAM by the CPU's rule: ram-backing.ts)
export {
  tssStackSlot, newSsCheck, dataSegCheck, larLslOk, verOk, isDoubleFault, isFaultVector, escalation, framePushesRf,
  idtLimitCheck, idtGateCheck, gateOffset, gateSize, gateTargetCheck, gateTargetCpl, deliveryFrameSize, deliveryFlags,
  callGateCheck, farTargetCheck, returnCsCheck, returnSsCheck, nullsOnReturn, popFlags, ioMapBaseSlot, ioBitmapSlot,
  ioBitsAllow, taskTargetCheck, stackRoomCheck, sysSelCheck, sysDescCheck, segAccessCheck,
} from "./ops/rules";
