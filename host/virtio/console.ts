// console.ts — virtio-console (virtio 1.x §5.3), device ID 3, a single port: queue 0 receiveq (host → guest),
// queue 1 transmitq (guest → host). No MULTIPORT, so no control queues.
//
// Config (§5.3.4): le16 cols @0, le16 rows @2, le32 max_nr_ports @4, le32 emerg_wr @8.
// Features: SIZE (0) and EMERG_WRITE (2): a 32-bit write of a character to emerg_wr prints it with no queue at all
// (for early boot and panics).
//
// transmitq chains are device-readable bytes, printed in order; the used length is 0 (nothing written back).
// receiveq chains are device-writable buffers filled from the input queue (stdin) when the driver kicks queue 0 or
// when input arrives; one interrupt per batch. A receive buffer the memory policy refuses (a page-table frame, in
// para mode) is returned with length 0 and counted (rxPolicyRefused); the input stays queued.
import { readFromChain, writeSlices, writeToChain } from "./chain.ts";
import type { GuestMemory } from "./memory.ts";
import type { VirtioDeviceModel } from "./mmio.ts";
import { type Queue, QueueError } from "./queue.ts";

export const VIRTIO_ID_CONSOLE = 3;
export const CONSOLE_F = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;
export const CONSOLE_QUEUE_SIZE = 64;

export class VirtioConsole implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly queueSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  readonly configSize = 12;
  readonly features = (1n << BigInt(CONSOLE_F.SIZE)) | (1n << BigInt(CONSOLE_F.EMERG_WRITE));
  readonly stats = { txChains: 0, txBytes: 0, rxBytes: 0, emergBytes: 0, rxPolicyRefused: 0 };
  private input: number[] = [];
  private readonly config = new Uint8Array(12);

  constructor(private readonly onOutput: (bytes: Uint8Array) => void) {
    const dv = new DataView(this.config.buffer);
    dv.setUint16(0, 80, true);
    dv.setUint16(2, 25, true);
    dv.setUint32(4, 1, true);
  }

  readConfig(o: number): number { return this.config[o] ?? 0; }
  private emerg = 0;
  writeConfig(o: number, v: number): void {
    // emerg_wr is a 32-bit register: the character is its low byte, taken when byte 8 is written
    if (o === 8) { this.emerg = v; this.stats.emergBytes++; this.onOutput(Uint8Array.of(this.emerg)); }
  }

  /** queue bytes for the guest; the transport's owner calls notify(0) afterwards to deliver them */
  receive(bytes: Uint8Array): void { for (const b of bytes) this.input.push(b); }
  get inputPending(): number { return this.input.length; }

  process(q: number, queue: Queue, mem: GuestMemory): QueueError | null {
    for (;;) {
      if (q === 0 && this.input.length === 0) return null;
      const c = queue.pop(mem);
      if (c === null) return null;
      if (c instanceof QueueError) return c;
      if (q === 1) {
        const bytes = readFromChain(mem, c, 0, c.readLen);
        this.stats.txChains++;
        this.stats.txBytes += bytes.length;
        if (bytes.length) this.onOutput(bytes);
        const e = queue.addUsed(mem, c.head, 0);
        if (e) return e;
      } else {
        const chunk = Uint8Array.from(this.input.slice(0, c.writeLen));
        // the memory policy first (para mode): a buffer in a frame the guest may not write gets nothing
        let n = 0;
        if (mem.checkWrites(writeSlices(c, 0, chunk.length))) n = writeToChain(mem, c, 0, chunk);
        else this.stats.rxPolicyRefused++;
        this.input.splice(0, n);
        this.stats.rxBytes += n;
        const e = queue.addUsed(mem, c.head, n);
        if (e) return e;
      }
    }
  }

  reset(): void { /* input stays queued for the next driver */ }
}
