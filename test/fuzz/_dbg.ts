import { Vm } from "../../host/vm.ts";
import { FullVm } from "../../host/full/fullvm.ts";
import { ParaVm } from "../../host/para/vm.ts";
import { MemoryBackend } from "../../host/devices/index.ts";
import { generate, GUEST_MEM } from "./guest.ts";
import { programSeed } from "./modes.ts";
import { Rng } from "../diff/gen.ts";
const [mode, seed, idx] = process.argv.slice(2);
const r = new Rng(programSeed(Number(seed), mode as never, Number(idx)));
const p = generate(mode as never, r);
const disk = new MemoryBackend(64 * 1024);
const vm: any = mode === "native" ? new Vm({ memSize: GUEST_MEM.native, disk, captureConsole: false, platformKind: r.chance(0.8) ? "mp" : "pc", machine: { jitThreshold: r.chance(0.9) ? 256 : 2 } })
  : mode === "full" ? new FullVm({ memSize: GUEST_MEM.full, disk, captureConsole: false, maxShadows: 1 + r.int(16) }) : new ParaVm({ memSize: GUEST_MEM.para, disk, captureConsole: false });
vm.loadMultiboot(p.image);
const m = vm.machine; const orig = m.run.bind(m); let n = 0;
m.run = (b: number) => { const e = orig(b); if (++n > 20000 && n < 20005) { console.log(JSON.stringify(e), "eip", m.eip.toString(16), "ecx", m.ecx.toString(16), "esi", m.esi.toString(16), "edi", m.edi.toString(16), "esp", m.esp.toString(16), "cs", JSON.stringify(m.getSegment("cs")), "ss", JSON.stringify(m.getSegment("ss")), Buffer.from(m.readMem(m.eip, 12)).toString("hex")); } if (n == 20010) throw new Error("stop"); return e; };
try { console.log(vm.run({ maxInstructions: 20000 })); } catch (e) { console.log(String(e)); }
