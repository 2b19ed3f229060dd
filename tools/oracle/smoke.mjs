// smoke.mjs — runs two known cases through the oracle binary and checks the results:
// `add eax, ebx` (0x7fffffff + 1 -> 0x80000000, OF SF AF PF set) and `div ecx` by zero (#DE).
import { spawnSync } from "node:child_process";
const bin = process.argv[2] ?? "build/oracle/oracle";
function kase(regs, eflags, code) {
  const b = Buffer.alloc(48 + code.length);
  b.writeUInt16LE(b.length, 0); b[2] = code.length; b[3] = 0;
  regs.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 + 4 * i));
  b.writeUInt32LE(eflags, 36); b.writeUInt32LE(1, 40); b.writeUInt16LE(0x800, 44);
  Buffer.from(code).copy(b, 48);
  return b;
}
const esp = 0x301f00;
const input = Buffer.concat([
  kase([0x7fffffff, 0, 0, 1, esp, 0, 0, 0], 0, [0x01, 0xd8]),
  kase([5, 0, 0, 0, esp, 0, 0, 0], 0, [0xf7, 0xf1]),
]);
const r = spawnSync(bin, { input, maxBuffer: 1 << 20 });
if (r.status !== 0) throw new Error(`oracle exited ${r.status} ${r.signal ?? ""}: ${r.stderr}`);
const o = r.stdout;
const ok1 = o.readUInt16LE(0) === 72 && o[2] === 0xff && o.readUInt32LE(4) === 0x80000000 && o.readUInt32LE(36) === 0x802 &&
  (o.readUInt32LE(40) & 0x8d5) === 0x894;
const ok2 = o[72 + 2] === 0 && o.readUInt32LE(72 + 36) === 0x800;
if (!ok1 || !ok2) throw new Error(`oracle smoke test failed: ${o.toString("hex")}`);
console.log("oracle smoke test ok");
