/**
 * The load generator: wrk, from Debian's packages (`apt-get install -y wrk`). autocannon was
 * tried first and dropped: it is JavaScript, and on a 2-core machine it tops out at a third of
 * what a bare Bun.serve answers, so it measured itself rather than the server.
 *
 * One wrk thread: the server under test is one Bun process, and the other core is the load
 * generator's. Every run uses the same settings, so each figure and its reference compare.
 */
import { join } from "node:path";

export interface WrkStats {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Sockets that failed plus answers outside 2xx/3xx: a run with any is not a clean figure. */
  errors: number;
  timeouts: number;
}

export interface WrkRun {
  url: string;
  connections?: number;
  /** Fixed duration; without it the run lasts until `stop()`. */
  seconds?: number;
  headers?: Record<string, string>;
  /** POSTs to this path, each with a receipt no other request used (see wrk-report.lua). */
  createPath?: string;
  createBase?: number;
}

const Script = join(import.meta.dir, "wrk-report.lua");
const MaxSeconds = 120;

export function wrkAvailable(): boolean {
  return Bun.which("wrk") !== null;
}

export function startWrk(run: WrkRun): { stop(): Promise<WrkStats>; done: Promise<WrkStats> } {
  if (!wrkAvailable()) {
    throw new Error("wrk is not installed: apt-get install -y wrk (see bench/README.md)");
  }
  const headerArgs = Object.entries(run.headers ?? {}).flatMap(([name, value]) => [
    "-H",
    `${name}: ${value}`,
  ]);
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (run.createPath) {
    env.BENCH_CREATE_PATH = run.createPath;
    env.BENCH_CREATE_BASE = String(run.createBase ?? 5_000_000_000);
  }
  const child = Bun.spawn(
    [
      "wrk",
      "-t1",
      `-c${run.connections ?? 64}`,
      `-d${run.seconds ?? MaxSeconds}s`,
      "--timeout",
      "10s",
      "-s",
      Script,
      ...headerArgs,
      run.url,
    ],
    { stdout: "pipe", stderr: "pipe", env },
  );
  const done = (async () => {
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    const line = stdout.split("\n").find((candidate) => candidate.startsWith("WRK_JSON "));
    if (!line) throw new Error(`wrk exited with ${code} and no summary:\n${stdout}${stderr}`);
    return parseSummary(JSON.parse(line.slice("WRK_JSON ".length)));
  })();
  return {
    done,
    // wrk stops its threads on SIGINT and still reports on what it sent until then.
    async stop() {
      child.kill("SIGINT");
      return done;
    },
  };
}

export function runWrk(run: WrkRun & { seconds: number }): Promise<WrkStats> {
  return startWrk(run).done;
}

function parseSummary(raw: Record<string, number>): WrkStats {
  const seconds = raw.duration_us! / 1e6;
  return {
    requests: raw.requests!,
    seconds,
    requestsPerSecond: raw.requests! / seconds,
    p50Ms: raw.p50_us! / 1000,
    p90Ms: raw.p90_us! / 1000,
    p99Ms: raw.p99_us! / 1000,
    maxMs: raw.max_us! / 1000,
    errors: raw.connect_errors! + raw.read_errors! + raw.write_errors! + raw.status_errors!,
    timeouts: raw.timeouts!,
  };
}
