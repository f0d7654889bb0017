/**
 * Under load: the case read of the HTTP benchmark, first on an idle server, then while the
 * checker in the same process works through 100,000 due receipts with the rate limit lifted
 * (ticks of 1,000 back to back, at most 60 s). wrk runs for exactly as long as the checker.
 * The checker runs as serve runs it, in its own thread with its own connection; what is left
 * to show here is what the two threads still share: the cores, the WAL file and its locks.
 * BENCH_CHECKER and BENCH_CHECKER_NICENESS are passed to the server (see servers/app.ts).
 */
import { join } from "node:path";
import { DueReceipts, seedDueReceipts } from "./checker.ts";
import { appServerEnv, checkCaseRead, seedHttpFixture } from "./http.ts";
import { scratchDir } from "./lib/machine.ts";
import { type BenchRow, benchMain, formatInt, formatMs, progress } from "./lib/result.ts";
import { startServer } from "./lib/servers.ts";
import { runWrk, startWrk } from "./lib/wrk.ts";

const Name = "under-load";
const IdleSeconds = 10;
const CheckerSeconds = 60;
// Past every receipt number the HTTP fixture uses.
const DueReceiptsFirst = 1_000_000;

export async function runUnderLoad(): Promise<BenchRow[]> {
  const dir = scratchDir(Name);
  const databasePath = join(dir, "under-load.db");
  progress(Name, `seeding the HTTP fixture and ${formatInt(DueReceipts)} due receipts`);
  const fixture = await seedHttpFixture(databasePath);
  seedDueReceipts(databasePath, DueReceipts, DueReceiptsFirst);

  const app = await startServer({
    script: "bench/servers/app.ts",
    env: { ...appServerEnv(databasePath), ...benchChoices() },
    logFile: join(dir, "app.log"),
  });
  try {
    await checkCaseRead(app, fixture);
    const url = `http://127.0.0.1:${app.port}${fixture.casePath}`;
    progress(Name, `idle: GET case, ${IdleSeconds} s`);
    await runWrk({ url, seconds: 3, headers: fixture.headers });
    const idle = await runWrk({ url, seconds: IdleSeconds, headers: fixture.headers });

    progress(Name, "GET case while the checker runs");
    app.send(`check 1000 ${CheckerSeconds}`);
    const load = startWrk({ url, headers: fixture.headers });
    const checked = await app.next("CHECKED ", (CheckerSeconds + 60) * 1000);
    const busy = await load.stop();

    const ratio = busy.p99Ms / idle.p99Ms;
    const threads = checked.threads as Record<string, number> | undefined;
    const receipts = Number(checked.checked);
    const seconds = Number(checked.seconds);
    progress(
      Name,
      `idle p99 ${formatMs(idle.p99Ms)}, busy p99 ${formatMs(busy.p99Ms)}; checker ` +
        `${formatInt(receipts)} receipts in ${formatMs(seconds * 1000)}; CPU ` +
        `${Number(checked.cpuSeconds).toFixed(1)} s, by thread ${JSON.stringify(threads ?? {})}`,
    );
    const clean = idle.errors + idle.timeouts + busy.errors + busy.timeouts === 0;
    return [
      {
        benchmark: "Under load: GET case p99, checker on",
        figure: `${formatMs(busy.p99Ms)} = ${ratio.toFixed(1)}x idle ${formatMs(idle.p99Ms)}`,
        reference: "<= 3x idle p99",
        pass: ratio <= 3 && clean,
        values: { idle_p99_ms: idle.p99Ms, busy_p99_ms: busy.p99Ms, ratio },
      },
      {
        benchmark: "Under load: what ran meanwhile",
        figure:
          `${formatInt(busy.requestsPerSecond)} req/s ` +
          `(idle ${formatInt(idle.requestsPerSecond)});` +
          ` ${formatInt(receipts / seconds)} receipts/s`,
        reference: `${formatInt(receipts)} receipts in ${Math.round(seconds)} s`,
        pass: null,
        values: {
          receipts,
          seconds,
          busy_rps: busy.requestsPerSecond,
          cpu_seconds: Number(checked.cpuSeconds),
          ...Object.fromEntries(
            Object.entries(threads ?? {}).map(([name, cpu]) => [`cpu_seconds_${name}`, cpu]),
          ),
        },
      },
    ];
  } finally {
    await app.stop();
  }
}

/** The bench's comparison switches, handed to the server when set. */
function benchChoices(): Record<string, string> {
  const choices: Record<string, string> = {};
  for (const name of ["BENCH_CHECKER", "BENCH_CHECKER_NICENESS"]) {
    const value = Bun.env[name];
    if (value !== undefined) choices[name] = value;
  }
  return choices;
}

if (import.meta.main) await benchMain(Name, runUnderLoad);
