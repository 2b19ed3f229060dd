import { runProgram } from "./modes.ts";
const mode = process.argv[2] as never, seed = Number(process.argv[3]), n = Number(process.argv[4]);
for (let i = 0; i < n; i++) {
  const t = Date.now();
  process.stderr.write(`${i} `);
  const r = runProgram(mode, seed, i, 20000);
  if (process.env.ALL || r.problems.length || Date.now() - t > 3000) console.log(i, r.outcome, r.instructions, JSON.stringify(Object.fromEntries(Object.entries(r.exits).filter(([, v]) => v))), r.problems.map((s) => s.slice(0, 400)));
}
