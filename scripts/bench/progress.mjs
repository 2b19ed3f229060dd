// progress.mjs — the bench's progress line on stderr: a bar with an ETA (cli-progress) when stderr is a terminal,
// otherwise (CI logs, pipes) no per-run detail but one plain status line at most every `everyMs` (default 30 s), so a long run in a log
// still shows it is alive. The total may grow while running (the bench adds pairs and rounds until its intervals
// are narrow enough), and the ETA follows.

/**
 * { tick(), grow(n), status(text), log(line), stop() }; plain timed lines when stderr is not a TTY (or cli-progress,
 * a devDependency, is not installed: the bench then runs without a bar rather than failing).
 */
export async function progress({ total, stream = process.stderr, everyMs = 30_000, now = Date.now }) {
  if (!stream.isTTY) return plainLines({ total, stream, everyMs, now });
  let cliProgress;
  try { cliProgress = (await import("cli-progress")).default; } catch { return plainLines({ total, stream, everyMs, now }); }
  const multi = new cliProgress.MultiBar({
    stream, format: "bench {bar} {value}/{total} runs | {duration_formatted} elapsed, ETA {eta_formatted} | {status}",
    hideCursor: true, clearOnComplete: true, etaBuffer: 20, fps: 4, autopadding: true,
  }, cliProgress.Presets.shades_classic);
  const bar = multi.create(Math.max(1, total), 0, { status: "starting" });
  let t = Math.max(1, total);
  return {
    tick: (n = 1) => bar.increment(n),
    grow: (n) => { t += n; bar.setTotal(t); },
    status: (s) => bar.update({ status: s }),
    log: (line) => multi.log(line + "\n"),
    stop: () => multi.stop(),
  };
}

/** The non-terminal form: "bench: 12/40 runs, 95 s elapsed: <status>" when at least everyMs passed since the last. */
export function plainLines({ total, stream, everyMs, now }) {
  const t0 = now();
  let done = 0, t = Math.max(1, total), status = "", last = t0;
  const maybe = () => {
    const n = now();
    if (n - last < everyMs) return;
    last = n;
    stream.write(`bench: ${done}/${t} runs, ${Math.round((n - t0) / 1000)} s elapsed${status ? `: ${status}` : ""}\n`);
  };
  return {
    tick: (k = 1) => { done += k; maybe(); },
    grow: (k) => { t += k; },
    status: (s) => { status = s; maybe(); },
    log: () => {},                 // per-pair detail is for a watching user; a log gets the timed lines
    stop: () => {},
  };
}
