// The bench's progress reporting (scripts/bench/progress.mjs): a bar on a terminal, timed plain lines otherwise, so
// a long bench in a CI log still shows that it runs and what it skipped.
import { describe, it, expect } from "vitest";
import { progress, plainLines } from "../scripts/bench/progress.mjs";

function sink(isTTY = false) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => { out.push(s); return true; } } };
}

describe("progress without a terminal", () => {
  it("prints one status line per interval, with runs done, total and status", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = plainLines({ total: 10, stream, everyMs: 1000, now: () => t });
    p.tick(); p.tick();            // t = 0: nothing yet
    expect(out).toEqual([]);
    t = 1500; p.status("suite round 1");
    expect(out).toEqual(["bench: 2/10 runs, 2 s elapsed: suite round 1\n"]);
    t = 1600; p.tick();            // within the interval: quiet
    expect(out.length).toBe(1);
    p.grow(5); t = 2600; p.tick();
    expect(out[1]).toBe("bench: 4/15 runs, 3 s elapsed: suite round 1\n");
  });

  it("keeps per-run detail out of a log", async () => {
    const { out, stream } = sink();
    const p = await progress({ total: 3, stream: stream as unknown as typeof process.stderr });
    p.log("native pair 1: wall 196.2 / 1097.1 ms");
    p.tick();
    p.stop();
    expect(out).toEqual([]);
  });
});
