// worker.ts — runs one mode's programs in a worker thread for driver.ts: before each program it stores the
// program's index in the shared heartbeat (so the watchdog can name a program that never returns), after it
// posts the program's result.
import { parentPort, workerData } from "node:worker_threads";
import { runProgram } from "./modes.ts";
import type { Mode } from "./guest.ts";

export interface WorkerJob { mode: Mode; seed: number; first: number; instructions: number; programs: number; budget: number; slowMs: number; heartbeat: SharedArrayBuffer }

const job = workerData as WorkerJob;
const beat = new Int32Array(job.heartbeat);
let instructions = 0;
for (let i = job.first, n = 0; n < job.programs && instructions < job.instructions; i++, n++) {
  Atomics.store(beat, 0, i);
  Atomics.add(beat, 1, 1);
  const r = runProgram(job.mode, job.seed, i, job.budget, job.slowMs);
  instructions += r.instructions;
  parentPort!.postMessage({ index: i, ...r });
}
parentPort!.postMessage({ done: true });
