// protocol.ts — the messages between the page (main.ts) and the worker that runs the CPU (worker.ts).

/** page → worker */
export type ToWorker =
  | {
    type: "start";
    /** where the page found build/cpu.wasm */
    wasmUrl: string;
    mode: string;
    image: ArrayBuffer;
    cmdline: string;
    memSize: number;
    /** ATA primary master / slave (para mode: the virtio-blk pair), in-memory images */
    disk?: ArrayBuffer;
    disk2?: ArrayBuffer;
  }
  | { type: "input"; bytes: Uint8Array }
  /** the terminal has written this many characters of console text (back-pressure, CONSOLE_WINDOW) */
  | { type: "ack"; chars: number };
// (the page stops a guest by terminating its worker: the CPU may be in the middle of a slice)

/** One sample of the live counters, taken every SAMPLE_MS of wall time. */
export interface Sample {
  /** ms since the guest started */
  t: number;
  /** instructions retired so far */
  instructions: number;
  /** millions of instructions per second over the last interval */
  mips: number;
  /** CPU exits per second over the last interval, by cause (the exit names of host/machine.ts; zeros left out) */
  exitsPerSec: Record<string, number>;
  /** full mode: shadow page faults (hidden + true, the monitor's and the CPU's) per second over the last interval, and in all */
  shadowFaultsPerSec?: number;
  shadowFaults?: number;
  /** full mode: the monitor's exits per second by cause (#PF, patched popf, out, …) */
  monitorPerSec?: Record<string, number>;
}

/** worker → page */
export type FromWorker =
  | { type: "started"; mode: string }
  | { type: "console"; text: string }
  | { type: "sample"; sample: Sample }
  | { type: "done"; exitStatus: number; stopReason: string; message: string }
  | { type: "error"; message: string };

export const SAMPLE_MS = 500;
/** Console characters sent but not yet written by the terminal: past this the worker pauses the guest (at its
 * next exit) until the page acknowledges, so a guest flooding its console runs as fast as the terminal draws. */
export const CONSOLE_WINDOW = 256 * 1024;
