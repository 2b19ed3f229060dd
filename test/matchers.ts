// matchers.ts — vitest matchers for trapLab results (host/traps.ts). Importing this file registers them:
//
//   import "./matchers.ts";
//   expect(lab.run("0f 0b")).toTrap("#UD");
//   expect(lab.run("fa")).toTrap("#GP", 0);                       // cli at CPL 3, IOPL 0
//   expect(r).toPageFault({ write: true, user: true, present: true, addr: 0x400000 });
//   expect(r).not.toTrap();   expect(r).toComplete();   expect(r).toShutdown();
//
// Failure messages say what happened instead, with the error code decoded:
//   expected #GP(0x0), but the snippet raised #PF(0x7: present, write, user) at eip 0x10000 (offset 0), cr2=0x400000
import { expect } from "vitest";
import {
  parseVector, vectorName, describeResult, decodeErrorCode, type TrapResult,
} from "../host/traps.ts";

export interface PageFaultExpectation {
  present?: boolean;
  write?: boolean;
  user?: boolean;
  /** reserved bit set in a paging entry (error code bit 3) */
  rsvd?: boolean;
  /** instruction fetch (error code bit 4) */
  fetch?: boolean;
  /** CR2 */
  addr?: number;
  /** the pushed EIP, as an offset from the snippet's start */
  offset?: number;
}

interface TrapMatchers<R = unknown> {
  /**
   * The snippet raised `vector` (a number or a name: "#GP", "GP", "#pf", "INT 0x80"); with `errorCode`, the error
   * code it pushed must equal it (null: no error code pushed). With no argument: any trap.
   */
  toTrap(vector?: number | string, errorCode?: number | null): R;
  /** A #PF whose error code bits and CR2 match every given field. */
  toPageFault(expected?: PageFaultExpectation): R;
  /** The snippet ran to its end without any trap. */
  toComplete(): R;
  /** The machine shut down (triple fault). */
  toShutdown(): R;
}
declare module "vitest" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends TrapMatchers<T> {}
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

function isResult(r: unknown): r is TrapResult {
  return typeof r === "object" && r !== null && "outcome" in r && "trap" in r;
}
function notAResult(name: string, r: unknown) {
  return { pass: false, message: () => `${name}: expected a trapLab result (lab.run(...)), got ${String(r)}` };
}
function want(vector: number, errorCode?: number | null): string {
  const n = vectorName(vector);
  if (errorCode === undefined) return n;
  if (errorCode === null) return `${n} without an error code`;
  return `${n}(${decodeErrorCode(vector, errorCode)})`;
}

export const trapMatchers = {
  toTrap(received: unknown, vector?: number | string, errorCode?: number | null) {
    if (!isResult(received)) return notAResult("toTrap", received);
    const r = received;
    const t = r.trap;
    if (vector === undefined) {
      return {
        pass: t !== null,
        message: () => (t ? `expected no trap, but the snippet raised ${describeResult(r)}` : `expected a trap, but the snippet ${describeResult(r)}`),
      };
    }
    const v = parseVector(vector);
    if (v === undefined) return { pass: false, message: () => `toTrap: unknown vector ${String(vector)}` };
    const vecOk = t !== null && t.vector === v;
    const errOk = errorCode === undefined || (t !== null && (errorCode === null ? t.errorCode === undefined : t.errorCode === errorCode));
    const pass = vecOk && errOk;
    return {
      pass,
      message: () => {
        const w = want(v, errorCode);
        if (pass) return `expected the snippet not to raise ${w}, but it did: ${describeResult(r)}`;
        const why = t ? `the snippet raised ${describeResult(r)}` : `the snippet ${describeResult(r)}`;
        const first = r.intercepted && t && r.intercepted.vector !== t.vector ? ` (first event: ${r.intercepted.name}${r.intercepted.errorCode !== undefined ? `(${decodeErrorCode(r.intercepted.vector, r.intercepted.errorCode)})` : ""})` : "";
        return `expected ${w}, but ${why}${first}`;
      },
      actual: t ? `${t.name}${t.errorCode !== undefined ? `(${hex(t.errorCode)})` : ""}` : r.outcome,
      expected: errorCode === undefined || errorCode === null ? vectorName(v) : `${vectorName(v)}(${hex(errorCode)})`,
    };
  },

  toPageFault(received: unknown, e: PageFaultExpectation = {}) {
    if (!isResult(received)) return notAResult("toPageFault", received);
    const r = received, t = r.trap;
    const problems: string[] = [];
    if (!t || t.vector !== 14) problems.push("no #PF");
    else {
      const ec = t.errorCode ?? 0;
      const bit = (name: keyof PageFaultExpectation, mask: number, yes: string, no: string) => {
        const exp = e[name];
        if (exp !== undefined && !!(ec & mask) !== exp) problems.push(`expected ${exp ? yes : no}, got ${ec & mask ? yes : no}`);
      };
      if (t.errorCode === undefined) problems.push("no error code pushed");
      bit("present", 1, "present", "not-present");
      bit("write", 2, "write", "read");
      bit("user", 4, "user", "supervisor");
      bit("rsvd", 8, "reserved-bit", "no reserved-bit");
      bit("fetch", 16, "fetch", "data access");
      if (e.addr !== undefined && t.cr2 >>> 0 !== e.addr >>> 0) problems.push(`expected cr2=${hex(e.addr)}, got ${hex(t.cr2)}`);
      if (e.offset !== undefined && t.offset !== e.offset) problems.push(`expected the fault at offset ${e.offset}, got ${t.offset}`);
    }
    const pass = problems.length === 0;
    const desc = Object.entries(e).map(([k, v]) => `${k}: ${typeof v === "number" ? hex(v) : v}`).join(", ");
    return {
      pass,
      message: () => pass
        ? `expected no #PF matching { ${desc} }, but the snippet raised ${describeResult(r)}`
        : `expected #PF { ${desc} }, but the snippet ${t ? "raised " : ""}${describeResult(r)}${t?.vector === 14 ? ` — ${problems.join("; ")}` : ""}`,
    };
  },

  toComplete(received: unknown) {
    if (!isResult(received)) return notAResult("toComplete", received);
    const r = received;
    return {
      pass: r.outcome === "completed",
      message: () => r.outcome === "completed"
        ? "expected the snippet not to complete, but it ran to its end without a trap"
        : `expected the snippet to complete, but it ${r.trap ? "raised " : ""}${describeResult(r)}`,
    };
  },

  toShutdown(received: unknown) {
    if (!isResult(received)) return notAResult("toShutdown", received);
    const r = received;
    return {
      pass: r.outcome === "shutdown",
      message: () => r.outcome === "shutdown"
        ? `expected no shutdown, but the machine shut down: ${describeResult(r)}`
        : `expected a shutdown (triple fault), but the snippet ${r.trap ? "raised " : ""}${describeResult(r)}`,
    };
  },
};

expect.extend(trapMatchers);
