// server.ts — `wasmvisor run --gdb PORT [--gdb-wait]`: a GDB remote stub on 127.0.0.1 (as QEMU's -gdb tcp::PORT
// with -S for --gdb-wait). The VM runs in slices on the event loop so the socket is served while the guest
// runs (Ctrl-C reaches it within a slice); a breakpoint, watchpoint or step ends a slice early with the run
// loop's "debug" stop (the one hook in host/core/vm.ts, the same in every mode). The CLI (host/cli/run.ts) runs
// its slices through GdbOptions.runSlice / hostStop / waitRoom, so console back-pressure, --timeout and signals
// work as without --gdb, also while the guest is stopped in the debugger.
//
// One client at a time; a second is refused. A client that disconnects leaves the guest running with its
// breakpoints removed. Hostile input is bounded: packets by MAX_PACKET, the send queue by MAX_QUEUED (a client
// that does not read is dropped), diagnostics by MAX_LOGGED lines per connection.
import { createServer, type Server, type Socket } from "node:net";
import type { Machine } from "../machine.ts";
import type { RunResult, RunOptions } from "../core/status.ts";
import type { DebugTarget } from "./target.ts";
import { DebugUnit } from "./unit.ts";
import { GdbSession } from "./commands.ts";
import { PacketReader, frame } from "./packets.ts";

/** The run loop as the stub needs it (Vm, FullVm and ParaVm: any VmCore). */
export interface DebuggableVm {
  readonly machine: Machine;
  readonly stats: { exits: Record<string, number> };
  run(opts?: RunOptions): RunResult;
}
export interface GdbOptions {
  port: number;
  /** stop before the first instruction until a client continues (QEMU's -S) */
  wait?: boolean;
  maxInstructions?: number;
  /** one-line diagnostics (stderr in the CLI) */
  log?: (line: string) => void;
  /** instructions per slice between looks at the socket */
  slice?: number;
  /** called once listening (tests: the port actually bound when port is 0) */
  onListening?: (port: number) => void;
  /** runs one slice of at most `max` instructions (default vm.run({ maxInstructions: max })); may return the
   * run loop's "paused" stop (the host's pauseWhen), after which the stub yields to the event loop and goes on */
  runSlice?: (max: number) => RunResult;
  /** the host wants the run to end (a signal, --timeout, a console error): checked between slices and when
   * `wake` is called, also while the guest is stopped in the debugger; the stub then returns null */
  hostStop?: () => boolean;
  /** receives the stub's wake-up, for the host to call when hostStop may have become true */
  onWake?: (wake: () => void) => void;
  /** awaited before each slice (the CLI: wait while the console reader is behind) */
  beforeSlice?: () => Promise<void>;
}

const MAX_QUEUED = 1 << 20;
const MAX_LOGGED = 5;

export class GdbPortError extends Error {}

/** Serves gdb while running the VM; the run's result, or null if the host stopped it (GdbOptions.hostStop). */
export async function runWithGdb(vm: DebuggableVm, target: DebugTarget, o: GdbOptions & { hostStop: () => boolean }): Promise<RunResult | null>;
export async function runWithGdb(vm: DebuggableVm, target: DebugTarget, o: GdbOptions): Promise<RunResult>;
export async function runWithGdb(vm: DebuggableVm, target: DebugTarget, o: GdbOptions): Promise<RunResult | null> {
  const log = o.log ?? (() => {});
  const unit = new DebugUnit(vm.machine);
  const session = new GdbSession(target, unit, {
    exitCounters: () => ({ ...vm.stats.exits }),
    instructions: () => vm.machine.instructions,
  });
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new GdbPortError(`cannot listen for gdb on 127.0.0.1:${o.port}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`)));
    server.listen(o.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log(`gdb: listening on 127.0.0.1:${port}${o.wait ? " (the guest waits for `continue`)" : ""}`);
  o.onListening?.(port);

  let client = null as Socket | null;
  let running = !o.wait;
  let interrupt = false;
  let lastStop = GdbSession.stopReply("initial");
  let finished = null as RunResult | null;
  let wake: (() => void) | null = null;
  let stepFrom = null as { eip: number; n: number; tries: number } | null;
  const poke = () => { const w = wake; wake = null; w?.(); };
  o.onWake?.(poke);
  const runSlice = o.runSlice ?? ((max: number) => vm.run({ maxInstructions: max }));
  let stoppedByHost = false;

  const send = (s: Socket, data: string) => {
    if (s.destroyed) return;
    if (s.writableLength > MAX_QUEUED) { log("gdb: the client does not read its replies; disconnecting it"); s.destroy(); return; }
    s.write(data, "latin1");
  };

  server.on("connection", (s) => {
    if (client) { log("gdb: a second client was refused (one at a time)"); s.destroy(); return; }
    client = s;
    s.setNoDelay(true);
    const reader = new PacketReader();
    let errors = 0;
    // a debugger attaching stops the guest, as QEMU does
    if (running) { running = false; lastStop = GdbSession.stopReply("interrupt"); }
    const fail = (msg: string) => { if (++errors <= MAX_LOGGED) log(`gdb: ${msg}`); };
    s.on("data", (chunk: Buffer) => {
      for (const ev of reader.feed(chunk)) {
        if (client !== s) return;
        switch (ev.kind) {
          case "interrupt": if (running) { interrupt = true; } break;
          case "ack": case "nack": break;
          case "error": send(s, "-"); fail(ev.message); break;
          case "packet": {
            send(s, "+");
            if (running) { fail("packet while the guest runs ignored (only Ctrl-C is expected)"); break; }
            let act;
            try { act = session.handle(ev.data, lastStop); } catch (e) { fail(`internal error on a packet: ${(e as Error).message}`); act = { reply: ["E00"] }; }
            if ("reply" in act && !("detach" in act)) { for (const r of act.reply) send(s, frame(r)); break; }
            if ("resume" in act) {
              stepFrom = act.resume === "step" ? { eip: target.getEip(), n: vm.machine.instructions, tries: 0 } : null;
              unit.resume(act.resume === "step"); running = true; poke(); break;
            }
            if ("kill" in act) {
              finished = { exitStatus: 0, stopReason: "debug-exit", message: "killed by gdb" };
              s.end(); poke(); break;
            }
            if ("detach" in act) { send(s, frame(act.reply)); unit.clear(); unit.stopStepping(); running = true; s.end(); poke(); }
          }
        }
      }
    });
    const gone = () => {
      if (client !== s) return;
      client = null;
      if (errors > MAX_LOGGED) log(`gdb: ${errors - MAX_LOGGED} more malformed packets from that client`);
      if (!finished) {
        unit.clear(); unit.stopStepping();
        if (!running) { running = true; log("gdb: client disconnected; the guest runs on"); }
      }
      poke();
    };
    s.on("close", gone);
    s.on("error", gone);
  });

  const slice = o.slice ?? 200_000;
  const i0 = vm.machine.instructions;
  try {
    while (!finished) {
      if (o.hostStop?.()) {
        stoppedByHost = true;
        if (client && running) send(client, frame("X0f")); // gdb waits for a stop: the guest was terminated
        break;
      }
      if (!running) { await new Promise<void>((r) => { wake = r; }); continue; }
      if (interrupt) {
        interrupt = false; running = false;
        lastStop = GdbSession.stopReply("interrupt");
        if (client) send(client, frame(lastStop));
        continue;
      }
      const left = (o.maxInstructions ?? Infinity) - (vm.machine.instructions - i0);
      if (left <= 0) {
        finished = { exitStatus: 6, stopReason: "max-instructions", message: `stopped after ${o.maxInstructions} instructions (--max-instructions)` };
        break;
      }
      if (o.beforeSlice) { await o.beforeSlice(); if (o.hostStop?.()) { stoppedByHost = true; break; } }
      const r = runSlice(Math.min(slice, left));
      if (r.stopReason === "max-instructions" || r.stopReason === "paused") { await new Promise((res) => setImmediate(res)); continue; }
      if (r.stopReason === "debug") {
        // a step that ended where it began without retiring anything: the instruction exited to the monitor
        // (full mode's hidden page faults) and restarts; step it again (bounded, for a guest stuck on it)
        const st = unit.lastStop();
        if (st.cause === "step" && stepFrom && stepFrom.tries++ < 1000 &&
            target.getEip() === stepFrom.eip && vm.machine.instructions === stepFrom.n) { unit.resume(true); continue; }
        unit.stopStepping();
        if (!client) continue; // a stale stop after the client left: run on
        running = false;
        lastStop = GdbSession.stopReply(st);
        send(client, frame(lastStop));
        continue;
      }
      finished = r; // the guest's end: exit status to gdb, then the CLI reports it
      if (client) { send(client, frame(`W${(r.exitStatus & 0xff).toString(16).padStart(2, "0")}`)); client.end(); }
    }
  } finally {
    const c = client as Socket | null;
    if (c) { c.end(); setTimeout(() => c.destroy(), 500).unref(); } // let the last reply reach it
    server.close();
  }
  return stoppedByHost ? null : finished;
}
