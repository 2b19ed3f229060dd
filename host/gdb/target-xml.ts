// target-xml.ts — the i386 target description served through qXfer:features:read:target.xml, and the register
// file it numbers (the `g` packet is these registers in order, little-endian).
//
// gdb's i386 architecture requires the core feature with the x87 registers and the SSE feature (it rejects
// a description without them); wasmvisor's CPU has no FPU/SSE (CPUID says so), so those read as zero and
// writes to them are ignored. Control registers are in a system feature of their own, as QEMU does.

export interface RegDef { name: string; bits: number; type?: string; group?: string }

const core: RegDef[] = [
  ..."eax ecx edx ebx".split(" ").map((name) => ({ name, bits: 32, type: "int32" })),
  { name: "esp", bits: 32, type: "data_ptr" }, { name: "ebp", bits: 32, type: "data_ptr" },
  { name: "esi", bits: 32, type: "int32" }, { name: "edi", bits: 32, type: "int32" },
  { name: "eip", bits: 32, type: "code_ptr" }, { name: "eflags", bits: 32, type: "i386_eflags" },
  ..."cs ss ds es fs gs".split(" ").map((name) => ({ name, bits: 32, type: "int32" })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bits: 80, type: "i387_ext" })),
  ..."fctrl fstat ftag fiseg fioff foseg fooff fop".split(" ").map((name) => ({ name, bits: 32, type: "int", group: "float" })),
];
const sse: RegDef[] = [
  ...Array.from({ length: 8 }, (_, i) => ({ name: `xmm${i}`, bits: 128, type: "uint128", group: "vector" })),
  { name: "mxcsr", bits: 32, type: "int", group: "vector" },
];
const sys: RegDef[] = "cr0 cr2 cr3 cr4".split(" ").map((name) => ({ name, bits: 32, type: "int32", group: "system" }));

/** Every register in gdb's numbering. */
export const REGS: RegDef[] = [...core, ...sse, ...sys];
export const REG_INDEX = new Map(REGS.map((r, i) => [r.name, i]));

const regXml = (r: RegDef) =>
  `<reg name="${r.name}" bitsize="${r.bits}"${r.type ? ` type="${r.type}"` : ""}${r.group ? ` group="${r.group}"` : ""}/>`;
const EFLAGS = `<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
<field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
<field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
<field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/></flags>`;

export const TARGET_XML = `<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>i386</architecture>
<feature name="org.gnu.gdb.i386.core">
${EFLAGS}
${core.map(regXml).join("\n")}
</feature>
<feature name="org.gnu.gdb.i386.sse">
${sse.map(regXml).join("\n")}
</feature>
<feature name="org.wasmvisor.i386.sys">
${sys.map(regXml).join("\n")}
</feature>
</target>
`;
