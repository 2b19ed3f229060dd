// console-sink.ts — the guest's console streamed to a Writable (stdout) with bounded memory.
//
// The VM hands over console text as the guest writes it; the sink passes it straight to the stream and never keeps
// a copy. When the stream stops taking data (a slow pipe or terminal: Node buffers pipe writes in memory), `full`
// turns true once `highWater` bytes wait in the stream; the run loop then pauses the guest (RunOptions.pauseWhen)
// and waits for 'drain' before running it again. At most highWater + one flush of the VM (a console line, at most
// 4 KiB, or one hypercall / virtio request) is ever buffered, however fast the guest writes.
//
// Write errors end the run: EPIPE (the reader went away, as with `| head -1`) quietly, anything else (ENOSPC on
// `>/dev/full`, EIO...) with one line. After an error the sink drops further text.
import type { Writable } from "node:stream";

export const CONSOLE_HIGH_WATER = 256 << 10;

export class ConsoleSink {
  /** the first write error (the run stops on it), or null */
  error: NodeJS.ErrnoException | null = null;
  /** bytes handed to the stream (for tests and stats) */
  written = 0;
  /** how often the guest was paused for a slow reader */
  pauses = 0;
  private readonly onError = (e: NodeJS.ErrnoException) => { this.error ??= e; this.wake(); };
  private waiters: (() => void)[] = [];

  constructor(private readonly out: Writable, private readonly highWater = CONSOLE_HIGH_WATER) {
    out.on("error", this.onError);
    out.on("drain", () => this.wake());
  }

  /** Passes console text on; a no-op after a write error. */
  readonly write = (text: string): void => {
    if (this.error || this.out.destroyed) return;
    this.written += text.length;
    try {
      this.out.write(text);
    } catch (e) { // a synchronous stream (a file) may throw instead of emitting 'error'
      this.onError(e as NodeJS.ErrnoException);
    }
  };

  /** The guest must stop writing: the stream holds highWater bytes, or has failed. */
  get full(): boolean {
    return this.error !== null || this.out.writableLength >= this.highWater;
  }

  /** Resolves when the stream has room again, has failed, or `cancelled()` turns true (see wake()). */
  async waitRoom(cancelled: () => boolean = () => false): Promise<void> {
    if (!this.full || this.error) return;
    this.pauses++;
    while (!this.error && !cancelled() && this.out.writableLength >= this.highWater) await new Promise<void>((res) => this.waiters.push(res));
  }

  /** Resolves when everything written has reached the OS, the stream has failed, or `cancelled()` turns true. */
  async flush(cancelled: () => boolean = () => false): Promise<void> {
    while (!this.error && !cancelled() && this.out.writableLength > 0) {
      await new Promise<void>((res) => {
        this.waiters.push(res);
        // 'drain' only follows a write that returned false: a callback on an empty write marks the end for sure
        try { this.out.write("", () => this.wake()); } catch (e) { this.onError(e as NodeJS.ErrnoException); }
      });
    }
  }

  /** Wakes every waiter so it can look at its cancel condition (a signal or the timeout). */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** EPIPE: the reader closed the pipe; nothing to report. */
  get readerGone(): boolean {
    return this.error?.code === "EPIPE" || this.error?.code === "ERR_STREAM_DESTROYED";
  }
}
