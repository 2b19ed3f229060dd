// trap-names.ts — x86 exception vectors and error codes in words (SDM Vol. 3A §6.3, table 6-1, §6.13): what the
// trap lab, the CLI and debuggers print. Page-fault error codes are decoded by host/memory/paging.ts.
import { decodePfError } from "./memory/paging.ts";

export const VECTOR_NAMES: Record<number, string> = {
  0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF", 9: "#CSO",
  10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC", 19: "#XM",
  20: "#VE", 21: "#CP",
};
export function vectorName(v: number): string {
  return VECTOR_NAMES[v] ?? `INT 0x${v.toString(16)}`;
}
/** "#GP", "gp", "GP", "#pf", 13, "0x80", "INT 0x80" → vector number (undefined when unknown). */
export function parseVector(v: number | string): number | undefined {
  if (typeof v === "number") return v;
  const s = v.trim().toUpperCase().replace(/^INT\s+/, "");
  const name = s.startsWith("#") ? s : `#${s}`;
  for (const [k, n] of Object.entries(VECTOR_NAMES)) if (n === name || n === s) return Number(k);
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 && n < 256 ? n : undefined;
}
/** Vectors whose exceptions push an error code (SDM Vol. 3A table 6-1). */
export const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** A selector error code in words: "GDT[5] (sel 0x28)", "IDT[13]", with EXT. */
export function decodeSelectorError(e: number): string {
  const idx = e >>> 3;
  const table = e & 2 ? "IDT" : e & 4 ? "LDT" : "GDT";
  const where = table === "IDT" ? `IDT[${idx} = 0x${idx.toString(16)}]` : `${table}[${idx}] (sel 0x${(e & 0xfffc).toString(16)})`;
  return where + (e & 1 ? ", EXT" : "");
}
export function decodeErrorCode(vector: number, e: number | undefined): string {
  if (e === undefined) return "no error code";
  const hex = `0x${e.toString(16)}`;
  if (vector === 14) return `${hex}: ${decodePfError(e)}`;
  if (vector === 8 || vector === 17 || e === 0) return hex;
  return `${hex}: ${decodeSelectorError(e)}`;
}
