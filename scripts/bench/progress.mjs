// progress.mjs — the bench's progress line on stderr: a bar with an ETA (cli-progress) when stderr is a terminal,
// nothing at all otherwise (CI logs, pipes, tests). The total may grow while running (the bench adds pairs and
// rounds until its intervals are narrow enough), and the ETA follows.

/**
 * { tick(), grow(n), status(text), log(line), stop() }; a no-op object when stderr is not a TTY (or cli-progress,
 * a devDependency, is not installed: the bench then runs without a bar rather than failing).
 */
export async function progress({ total, stream = process.stderr }) {
  const none = { tick() {}, grow() {}, status() {}, log() {}, stop() {} };
  if (!stream.isTTY) return none;
  let cliProgress;
  try { cliProgress = (await import("cli-progress")).default; } catch { return none; }
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
