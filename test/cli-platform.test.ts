// CLI options of the SMP platform: --disk2 (primary slave), --platform pc|mp, --rtc.
import { describe, it, expect, beforeAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main, parseCliArgs, parseRtc, UsageError } from "../host/cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ELF = join(ROOT, "build/guests/apic/apic.elf"), DISK = join(ROOT, "build/guests/apic/disk.img");

beforeAll(() => {
  if (!existsSync(ELF) || !existsSync(DISK)) execFileSync("sh", [join(ROOT, "guests/apic/build.sh")], { stdio: "ignore" });
});

async function run(...argv: string[]) {
  let out = "", err = "";
  const status = await main(argv, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; } });
  return { status, out, err };
}

describe("CLI: --disk2, --platform, --rtc", () => {
  it("parses them", () => {
    expect(parseCliArgs(["run", "k.elf", "--disk2", "fs.img", "--platform", "pc", "--rtc", "2024-05-01T12:00:00Z"]))
      .toMatchObject({ disk2: { path: "fs.img" }, platform: "pc", rtcStart: Date.UTC(2024, 4, 1, 12) / 1000 });
    expect(parseRtc("86400")).toBe(86400);
    expect(Math.abs(parseRtc("now") - Date.now() / 1000)).toBeLessThan(5);
    expect(() => parseCliArgs(["run", "k.elf", "--platform", "smp"])).toThrow(UsageError);
    expect(() => parseCliArgs(["run", "k.elf", "--rtc", "yesterday"])).toThrow(UsageError);
    expect(() => parseCliArgs(["run", "k.elf", "--rtc", "99999999999999"])).toThrow(UsageError);
    expect(() => parseCliArgs(["run", "k.elf", "--disk2", ""])).toThrow(UsageError);
  });

  it("runs the SMP platform guest with its disk on the primary slave, as QEMU prints it", async () => {
    const r = await run("run", ELF, "--disk2", DISK);
    expect(r.status).toBe(1);
    expect(r.out).toBe(readFileSync(join(ROOT, "fixtures/apic/apic.out"), "utf8"));
  });

  it("--rtc sets the date the guest reads; --platform pc has no MP tables", async () => {
    const r = await run("run", ELF, "--disk2", DISK, "--rtc", "2031-07-04T09:15:00Z");
    expect(r.out).toContain("rtc: 2031-07-04 09:15");
    const pc = await run("run", ELF, "--disk2", DISK, "--platform", "pc");
    expect(pc.status).toBe(3);
    expect(pc.out).toContain("FAIL MP floating pointer");
  });

  it("every mode takes the same options where it has the device, and refuses the others in one line", async () => {
    // full mode builds the same PC platforms as native, "mp" by default (the APICs through MMIO mappings of its
    // shadow tables), with the same --disk2 and --rtc
    for (const platform of [[], ["--platform", "mp"], ["--platform", "pc"]]) {
      const native = await run("run", ELF, "--disk2", DISK, ...platform, "--rtc", "2031-07-04T09:15:00Z");
      const full = await run("run", ELF, "--disk2", DISK, "--mode", "full", ...platform, "--rtc", "2031-07-04T09:15:00Z");
      expect(full.out, platform.join(" ")).toBe(native.out);
      expect(full.status, platform.join(" ")).toBe(native.status);
      expect(native.status).toBe(platform[1] === "pc" ? 3 : 1);
    }
    for (const [args, re] of [
      [["--mode", "para", "--platform", "pc"], /^wasmvisor: --platform pc is not available in para mode: para mode's devices are virtio \(no PC platform\)\n$/],
      [["--mode", "para", "--rtc", "now"], /^wasmvisor: --rtc is not available in para mode: it has no RTC \(no PC platform\)\n$/],
    ] as const) {
      const r = await run("run", ELF, ...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.err).toMatch(re);
    }
  });
});
