/**
 * `bun run bench` runs every benchmark and prints one table; `bun run bench -- http checker`
 * runs some. Each benchmark is a process of its own (bench/<name>.ts, which also runs alone),
 * so no benchmark's heap, page cache or timers colour another's figures.
 *
 * Not part of the test suite: figures depend on the machine, and the whole run takes about
 * six minutes. Needs wrk (apt-get install -y wrk) for the HTTP benchmarks.
 */
import { join } from "node:path";
import { describeMachine } from "./lib/machine.ts";
import { type BenchRow, RowsMarker, renderTable } from "./lib/result.ts";

const Benchmarks = ["http", "checker", "outbox", "startup", "under-load"] as const;

async function runOne(name: string): Promise<BenchRow[]> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, `${name}.ts`)], {
    cwd: join(import.meta.dir, ".."),
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, NODE_ENV: "production" },
  });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const line = stdout.split("\n").find((candidate) => candidate.startsWith(RowsMarker));
  const seconds = Math.round((performance.now() - started) / 1000);
  process.stderr.write(`[${name}] done in ${seconds} s\n`);
  if (!line) {
    return [
      { benchmark: name, figure: `exited with ${code}`, reference: "no result", pass: false },
    ];
  }
  return JSON.parse(line.slice(RowsMarker.length)) as BenchRow[];
}

const asked = Bun.argv.slice(2).filter((argument) => argument !== "--");
const unknown = asked.filter((name) => !(Benchmarks as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(", ")}; choose from ${Benchmarks.join(", ")}`);
  process.exit(2);
}

const chosen = asked.length > 0 ? asked : [...Benchmarks];
const rows: BenchRow[] = [];
for (const name of chosen) rows.push(...(await runOne(name)));

console.log(`\nImmigraFlow benchmarks, ${new Date().toISOString()}`);
console.log(`Machine: ${describeMachine()}\n`);
console.log(renderTable(rows));
process.exit(rows.some((row) => row.pass === false) ? 1 : 0);
