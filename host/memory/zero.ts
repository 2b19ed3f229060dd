// zero.ts — zeroing a range of a Machine's RAM without touching pages known to be zero. A fresh or recycled machine
// (host/cpu-instances.ts) knows which pages anything wrote since it was made (Machine.writtenPages); the others are
// zero already, and writing zeros over them would mark them written, so release() would zero them again. Para
// mode's domain builder clears its 8 MiB VMM region this way on every load.
import { type Machine, pageWritten } from "../machine.ts";

const PAGE = 4096;

/** Makes machine-physical [start, start + len) zero, filling only the pages that may hold something (all when unknown). */
export function zeroRam(m: Machine, start: number, len: number): void {
  const written = m.writtenPages();
  if (!written) { m.fillMem(start, len, 0); return; }
  const end = start + len;
  let a = start;
  while (a < end) {
    const p = Math.floor(a / PAGE), next = Math.min(end, (p + 1) * PAGE);
    if (pageWritten(written, p)) {
      // a run of written pages: one fill
      let b = next;
      while (b < end && pageWritten(written, Math.floor(b / PAGE))) b = Math.min(end, b + PAGE);
      m.fillMem(a, b - a, 0);
      a = b;
    } else a = next;
  }
}
