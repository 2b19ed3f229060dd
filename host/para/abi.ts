// abi.ts — the para-mode hypercall ABI and the guest-physical / virtual layout (documented in README.md beside
// this file; guests/kit/pv/include/hypercall.h is the guest's copy of these numbers).
export const PV_SIGNATURE = "wasmvisorPV "; // CPUID 0x40000000 EBX ECX EDX
export const PV_ABI_VERSION = 0x00010000; // major 1, minor 0: HC_VERSION returns it

export const HC = {
  VERSION: 0,
  CONSOLE_WRITE: 1,
  SET_TRAP_TABLE: 2,
  STACK_SWITCH: 3,
  MMU_UPDATE: 4,
  MMUEXT_OP: 5,
  SET_TIMER: 6,
  SCHED_OP: 7,
  EVTCHN_OP: 8,
  SHUTDOWN: 9,
  SET_GDT: 10,
  READ_CR2: 11,
  VIRTIO_NOTIFY: 12,
  EVENT_POLL: 13,
} as const;
export const HC_NAMES = Object.fromEntries(Object.entries(HC).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;

export const MMUEXT = { PIN_L1: 1, PIN_L2: 2, UNPIN: 3, NEW_BASEPTR: 4, INVLPG: 5, TLB_FLUSH: 6 } as const;
export const SCHEDOP = { YIELD: 0, BLOCK: 1 } as const;
export const EVTCHNOP = { UNMASK: 0, MASK: 1, EOI: 2 } as const;

/** Negative errno results (Linux numbering, as Xen uses). */
export const E = { PERM: -1, NOENT: -2, FAULT: -14, BUSY: -16, INVAL: -22, NOSYS: -38, RANGE: -34 } as const;

// ---- layout ----
export const PAGE = 4096;
/** The VMM region: the top VMM_PAGES pages of guest-physical RAM, never mappable by the guest, never DMA-able. */
export const VMM_PAGES = 16;
export const VMM_SIZE = VMM_PAGES * PAGE;
/** The hypervisor hole: PDE 1023, installed by the VMM in every page directory the guest pins. */
export const HOLE_PDX = 1023;
export const HOLE_VA = 0xffc00000;
// pages of the VMM region (offsets from its base), mapped at HOLE_VA + offset
export const VMM_HOLE_PT = 0x0000; // the L1 that maps the hole (supervisor)
export const VMM_GDT = 0x1000; // read-only to the guest
export const VMM_IDT = 0x2000; // read-only to the guest
export const VMM_TSS = 0x3000; // read-only to the guest
export const VMM_SHARED = 0x4000; // shared info: guest read-write
/** The virtio-mmio window (host/virtio/mmio.ts VIRTIO_MMIO_BASE) appears at this virtual address, supervisor RW. */
export const HOLE_MMIO_VA = 0xffe00000;
export const SHARED_VA = HOLE_VA + VMM_SHARED;

// ---- the shared info page (guest-writable, at SHARED_VA) ----
export const SH = {
  UPCALL_MASK: 0x00, // u32: 1 = events masked (virtual IF = 0); the guest writes it directly
  UPCALL_PENDING: 0x04, // u32: the VMM sets it when a deliverable event waits for unmask
  EVTCHN_PENDING: 0x08, // u32 bitmap of ports with an event
  EVTCHN_MASK: 0x0c, // u32 bitmap of masked ports (changed by EVTCHN_OP, read-only by convention)
  EVTCHN_IN_SERVICE: 0x10, // u32 bitmap: set by the VMM on delivery, cleared by the guest (EOI, a plain write)
  // start info, written by the VMM at boot
  MAGIC: 0x20, // "WVPV"
  VERSION: 0x24,
  GUEST_TOP: 0x28, // bytes of RAM the guest may allocate: [0, GUEST_TOP)
  PT_BASE: 0x2c, // physical address of the initial page directory (pinned)
  PT_FRAMES: 0x30, // frames of initial page tables, at [GUEST_TOP, GUEST_TOP + PT_FRAMES*4K)
  IDENT_TOP: 0x34, // the initial page tables identity-map [0, IDENT_TOP) (supervisor; page tables read-only)
  MMIO_VA: 0x38, // virtual address of the virtio-mmio window
  VIRTIO_COUNT: 0x3c, // device slots in the window (0x200 bytes each; DeviceID 0 = empty slot)
  EVENT_VECTOR_BASE: 0x40, // port p is delivered at this vector + p
  SYSTEM_TIME_NS: 0x48, // u64 virtual time, updated at every exit
} as const;
export const SHARED_MAGIC = 0x56505657; // "WVPV"
export const EVENT_VECTOR_BASE = 32;
/** event-channel ports: the timer, and virtio device i at VIRTIO_PORT_BASE + i */
export const PORT_TIMER = 0;
export const VIRTIO_PORT_BASE = 5;

// ---- selectors of the VMM's GDT (the same indices as guests/kit/include/mmu.h, kernel at ring 1) ----
export const GDT_ENTRIES = 16;
export const TSS_INDEX = 5;
export const SEL = { KCODE: 0x08 | 1, KDATA: 0x10 | 1, UCODE: 0x18 | 3, UDATA: 0x20 | 3, TSS: 0x28 } as const;
