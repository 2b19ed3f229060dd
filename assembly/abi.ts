// abi.ts — the one source of truth for the wasm/host interface.
//
// scripts/gen-abi.mjs reads every `export const NAME: type = value;` line of this file and writes
// host/abi.generated.ts, so the host never retypes an offset or an exit code by hand.
// Keep each constant on one line, with a literal value or an expression of earlier constants.
//
// Wasm linear memory (imported from the host; guest RAM backed on first touch, assembly/ram-backing.ts):
//
//   0x0000_0000 +-----------------------------+
//               | unused (null guard)         |
//   0x0000_1000 +-----------------------------+ STATE_BASE
//               | CPU state + exit record     |  (kvm_run-like; offsets below)
//   0x0001_0000 +-----------------------------+ asc --memoryBase (static data of the module)
//               | module data                 |
//   0x0010_0000 +-----------------------------+ TLB_BASE
//               | software TLB                |
//   0x0020_0000 +-----------------------------+ PAGEINFO_BASE (per guest-physical page: code flag + generation)
//               | page info (u32 / 4 KiB)     |
//   0x005C_0000 +-----------------------------+ DIRTY_BASE: pages written since creation (1 bit / 4 KiB, recycle.ts)
//   0x0060_0000 +-----------------------------+ BLOCK_HASH_BASE: predecoded-block lookup (phys -> block)
//   0x0070_0000 +-----------------------------+ BLOCK_ARENA_BASE: predecoded blocks
//   0x0100_0000 +-----------------------------+ RAM_BASE: guest physical address 0
//               | guest RAM (ram_size bytes)  |
//               +-----------------------------+ RAM_BASE + ram_size = end of memory

export const ABI_VERSION: u32 = 5; // 5: full mode's VMM region holds the page-table mirror below the shadow pool (full-ptw)
// 4: the full-mode virtual CPU block (AREA_FULLFAST) joined the saved state
// A REP string instruction runs in units of at most this many iterations, each retiring as one instruction
// (assembly/ops/string.ts); a monitor that emulates REP INS/OUTS (host/full/privileged.ts) uses the same unit.
export const REP_UNIT_ITERATIONS: u32 = 4096;

export const STATE_BASE: u32 = 0x1000;
export const MODULE_DATA_BASE: u32 = 0x10000;
export const TLB_BASE: u32 = 0x100000;
export const PAGEINFO_BASE: u32 = 0x200000;
export const BLOCK_HASH_BASE: u32 = 0x600000;
export const BLOCK_ARENA_BASE: u32 = 0x700000;
export const RAM_BASE: u32 = 0x1000000;
export const MAX_RAM_SIZE: u32 = 0xF0000000;

// ==== the STATE block: every byte of it is declared here ====
// STATE_BASE .. STATE_BASE + STATE_SIZE. Each area has an AREA_<NAME> offset and an AREA_<NAME>_SIZE (test/abi.test.ts
// proves they do not overlap, fit in the block, and that every OFF_* field lies inside one). The areas below
// VCPU_STATE_SIZE are the vCPU state: everything a copy of them plus RAM needs to continue identically in a
// fresh machine (Machine.saveState/loadState), like KVM_GET_REGS + SREGS + DEBUGREGS + MSRS + VCPU_EVENTS +
// MP_STATE together. The areas above it are scratch and caches the CPU rebuilds at every run() entry.
//
//   0x000 AREA_REGS     GPRs, EIP, EFLAGS, segments, LDTR/TR, GDTR/IDTR, CRs, DRs, CPL
//   0x110 AREA_CONFIG   RAM size, exception intercepts, controls (VMM-owned)
//   0x120 AREA_INTR     INTR line and vector, interrupts taken, halted (MP state)
//   0x130 AREA_HV       hypervisor CPUID leaves (VMM-owned)
//   0x140 AREA_COUNTERS instructions retired (also the TSC), TLB misses, exceptions
//   0x150 AREA_JIT      JIT threshold (VMM-owned) and counters, CPUID extras (VMM-owned)
//   0x160 AREA_VCPU_EVENTS interrupt/MOV-SS shadow, pending #DB trap, APIC base MSR
//   0x200 AREA_EXIT     the exit record (kvm_run-like) and the host's I/O completion
//   0x300 AREA_IOLOG    completed host reads of the instruction being restarted (iolog.ts)
//   0x600 AREA_WQ       MMIO writes of the last instruction still to hand to the host (mmu.ts)
//   0x800 AREA_FPU      the x87 FPU: ST registers (80-bit), CW/SW/TW, last instruction/operand pointers (fpu/)
//   ---- VCPU_STATE_SIZE (0x900): scratch below this line is never saved ----
//   0x900 AREA_SEGOK    per-segment access rights cache (recomputed at run() entry)
//   0x940 AREA_JIT_CTX  compiled-block context (valid only inside run())
//   0x980 AREA_TMP_REC  predecoded record for an instruction run without a block
//   0xA00 AREA_RESET    save area of reset() for the VMM-owned configuration
//   0xA80 AREA_HWSHADOW hw --npt off: IDT-vectoring information of the last exit (hw-shadow block below)
//   0xB00 AREA_DEBUG    the host debugger's unit (debug.ts): breakpoints, watchpoints, step (host-owned, never saved)
//   0xE40 AREA_APIC     the local APIC's registers, shared by the host model and the CPU (perf-io block below)
//   0xF20 AREA_IOBATCH  string I/O in batches: control, count and data address of the last io exit (perf-io)
//   0xF40 AREA_TSC_ADJUST the TSC adjustment outside guest mode (host-owned: full mode's emulated instructions)
//   0xF50 AREA_EXITRT   exit-path counters: exit instructions from records / decoded again, full run() entries (exit-rt)
//   0xF80 AREA_JIT_SYS  compiled regions into other pages: the compile EIP, debugger armed (jit-sys block below)
export const STATE_SIZE: u32 = 0x1000;
export const VCPU_STATE_SIZE: u32 = 0x900;
export const AREA_REGS: u32 = 0x000;
export const AREA_REGS_SIZE: u32 = 0x110;
export const AREA_CONFIG: u32 = 0x110;
export const AREA_CONFIG_SIZE: u32 = 0x10;
export const AREA_INTR: u32 = 0x120;
export const AREA_INTR_SIZE: u32 = 0x10;
export const AREA_HV: u32 = 0x130;
export const AREA_HV_SIZE: u32 = 0x10;
export const AREA_COUNTERS: u32 = 0x140;
export const AREA_COUNTERS_SIZE: u32 = 0x10;
export const AREA_JIT: u32 = 0x150;
export const AREA_JIT_SIZE: u32 = 0x10;
export const AREA_VCPU_EVENTS: u32 = 0x160;
export const AREA_VCPU_EVENTS_SIZE: u32 = 0x20;
// ==== full-fast (branch full-fast): full mode's hot traps handled inside the CPU (host/full/README.md "Fast paths") ====
// The virtual-CPU state a full-mode monitor shares with the CPU, as KVM keeps the state its in-kernel exit handlers
// need: the monitor's virtual IF/IOPL and CPL live here (host/full/vcpu.ts reads and writes them in place, so there
// is one copy), plus whether a virtual interrupt waits. With CTRL_FAST_VIF set, cli/sti/pushf/popf of the
// deprivileged guest (the classes that would exit: #GP for cli/sti, CTRL_EXIT_SENSITIVE for pushf/popf at a virtual
// CPL below 3) run on the virtual flags in the CPU (assembly/fullfast.ts) instead of exiting; whatever the fast
// path cannot decide (CPL > IOPL, an sti or popf that would open the interrupt window while OFF_FF_PENDING is set)
// takes the old exit, so the monitor injects at the right boundary. CTRL_FAST_SEG: the kernel's data-segment loads.
// vCPU state: below VCPU_STATE_SIZE, saved.
export const AREA_FULLFAST: u32 = 0x180;
export const AREA_FULLFAST_SIZE: u32 = 0x80;
export const OFF_FF_VFLAGS: u32 = 0x180;   // monitor+CPU: the virtual EFLAGS.IF (0x200) and IOPL (0x3000) bits; others 0
export const OFF_FF_VCPL: u32 = 0x184;     // monitor+CPU: the virtual CPL (the real one is 3 for virtual 0..3)
export const OFF_FF_PENDING: u32 = 0x188;  // monitor: 1 = a virtual interrupt waits for IF (set before every run())
export const OFF_FF_TABLES_OK: u32 = 0x18C; // monitor: 1 = the real GDT/LDT copies were synced with the guest's tables (its last read of them succeeded)
export const OFF_FF_N_CLI: u32 = 0x1C0;    // CPU counters: events handled in the CPU, no exit
export const OFF_FF_N_STI: u32 = 0x1C4;
export const OFF_FF_N_PUSHF: u32 = 0x1C8;
export const OFF_FF_N_POPF: u32 = 0x1CC;
export const OFF_FF_N_SEG: u32 = 0x1D0;
export const OFF_FF_N_INT: u32 = 0x1D4;
export const OFF_FF_N_IRET: u32 = 0x1D8;
export const OFF_FF_N_MOVCR: u32 = 0x1DC;
export const FF_COUNTERS: u32 = 8;         // counters from OFF_FF_N_CLI on (u32 each)
// CTRL_FAST_CR: mov r32, CR0/CR2/CR3/CR4 at virtual CPL 0 (a #GP at the real CPL 3) reads the virtual control
// registers, which live here (host/full/vcpu.ts SharedVirtualCpu: one copy, like the virtual IF): a page-fault
// handler's read of CR2 costs no exit. Writes still exit (they change the shadows).
export const CTRL_FAST_CR: u32 = 0x4000;
export const OFF_FF_VCR0: u32 = 0x1EC;     // monitor+CPU: the virtual CR0, CR2, CR3, CR4
export const OFF_FF_VCR2: u32 = 0x1F0;
export const OFF_FF_VCR3: u32 = 0x1F4;
export const OFF_FF_VCR4: u32 = 0x1F8;
// monitor: machine-physical address of the user-view GDT copy (the guest's bytes as last synced): a fast IRET to user
// mode compares it with the guest's GDT first, since user code loads its segments from the copy natively
export const OFF_FF_GDT_U_PHYS: u32 = 0x1FC;
// CTRL_FAST_INT: INT n from virtual CPL 3 through a 32-bit interrupt/trap gate of the guest's IDT into its kernel
// (virtual CPL 0), and IRET from virtual CPL 0 back to virtual CPL 3, done in the CPU with the CPU's rules (rules.ts),
// reading the guest's IDT/GDT/TSS/stack through the shadow tables without faulting (anything missing, any rule
// failing, an LDT selector, a 16-bit gate or stack, TF, a clear accessed bit: the old exit, which then does
// exactly what it did). The monitor publishes, after every exit and before every run(), what a switch needs
// (below); the CPU makes the real switch (CR3 of the other shadow of the same address space — keeping the TLB on
// the way in, flushing it on the way out —, the real GDT/LDT view, the exit controls of the new level) and the
// monitor adopts it at its next exit (host/full/mode.ts adoptFastSwitches).
export const CTRL_FAST_INT: u32 = 0x2000;
export const OFF_FF_KPD: u32 = 0x190;      // monitor: real CR3 of the kernel (K) shadow of the current address space, 0 = none
export const OFF_FF_UPD: u32 = 0x194;      // monitor: ... of its user (U) shadow, 0 = none
export const OFF_FF_KCTRL: u32 = 0x198;    // monitor: the sensitive-exit controls at virtual CPL 0
export const OFF_FF_UCTRL: u32 = 0x19C;    // monitor: ... at virtual CPL 3 with IF=1, IOPL=0
export const OFF_FF_GDT_K: u32 = 0x1A0;    // monitor: real GDTR base of the kernel view of the guest's GDT
export const OFF_FF_GDT_U: u32 = 0x1A4;    // monitor: ... of the user view
export const OFF_FF_LDT_K: u32 = 0x1A8;    // monitor: real LDTR base of the kernel view of the guest's LDT
export const OFF_FF_LDT_U: u32 = 0x1AC;
export const OFF_FF_IDT_BASE: u32 = 0x1B0; // monitor: the guest's IDTR, GDTR and TR (base, limit, attr)
export const OFF_FF_IDT_LIMIT: u32 = 0x1B4;
export const OFF_FF_GDT_BASE: u32 = 0x1B8;
export const OFF_FF_GDT_LIMIT: u32 = 0x1BC;
export const OFF_FF_TR_BASE: u32 = 0x1E0;
export const OFF_FF_TR_LIMIT: u32 = 0x1E4;
export const OFF_FF_TR_ATTR: u32 = 0x1E8;
export const CTRL_FAST_VIF: u32 = 0x800;   // cli/sti/pushf/popf on the virtual flags in the CPU
// mov/pop/lds… of DS/ES/FS/GS at a virtual CPL below 3 whose check failed only because the real CPL is 3 (a DPL<3
// kernel data segment): loaded from the real GDT/LDT copy (code/data descriptors are copied exactly, host/full
// mode.ts syncTables) with the checks at the virtual CPL, when its accessed bit is already set (else the CPU would
// set it in the copy, not in the guest's table: the old exit) and the monitor's last sync of the copy succeeded
// (OFF_FF_TABLES_OK: a GDT the monitor could not read — unmapped, past RAM — leaves the copy stale: the old exit)
export const CTRL_FAST_SEG: u32 = 0x1000;
// ==== end full-fast block ====
export const AREA_EXIT: u32 = 0x200;
export const AREA_EXIT_SIZE: u32 = 0x100;
export const AREA_IOLOG: u32 = 0x300;
export const AREA_IOLOG_SIZE: u32 = 0x300;
export const AREA_WQ: u32 = 0x600;
export const AREA_WQ_SIZE: u32 = 0x200;
export const AREA_FPU: u32 = 0x800;
export const AREA_FPU_SIZE: u32 = 0x100;
export const AREA_SEGOK: u32 = 0x900;
export const AREA_SEGOK_SIZE: u32 = 0x8;
export const AREA_JIT_CTX: u32 = 0x940;
export const AREA_JIT_CTX_SIZE: u32 = 0x40;
export const AREA_TMP_REC: u32 = 0x980;
export const AREA_TMP_REC_SIZE: u32 = 0x20;
export const AREA_RESET: u32 = 0xA00;
export const AREA_RESET_SIZE: u32 = 0x80;
export const AREA_DEBUG: u32 = 0xB00;
export const AREA_DEBUG_SIZE: u32 = 0x1C0;

// ==== perf-io (branch perf-io): the local APIC's registers, shared by the host model and the CPU (assembly/apic.ts) ====
// The host's model (host/devices/lapic.ts) keeps every register of the xAPIC here, not in a copy of its own, so
// the CPU answers the hot, side-effect-free accesses in place with no exit (ID, version, TPR, PPR, ISR/TMR/IRR,
// LDR/DFR/SVR, ESR, ICR, LVT, timer initial/divide, the timer's current count computed from the clock below) and
// performs an EOI itself when it is exact (an edge-triggered vector, no other request becoming deliverable).
// Everything else exits to the host as before. Device state, not vCPU state: above VCPU_STATE_SIZE, saved by the
// device's own save() (a snapshot), and kept by the CPU's reset(). All 0 (APIC_CTRL off) until the host binds it.
export const AREA_APIC: u32 = 0xE40;
export const AREA_APIC_SIZE: u32 = 0xE0;
export const OFF_APIC_CTRL: u32 = 0xE40;      // host: APIC_CTRL_* bits
export const APIC_CTRL_INCPU: u32 = 1;        // the host model lives in this area: the CPU may answer accesses
export const OFF_APIC_PAGE: u32 = 0xE44;      // host: guest-physical base of the xAPIC page (4 KiB aligned)
export const OFF_APIC_ID: u32 = 0xE48;        // register values as the guest reads them (SDM Vol. 3A Table 10-1)
export const OFF_APIC_VER: u32 = 0xE4C;
export const OFF_APIC_TPR: u32 = 0xE50;
export const OFF_APIC_LDR: u32 = 0xE54;
export const OFF_APIC_DFR: u32 = 0xE58;
export const OFF_APIC_SVR: u32 = 0xE5C;
export const OFF_APIC_ESR: u32 = 0xE60;       // as latched by the last ESR write
export const OFF_APIC_ESR_PENDING: u32 = 0xE64; // errors since then (host only)
export const OFF_APIC_ICR_LO: u32 = 0xE68;
export const OFF_APIC_ICR_HI: u32 = 0xE6C;
export const OFF_APIC_LVT: u32 = 0xE70;       // 6 x u32: timer, thermal, perf, LINT0, LINT1, error (registers 0x320..0x370)
export const OFF_APIC_TIMER_ICR: u32 = 0xE88; // initial count
export const OFF_APIC_TIMER_DCR: u32 = 0xE8C; // divide configuration as written (bits 0,1,3)
export const OFF_APIC_TIMER_DIV: u32 = 0xE90; // its divisor (1..128)
export const OFF_APIC_TIMER_ARMED: u32 = 0xE94; // 1 while counting
export const OFF_APIC_TIMER_BASE: u32 = 0xE98;  // u64: bus tick at which the count started (or last reloaded)
export const OFF_APIC_NOW: u32 = 0xEA0;       // u64: bus ticks elapsed; the host brings it to the virtual clock before every run()
export const OFF_APIC_BUS_PER_INSN: u32 = 0xEA8; // host: bus ticks per instruction-equivalent of the virtual clock
export const OFF_APIC_INCPU_READS: u32 = 0xEAC;  // CPU: register reads answered in the CPU (counter)
export const OFF_APIC_INCPU_EOIS: u32 = 0xEB0;   // CPU: EOIs performed in the CPU (counter)
export const OFF_APIC_ISR: u32 = 0xEC0;       // 8 x u32: in-service vectors 0..255
export const OFF_APIC_TMR: u32 = 0xEE0;       // 8 x u32: trigger mode (1 = level)
export const OFF_APIC_IRR: u32 = 0xF00;       // 8 x u32: requests
// String I/O in batches (KVM_EXIT_IO with a count): with OFF_IO_BATCH_CTRL set by the host, a REP OUTS/INS to a port
// exits once per run of elements instead of once per element (assembly/ops/io.ts), and the run retires as one
// REP unit (REP_UNIT_ITERATIONS at most). OFF_IO_BATCH_COUNT > 0 on an io-out/io-in exit says the exit carries
// that many elements at wasm address OFF_IO_BATCH_DATA, in the order of the accesses:
//   io-out: the elements the guest wrote, copied to IO_BUF_BASE (from any RAM pages); the instruction completed
//     its unit (ESI/ECX advanced, EIP on it if elements remain); the host writes them to the port in order.
//   io-in: exits *after* the unit like OUT: DATA is the guest RAM the elements go to (one run inside one page, DF=0,
//     already checked writable, predecoded code there already dropped); the host must read the port COUNT times
//     and store the values there, little-endian, before the next run(). No completeIo.
// Fewer elements than ECX when a page fault, device memory or a page end is met: the next unit starts there
// (and takes its fault then), so every element is exact. 0 = a single access in OFF_EXIT_VALUE, as before.
export const AREA_IOBATCH: u32 = 0xF20;
export const AREA_IOBATCH_SIZE: u32 = 0x20;
export const OFF_IO_BATCH_CTRL: u32 = 0xF20;  // host: 1 = REP INS/OUTS to ports in batches
export const OFF_IO_BATCH_COUNT: u32 = 0xF24; // CPU: elements this io exit carries (0 = a single access)
export const OFF_IO_BATCH_DATA: u32 = 0xF28;  // CPU: wasm address of the first element
// the out buffer: module data ends far below (asc --memoryBase, a few KiB of tables), the TLB starts above
export const IO_BUF_BASE: u32 = 0xFC000;
export const IO_BUF_SIZE: u32 = REP_UNIT_ITERATIONS * 4;
// ==== end perf-io block ====

// ==== linux-fidelity (branch linux-fidelity) ====
// The TSC adjustment outside guest mode (VMX's TSC offset is the guest-mode one): RDTSC and RDMSR 0x10 read the
// retired-instruction count plus this signed 64-bit value. The run loop (host/core/vm.ts syncTsc) sets it before
// every slice, in every mode, to what the virtual clock counts beyond retired instructions — the instructions the
// mode emulated (full: trapped IN/OUT, CLI/STI, IRET …; hw: CPUID, HLT) and the time skipped while the guest
// idled — so the guest's TSC is the clock the PIT and APIC timer run on, and keeps counting through HLT as a real
// one does. Host-owned; above VCPU_STATE_SIZE (never saved: the loop rewrites it from the clock, whose parts a
// snapshot carries, before the next slice), kept by reset().
export const AREA_TSC_ADJUST: u32 = 0xF40;
export const AREA_TSC_ADJUST_SIZE: u32 = 0x8;
export const OFF_TSC_ADJUST_LO: u32 = 0xF40;
export const OFF_TSC_ADJUST_HI: u32 = 0xF44;
// The predecoded block a compiled function runs for (the CPU stores it before each call): compiled code addresses its
// records relative to it, so the same guest code compiles to the same bytes wherever the block arena put it, and a
// kernel that refills the arena (Linux: every ~30 M instructions) finds its blocks in the module cache
// (host/cpu-instances.ts jitModule) instead of compiling them again. Scratch, valid only inside run().
export const AREA_JIT_BLOCK: u32 = 0xF48;
export const AREA_JIT_BLOCK_SIZE: u32 = 0x4;
export const OFF_JIT_BLOCK: u32 = 0xF48;
// ==== end linux-fidelity block ====
// ==== exit-rt (branch exit-rt, issue 11): the exit round trip's CPU side ====
// Counters of the exit path (scratch above VCPU_STATE_SIZE, zeroed by reset(); never saved): how run() filled
// each exit's decoded instruction — from the predecoded record the instruction ran from (assembly/exitpath.ts), or
// by decoding its bytes again (decodeat.ts, an instruction no record holds: compiled code's inline faults, HLT,
// INT n) — and how many run() entries recomputed the segment caches (the host changed a segment since the last exit).
export const AREA_EXITRT: u32 = 0xF50;
export const AREA_EXITRT_SIZE: u32 = 0x30;
export const OFF_EXIT_FROM_REC: u32 = 0xF50;  // CPU counter: exit instructions taken from the predecoded record
export const OFF_EXIT_REDECODED: u32 = 0xF54; // CPU counter: exit instructions decoded again from guest memory
export const OFF_ENTRY_SEGS: u32 = 0xF58;     // CPU counter: run() entries that recomputed the segment caches
// ==== end exit-rt block ====

// ==== jit-sys (branch jit-sys) ====
// Compiled regions that go on into another page (host/jit/region.ts): the compiler finds a block in another page
// through the linear address of the region's first block (EIP + CS base) and the TLB; the compiled code checks the
// TLB and that page's generation again when it gets there, and stays in its first page while the debugger is armed
// (the CPU runs the blocks of a page holding a breakpoint unchained). Scratch, written by the CPU inside run().
export const AREA_JIT_SYS: u32 = 0xF80;
export const AREA_JIT_SYS_SIZE: u32 = 0x8;
export const OFF_JIT_COMPILE_EIP: u32 = 0xF80; // EIP of the block the CPU hands to jitCompile
export const OFF_JIT_ONE_PAGE: u32 = 0xF84;    // 1: compiled code must not leave its first page (debug.ts dbgArmed)
// ==== end jit-sys block ====

// ---- general registers, in x86 encoding order (u32 each) ----
export const OFF_EAX: u32 = 0x00;
export const OFF_ECX: u32 = 0x04;
export const OFF_EDX: u32 = 0x08;
export const OFF_EBX: u32 = 0x0C;
export const OFF_ESP: u32 = 0x10;
export const OFF_EBP: u32 = 0x14;
export const OFF_ESI: u32 = 0x18;
export const OFF_EDI: u32 = 0x1C;
export const OFF_EIP: u32 = 0x20;
// EFLAGS as the host sees it: materialized from the lazy flags when run() returns, read back when run() starts.
export const OFF_EFLAGS: u32 = 0x24;

// ---- segment registers: 6 x 16 bytes in x86 order ES CS SS DS FS GS ----
// each: selector (u32), base (u32), limit (u32, byte-granular, already scaled by G), attr (u32: descriptor bits 40..55 >> 8, i.e. type|S|DPL|P in bits 0..7, AVL|L|D/B|G in bits 12..15)
export const OFF_SEGS: u32 = 0x40;
export const SEG_STRIDE: u32 = 16;
export const SEG_SEL: u32 = 0;
export const SEG_BASE: u32 = 4;
export const SEG_LIMIT: u32 = 8;
export const SEG_ATTR: u32 = 12;
export const SEG_ES: u32 = 0;
export const SEG_CS: u32 = 1;
export const SEG_SS: u32 = 2;
export const SEG_DS: u32 = 3;
export const SEG_FS: u32 = 4;
export const SEG_GS: u32 = 5;
// LDTR and TR use the same 16-byte layout
export const OFF_LDTR: u32 = 0xA0;
export const OFF_TR: u32 = 0xB0;

// ---- descriptor-table registers ----
export const OFF_GDTR_BASE: u32 = 0xC0;
export const OFF_GDTR_LIMIT: u32 = 0xC4;
export const OFF_IDTR_BASE: u32 = 0xC8;
export const OFF_IDTR_LIMIT: u32 = 0xCC;

// ---- control and debug registers ----
export const OFF_CR0: u32 = 0xD0;
export const OFF_CR2: u32 = 0xD4;
export const OFF_CR3: u32 = 0xD8;
export const OFF_CR4: u32 = 0xDC;
export const OFF_DR0: u32 = 0xE0; // DR0..DR7 at 0xE0..0xFC (DR4/DR5 alias DR6/DR7)
export const OFF_CPL: u32 = 0x100; // current privilege level (read-only for the host; follows CS)

// ---- machine configuration, written by the host before the first run ----
export const OFF_RAM_SIZE: u32 = 0x110; // bytes of guest RAM (multiple of 4 KiB)
// Exception intercept bitmap, like a VMCS exception bitmap: bit v set => exception v exits to the host
// (EXIT_EXCEPTION) instead of being delivered through the guest IDT.
export const OFF_EXC_BITMAP: u32 = 0x114;
// Bit 0: INT n / INT3 / INTO exit to the host (EXIT_SOFTINT) instead of IDT delivery.
export const OFF_CTRL: u32 = 0x118;
export const CTRL_EXIT_SOFTINT: u32 = 1;
export const CTRL_EXIT_HLT: u32 = 2; // HLT exits to the host (EXIT_HLT) instead of waiting internally
// Bit 2: a hypervisor is present: VMCALL (0F 01 C1) exits with EXIT_HYPERCALL (EIP past it, arguments in the
// registers), and CPUID leaves 0x40000000.. report OFF_HV_SIGNATURE; without it VMCALL raises #UD.
export const CTRL_HYPERCALL: u32 = 4;
// CPUID 0x40000000: EAX = max hypervisor leaf, EBX ECX EDX = 12-byte signature (written by the host)
export const OFF_HV_SIGNATURE: u32 = 0x130; // 4 x u32: max leaf, sig0, sig1, sig2
// External interrupt line (8259-style INTR): host sets level=1 and the vector; the CPU acknowledges by
// clearing OFF_INTR_LEVEL when it takes the interrupt (and reports it in OFF_INTR_TAKEN_COUNT).
export const OFF_INTR_LEVEL: u32 = 0x120;
export const OFF_INTR_VECTOR: u32 = 0x124;
export const OFF_INTR_TAKEN_COUNT: u32 = 0x128;
// 1 while the CPU is halted (HLT, or shutdown after a triple fault); the host may clear it, as KVM_SET_MP_STATE
export const OFF_HALTED: u32 = 0x12C;

// ---- block compiler (JIT) interface ----
// The host may compile hot predecoded blocks to wasm functions: when a block has run OFF_JIT_THRESHOLD times
// (0 = never) the CPU calls the import env.jitCompile(block) synchronously; it returns a table index (0 = not
// compiled). Compiled code exchanges state with the CPU through the context at STATE_BASE + JIT_CTX.
// CPUID leaf 1 EDX bits the platform adds (e.g. bit 9 APIC when the host emulates a local APIC)
export const OFF_CPUID_EDX_EXTRA: u32 = 0x15C;
export const OFF_JIT_THRESHOLD: u32 = 0x150;
export const OFF_JIT_COMPILED: u32 = 0x154; // blocks compiled (counter)
export const OFF_JIT_ENTRIES: u32 = 0x158;  // calls into compiled blocks (counter)
export const JIT_CTX: u32 = AREA_JIT_CTX;
export const JC_E: u32 = 0;        // in: EIP of the block; out: the next EIP
export const JC_FL: u32 = 4;       // lazy flags in/out: concrete EFLAGS, op, a, b, result, top bit
export const JC_LOP: u32 = 8;
export const JC_LA: u32 = 12;
export const JC_LB: u32 = 16;
export const JC_LR: u32 = 20;
export const JC_LTOP: u32 = 24;
export const JC_STATUS: u32 = 28;  // set by helpers: 0 ok, 1 the access faulted (abort), 2 stop the block (code/MMIO write)
export const JC_I0: u32 = 32;      // out: EIP of the instruction that faulted
export const JC_COUNT: u32 = 36;   // out: instructions retired
export const JC_BUDGET: u32 = 40;  // in: instructions allowed
export const JC_CSLIMIT: u32 = 44; // in: CS limit
export const JC_FLOUT: u32 = 48;   // out of jitShift: the new EFLAGS
export const JC_TLBR: u32 = 52;    // in: the TLB read set for the current CPL (mmu.ts)
export const JC_TLBW: u32 = 56;    // in: the TLB write set
export const JC_SIZE: u32 = 60;
// Per-segment access rights byte, cached when a segment is loaded (mmu.ts computeSegOk), at STATE_BASE + OFF_SEGOK + seg:
// bit 0 readable, 1 writable, 2 expand-down, 3 big (D/B), 4 flat (base 0, limit 4 GiB - 1, expand-up)
export const OFF_SEGOK: u32 = AREA_SEGOK;
export const SEGOK_FLAT: u32 = 0x10;
export const JIT_OK: u32 = 0;
export const JIT_ABORT: u32 = 1;
export const JIT_STOP: u32 = 2;

// ---- predecoded records and blocks (read by the host's block compiler) ----
export const BLK_COUNT: u32 = 8;   // u16 instructions in the block
export const BLK_EXECS: u32 = 32;  // u32 times run by the interpreter
export const BLK_JIT: u32 = 36;    // u32 table index of its compiled function (0 = none)
export const BLK_JIT_STATE: u32 = 40; // 0 not tried, 1 compiled, 2 not compilable
export const BLK_HDR: u32 = 48;
// at most this many records per block (the decoder's cap; the JIT's regions go on past a block that reached it)
export const BLK_MAX_RECORDS: u32 = 64;
export const REC_SIZE: u32 = 32;
export const REC_OP: u32 = 0;      // u16
export const REC_LEN: u32 = 2;     // u8
export const REC_PFX: u32 = 3;
export const REC_MODRM: u32 = 4;
export const REC_BASE: u32 = 5;    // 8 = none
export const REC_INDEX: u32 = 6;   // 8 = none
export const REC_SC: u32 = 7;      // scale | default segment << 4
export const REC_DISP: u32 = 8;    // u32
export const REC_IMM1: u32 = 12;
export const REC_IMM2: u32 = 16;
export const REC_MEM: u32 = 20;
export const REC_FAST: u32 = 21;   // F_* below
export const REC_FOP: u32 = 22;
export const REC_FDST: u32 = 23;
export const REC_FIMM: u32 = 24;   // u32, sign-extended
export const REC_FSRC: u32 = 28;
// fast forms: 32-bit, prefix-free shapes run inline by the interpreter and compiled by the JIT
export const F_ALU_RR: u32 = 1;    // add/or/and/sub/xor/cmp r32, r32 (FOP = ALU op)
export const F_ALU_RI: u32 = 2;    // ... r32, imm
export const F_ALU_RM: u32 = 3;    // ... r32, [m32]
export const F_TEST_RR: u32 = 4;
export const F_MOV_RR: u32 = 5;
export const F_MOV_RI: u32 = 6;
export const F_LOAD: u32 = 7;      // mov r32, [m32]
export const F_STORE: u32 = 8;     // mov [m32], r32
export const F_INC: u32 = 9;
export const F_DEC: u32 = 10;
export const F_PUSH: u32 = 11;
export const F_POP: u32 = 12;
export const F_JCC: u32 = 13;      // FOP = condition code, FIMM = displacement
export const F_JMP: u32 = 14;
export const F_CALL: u32 = 15;
export const F_RET: u32 = 16;
export const F_SHIFT_RI: u32 = 17; // FOP = rol/ror/-/-/shl/shr/-/sar, FIMM = count & 31
export const F_LEA: u32 = 18;
export const F_MOVZX_BM: u32 = 19; // movzx r32, byte [m]
export const F_NOP: u32 = 20;
export const F_NEG: u32 = 21;      // neg r32
export const F_TEST8_RI: u32 = 22; // test r8, imm8 (FDST = 8-bit register: 4..7 = AH CH DH BH), FIMM = imm8
export const F_TEST8_MI: u32 = 23; // test byte [m], imm8
export const F_CMP8_MI: u32 = 24;  // cmp byte [m], imm8
export const F_STORE8_I: u32 = 25; // mov byte [m], imm8
export const F_STORE8_R: u32 = 26; // mov byte [m], r8 (FSRC = 8-bit register)
export const F_CMP_MI: u32 = 27;   // cmp dword [m], imm (FIMM sign-extended)
export const F_CMP_MR: u32 = 28;   // cmp dword [m], r32
// lazy-flag kinds (flags.ts)
export const LF_NONE: u32 = 0;
export const LF_ADD: u32 = 1;
export const LF_SUB: u32 = 2;
export const LF_LOGIC: u32 = 3;
export const LF_INC: u32 = 4;
export const LF_DEC: u32 = 5;

// ---- the x87 FPU (assembly/fpu/): vCPU state, like KVM_GET_FPU ----
// Physical registers R0..R7, 16 bytes apart: significand (u64, explicit integer bit) at +0, sign|exponent (u16) at +8.
// ST(i) is R((TOP + i) & 7), TOP being SW bits 11..13. The tag word keeps only empty (11) / not empty (00) per
// physical register; FNSAVE/FNSTENV compute the full tags from the contents as the hardware does.
export const OFF_FPU_REGS: u32 = 0x800;
export const FPU_REG_STRIDE: u32 = 16;
export const OFF_FPU_CW: u32 = 0x880; // u16 control word (as FNSTCW stores it)
export const OFF_FPU_SW: u32 = 0x884; // u16 status word, TOP included
export const OFF_FPU_TW: u32 = 0x888; // u16 tag word (11 empty / 00 not empty per physical register)
export const OFF_FPU_FIP: u32 = 0x88C; // last non-control instruction: offset
export const OFF_FPU_FCS: u32 = 0x890; // its CS selector (u16)
export const OFF_FPU_FOP: u32 = 0x894; // its opcode (11 bits: first byte & 7, ModRM)
export const OFF_FPU_FDP: u32 = 0x898; // its memory operand: offset
export const OFF_FPU_FDS: u32 = 0x89C; // its memory operand's segment selector (u16)

// ---- the host's debug unit (assembly/debug.ts), invisible to the guest: a debugger's breakpoints,
// watchpoints and single-step. The guest's own DR0-DR7 (OFF_DR0) are armed separately and raise #DB. ----
// (AREA_DEBUG: scratch above VCPU_STATE_SIZE, so a snapshot never carries a debugger's breakpoints)
export const OFF_DBG_CTRL: u32 = 0xB00;   // host: DBG_STEP; the CPU re-reads the unit at every run() entry
export const DBG_STEP: u32 = 1;           // stop (EXIT_DEBUG) before the second instruction of this run
export const OFF_DBG_STEPPED: u32 = 0xB04; // CPU: an instruction of the current step began (host clears it)
export const OFF_DBG_CAUSE: u32 = 0xB08;  // CPU: why it stopped (DBG_CAUSE_*)
export const OFF_DBG_ADDR: u32 = 0xB0C;   // CPU: the watched linear address that was accessed
export const OFF_DBG_SKIP: u32 = 0xB10;   // host: linear EIP whose breakpoints the first instruction ignores, 1 = none
export const OFF_DBG_SW_COUNT: u32 = 0xB14; // host: software breakpoints in use (<= DBG_SW_MAX)
export const OFF_DBG_HW: u32 = 0xB20;     // host: DBG_HW_SLOTS x { linear address, length, kind DBG_KIND_* , 0 }
export const DBG_HW_SLOTS: u32 = 4;
export const DBG_HW_STRIDE: u32 = 16;
export const OFF_DBG_SW: u32 = 0xB60;     // host: DBG_SW_MAX linear addresses (u32)
export const DBG_SW_MAX: u32 = 64;
export const DBG_KIND_NONE: u32 = 0;
export const DBG_KIND_EXEC: u32 = 1;
export const DBG_KIND_WRITE: u32 = 2;
export const DBG_KIND_READ: u32 = 3;
export const DBG_KIND_ACCESS: u32 = 4;
export const DBG_CAUSE_STEP: u32 = 1;
export const DBG_CAUSE_SWBP: u32 = 2;
export const DBG_CAUSE_HWBP: u32 = 3;
export const DBG_CAUSE_WATCH: u32 = 4; // OFF_DBG_ADDR = the address, OFF_DBG_KIND_HIT = the slot's kind
export const OFF_DBG_KIND_HIT: u32 = 0xB18;
// CPU-internal: the 8 decoded breakpoints (guest DR0-3, host slots 0-3) as { linear, length, kind } (12 bytes each)
export const OFF_DBG_DECODED: u32 = 0xC60;

// ---- counters ----
export const OFF_INSTR_LO: u32 = 0x140; // instructions retired (u64)
export const OFF_INSTR_HI: u32 = 0x144;
export const OFF_TLB_MISSES: u32 = 0x148;
export const OFF_EXC_COUNT: u32 = 0x14C;

// ---- the exit record (kvm_run-like), valid after run() returns ----
export const OFF_EXIT_REASON: u32 = 0x200;
export const OFF_EXIT_VECTOR: u32 = 0x204; // exception / software interrupt vector
export const OFF_EXIT_ERROR: u32 = 0x208; // error code (if OFF_EXIT_HAS_ERROR)
export const OFF_EXIT_HAS_ERROR: u32 = 0x20C;
export const OFF_EXIT_PORT: u32 = 0x210; // I/O port, or MMIO guest-physical address
export const OFF_EXIT_SIZE: u32 = 0x214; // access size in bytes: 1, 2, 4
export const OFF_EXIT_VALUE: u32 = 0x218; // value written (OUT / MMIO write); the host stores the value read here for IN / MMIO read
export const OFF_EXIT_EIP: u32 = 0x21C; // EIP of the instruction that caused the exit
export const OFF_EXIT_INSN_LEN: u32 = 0x220; // its length (for exits the host completes by skipping it)
// For IN / MMIO-read exits, EIP still points at the instruction; the host writes OFF_EXIT_VALUE and sets
// OFF_IO_COMPLETE=1; the next run() re-executes the instruction, which consumes the value instead of exiting.
export const OFF_IO_COMPLETE: u32 = 0x224;
// Exit qualification (SDM Vol. 3C 27.2.1, "Exit Qualification"), filled by the CPU on every exit but "budget".
// OFF_EXIT_QUAL_KIND says which layout OFF_EXIT_QUAL has: the I/O layout on io-in/io-out exits, and on an
// exception exit raised by an I/O, control-register or debug-register instruction (e.g. #GP at CPL > IOPL or
// CPL > 0) that instruction's layout, so a monitor can emulate it without decoding anything.
export const OFF_EXIT_QUAL: u32 = 0x228;
export const OFF_EXIT_QUAL_KIND: u32 = 0x22C;
export const QK_NONE: u32 = 0;
export const QK_IO: u32 = 1; // bits 2:0 size-1, 3 IN, 4 string, 5 REP, 6 port from the immediate (else DX), 31:16 port
export const QK_CR: u32 = 2; // bits 3:0 CR number, 5:4 QCR_* access type, 6 LMSW operand in memory, 11:8 GPR (MOV, register LMSW), 31:16 LMSW data
export const QK_DR: u32 = 3; // bits 2:0 DR number, 4 direction (1 = MOV from DR), 11:8 GPR
export const QIO_IN: u32 = 0x8;
export const QIO_STRING: u32 = 0x10;
export const QIO_REP: u32 = 0x20;
export const QIO_IMM: u32 = 0x40;
export const QCR_MOV_TO: u32 = 0;
export const QCR_MOV_FROM: u32 = 1;
export const QCR_CLTS: u32 = 2;
export const QCR_LMSW: u32 = 3;
export const QCR_LMSW_MEM: u32 = 0x40;
export const QDR_FROM: u32 = 0x10;
// I/O: elements a REP string instruction still has to move, counting the one this exit carries (from ECX, or CX
// with a 0x67 prefix); 1 for a single access
export const OFF_EXIT_IO_COUNT: u32 = 0x230;
// The instruction that caused the exit, as the CPU's decoder decoded it (a DEC_* record, below); DEC_VALID = 0
// when there is none (budget, shutdown, a trap-class exception, an external event, a fault on the fetch itself).
export const OFF_EXIT_INSN: u32 = 0x240;

// ---- decoded instructions: the CPU's decoder, exported (index.ts decodeAt) ----
// The host writes up to 15 instruction bytes at OFF_DECODE_BYTES (and how many it has at OFF_DECODE_AVAIL),
// calls decodeAt(eip), and reads the DEC_* record at OFF_DECODE. If DEC_LEN > the bytes given, the instruction
// continues past them (fetch more and decode again); nothing else in the CPU changes.
export const OFF_DECODE_AVAIL: u32 = 0x234;
export const OFF_DECODE_BYTES: u32 = 0x280; // 32 bytes (zero past the bytes given)
export const OFF_DECODE: u32 = 0x2A0;
export const OFF_DECODE_SCRATCH: u32 = 0x2E0; // internal: the decoder's own record (REC_SIZE bytes), up to 0x300
export const DEC_VALID: u32 = 0;   // u32: 1 = a record follows
export const DEC_OP: u32 = 4;      // u32: 0x000..0x0FF one-byte opcode, 0x100..0x1FF 0F xx; DEC_OP_UD / DEC_OP_GP
export const DEC_LEN: u32 = 8;     // u32: length in bytes
export const DEC_PFX: u32 = 12;    // u32: DPFX_* bits, bits 4..6 segment override + 1 (0 = none)
export const DEC_MODRM: u32 = 16;  // u32: the ModRM byte (0 when the opcode has none)
export const DEC_MEM: u32 = 20;    // u32: 1 = the ModRM operand is in memory
export const DEC_BASE: u32 = 24;   // u32: base register of the memory operand, 8 = none
export const DEC_INDEX: u32 = 28;  // u32: index register, 8 = none
export const DEC_SCALE: u32 = 32;  // u32: log2 of the index scale
export const DEC_SEG: u32 = 36;    // u32: segment of the memory operand (the override, else DS or SS by the base)
export const DEC_DISP: u32 = 40;   // u32: displacement (sign-extended); for moffs forms (A0..A3) the offset
export const DEC_IMM1: u32 = 44;   // u32: first immediate, zero-extended (a far pointer's offset)
export const DEC_IMM2: u32 = 48;   // u32: second immediate (enter's level, a far pointer's selector)
export const DEC_HAS_MODRM: u32 = 52; // u32: 1 = the opcode takes a ModRM byte
export const DEC_SIZE: u32 = 64;
export const DEC_OP_UD: u32 = 0x200; // undefined opcode (#UD when executed); DEC_LEN still counts its bytes
export const DEC_OP_GP: u32 = 0x201; // longer than 15 bytes (#GP when executed)
export const DPFX_O16: u32 = 1;
export const DPFX_LOCK: u32 = 2;
export const DPFX_REPNE: u32 = 4;
export const DPFX_REP: u32 = 8;
export const DPFX_A16: u32 = 0x80;

// ---- exit reasons (run() returns one of these) ----
export const EXIT_BUDGET: u32 = 0; // the instruction budget ran out
export const EXIT_HLT: u32 = 1; // HLT with no interrupt to wake it (or CTRL_EXIT_HLT)
export const EXIT_IO_IN: u32 = 2;
export const EXIT_IO_OUT: u32 = 3;
export const EXIT_MMIO_READ: u32 = 4;
export const EXIT_MMIO_WRITE: u32 = 5;
export const EXIT_EXCEPTION: u32 = 6; // an intercepted exception (OFF_EXC_BITMAP); EIP = faulting instruction for faults
export const EXIT_SOFTINT: u32 = 7; // INT n / INT3 / INTO with CTRL_EXIT_SOFTINT; EIP = next instruction
export const EXIT_SHUTDOWN: u32 = 8; // triple fault
export const EXIT_HYPERCALL: u32 = 9;
export const EXIT_INTR_WINDOW: u32 = 10;
// a stop for the host's debugger (debug.ts): OFF_DBG_CAUSE says why; EIP = the next instruction to run
export const EXIT_DEBUG: u32 = 11;
// ---- full-translate: run-time translation of the x86 hole (host/full/README.md "The x86 hole") ----
// Controls (OFF_CTRL bits) that make a class of sensitive-but-unprivileged instructions exit BEFORE executing,
// with EXIT_SENSITIVE (EIP at the instruction, OFF_EXIT_INSN = the instruction as the CPU decoded it), so a
// monitor running a deprivileged kernel can emulate them against its virtual CPU. Checked only in those
// instructions' handlers (ops/sensitive.ts), after their #UD checks, before any access: nothing else pays.
// CTRL_EXIT_SENSITIVE: pushf, popf, sgdt, sidt, sldt, str, smsw, mov r/m from CS/SS, push CS/SS, lar, lsl, verr, verw.
export const CTRL_EXIT_SENSITIVE: u32 = 0x100;
// CTRL_EXIT_PRIV_XFER: the privilege-dependent transfers: iret, retf, far call (9A, FF /3), SS loads (mov ss, pop ss, lss).
export const CTRL_EXIT_PRIV_XFER: u32 = 0x200;
// CTRL_EXIT_DESC_READ: only sgdt, sidt, sldt, str, smsw (VT-x "descriptor-table exiting" plus smsw): what leaks at CPL 3.
export const CTRL_EXIT_DESC_READ: u32 = 0x400;
export const EXIT_SENSITIVE: u32 = 12;
// ---- end full-translate ----
export const EXIT_COUNT: u32 = 14; // EXIT_VMEXIT (13) is declared with the hw-mode block below

// ---- vCPU events (KVM_GET_VCPU_EVENTS): state between instructions that a run boundary must carry ----
// Interrupt shadow after STI / MOV SS / POP SS (bit 0, KVM_X86_SHADOW_INT_STI|MOV_SS) and the MOV SS debug-trap
// hold-off (bit 1): the CPU keeps them in globals while it runs and syncs them here at run() exit/entry.
export const OFF_INT_SHADOW: u32 = 0x160;
export const SHADOW_INT: u32 = 1;
export const SHADOW_MOV_SS: u32 = 2;
export const OFF_PENDING_DBG: u32 = 0x164; // 1: a #DB trap (INT1, single-step) is due before the next instruction
export const OFF_APIC_BASE: u32 = 0x168;   // IA32_APIC_BASE MSR (0x1B) as RDMSR returns it

// ---- read log (iolog.ts): count, then IOLOG_MAX entries {kind, addr, size, value} ----
// Host reads one instruction can need: cmpsd with both operands split across MMIO pages 8 (a split access goes
// byte by byte), popad 11, enter 32-bit with nesting 31 34. Beyond that (a task switch through a TSS in MMIO)
// further reads float high (all-ones) rather than exit forever. A REP string instruction stops after each
// iteration that used the log, so the limit is per iteration.
export const IOLOG_MAX: u32 = 40;
export const IOLOG_HDR: u32 = 16;
export const IOLOG_ENTRY: u32 = 16;
// ---- MMIO write queue (mmu.ts): count, then WQ_MAX entries {addr, size, value} ----
export const WQ_MAX: u32 = 40; // beyond the exit record's first write: enter with nesting 31 makes 36; more are dropped
export const WQ_HDR: u32 = 4;
export const WQ_ENTRY: u32 = 12;
// ---- reset() keeps the VMM-owned configuration: these two ranges are copied to AREA_RESET and back ----
export const RESET_KEEP1: u32 = 0x110; // RAM size, exception bitmap, controls
export const RESET_KEEP1_SIZE: u32 = 0x10;
export const RESET_KEEP2: u32 = 0x130; // hypervisor leaves, counters, JIT threshold/counters, CPUID extras
export const RESET_KEEP2_SIZE: u32 = 0x30;

// ---- exception vectors ----
export const VEC_DE: u32 = 0;
export const VEC_DB: u32 = 1;
export const VEC_NMI: u32 = 2;
export const VEC_BP: u32 = 3;
export const VEC_OF: u32 = 4;
export const VEC_BR: u32 = 5;
export const VEC_UD: u32 = 6;
export const VEC_NM: u32 = 7;
export const VEC_DF: u32 = 8;
export const VEC_TS: u32 = 10;
export const VEC_NP: u32 = 11;
export const VEC_SS: u32 = 12;
export const VEC_GP: u32 = 13;
export const VEC_PF: u32 = 14;
export const VEC_MF: u32 = 16;
export const VEC_AC: u32 = 17;

// ---- EFLAGS bits ----
export const FLAG_CF: u32 = 0x1;
export const FLAG_PF: u32 = 0x4;
export const FLAG_AF: u32 = 0x10;
export const FLAG_ZF: u32 = 0x40;
export const FLAG_SF: u32 = 0x80;
export const FLAG_TF: u32 = 0x100;
export const FLAG_IF: u32 = 0x200;
export const FLAG_DF: u32 = 0x400;
export const FLAG_OF: u32 = 0x800;
export const FLAG_IOPL: u32 = 0x3000;
export const FLAG_NT: u32 = 0x4000;
export const FLAG_RF: u32 = 0x10000;
export const FLAG_VM: u32 = 0x20000;
export const FLAG_AC: u32 = 0x40000;
export const FLAG_VIF: u32 = 0x80000;
export const FLAG_VIP: u32 = 0x100000;
export const FLAG_ID: u32 = 0x200000;

// ---- CR0 / CR4 bits ----
export const CR0_PE: u32 = 0x1;
export const CR0_MP: u32 = 0x2;
export const CR0_EM: u32 = 0x4;
export const CR0_TS: u32 = 0x8;
export const CR0_ET: u32 = 0x10;
export const CR0_NE: u32 = 0x20;
export const CR0_WP: u32 = 0x10000;
export const CR0_AM: u32 = 0x40000;
export const CR0_NW: u32 = 0x20000000;
export const CR0_CD: u32 = 0x40000000;
export const CR0_PG: u32 = 0x80000000;
export const CR4_VME: u32 = 0x1;
export const CR4_PVI: u32 = 0x2;
export const CR4_TSD: u32 = 0x4;
export const CR4_DE: u32 = 0x8;
export const CR4_PSE: u32 = 0x10;
export const CR4_PGE: u32 = 0x80;

// ---- 32-bit paging (SDM Vol. 3A §4.3, §4.7): PDE/PTE bits and #PF error-code bits ----
// One definition for the CPU's walk (assembly/mmu.ts) and the host's (host/memory/paging.ts).
export const PTE_P: u32 = 0x1;
export const PTE_W: u32 = 0x2;
export const PTE_U: u32 = 0x4;
export const PTE_PWT: u32 = 0x8;
export const PTE_PCD: u32 = 0x10;
export const PTE_A: u32 = 0x20;
export const PTE_D: u32 = 0x40;
export const PTE_PS: u32 = 0x80;
export const PTE_G: u32 = 0x100;
export const PTE_FRAME: u32 = 0xFFFFF000;
export const PDE_LARGE_FRAME: u32 = 0xFFC00000;
export const PDE_LARGE_RSVD: u32 = 0x003FE000;
export const PF_P: u32 = 0x1;
export const PF_W: u32 = 0x2;
export const PF_U: u32 = 0x4;
export const PF_RSVD: u32 = 0x8;

// ==== hw-mode (branch hw-mode): VT-x-like guest mode, AREA_VMCS and EXIT_VMEXIT ====
// A VMCS-like control block (SDM Vol. 3C ch. 24) the host fills before run(). The guest-state area of a real VMCS
// is the vCPU register file itself (AREA_REGS..AREA_VCPU_EVENTS: the activity state is OFF_HALTED, the
// interruptibility state OFF_INT_SHADOW); the host state is the host's own (TypeScript). While OFF_VMX_ON = 1 the
// CPU runs "non-root": the controls below decide what exits. Instruction exits are fault-like as on VT-x: EIP stays
// on the instruction, OFF_VMX_EXIT_INSN_LEN says how far the host must advance it after emulating it.
// Device accesses keep their kvm_run-style exit codes (EXIT_IO_*, EXIT_MMIO_*) so the host completes them by the
// restart protocol, as KVM hands a VMX I/O exit to userspace as KVM_EXIT_IO; the VMCS exit reason then says
// whether that access was a VM exit (30 I/O instruction, 48 EPT violation) or a passed-through port (VMX_NO_EXIT).
// Every other VM exit returns EXIT_VMEXIT. AREA_VMCS lies above VCPU_STATE_SIZE: the host mode saves it itself.
export const AREA_VMCS: u32 = 0xCC0;
export const AREA_VMCS_SIZE: u32 = 0x180;
export const EXIT_VMEXIT: u32 = 13;
export const OFF_VMX_ON: u32 = 0xCC0;        // 1: guest (non-root) mode
export const OFF_VMX_PIN: u32 = 0xCC4;       // pin-based controls (PIN_*)
export const OFF_VMX_PROC: u32 = 0xCC8;      // primary processor-based controls (PROC_*, SDM bit positions)
export const OFF_VMX_PROC2: u32 = 0xCCC;     // secondary controls (PROC2_*)
export const OFF_VMX_EXC_BITMAP: u32 = 0xCD0; // exception bitmap: bit v set => exception v exits (reason 0)
export const OFF_VMX_PF_MASK: u32 = 0xCD4;   // #PF exits iff bit 14 == ((error & mask) == match)
export const OFF_VMX_PF_MATCH: u32 = 0xCD8;
export const OFF_VMX_CR0_MASK: u32 = 0xCDC;  // guest/host mask: host-owned CR0 bits
export const OFF_VMX_CR0_SHADOW: u32 = 0xCE0; // read shadow: what the guest reads in host-owned bits
export const OFF_VMX_CR4_MASK: u32 = 0xCE4;
export const OFF_VMX_CR4_SHADOW: u32 = 0xCE8;
export const OFF_VMX_TSC_OFFSET_LO: u32 = 0xCEC; // added to the TSC the guest reads (PROC_TSC_OFFSET)
export const OFF_VMX_TSC_OFFSET_HI: u32 = 0xCF0;
export const OFF_VMX_IO_BITMAP_A: u32 = 0xCF4; // host-physical address of I/O bitmap A (ports 0..0x7FFF, 4 KiB)
export const OFF_VMX_IO_BITMAP_B: u32 = 0xCF8; // ... B (ports 0x8000..0xFFFF)
export const OFF_VMX_MSR_BITMAP: u32 = 0xCFC;  // host-physical, 4 KiB: read low, read high, write low, write high (1 KiB each)
export const OFF_VMX_EPTP: u32 = 0xD00;       // EPT pointer: host-physical address of the EPT directory | EPTP_AD
export const OFF_VMX_ENTRY_INTR: u32 = 0xD04; // VM-entry interruption information (INTR_INFO_*): injected at run() entry, then cleared
export const OFF_VMX_ENTRY_ERROR: u32 = 0xD08; // its error code
export const OFF_VMX_ENTRY_INSN_LEN: u32 = 0xD0C; // its instruction length (software interrupts/exceptions)
export const OFF_VMX_EXIT_REASON: u32 = 0xD20; // basic exit reason (VMX_EXIT_*), or VMX_NO_EXIT
export const OFF_VMX_EXIT_QUAL: u32 = 0xD24;  // exit qualification (SDM Vol. 3C 27.2.1)
export const OFF_VMX_EXIT_INSN_LEN: u32 = 0xD28;
export const OFF_VMX_EXIT_INTR: u32 = 0xD2C;  // VM-exit interruption information (exception / external interrupt exits)
export const OFF_VMX_EXIT_INTR_ERROR: u32 = 0xD30;
export const OFF_VMX_GUEST_PHYS: u32 = 0xD34; // EPT violation/misconfiguration: the guest-physical address
export const OFF_VMX_GUEST_LINEAR: u32 = 0xD38; // ... and the linear address (QEPT_LIN_VALID)
export const OFF_VMX_EXITS: u32 = 0xD40;      // counter: VM exits
export const OFF_VMX_EPT_WALKS: u32 = 0xD44;  // counter: guest TLB misses walked in two dimensions
export const OFF_VMX_WALK_REFS: u32 = 0xD48;  // counter: memory references of those walks (guest + EPT entries)
export const PIN_EXT_INTR: u32 = 0x1;         // external interrupts (INTR) exit (reason 1) whatever EFLAGS.IF
export const PROC_INTR_WINDOW: u32 = 0x4;     // exit (reason 7) at the first boundary where IF=1 and no STI/MOV SS shadow
export const PROC_TSC_OFFSET: u32 = 0x8;
export const PROC_HLT: u32 = 0x80;
export const PROC_INVLPG: u32 = 0x200;
export const PROC_RDTSC: u32 = 0x1000;
export const PROC_CR3_LOAD: u32 = 0x8000;
export const PROC_CR3_STORE: u32 = 0x10000;
export const PROC_MOV_DR: u32 = 0x800000;
export const PROC_IO_UNCOND: u32 = 0x1000000;
export const PROC_IO_BITMAPS: u32 = 0x2000000;
export const PROC_MTF: u32 = 0x8000000;       // monitor trap flag: exit (reason 37) after the first instruction
export const PROC_MSR_BITMAPS: u32 = 0x10000000; // else every RDMSR/WRMSR exits
export const PROC2_EPT: u32 = 0x2;
// (not architectural) an EPT violation by a data read/write on a not-present entry leaves as the restartable
// EXIT_MMIO_* exit (reason 48 in the VMCS): the host answers it as a device access, like KVM's MMIO fast path
export const PROC2_EPT_MMIO: u32 = 0x40000000;
export const EPTP_AD: u32 = 0x40;             // EPT accessed/dirty flags enabled
// The EPT (2-level, 32-bit guest-physical addresses; the directory is one 4 KiB page of 1024 entries):
//   directory entry: R W X (bits 0..2), bit 7 PS = 4 MiB page (bits 31:22 frame, 21:12 reserved), bit 8 accessed,
//   bit 9 dirty (4 MiB pages), bits 31:12 the table's host-physical address; table entry: R W X, bit 8 accessed,
//   bit 9 dirty, bits 31:12 frame. R=W=X=0: not present (violation). Misconfigured (reason 49): W without R,
//   bits 3..6 set (memory type: only write-back exists), PS in a table entry, a 4 MiB frame with bits 21:12 set,
//   or a table outside host RAM.
export const EPT_R: u32 = 0x1;
export const EPT_W: u32 = 0x2;
export const EPT_X: u32 = 0x4;
export const EPT_RSVD: u32 = 0x78;
export const EPT_PS: u32 = 0x80;
export const EPT_A: u32 = 0x100;
export const EPT_D: u32 = 0x200;
// VM-entry/exit interruption information: vector 7:0, type 10:8, error code valid 11, valid 31
export const INTR_INFO_VALID: u32 = 0x80000000;
export const INTR_INFO_ERR: u32 = 0x800;
export const INTR_TYPE_EXT: u32 = 0x000;
export const INTR_TYPE_NMI: u32 = 0x200;
export const INTR_TYPE_HW_EXC: u32 = 0x300;
export const INTR_TYPE_SOFT_INT: u32 = 0x400;
export const INTR_TYPE_SOFT_EXC: u32 = 0x600;
// basic exit reasons (SDM Vol. 3C appendix C)
export const VMX_EXIT_EXCEPTION: u32 = 0;
export const VMX_EXIT_EXT_INTR: u32 = 1;
export const VMX_EXIT_TRIPLE_FAULT: u32 = 2;
export const VMX_EXIT_INTR_WINDOW: u32 = 7;
export const VMX_EXIT_CPUID: u32 = 10;
export const VMX_EXIT_HLT: u32 = 12;
export const VMX_EXIT_INVLPG: u32 = 14;
export const VMX_EXIT_RDTSC: u32 = 16;
export const VMX_EXIT_VMCALL: u32 = 18;
export const VMX_EXIT_CR: u32 = 28;           // qualification: the QK_CR layout (OFF_EXIT_QUAL)
export const VMX_EXIT_DR: u32 = 29;           // qualification: the QK_DR layout
export const VMX_EXIT_IO: u32 = 30;           // qualification: the QK_IO layout
export const VMX_EXIT_RDMSR: u32 = 31;
export const VMX_EXIT_WRMSR: u32 = 32;
export const VMX_EXIT_MTF: u32 = 37;
export const VMX_EXIT_EPT_VIOLATION: u32 = 48;
export const VMX_EXIT_EPT_MISCONFIG: u32 = 49;
export const VMX_NO_EXIT: u32 = 0xFFFF;       // run() returned for something that is not a VM exit (budget, a passed-through port)
// EPT-violation qualification: access (read, write, fetch), the entry's permissions (R W X), linear address valid,
// and bit 8: the access was the final translation (1) rather than a guest paging-structure read/update (0)
export const QEPT_READ: u32 = 0x1;
export const QEPT_WRITE: u32 = 0x2;
export const QEPT_FETCH: u32 = 0x4;
export const QEPT_PERM_SHIFT: u32 = 3;
export const QEPT_LIN_VALID: u32 = 0x80;
export const QEPT_FINAL: u32 = 0x100;
// ==== hw-apic (branch hw-apic): APIC-access virtualization in guest mode (SDM Vol. 3C 29.4) ====
// "Virtualize APIC accesses" (secondary control bit 0): a guest access whose physical address is in the APIC-access
// page is answered by the CPU's in-CPU local APIC (assembly/apic.ts, the registers of AREA_APIC) with no VM exit;
// what that code cannot answer (the timer's side effects, ICR, a level-triggered EOI, a partial access ...) exits
// exactly as without the control. The address is the one the device access is made at: with EPT the guest-physical
// address (device memory has no EPT entry: PROC2_EPT_MMIO), without EPT the host-physical address the shadow page
// tables map the guest's APIC page to. Without the control no access in guest mode is answered in the CPU.
export const PROC2_VIRT_APIC: u32 = 0x1;
export const OFF_VMX_APIC_ACCESS: u32 = 0xD4C; // the APIC-access address (4 KiB aligned; low bits ignored)
// ==== hw-tlb (branch hw-tlb): VPID, the nested paging-structure cache, APIC-access exits (VMCS 0xD50..0xDA0) ====
// "Enable VPID" (secondary control bit 5, SDM Vol. 3C 28.1): TLB entries made in guest mode are tagged with the
// 16-bit VPID, so VM entries and exits leave them alone. Without it (or with VPID 0) every VM exit and entry flushes
// every linear and combined translation (SDM 28.3.3.1: they belong to VPID 0000H, the host's). The TLB holds one
// tag's entries at a time: an entry with another tag than the one it holds (another VPID, or root mode) drops them.
// A guest MOV to CR3 flushes the non-global entries of the current VPID (as on bare metal); the host's INVVPID is
// the wasm export invvpid(type, vpid, linear) (Machine.invvpid; INVVPID_* types).
export const PROC2_VPID: u32 = 0x20;
export const OFF_VMX_VPID: u32 = 0xD50;       // the VPID (bits 15:0)
export const INVVPID_ADDR: u32 = 0;           // individual address: the translations of one linear page of that VPID
export const INVVPID_SINGLE: u32 = 1;         // single context: every translation of that VPID
export const INVVPID_ALL: u32 = 2;            // all contexts
export const INVVPID_SINGLE_KEEP_GLOBAL: u32 = 3; // single context except global translations
export const OFF_VMX_TLB_FLUSHES: u32 = 0xD54; // counter: whole-TLB flushes by VM entries/exits (no VPID) and tag switches
// (not architectural: real CPUs have no switch for their page-walk caches) the nested TLB (Bhargava et al., ASPLOS
// 2008: "NTLB"): with OFF_VMX_PWC = 1 the 2-D walk keeps the guest-physical -> host-physical translations of the
// guest's paging-structure pages (64 entries, direct-mapped by guest-physical page, tagged with the EPTP) and reads a
// guest PDE/PTE with one memory reference instead of three. Only translations whose EPT entries already have A (and
// D, for the guest's A/D writes) are kept; INVEPT (Machine.flushTlb) and an EPTP change flush it. OFF_VMX_WALK_REFS
// counts the references a walk really makes.
export const OFF_VMX_PWC: u32 = 0xD58;        // 1: the nested TLB is on
export const OFF_VMX_PWC_HITS: u32 = 0xD5C;   // counter: paging-structure accesses translated by the nested TLB
export const OFF_VMX_PWC_MISSES: u32 = 0xD60; // counter: ... walked through the EPT
// APIC-access VM exit (basic reason 44, SDM 27.2.1 table 27-6): with PROC2_VIRT_APIC, an access to the APIC-access
// page the CPU does not virtualize exits with reason 44 instead of 48; qualification bits 11:0 the offset, 15:12 the
// access type. The access still leaves as the restartable EXIT_MMIO_* device access (the host's handling is the same).
export const VMX_EXIT_APIC_ACCESS: u32 = 44;
export const QAPIC_READ: u32 = 0x0000;        // linear access for a data read
export const QAPIC_WRITE: u32 = 0x1000;       // linear access for a data write
export const QAPIC_FETCH: u32 = 0x2000;       // linear access for an instruction fetch
export const QAPIC_EVENT: u32 = 0x3000;       // linear access during event delivery
// ==== hw-ept-large (branch hw-ept-large): the TPR shadow (SDM Vol. 3C 29.1, 29.4; VMCS 0xD64..0xD90) ====
// "Use TPR shadow" (primary control bit 21) with "virtualize APIC accesses": an aligned 32-bit guest read of offset
// 080H of the APIC-access page returns VTPR, the dword at offset 080H of the virtual-APIC page (host-physical
// OFF_VMX_VAPIC_PAGE, 4 KiB aligned, in host RAM: else the control acts as off), and such a write stores VTPR there,
// with no VM exit; then (TPR virtualization, SDM 29.1.2) if VTPR bits 7:4 < OFF_VMX_TPR_THRESHOLD bits 3:0, a
// trap-like VM exit with reason 43 (EIP past the write, no qualification). VM entry with VTPR already below the
// threshold exits with reason 43 before the first guest instruction (after an injected event; SDM 26.7.7). The
// 32-bit CPU has no CR8: the APIC page is the only way to the TPR. Other APIC registers: as without the control.
export const PROC_TPR_SHADOW: u32 = 0x200000;
export const OFF_VMX_VAPIC_PAGE: u32 = 0xD64;     // host-physical address of the virtual-APIC page
export const OFF_VMX_TPR_THRESHOLD: u32 = 0xD68;  // bits 3:0 (bits 31:4 ignored)
export const OFF_VMX_TPR_INCPU: u32 = 0xD6C;      // counter: TPR reads and writes served from the virtual-APIC page
export const VMX_EXIT_TPR_BELOW_THRESHOLD: u32 = 43;
// ==== end hw-ept-large block ====
// ==== hw-apicv (branch hw-apicv): APIC-register virtualization (SDM Vol. 3C 30.4; VMCS 0xD70..0xD9F) ====
// Secondary control bit 8, with "virtualize APIC accesses" and "use TPR shadow" (else it acts as off, as VM entry
// would refuse it) and a virtual-APIC page in host RAM: a guest read of the APIC-access page of 1, 2 or 4 bytes lying
// within the first 4 bytes of one of the registers the SDM lists (ID 020H, version 030H, TPR 080H, EOI 0B0H, LDR
// 0D0H, DFR 0E0H, SVR 0F0H, ISR/TMR/IRR 100H-270H, ESR 280H, ICR 300H/310H, LVT 320H-370H, timer
// initial count 380H, divide configuration 3E0H; not LVT CMCI 2F0H: our APIC has none) returns the virtual-APIC
// page's bytes at that offset, with no VM
// exit; a write of 1-4 bytes within 080H-083H stores VTPR (bytes 081H-083H cleared) and runs TPR virtualization
// (reason 43 below the threshold). Every other access to the page is an APIC-access exit (reason 44) — with one
// exception for a CPU whose in-CPU local APIC shares the host model (APIC_CTRL_INCPU): the timer's current count
// (390H, not in the SDM's list: it changes every bus cycle) is answered from that shared model as in native mode,
// and an edge EOI (0B0H) the in-CPU APIC can complete exactly is done there (ISR bit cleared in the model and in
// the virtual-APIC page) when VTPR equals the model's TPR. Writes the SDM virtualizes only with virtual-interrupt
// delivery (EOI, self-IPI) and its APIC-write exits (reason 56) are not modelled: those writes take reason 44.
export const PROC2_APIC_REG_VIRT: u32 = 0x100;
export const OFF_VMX_APICV_READS: u32 = 0xD70;  // counter: APIC-access page reads served from the virtual-APIC page
// ==== end hw-apicv block ====
// ==== hw-shadow (branch hw-shadow): hw mode without nested paging (--npt off, first-generation VT-x) ====
// IDT-vectoring information (SDM 27.2.4): when an exception that exits (the exception bitmap: shadow paging's
// hidden #PF) occurs while the CPU delivers an event through the guest IDT, the event being delivered is recorded
// here (INTR_INFO_* layout) so the host can re-inject it after fixing the cause; cleared at every run() entry.
// Read by the host right after the exit: scratch, never saved.
export const AREA_HWSHADOW: u32 = 0xA80;
export const AREA_HWSHADOW_SIZE: u32 = 0x80;
export const OFF_VMX_IDT_VEC_INFO: u32 = 0xA80;
export const OFF_VMX_IDT_VEC_ERROR: u32 = 0xA84;
// ==== full-linux (branch full-linux): more of the deprivileged kernel's sensitive instructions in the CPU ====
// CTRL_FAST_SREG, at a virtual CPL below 3 (host/full/README.md "Fast paths"): push cs / push ss / mov r/m, cs|ss
// (the x86 hole: the real CS/SS carry RPL 3) store the selector with the virtual CPL as its RPL, as the monitor's
// emulation does; and IRET from virtual CPL 0 to virtual CPL 0 (32-bit, CS from the guest's GDT through the
// current shadow, already accessed; TF/NT/VM, an LDT selector or an IRET that opens the interrupt window while a
// virtual interrupt waits: the old exit). Linux's interrupt entry reads CS/SS, its sync_core() is pushf; push cs;
// push $1f; iret (tens of thousands per boot), and every interrupt of the kernel returns to the kernel.
// Counters: scratch above VCPU_STATE_SIZE (a snapshot does not carry them; the monitor's exit counts are saved).
export const CTRL_FAST_SREG: u32 = 0x20000;
export const OFF_FF_N_SREG: u32 = 0xA88;   // CPU counter: push/mov of CS/SS done in the CPU
export const OFF_FF_N_IRET0: u32 = 0xA8C;  // CPU counter: IRETs from virtual CPL 0 to 0 done in the CPU
// ==== end full-linux block ====
// ==== full-ptw (branch full-ptw): guest page-table writes and hidden shadow fills in the CPU (issue 11) ====
// CTRL_FAST_PT (host/full/README.md "Page-table writes and fills in the CPU", assembly/fullpt.ts): a #PF of the
// deprivileged guest's shadow walk that the monitor would resolve without the guest noticing is resolved in the
// CPU: a hidden fill (the guest's entries allow the access, the shadow PT for them exists and was built from the
// guest PT the walk used: the shadow PTE is filled with the monitor's rule, the guest's A/D set, the access goes on)
// and a store to a write-protected guest PT/PD page (done in guest memory, the shadow PTEs derived from the changed
// words zapped). The monitor keeps the policy and mirrors what the CPU needs into VMM-region memory (machine-physical,
// never mapped to the guest; host/full/ptmirror.ts): per guest frame a word (chain head of the shadow pages built
// from it: FPT_HEAD_MASK, +1; its emulated-write count: bits 24..31), per VMM page two words (source frame + 1;
// next in chain + 1 | kind << FPT_KIND_SHIFT | pdi << 16), and a log of the writable shadow PTEs the CPU made (the
// monitor's reverse map takes them in before it revokes write access). Anything else: the old #PF exit.
// Published by the monitor (scratch above VCPU_STATE_SIZE: republished after a restore); 0 frames = off.
export const CTRL_FAST_PT: u32 = 0x8000;
export const OFF_FPT_FRAMES: u32 = 0xA90;   // monitor: machine address of the per-frame words
export const OFF_FPT_NFRAMES: u32 = 0xA94;  // monitor: guest frames (guest RAM / 4 KiB); 0 = no mirror
export const OFF_FPT_PAGES: u32 = 0xA98;    // monitor: machine address of the per-VMM-page words (8 bytes per page)
export const OFF_FPT_NPAGES: u32 = 0xA9C;   // monitor: VMM pages (the VMM region / 4 KiB)
export const OFF_FPT_RAMOFF: u32 = 0xAA0;   // monitor: machine-physical = guest-physical + this
export const OFF_FPT_LOG: u32 = 0xAA4;      // monitor: machine address of the log: count, then (frame, spte) pairs
export const OFF_FPT_LOG_CAP: u32 = 0xAA8;  // monitor: entries the log holds
export const OFF_FPT_FLOOD: u32 = 0xAAC;    // monitor: a frame's write count at which the monitor unshadows it
export const OFF_FPT_N_WRITES: u32 = 0xAB0; // CPU counter: page-table stores done in the CPU
export const OFF_FPT_N_FILLS: u32 = 0xAB4;  // CPU counter: hidden fills done in the CPU
// ... and invlpg at virtual CPL 0 (a #GP at the real CPL 3): the entry dropped from both shadows of the current
// address space (the K shadow is the real CR3; the U shadow as publishFast published it, OFF_FF_UPD), as shadow.ts invlpg
export const OFF_FPT_N_INVLPG: u32 = 0xAB8; // CPU counter: invlpg done in the CPU
export const FPT_HEAD_MASK: u32 = 0xFFF;
export const FPT_COUNT_SHIFT: u32 = 24;
export const FPT_KIND_SHIFT: u32 = 12;
export const FPT_KIND_PT: u32 = 1;          // a shadow page table (pdi in bits 16..25)
export const FPT_KIND_PD_K: u32 = 2;        // a kernel-view (K) shadow page directory
export const FPT_KIND_PD_U: u32 = 3;        // a user-view (U) shadow page directory
// ==== end full-ptw block ====
// ==== full-pf (branch full-pf): true page faults from guest user mode delivered in the CPU (issue 11) ====
// CTRL_FAST_PF (assembly/fullfast.ts fastPageFault; host/full/README.md "Fast paths"): a #PF the deprivileged guest
// raises at virtual CPL 3 (a user access) that the shadow cannot fill because the guest's own walk refuses it (its PDE
// or PTE not present, or not allowed to a user / to a write) is delivered through the guest's IDT into its kernel in
// the CPU, as CTRL_FAST_INT delivers INT n: the error code of the guest's walk (not the shadow's), the virtual CR2,
// the guest PDE's accessed bit as the walk sets it, the 32-bit frame with RF on the ring-0 stack from the guest's
// TSS, the K shadow without a flush. Only with CTRL_FAST_INT (its published switch) and the page-table mirror's frame
// count (OFF_FPT_NFRAMES, OFF_FPT_RAMOFF). Anything else (a hidden fault, 4 MiB pages, paging off, the VMM's PDE, a
// system access, any rule or read that would fault during delivery, a 16-bit or task gate, TF) takes the #PF exit.
export const CTRL_FAST_PF: u32 = 0x10000;
export const OFF_FPF_N: u32 = 0xAC0;        // CPU counter: page faults delivered in the CPU
// ==== end full-pf block ====
// ==== launch-speed: the machine pool (Machine.release, host/machine.ts; assembly/recycle.ts) ====
// One bit per guest-physical page written since the machine was created or recycled: every guest write reaches
// RAM through a TLB write entry (made by translate) or physWr32, and every host write through notifyHostWrite;
// all three pass mmu.ts codeWrite, which sets the bit. Recycling zeroes just those pages. The bitmap lives in
// the unused tail of the page-info table (MAX_RAM_SIZE / 4 KiB entries end at PAGEINFO_BASE + 0x3C0000).
export const DIRTY_BASE: u32 = 0x5C0000;
export const DIRTY_SIZE: u32 = 0x20000;
// ==== jit-tier (branch jit-tier): batched compiles ====
// env.jitCompile may answer JIT_QUEUED instead of a table index: the host queued the block for a batch (several
// blocks in one WebAssembly.Module, host/jit/batch.ts). The CPU keeps interpreting it and counts its runs again
// from 0, so a block still hot asks again after OFF_JIT_THRESHOLD more runs (the host then compiles the batch);
// the host installs the batch's functions in their blocks' BLK_JIT itself.
export const JIT_QUEUED: u32 = 0xFFFFFFFF;
// u64 counter: instructions retired inside compiled code (the rest of icount ran in the interpreter). Scratch above
// VCPU_STATE_SIZE: not saved, like the host's own statistics.
export const AREA_JIT_TIER: u32 = 0xFC0;
export const AREA_JIT_TIER_SIZE: u32 = 0x8;
export const OFF_JIT_RETIRED: u32 = 0xFC0;
// ==== end jit-tier block ====
