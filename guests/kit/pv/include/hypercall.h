// hypercall.h -- the para-mode ABI as the guest sees it (host/para/abi.ts is the
// VMM's copy; host/para/README.md documents both).
//
//   VMCALL (0f 01 c1): eax = call number, ebx ecx edx = arguments,
//   eax = result (>= 0) or -errno. Ring 1 only (ring 3 gets -EPERM).
//   Discovery: CPUID 0x40000000 -> ebx ecx edx = "wasmvisorPV ".
#ifndef KIT_PV_HYPERCALL_H
#define KIT_PV_HYPERCALL_H
#include "types.h"

#define HC_VERSION 0
#define HC_CONSOLE_WRITE 1   // (pa, len)
#define HC_SET_TRAP_TABLE 2  // (pa of gate array, entries)
#define HC_STACK_SWITCH 3    // (ss, esp): kernel stack for traps from ring 3
#define HC_MMU_UPDATE 4      // (pa of {ptr, val}[], count): all or nothing
#define HC_MMUEXT_OP 5       // (pa of {cmd, arg}[], count)
#define HC_SET_TIMER 6       // (period ns; 0 = off): periodic event on port 0
#define HC_SCHED_OP 7        // (SCHEDOP_*)
#define HC_EVTCHN_OP 8       // (EVTCHNOP_*, port)
#define HC_SHUTDOWN 9        // (code)
#define HC_SET_GDT 10        // (pa, entries)
#define HC_READ_CR2 11
#define HC_VIRTIO_NOTIFY 12  // (slot, queue)
#define HC_EVENT_POLL 13     // deliver pending events now

#define MMUEXT_PIN_L1 1
#define MMUEXT_PIN_L2 2
#define MMUEXT_UNPIN 3
#define MMUEXT_NEW_BASEPTR 4
#define MMUEXT_INVLPG 5
#define MMUEXT_TLB_FLUSH 6
#define SCHEDOP_YIELD 0
#define SCHEDOP_BLOCK 1
#define EVTCHNOP_UNMASK 0
#define EVTCHNOP_MASK 1
#define EVTCHNOP_EOI 2

// the shared info page, mapped by the VMM in every address space (hole, PDE 1023)
struct pv_shared {
  u32 upcall_mask;        // 1 = events masked: the virtual IF (written directly)
  u32 upcall_pending;     // set by the VMM: something waits for unmask
  u32 evtchn_pending;     // bit per port
  u32 evtchn_mask;        // bit per port (EVTCHNOP_MASK/UNMASK)
  u32 evtchn_in_service;  // set on delivery; the guest clears it (EOI)
  u32 pad[3];
  u32 magic, version, guest_top, pt_base, pt_frames, ident_top, mmio_va, virtio_count, event_vector_base;
};
#define PV_SHARED ((volatile struct pv_shared *)0xffc04000u)
#define PV_MMIO_VA 0xffe00000u
#define PV_SLOT_CONSOLE 0
#define PV_SLOT_BLK 1
#define PV_CR0 0x80010011u  // PG WP ET PE: what read_cr0() reports

void pv_console_flush(void);  // pv/console.c
extern u32 pv_cr3;            // pv/vm.c: the current page directory
#endif
