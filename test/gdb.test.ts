// gdb.test.ts — the GDB stub (host/gdb/): packet framing, a hostile packet stream against a running guest, and
// Debian's gdb in batch mode against a guest built with symbols (guests/gdb), in every mode.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { EventEmitter } from "node:events";
import { PacketReader, frame, checksum, MAX_PACKET } from "../host/gdb/packets.ts";
import { runWithGdb } from "../host/gdb/server.ts";
import { MachineTarget, FullTarget, ParaTarget, readVirt, walk } from "../host/gdb/target.ts";
import { REGS } from "../host/gdb/target-xml.ts";
import { Vm } from "../host/vm.ts";
import { FullVm } from "../host/full/fullvm.ts";
import { ParaVm } from "../host/para/vm.ts";
import { main, parseCliArgs, UsageError } from "../host/cli.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const GUEST = join(root, "build/guests/gdb/gdbguest.elf");
const PV_GUEST = join(root, "build/guests/workloads-pv/null_syscall.elf");
const haveGuest = existsSync(GUEST) && existsSync(join(root, "build/cpu.wasm"));
const haveGdb = !spawnSync("gdb", ["--version"]).error;
const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("--gdb options", () => {
  it("parses --gdb PORT and --gdb-wait; rejects bad ports and --gdb-wait alone", () => {
    expect(parseCliArgs(["run", "k.elf", "--gdb", "1234", "--gdb-wait"])).toMatchObject({ gdbPort: 1234, gdbWait: true });
    expect(parseCliArgs(["run", "k.elf", "--gdb=9"])).toMatchObject({ gdbPort: 9 });
    for (const bad of [["--gdb", "0"], ["--gdb", "65536"], ["--gdb", "x"], ["--gdb", "-1"], ["--gdb-wait"]]) {
      expect(() => parseCliArgs(["run", "k.elf", ...bad])).toThrow(UsageError);
    }
    expect(() => parseCliArgs(["run", "k.elf", "--gdb", "9", "--snapshot-at", "100"])).toThrow(/cannot be combined/);
  });

  // the stub runs the CLI's slices (host/cli/run.ts): --timeout and signals end a run held in the debugger too
  it.skipIf(!existsSync(GUEST) || !existsSync(join(root, "build/cpu.wasm")))("--timeout and SIGTERM end a run that waits for gdb (status 14, 16)", async () => {
    for (const [extra, status, msg] of [[["--timeout", "300ms"], 14, /stopped by --timeout 300ms after 0 instructions/], [[], 16, /stopped by SIGTERM after 0 instructions/]] as const) {
      const err: string[] = [];
      const signals = new EventEmitter();
      const port = await new Promise<number>((res) => { const v = createServer(); v.listen(0, "127.0.0.1", () => { const p = (v.address() as { port: number }).port; v.close(() => res(p)); }); });
      const run = main(["run", GUEST, "--gdb", String(port), "--gdb-wait", ...extra], { stdout: () => {}, stderr: (s: string) => err.push(s), signals } as never);
      if (status === 16) { await new Promise((r) => setTimeout(r, 300)); signals.emit("SIGTERM"); }
      const t0 = Date.now();
      expect(await run).toBe(status);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(err.join("")).toMatch(msg);
    }
  }, 30_000);
});

describe("gdb packets: framing", () => {
  it("frames with a checksum and escapes $ # } *", () => {
    expect(frame("OK")).toBe("$OK#9a");
    expect(frame("a$b")).toBe(`$a}\x04b#${checksum("a}\x04b").toString(16).padStart(2, "0")}`);
  });
  it("reads packets, acks, interrupts; skips noise; nacks bad checksums and truncated packets", () => {
    const r = new PacketReader();
    const ev = r.feed(enc("+xx$g#67\x03$m0,4#00$qSupp$c#63-"));
    expect(ev).toEqual([
      { kind: "ack" },
      { kind: "packet", data: "g" },
      { kind: "interrupt" },
      { kind: "error", message: expect.stringMatching(/bad checksum/) },
      { kind: "error", message: expect.stringMatching(/truncated/) },
      { kind: "packet", data: "c" },
      { kind: "nack" },
    ]);
    expect(r.garbage).toBe(2);
  });
  it("splits across chunks and unescapes binary data", () => {
    const r = new PacketReader();
    const body = "X100,2:}\x03}\x5d";
    const pkt = `$${body}#${checksum(body).toString(16).padStart(2, "0")}`;
    expect(r.feed(enc(pkt.slice(0, 5)))).toEqual([]);
    expect(r.feed(enc(pkt.slice(5)))).toEqual([{ kind: "packet", data: "X100,2:#}" }]);
  });
  it("drops a packet longer than MAX_PACKET with one error, keeping memory bounded", () => {
    const r = new PacketReader();
    const big = new Uint8Array(MAX_PACKET * 8).fill(0x61);
    expect(r.feed(enc("$"))).toEqual([]);
    for (let i = 0; i < 4; i++) expect(r.feed(big)).toEqual([]);
    expect(r.feed(enc("#00$?#3f"))).toEqual([{ kind: "error", message: expect.stringMatching(/longer than/) }, { kind: "packet", data: "?" }]);
  });
});

/** A client speaking the remote protocol over a socket (no acks needed: it reads replies by framing). */
class RawClient {
  private buf = "";
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly s: Socket) {
    s.setEncoding("latin1");
    s.on("data", (d: string) => { this.buf += d; this.waiters.splice(0).forEach((w) => w()); });
    s.on("close", () => { this.closed = true; this.waiters.splice(0).forEach((w) => w()); });
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((res, rej) => { const s = connect(port, "127.0.0.1", () => res(new RawClient(s))); s.on("error", rej); });
  }
  raw(data: string | Uint8Array) { this.s.write(typeof data === "string" ? Buffer.from(data, "latin1") : data); }
  /** The next reply packet's body (skipping acks). */
  async reply(timeoutMs = 10_000): Promise<string> {
    const t0 = Date.now();
    for (;;) {
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(this.buf);
      if (m) { this.buf = this.buf.slice(m.index + m[0].length); return m[1]; }
      if (this.closed) throw new Error("connection closed");
      if (Date.now() - t0 > timeoutMs) throw new Error(`no reply (buffer: ${this.buf.slice(0, 80)})`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
  async cmd(p: string) { this.raw(frame(p)); return this.reply(); }
  /** A monitor command: its O output packets, decoded, until OK. */
  async rcmd(text: string): Promise<string> {
    this.raw(frame("qRcmd," + Buffer.from(text).toString("hex")));
    let out = "";
    for (;;) {
      const r = await this.reply();
      if (r === "OK") return out;
      if (!r.startsWith("O")) throw new Error(`unexpected reply ${r}`);
      out += Buffer.from(r.slice(1), "hex").toString();
    }
  }
}

function nativeVm() {
  const vm = new Vm({ memSize: 16 << 20, captureConsole: true });
  vm.loadMultiboot(readFileSync(GUEST));
  return vm;
}

describe.skipIf(!haveGuest)("gdb stub: protocol against a running guest", () => {
  it("answers registers, virtual memory, breakpoints and monitor commands; a hostile stream gets one-line errors", async () => {
    const vm = nativeVm();
    const logs: string[] = [];
    let port = 0;
    const done = runWithGdb(vm, new MachineTarget(vm.machine), { port: 0, wait: true, log: (l) => logs.push(l), onListening: (p) => { port = p; } });
    while (!port) await new Promise((r) => setTimeout(r, 10));
    const c = await RawClient.open(port);
    expect(await c.cmd("qSupported:multiprocess+;swbreak+")).toMatch(/PacketSize=4000;qXfer:features:read\+;swbreak\+;hwbreak\+/);
    const xml = await c.cmd("qXfer:features:read:target.xml:0,ffff");
    expect(xml[0]).toBe("l");
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('name="cr3"');
    expect(await c.cmd("?")).toBe("T05thread:01;");
    const g = await c.cmd("g");
    expect(g.length).toBe(REGS.reduce((s, r) => s + r.bits / 4, 0));
    const eip = parseInt(g.slice(64, 72).match(/../g)!.reverse().join(""), 16);
    expect(eip).toBe(vm.machine.eip);

    // hostile input: garbage, bad checksum, a huge packet, truncated packets, bad numbers, out-of-range memory
    c.raw("garbage\x00\xff\xfe");
    c.raw("$g#00");
    c.raw("$" + "A".repeat(MAX_PACKET * 4) + "#00");
    c.raw("$m1000,4$");
    c.raw("$qSupported#zz");
    for (const bad of ["m", "mzz,4", "m1000", "m1,123456789", "M1000,4:zz", "M1000,8:00", "X1000,4:ab", "Z0,1000", "Z2,1000,0", "Z2,1000,2000",
      "P99=00000000", "P0=0", "p1000", "Gab", "qXfer:features:read:other.xml:0,10", "qXfer:features:read:target.xml:zz,10", "qRcmd,zz"]) {
      expect(await c.cmd(bad)).toMatch(/^E[0-9a-f]{2}$/);
    }
    expect(await c.cmd("mfffffff0,100")).toBe("E14"); // beyond RAM (paging is off at entry: linear = physical)
    expect(await c.cmd("m0,ffffffff")).toMatch(/^[0-9a-f]+$/); // clamped to the packet size
    expect(await c.cmd("vMustReplyEmpty")).toBe("");

    // run to a software breakpoint at tick(): guest memory keeps its bytes
    const tick = 0x1000ed; // tick+3, the first line of tick (checked against the ELF below)
    const before = await c.cmd(`m${tick.toString(16)},4`);
    expect(await c.cmd(`Z0,${tick.toString(16)},1`)).toBe("OK");
    expect(await c.cmd(`m${tick.toString(16)},4`)).toBe(before);
    expect(await c.cmd("c")).toBe("T05thread:01;swbreak:;");
    expect(vm.machine.eip).toBe(tick);
    // paging is on now: the window page is read through the guest's tables, without touching A/D bits
    const w = walk(new MachineTarget(vm.machine), 0x40000000);
    const pteBefore = w.pte!.value;
    expect(await c.cmd("m40000000,8")).toBe("1111111122222222");
    expect(await c.cmd("M40000004,4:78563412")).toBe("OK");
    expect([...readVirt(new MachineTarget(vm.machine), 0x40000004, 4)]).toEqual([0x78, 0x56, 0x34, 0x12]);
    expect(walk(new MachineTarget(vm.machine), 0x40000000).pte!.value).toBe(pteBefore);
    expect(await c.cmd("m7fc00000,4")).toBe("E14"); // not mapped
    expect(await c.rcmd("walk 0x40000000")).toMatch(/^virtual 0x40000000: paging on\n  PDE\[256\] at 0x00103400 = 0x00105023\n  PTE\[0\] at 0x00105000 = 0x00106063\n  guest-physical 0x00106000\n$/);
    expect(await c.rcmd("info")).toMatch(/^mode: native\ninstructions: \d+\nexits: .*debug 1/);
    expect(await c.rcmd("frobnicate")).toBe("unknown monitor command 'frobnicate' (try: monitor help)\n");
    // a step, then a write watchpoint on `counter`
    expect(await c.cmd("z0,1000ed,1")).toBe("OK");
    expect(await c.cmd("vCont;s:1;c")).toBe("T05thread:01;");
    expect(vm.machine.eip).not.toBe(tick);
    const sym = spawnSync("nm", [GUEST], { encoding: "utf8" }).stdout;
    const addrOf = (n: string) => parseInt(new RegExp(`^([0-9a-f]+) \\w ${n}$`, "m").exec(sym)![1], 16);
    expect(addrOf("tick") + 3).toBe(tick);
    expect(await c.cmd(`Z2,${addrOf("counter").toString(16)},4`)).toBe("OK");
    expect(await c.cmd("c")).toBe(`T05thread:01;watch:${addrOf("counter").toString(16)};`);
    // Ctrl-C while running: remove the watch, continue, interrupt
    expect(await c.cmd(`z2,${addrOf("counter").toString(16)},4`)).toBe("OK");
    // a client disconnecting mid-run: the guest runs on to its end
    c.raw(frame("c"));
    await new Promise((r) => setTimeout(r, 5));
    c.s.destroy();
    const r = await done;
    expect(r.exitStatus).toBe(1);
    expect(vm.console).toContain("counter=55");
    expect(logs.every((l) => !l.includes("\n") && l.length < 200)).toBe(true);
    expect(logs.filter((l) => /checksum|longer than|truncated|malformed/.test(l)).length).toBeGreaterThan(0);
    expect(logs.length).toBeLessThan(20);
  }, 60_000);

  it("Ctrl-C stops a running guest; kill ends it", async () => {
    const vm = new Vm({ memSize: 16 << 20 });
    // a guest that spins forever: jmp $
    vm.machine.setFlatProtectedMode();
    vm.machine.writeMem(0x1000, [0xeb, 0xfe]);
    vm.machine.eip = 0x1000;
    let port = 0;
    const done = runWithGdb(vm, new MachineTarget(vm.machine), { port: 0, wait: true, onListening: (p) => { port = p; } });
    while (!port) await new Promise((r) => setTimeout(r, 10));
    const c = await RawClient.open(port);
    c.raw(frame("c"));
    await new Promise((r) => setTimeout(r, 100));
    c.raw("\x03");
    expect(await c.reply()).toBe("T02thread:01;");
    expect(vm.machine.instructions).toBeGreaterThan(1000);
    c.raw(frame("k"));
    expect((await done).message).toBe("killed by gdb");
  }, 30_000);

  it("a second client is refused; a busy port is one clear error", async () => {
    const vm = nativeVm();
    let port = 0;
    const logs: string[] = [];
    const done = runWithGdb(vm, new MachineTarget(vm.machine), { port: 0, wait: true, log: (l) => logs.push(l), onListening: (p) => { port = p; } });
    while (!port) await new Promise((r) => setTimeout(r, 10));
    const c = await RawClient.open(port);
    const c2 = await RawClient.open(port);
    await new Promise((r) => setTimeout(r, 100));
    expect(c2.closed).toBe(true);
    expect(logs).toContain("gdb: a second client was refused (one at a time)");
    const err: string[] = [];
    const status = await main(["run", GUEST, "--gdb", String(port)], { stdout: () => {}, stderr: (s: string) => err.push(s) } as never);
    expect(status).toBe(2);
    expect(err.join("")).toMatch(/^wasmvisor: cannot listen for gdb on 127.0.0.1:\d+: the port is in use\n$/);
    c.raw(frame("D"));
    expect(await c.reply()).toBe("OK");
    expect((await done).exitStatus).toBe(1);
  }, 30_000);
});

/** Runs the CLI with --gdb on a free port and Debian's gdb in batch mode against it. */
async function gdbSession(image: string, mode: string, script: string[]): Promise<{ gdb: string; out: string; status: number }> {
  const port = await new Promise<number>((res) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const out: string[] = [];
  const err: string[] = [];
  const run = main(["run", image, "--mode", mode, "--gdb", String(port), "--gdb-wait"], { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) } as never);
  const args = ["-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off", "-ex", `target remote 127.0.0.1:${port}`];
  for (const l of script) args.push("-ex", l);
  args.push(image);
  const gdb = await new Promise<string>((res) => {
    const p = spawn("gdb", args);
    let text = "";
    p.stdout.on("data", (d) => { text += d; });
    p.stderr.on("data", (d) => { text += d; });
    const t = setTimeout(() => p.kill(), 60_000);
    p.on("close", () => { clearTimeout(t); res(text); });
  });
  const status = await run;
  return { gdb, out: out.join(""), status };
}

describe.skipIf(!haveGuest || !haveGdb)("gdb (Debian's) in batch mode", () => {
  if (!haveGdb) console.log("gdb.test: gdb not installed; skipping the batch-mode tests (apt-get install gdb)");
  for (const mode of ["native", "full"]) {
    it(`${mode}: break at a function, info registers, x/8x a virtual address, stepi, watch, continue to the exit`, async () => {
      const { gdb, out, status } = await gdbSession(GUEST, mode, [
        "break tick", "continue", "info registers", "x/8x 0x40000000", "stepi", "print $pc", "delete",
        "watch counter", "continue", "continue", "delete", "monitor info", "monitor walk 0x40000004", "continue",
      ]);
      expect(gdb).toMatch(/Breakpoint 1, tick \(step=1\) at gdbguest\.c:27/);
      expect(gdb).toMatch(/eip\s+0x1000ed\s+0x1000ed <tick\+3>/);
      expect(gdb).toMatch(/eflags\s+0x[0-9a-f]+\s+\[ [A-Z ]+\]/);
      expect(gdb).toMatch(/cs\s+0x8\s+8/);
      expect(gdb).toMatch(/cr0\s+0x80000011/);
      expect(gdb).toMatch(/0x40000000:\s+0x11111111\s+0x22222222\s+0x33333333\s+0x44444444\n0x40000010:\s+0x55555555\s+0x66666666\s+0x77777777\s+0x88888888/);
      expect(gdb).toMatch(/\$1 = \(void \(\*\)\(\)\) 0x1000f3 <tick\+9>/);
      expect(gdb).toMatch(/Hardware watchpoint 2: counter\s+Old value = 0\s+New value = 1/);
      expect(gdb).toMatch(/Old value = 1\s+New value = 3/);
      expect(gdb).toContain(`mode: ${mode}`);
      expect(gdb).toMatch(/PTE\[0\] at 0x00105000 = 0x00106063\s+guest-physical 0x00106004/);
      if (mode === "full") expect(gdb).toMatch(/shadow PTE at machine 0x[0-9a-f]+: 0x[0-9a-f]+ \(guest-physical 0x106004/);
      expect(gdb).toMatch(/\[Inferior 1 \(Remote target\) exited with code 01\]/);
      expect(out).toContain("gdb guest: counter=55");
      expect(status).toBe(1);
    }, 90_000);
  }
  it.skipIf(!existsSync(PV_GUEST))("para: a breakpoint in the PV kernel, ring-1 CS, steps and the exit", async () => {
    const { gdb, status } = await gdbSession(PV_GUEST, "para", ["break syscall", "continue", "info registers eip cs", "stepi", "print $pc", "delete", "continue"]);
    expect(gdb).toMatch(/Breakpoint 1, 0x[0-9a-f]+ in syscall \(\)/);
    expect(gdb).toMatch(/cs\s+0x9\s+9/);
    expect(gdb).toMatch(/\$1 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <syscall\+\d+>/);
    expect(gdb).toMatch(/exited with code 01/);
    expect(status).toBe(1);
  }, 90_000);
});

describe.skipIf(!haveGuest)("debug targets per mode", () => {
  it("full mode shows the guest's view: virtual CPL in CS, virtual IF, original bytes under the translator's patches", () => {
    const vm = new FullVm({ memSize: 16 << 20 });
    vm.loadMultiboot(readFileSync(GUEST));
    const t = new FullTarget(vm.machine, vm.monitor, vm.guestRam);
    expect(vm.machine.getSegment("cs").selector & 3).toBe(3); // really deprivileged
    expect(t.getSel("cs")).toBe(0x08);
    expect(t.getEflags() & 0x200).toBe(0); // the guest entered with IF=0 (multiboot)
    const elf = readFileSync(GUEST);
    void elf;
    const cli = readVirt(t, 0x10000c, 1); // _start: cli, patched or trapped, shown as the guest's byte
    expect(cli[0]).toBe(0xfa);
  });
  it("para mode refuses debugger writes to page tables and the VMM region, as device DMA", () => {
    if (!existsSync(PV_GUEST)) return;
    const vm = new ParaVm({ memSize: 16 << 20 });
    vm.loadMultiboot(readFileSync(PV_GUEST));
    const t = new ParaTarget(vm.machine, vm.policy);
    expect(t.writePhys(vm.vmmBase, new Uint8Array(4))).toBe(false);
    expect(t.writePhys(0x200000, new Uint8Array([1, 2, 3, 4]))).toBe(true);
  });
});
