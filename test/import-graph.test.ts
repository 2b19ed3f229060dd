// import-graph.test.ts — the house has no import circle: modes → one core → machine → devices, checked over every
// import (type-only ones included, and dynamic import()) of every TypeScript file in host/.
import { describe, it, expect } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = join(ROOT, "host");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** file (relative to host/) → the host files it imports */
export function importGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files(HOST)) {
    const src = readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const deps = new Set<string>();
    for (const m of src.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?\sfrom\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/gm)) {
      const spec = m[1] ?? m[2];
      deps.add(relative(HOST, resolve(dirname(f), spec)));
    }
    g.set(relative(HOST, f), [...deps].filter((d) => d.endsWith(".ts")));
  }
  return g;
}

/** every cycle (as a path a → … → a), found by depth-first search */
export function cycles(g: Map<string, string[]>): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) out.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return out;
}

describe("the import graph of host/", () => {
  const g = importGraph();
  it("finds the imports it should (the checker is not blind)", () => {
    expect(g.get("vm.ts")).toEqual(expect.arrayContaining(["core/vm.ts", "modes.ts"]));
    expect(g.get("modes.ts")).toEqual(expect.arrayContaining(["native/mode.ts", "full/fullvm.ts", "para/vm.ts"]));
    expect(cycles(new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]]]))).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });
  it("has no cycle", () => {
    expect(cycles(g).map((c) => c.join(" → "))).toEqual([]);
  });
  it("layers: core/ imports no mode and not the public vm.ts; modes import core/, never vm.ts or each other", () => {
    const modeDirs = ["native/", "full/", "para/"];
    for (const [f, deps] of g) {
      if (f.startsWith("core/")) for (const d of deps) expect(modeDirs.some((m) => d.startsWith(m)) || d === "vm.ts" || d === "modes.ts", `${f} → ${d}`).toBe(false);
      if (f.startsWith("devices/") || f.startsWith("virtio/") || f === "machine.ts") {
        for (const d of deps) expect(d.startsWith("core/") || modeDirs.some((m) => d.startsWith(m)) || d === "vm.ts", `${f} → ${d}`).toBe(false);
      }
      const own = modeDirs.find((m) => f.startsWith(m));
      if (own) for (const d of deps) expect(d === "vm.ts" || d === "modes.ts" || modeDirs.some((m) => m !== own && d.startsWith(m)), `${f} → ${d}`).toBe(false);
    }
  });
  it("the browser's host modules (everything web/worker.ts reaches) use Node's globals only through host/runtime", () => {
    // Node has Buffer and process as globals, so a slip here passes every Node test and breaks only the page
    // (a Buffer.from in the compiled-block cache once did). Type positions are fine when the type is imported.
    const g = importGraph();
    const seen = new Set<string>();
    const walk = (f: string) => { if (seen.has(f)) return; seen.add(f); for (const d of g.get(f) ?? []) walk(d); };
    const worker = readFileSync(join(ROOT, "web/worker.ts"), "utf8");
    for (const m of worker.matchAll(/from\s+"\.\.\/host\/([^"]+)"/g)) walk(m[1]);
    expect(seen.has("vm.ts")).toBe(true);
    const bad: string[] = [];
    for (const f of seen) {
      if (f.startsWith("runtime/node")) continue;
      const src = readFileSync(join(HOST, f), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      for (const m of src.matchAll(/(?<![\w.$'"`])(?:(Buffer|process)(?=\s*\.)|(require)(?=\s*\()|(__dirname|__filename)\b)/g)) {
        bad.push(`${f}: ${m[1] ?? m[2] ?? m[3]}`);
      }
      if (/from\s+"node:/.test(src.replace(/import type[^;]*;/g, ""))) bad.push(`${f}: imports node:`);
    }
    expect(bad).toEqual([]);
  });
});
