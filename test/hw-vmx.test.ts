// hw-vmx.test.ts — assembly/vmx.ts: each VMCS control on and off, the exits guest mode always takes (CPUID,
// VMCALL, triple fault), the exit information (basic reason, qualification, instruction length, interruption
// information) and event injection, on a bare Machine in guest mode (test/hw-guest.ts). Raw instruction bytes with
// their disassembly.
import { describe, it, expect } from "vitest";
import { hwGuest, as, vmexit, A, CODE, HANDLER, IDT, MSR_BITMAP, IO_BITMAP_A, IO_BITMAP_B, HW_HOST_SIZE } from "./hw-guest.ts";

const HLT = 0xf4;

describe("exits guest mode always takes", () => {
  it("CPUID exits (reason 10) fault-like: EIP on it, length 2, registers untouched; outside guest mode it runs", () => {
    const g = hwGuest([0x0f, 0xa2, HLT]); // cpuid ; hlt
    g.m.eax = 0;
    const e = vmexit(g.m.run(), A.VMX_EXIT_CPUID);
    expect([e.eip, e.insnLength, g.m.eax, g.m.instructions]).toEqual([CODE, 2, 0, 0]);
    expect(g.v.counters.exits).toBe(1);
    g.root();
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.eax).toBe(1); // leaf 0: max leaf 1
    expect(g.m.cpuid(0)).toEqual([1, 0x6d736157, 0x36385872, 0x6f736976]); // the hardware's answer for the host
  });
  it("VMCALL exits (reason 18, length 3); outside guest mode without a hypervisor it is #UD", () => {
    const g = hwGuest([0x0f, 0x01, 0xc1]); // vmcall
    expect(vmexit(g.m.run(), A.VMX_EXIT_VMCALL).insnLength).toBe(3);
    g.root();
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1); // #UD delivered through the IDT to the handler (which halted)
  });
  it("a triple fault exits (reason 2): #UD with no IDT escalates to shutdown", () => {
    const g = hwGuest([0x0f, 0x0b], { idt: false }); // ud2
    vmexit(g.m.run(), A.VMX_EXIT_TRIPLE_FAULT);
    g.root();
    g.again(CODE);
    expect(g.m.run().reason).toBe("shutdown");
  });
});

describe("processor-based controls", () => {
  it("HLT exiting: on, reason 12 with EIP on the HLT and the CPU not halted; off, the CPU halts (no VM exit)", () => {
    const g = hwGuest([HLT]);
    g.v.set(A.OFF_VMX_PROC, A.PROC_HLT);
    const e = vmexit(g.m.run(), A.VMX_EXIT_HLT);
    expect([e.eip, e.insnLength, g.m.halted]).toEqual([CODE, 1, false]);
    g.v.set(A.OFF_VMX_PROC, 0);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.m.halted).toBe(true);
    expect(g.v.exitReason).toBe(A.VMX_NO_EXIT);
  });
  it("INVLPG exiting: qualification = the linear address; off, it runs", () => {
    const g = hwGuest([0x0f, 0x01, 0x38, HLT]); // invlpg [eax] ; hlt
    g.m.eax = 0x123456;
    g.v.set(A.OFF_VMX_PROC, A.PROC_INVLPG);
    const e = vmexit(g.m.run(), A.VMX_EXIT_INVLPG);
    expect([e.qualification, e.insnLength, e.eip]).toEqual([0x123456, 3, CODE]);
    g.v.set(A.OFF_VMX_PROC, 0);
    expect(g.m.run().reason).toBe("hlt");
  });
  it("RDTSC exiting; off, the TSC offset is added only with TSC offsetting on", () => {
    const g = hwGuest([0x90, 0x0f, 0x31, HLT]); // nop ; rdtsc ; hlt
    g.v.set(A.OFF_VMX_PROC, A.PROC_RDTSC);
    expect(vmexit(g.m.run(), A.VMX_EXIT_RDTSC).eip).toBe(CODE + 1);
    g.v.set(A.OFF_VMX_PROC, 0);
    g.v.set(A.OFF_VMX_TSC_OFFSET_LO, 1000);
    g.m.run();
    expect([g.m.eax, g.m.edx]).toEqual([1, 0]); // one instruction retired before it; no offsetting
    const h = hwGuest([0x90, 0x0f, 0x31, HLT]);
    h.v.set(A.OFF_VMX_PROC, A.PROC_TSC_OFFSET);
    h.v.set(A.OFF_VMX_TSC_OFFSET_LO, 0xffffffff);
    h.v.set(A.OFF_VMX_TSC_OFFSET_HI, 2);
    h.m.run();
    expect([h.m.eax, h.m.edx]).toEqual([0, 3]); // 1 + 0x2_ffff_ffff
  });
  it("CR3-load and CR3-store exiting with the CR-access qualification; off, they run", () => {
    const g = hwGuest([0x0f, 0x22, 0xd9, 0x0f, 0x20, 0xda, HLT]); // mov cr3, ecx ; mov edx, cr3 ; hlt
    g.m.ecx = 0x5000;
    g.v.set(A.OFF_VMX_PROC, A.PROC_CR3_LOAD | A.PROC_CR3_STORE);
    let e = vmexit(g.m.run(), A.VMX_EXIT_CR);
    expect([e.qualification, e.insnLength]).toEqual([3 | (A.QCR_MOV_TO << 4) | (1 << 8), 3]);
    g.v.set(A.OFF_VMX_PROC, A.PROC_CR3_STORE);
    e = vmexit(g.m.run(), A.VMX_EXIT_CR);
    expect([e.eip, e.qualification]).toEqual([CODE + 3, 3 | (A.QCR_MOV_FROM << 4) | (2 << 8)]);
    expect(g.m.getCr("cr3")).toBe(0x5000);
    g.v.set(A.OFF_VMX_PROC, 0);
    g.m.run();
    expect(g.m.edx).toBe(0x5000);
  });
  it("MOV DR exiting: qualification DR number, direction, register; off, it runs", () => {
    const g = hwGuest([0x0f, 0x23, 0xfb, 0x0f, 0x21, 0xc2, HLT]); // mov dr7, ebx ; mov edx, dr0 ; hlt
    g.v.set(A.OFF_VMX_PROC, A.PROC_MOV_DR);
    expect(vmexit(g.m.run(), A.VMX_EXIT_DR).qualification).toBe(7 | (3 << 8));
    g.m.eip = CODE + 3;
    expect(vmexit(g.m.run(), A.VMX_EXIT_DR).qualification).toBe(0 | A.QDR_FROM | (2 << 8));
    g.v.set(A.OFF_VMX_PROC, 0);
    g.m.eip = CODE;
    expect(g.m.run().reason).toBe("hlt");
  });
  it("unconditional I/O exiting: the port access is a VM exit (reason 30, I/O qualification); off, passed through", () => {
    const g = hwGuest([0xb0, 0x5a, 0xe6, 0x80, HLT]); // mov al, 0x5a ; out 0x80, al ; hlt
    g.v.set(A.OFF_VMX_PROC, A.PROC_IO_UNCOND);
    expect(as(g.m.run(), "io-out")).toMatchObject({ port: 0x80, value: 0x5a });
    expect([g.v.exitReason, g.v.qualification, g.v.exitInsnLength]).toEqual([A.VMX_EXIT_IO, (0x80 << 16) | A.QIO_IMM, 2]);
    const h = hwGuest([0xb0, 0x5a, 0xe6, 0x80, HLT]);
    expect(as(h.m.run(), "io-out").port).toBe(0x80);
    expect(h.v.exitReason).toBe(A.VMX_NO_EXIT);
    expect(h.v.counters.exits).toBe(0);
  });
  it("I/O bitmaps A and B override unconditional exiting, byte by byte", () => {
    const code = [0x66, 0xe7, 0x80, 0x66, 0xef, HLT]; // out 0x80, ax ; out dx, ax ; hlt
    const g = hwGuest(code);
    g.m.edx = 0x8000;
    g.v.set(A.OFF_VMX_PROC, A.PROC_IO_UNCOND | A.PROC_IO_BITMAPS);
    g.m.run();
    expect(g.v.exitReason).toBe(A.VMX_NO_EXIT); // bitmaps clear: ports 0x80/0x81 pass through despite IO_UNCOND
    g.m.run();
    expect(g.v.exitReason).toBe(A.VMX_NO_EXIT); // 0x8000 too
    g.m.write8(IO_BITMAP_A + (0x81 >> 3), 1 << (0x81 & 7)); // the second byte of the word access
    g.m.write8(IO_BITMAP_B, 1); // port 0x8000
    g.m.eip = CODE;
    g.m.run();
    expect(g.v.exitReason).toBe(A.VMX_EXIT_IO);
    g.m.run();
    expect([g.v.exitReason, g.v.qualification >>> 16]).toEqual([A.VMX_EXIT_IO, 0x8000]);
  });
  it("MSR bitmaps: without them every RDMSR exits; with them only a set bit (read and write halves)", () => {
    const code = [0x0f, 0x32, 0x0f, 0x30, HLT]; // rdmsr ; wrmsr ; hlt
    const g = hwGuest(code);
    g.m.ecx = 0x10;
    expect(vmexit(g.m.run(), A.VMX_EXIT_RDMSR).insnLength).toBe(2);
    g.v.set(A.OFF_VMX_PROC, A.PROC_MSR_BITMAPS);
    g.m.write8(MSR_BITMAP + 0x800 + 2, 1); // write bitmap, MSR 0x10
    const e = g.m.run(); // the read passes (the TSC), the write exits
    vmexit(e, A.VMX_EXIT_WRMSR);
    expect(e.eip).toBe(CODE + 2);
    g.m.write8(MSR_BITMAP + 2, 1); // read bitmap, MSR 0x10
    g.m.eip = CODE;
    vmexit(g.m.run(), A.VMX_EXIT_RDMSR);
    g.m.ecx = 0x12345678; // outside both ranges: exits whatever the bitmaps
    g.m.write8(MSR_BITMAP + 2, 0);
    vmexit(g.m.run(), A.VMX_EXIT_RDMSR);
  });
  it("interrupt-window exiting: after STI's shadow, at the first boundary with IF=1; off, no exit", () => {
    const code = [0xfb, 0x90, 0x90, HLT]; // sti ; nop ; nop ; hlt
    const g = hwGuest(code);
    g.v.set(A.OFF_VMX_PROC, A.PROC_INTR_WINDOW);
    const e = vmexit(g.m.run(), A.VMX_EXIT_INTR_WINDOW);
    expect([e.eip, g.m.instructions]).toEqual([CODE + 2, 2]); // sti and the nop in its shadow ran
    g.v.set(A.OFF_VMX_PROC, 0);
    expect(g.m.run().reason).toBe("hlt");
  });
  it("monitor trap flag: exits (reason 37) after each instruction; off, no exit", () => {
    const g = hwGuest([0x90, 0x40, HLT]); // nop ; inc eax ; hlt
    g.v.set(A.OFF_VMX_PROC, A.PROC_MTF);
    expect(vmexit(g.m.run(), A.VMX_EXIT_MTF).eip).toBe(CODE + 1);
    expect(vmexit(g.m.run(), A.VMX_EXIT_MTF).eip).toBe(CODE + 2);
    expect(g.m.eax).toBe(1);
    g.v.set(A.OFF_VMX_PROC, 0);
    expect(g.m.run().reason).toBe("hlt");
  });
});

describe("pin-based controls", () => {
  it("external-interrupt exiting: exits (reason 1) with the vector whatever IF; off with IF=0, the line waits", () => {
    const g = hwGuest([0x90, HLT]);
    g.m.setIntr(true, 0x20);
    g.v.set(A.OFF_VMX_PIN, A.PIN_EXT_INTR);
    const e = vmexit(g.m.run(), A.VMX_EXIT_EXT_INTR);
    expect([e.eip, g.v.exitInterruption, g.m.intrPending]).toEqual([CODE, { vector: 0x20, type: 0 }, true]);
    g.v.set(A.OFF_VMX_PIN, 0);
    expect(g.m.run().reason).toBe("hlt"); // IF=0: not taken
    expect(g.m.intrPending).toBe(true);
  });
});

describe("control registers: guest/host masks and read shadows", () => {
  it("CR0: a write changing a host-owned bit from its shadow exits; one matching it keeps the real bit; reads see the shadow", () => {
    const code = [0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3, HLT]; // mov cr0, eax ; mov ebx, cr0 ; hlt
    const g = hwGuest(code);
    const cr0 = g.m.getCr("cr0");
    g.v.set(A.OFF_VMX_CR0_MASK, A.CR0_TS);
    g.v.set(A.OFF_VMX_CR0_SHADOW, 0);
    g.m.eax = cr0 | A.CR0_TS;
    expect(vmexit(g.m.run(), A.VMX_EXIT_CR).qualification).toBe(0 | (A.QCR_MOV_TO << 4));
    g.m.setCr("cr0", cr0 | A.CR0_TS); // the host keeps TS set (lazy FPU switching)
    g.m.eax = cr0 | A.CR0_MP; // TS clear = the shadow: no exit, and TS stays the host's
    g.m.run();
    expect(g.m.getCr("cr0")).toBe((cr0 | A.CR0_MP | A.CR0_TS) >>> 0);
    expect(g.m.ebx).toBe((cr0 | A.CR0_MP) >>> 0); // the guest reads its shadow's TS
    g.v.set(A.OFF_VMX_CR0_MASK, 0);
    g.again(CODE);
    g.m.eax = cr0 | A.CR0_TS;
    g.m.run();
    expect(g.m.ebx).toBe((cr0 | A.CR0_TS) >>> 0);
  });
  it("CR4 mask/shadow; CLTS exits only when TS is host-owned and set in the shadow", () => {
    const g = hwGuest([0x0f, 0x22, 0xe0, HLT]); // mov cr4, eax ; hlt
    g.v.set(A.OFF_VMX_CR4_MASK, A.CR4_PSE);
    g.m.eax = A.CR4_PSE;
    vmexit(g.m.run(), A.VMX_EXIT_CR);
    g.v.set(A.OFF_VMX_CR4_SHADOW, A.CR4_PSE);
    g.m.run();
    expect(g.m.getCr("cr4")).toBe(0); // matches the shadow: no exit, the real PSE (host-owned) unchanged
    const c = hwGuest([0x0f, 0x06, HLT]); // clts ; hlt
    c.m.setCr("cr0", (c.m.getCr("cr0") | A.CR0_TS) >>> 0);
    c.v.set(A.OFF_VMX_CR0_MASK, A.CR0_TS);
    c.v.set(A.OFF_VMX_CR0_SHADOW, A.CR0_TS);
    expect(vmexit(c.m.run(), A.VMX_EXIT_CR).qualification).toBe(A.QCR_CLTS << 4);
    c.v.set(A.OFF_VMX_CR0_SHADOW, 0);
    c.m.run();
    expect(c.m.getCr("cr0") & A.CR0_TS).toBe(A.CR0_TS); // host-owned, shadow clear: left alone
    c.v.set(A.OFF_VMX_CR0_MASK, 0);
    c.again(CODE);
    c.m.run();
    expect(c.m.getCr("cr0") & A.CR0_TS).toBe(0);
  });
});

describe("exception bitmap and #PF error-code mask/match", () => {
  it("an intercepted #UD exits (reason 0) with the interruption information; unintercepted it is delivered", () => {
    const g = hwGuest([0x0f, 0x0b]); // ud2
    g.v.set(A.OFF_VMX_EXC_BITMAP, 1 << A.VEC_UD);
    const e = vmexit(g.m.run(), A.VMX_EXIT_EXCEPTION);
    expect([e.eip, g.v.exitInterruption]).toEqual([CODE, { vector: 6, type: 3 }]);
    g.v.set(A.OFF_VMX_EXC_BITMAP, 0);
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1);
  });
  const pf = (bit: boolean, write: boolean) => {
    // mov [0x5000], eax  /  mov eax, [0x5000] with page 0x5000 not present
    const g = hwGuest(write ? [0x89, 0x05, 0, 0x50, 0, 0] : [0x8b, 0x05, 0, 0x50, 0, 0], { paging: true });
    g.gs32(0x11000 + 5 * 4, 0);
    g.v.set(A.OFF_VMX_EXC_BITMAP, bit ? 1 << A.VEC_PF : 0);
    g.v.set(A.OFF_VMX_PF_MASK, A.PF_W);
    g.v.set(A.OFF_VMX_PF_MATCH, A.PF_W);
    const e = g.m.run();
    return { g, e };
  };
  it("bit 14 = 1: only faults whose error code matches (write) exit, with CR2 as the qualification", () => {
    const w = pf(true, true);
    expect(vmexit(w.e, A.VMX_EXIT_EXCEPTION).qualification).toBe(0x5000);
    expect(w.g.v.exitInterruption).toEqual({ vector: 14, type: 3, errorCode: A.PF_W });
    const r = pf(true, false);
    expect(r.e.reason).not.toBe("vmexit");
    expect(r.g.m.eip).toBe(HANDLER + 1); // delivered to the guest
  });
  it("bit 14 = 0: only faults whose error code does not match (read) exit", () => {
    const r = pf(false, false);
    vmexit(r.e, A.VMX_EXIT_EXCEPTION);
    expect(r.g.v.exitInterruption?.errorCode).toBe(0);
    const w = pf(false, true);
    expect(w.e.reason).not.toBe("vmexit");
    expect(w.g.m.eip).toBe(HANDLER + 1);
  });
});

describe("event injection on VM entry", () => {
  it("an external interrupt: delivered through the guest IDT before the first instruction, frame EIP = the entry EIP", () => {
    const g = hwGuest([0x90, HLT]);
    g.v.inject("external", 0x30);
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1);
    expect(g.m.esp).toBe(0x8000 - 12);
    expect([g.m.read32(HW_HOST_SIZE + 0x8000 - 12), g.m.read32(HW_HOST_SIZE + 0x8000 - 8)]).toEqual([CODE, 0x08]);
    expect(g.v.injectionPending).toBe(false);
    expect(g.m.instructions).toBe(1); // the handler's hlt only
  });
  it("a hardware exception with an error code, even though the exception bitmap intercepts its vector", () => {
    const g = hwGuest([0x90, HLT]);
    g.v.set(A.OFF_VMX_EXC_BITMAP, 1 << A.VEC_GP);
    g.v.inject("hw-exception", A.VEC_GP, 0x1234);
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1);
    expect([g.m.read32(HW_HOST_SIZE + g.m.esp), g.m.read32(HW_HOST_SIZE + g.m.esp + 4)]).toEqual([0x1234, CODE]);
  });
  it("a software interrupt: the frame returns past the instruction (entry instruction length)", () => {
    const g = hwGuest([0xcd, 0x80, HLT]); // int 0x80 (the host emulates it by injection)
    g.v.inject("soft-int", 0x80, undefined, 2);
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1);
    expect(g.m.read32(HW_HOST_SIZE + g.m.esp)).toBe(CODE + 2);
  });
  it("a halted guest is woken by an injected interrupt (activity state HLT -> active)", () => {
    const g = hwGuest([HLT, 0x90, HLT]);
    g.m.run();
    expect(g.m.halted).toBe(true);
    g.v.inject("external", 0x21);
    g.m.run();
    expect(g.m.eip).toBe(HANDLER + 1);
    expect(g.m.read32(HW_HOST_SIZE + g.m.esp)).toBe(CODE + 1);
  });
  it("a delivery that cannot complete (no IDT) ends in the triple-fault exit", () => {
    const g = hwGuest([0x90], { idt: false });
    g.v.inject("external", 0x30);
    vmexit(g.m.run(), A.VMX_EXIT_TRIPLE_FAULT);
  });
});

describe("cost outside guest mode", () => {
  it("guest mode off: the same code runs with no VM exits and no VMCS updates", () => {
    const g = hwGuest([0x0f, 0xa2, 0x0f, 0x01, 0x38, HLT]); // cpuid ; invlpg [eax] ; hlt
    g.root();
    g.v.set(A.OFF_VMX_PROC, A.PROC_INVLPG | A.PROC_HLT);
    g.v.set(A.OFF_VMX_EXIT_REASON, 0x1234);
    expect(g.m.run().reason).toBe("hlt");
    expect(g.v.get(A.OFF_VMX_EXIT_REASON)).toBe(0x1234);
    expect(g.v.counters.exits).toBe(0);
    expect(IDT).toBeGreaterThan(0);
  });
});
