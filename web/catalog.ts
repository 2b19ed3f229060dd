// catalog.ts — the guests `wasmvisor serve` offers the page (GET /api/guests), shared by host/cli/serve.ts and web/main.ts.

export interface GuestEntry {
  id: string;
  label: string;
  /** URL of the multiboot ELF for native and full mode */
  image: string;
  /** URL of the paravirtualized build (para mode), if there is one */
  pvImage?: string;
  /** URLs of disk images: ATA primary master / slave (para: the first / second virtio-blk) */
  disk?: string;
  disk2?: string;
  /** a zero-filled disk of this many bytes as the primary master */
  blankDisk?: number;
  memSize: number;
  cmdline?: string;
  /** one line about what it does */
  about: string;
}

export interface Catalog { guests: GuestEntry[] }
