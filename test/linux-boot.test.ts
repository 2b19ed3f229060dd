// linux-boot.test.ts — Debian 12's stock i386 kernel (linux-image-686, unmodified) with Debian's busybox-static in
// an initramfs, booted by the Linux boot protocol (host/loaders/bzimage.ts) in native, hw and full modes to a shell on the
// serial console; the command list is typed on the console and the answers checked. The packages come from
// Debian's archive at run time (scripts/fetch-linux.mjs, cached in build/linux/); without apt or the network the
// test is skipped with the reason. Each boot takes ~3 G instructions (1-4 minutes) and a 53 MB download, so `npm test`
// runs it only with WASMVISOR_LINUX=1 (.ci/run sets it where apt works).
//
// `cryptomgr.notests`: the kernel's crypto self-tests (the multi-precision FFDHE Diffie-Hellman vectors above all)
// cost ~3.7 G instructions, more than the rest of the boot; they are compute only and pass as well (checked by hand:
// `wasmvisor run` without the option runs initrd-run.cpio.gz to its end in 6.6 G instructions), so this boot skips them.
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Vm } from "../host/vm.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** scripts/fetch-linux.mjs: apt/dpkg or the network unavailable */
const FETCH_UNAVAILABLE = 3;
const MD5_8MIB_ZEROS = "96995b58d4cbf6aaa9041b4f00c7f6ae";

interface Fetched { kernel: string; initrd: string; initrdShell: string; commands: string; kernelPackage: string }
let fetched: Fetched | null = null;
let skipWhy = "";

const ENABLED = process.env.WASMVISOR_LINUX === "1";

beforeAll(() => {
  if (!ENABLED) { skipWhy = "set WASMVISOR_LINUX=1 to fetch Debian's kernel and boot it (1-3 minutes)"; return; }
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/fetch-linux.mjs"), "--quiet"], { encoding: "utf8", timeout: 600_000 });
  if (r.status === FETCH_UNAVAILABLE) { skipWhy = r.stderr.trim(); return; }
  if (r.status !== 0) throw new Error(`scripts/fetch-linux.mjs failed (status ${r.status}): ${r.stderr.trim()}`);
  fetched = JSON.parse(r.stdout) as Fetched;
}, 600_000);

describe("Debian 12 i386 kernel + busybox initramfs", () => {
  // native: the kernel on the CPU at ring 0; hw: at ring 0 in guest mode under nested paging (host/hw); full:
  // deprivileged at real ring 3 under the monitor, at virtual CPL 0 (host/full; its command line gains reservetop=)
  it.for(["native", "hw", "full"] as const)("boots to a shell in %s mode and answers the commands typed on the console", { timeout: 600_000 }, (mode, ctx) => {
    if (!fetched) {
      console.warn(`linux-boot: skipped: ${skipWhy}`);
      ctx.skip();
      return;
    }
    const vm = new Vm({ mode, memSize: 256 << 20 });
    vm.loadBzImage(readFileSync(fetched.kernel), {
      initrd: readFileSync(fetched.initrdShell),
      cmdline: "console=ttyS0 cryptomgr.notests",
    });
    // boot until the shell prompts, as a user waits for it (typed earlier, ash's switch of the terminal to raw
    // mode would flush what the tty had queued), then type; `exit` leaves the shell and /init ends the VM through
    // isa-debug-exit (status 1)
    // the prompt, then ash's cursor-position query (ESC [6n) that no terminal answers here
    const prompts = () => vm.console.split(/\/ # /).length - 1;
    const waitPrompt = (n: number) => {
      let r;
      let ran = 0;
      do {
        r = vm.run({ maxInstructions: 50e6 });
        ran += 50e6;
      } while (r.stopReason === "max-instructions" && prompts() < n && ran < 12e9);
      expect(prompts(), `${r.message}\n${vm.console.slice(-2000)}`).toBeGreaterThanOrEqual(n);
    };
    waitPrompt(1);
    // an empty line first: what ash reads while it waits for the answer to its query may be lost
    vm.consoleIn.write("\n");
    waitPrompt(2);
    vm.consoleIn.write(`${fetched.commands}\necho "END-$((6*7))"\nexit\n`);
    const r = vm.run({ maxInstructions: 4e9 });
    const out = vm.console.replace(/\r/g, "");
    const tail = out.slice(-3000);
    expect(r.stopReason, `${r.message}\n${tail}`).toBe("debug-exit");
    expect(r.exitStatus).toBe(1);
    expect(out).toContain("Run /init as init process");
    expect(out).toContain("WASMVISOR-SHELL");
    const shell = out.slice(out.indexOf("WASMVISOR-SHELL"));
    // uname -a
    expect(shell).toMatch(/^Linux \S+ 6\.1\.0-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian .* i686 GNU\/Linux$/m);
    // /proc/cpuinfo: the CPU as CPUID describes it, with its x87 FPU
    expect(shell).toMatch(/^vendor_id\s+: WasmvisorX86$/m);
    expect(shell).toMatch(/^fpu\s+: yes$/m);
    expect(shell).toMatch(/^flags\s+: fpu .*\btsc\b.*\bcx8\b.*\bcmov\b.*\bfxsr\b/m);
    expect(shell).toMatch(/^processor\s+: 0$/m);
    expect(shell.match(/^processor\s+:/gm)).toHaveLength(1); // one CPU
    // the TSC as the kernel calibrated it against the PIT: the virtual clock's 100 M instructions per second, the
    // same in every mode (full mode's TSC counts the instructions its monitor emulates: test/tsc-modes.test.ts)
    expect(shell).toMatch(/^cpu MHz\s+: 99\.99\d$/m);
    expect(out).toMatch(/tsc: Detected 99\.99\d MHz processor/);
    expect(out).toContain("x86/fpu: x87 FPU will use FXSAVE");
    // the firmware tables Linux reads: SMBIOS (host/loaders/smbios.ts), the MP table without an ExtINT pin, the
    // 8042's aux loopback answered at once (no 0.5 s timeout)
    expect(out).toContain("DMI: wasmvisor wasmvisor PC, BIOS 0.1 12/01/2026");
    expect(out).not.toContain("ExtINT not setup in hardware");
    expect(out).toMatch(/serio: i8042 AUX port at 0x60,0x64 irq 12/);
    // ls /
    expect(shell).toMatch(/^bin\s+dev\s+etc\s+init\s+proc\s+root\s+sbin\s+sys\s+tmp$/m);
    // echo $((6*7)), then the 8 MiB of zeros through a pipe
    expect(shell).toMatch(/^42$/m);
    expect(shell).toMatch(/^8\+0 records in$/m);
    expect(shell).toMatch(/^8\+0 records out$/m);
    expect(shell).toContain(`${MD5_8MIB_ZEROS}  -`);
    expect(shell).toMatch(/^END-42$/m);
    // nothing went wrong on the way
    expect(out).not.toMatch(/Kernel panic|Oops|BUG:|WARNING:|segfault|general protection/);
  });
});
