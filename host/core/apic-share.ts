// apic-share.ts — the local APIC's registers in the CPU's STATE block (AREA_APIC), shared without backing guest RAM:
// the view comes from Machine.stateView (taking Machine.memory would back all of RAM at once) and is made again
// whenever the CPU's memory grows (RAM backed on first touch, assembly/ram-backing.ts), which detaches old views.
import type { Machine } from "../machine.ts";
import * as A from "../abi.generated.ts";
import type { Platform } from "./platform.ts";

function apicArea(m: Machine): Uint32Array {
  return new Uint32Array(m.stateView.buffer, A.STATE_BASE + A.AREA_APIC, A.AREA_APIC_SIZE / 4);
}

/** Moves the platform's local APIC (if any) into the machine's AREA_APIC; returns the area as it is now, or null. */
export function shareApic(platform: Platform, m: Machine, machineOffset = 0): Uint32Array | null {
  if (!platform.shareApic) return null;
  const area = apicArea(m);
  platform.shareApic(area, machineOffset);
  m.onMemoryGrow(() => platform.rebindApic?.(apicArea(m)));
  return area;
}
