/**
 * The checker in its own thread (src/checker/checker-host.ts, checker-thread.ts), as `serve`
 * runs it for a file database: ticks and live look-ups go to the thread as messages, through
 * its one source, and what it did shows in the database, the summaries, /health and the quota.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { type CheckerHost, createCheckerHost } from "../../src/checker/checker-host.ts";
import { startServiceChecker } from "../../src/cli/serve.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { newServiceStatus } from "../../src/ops/service-status.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { SimulatorQuotaBlock } from "../../src/uscis/source.ts";
import { startTorchFake, type TorchFake } from "../fakes/torch-fake.ts";
import {
  receiptNumbers,
  reviewedCase,
  TorchClientId,
  TorchClientSecret,
  torchEnv,
  until,
} from "../faults/harness.ts";
import { CrashBudget } from "./crashing-thread.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Options {
  env?: Record<string, string>;
  entry?: URL;
  niceness?: number;
  /** Leaves the thread loading: `started` settles once it is ready. */
  deferStart?: boolean;
}

/** A file database, the app on the main thread's connection, and the checker thread beside it. */
async function threadedService(options: Options = {}) {
  const folder = mkdtempSync(join(tmpdir(), "immigraflow-thread-"));
  const databasePath = join(folder, "immigraflow.db");
  const database: DatabaseHandle = openDatabase(databasePath);
  migrate(database);
  const clock = systemClock;
  const logs = memoryDestination();
  const logger = createLogger({ level: "debug", format: "json", destination: logs.stream });
  // The thread logs to stdout: only its warnings, so a passing run stays quiet.
  const config = loadConfig(
    { DATABASE_PATH: databasePath, LOG_LEVEL: "warn", ...options.env },
    false,
  );
  const status = newServiceStatus(clock.now());
  const host: CheckerHost = createCheckerHost({
    config,
    db: database.db,
    clock,
    logger,
    restartDelayMs: 50,
    ...(options.entry && { entry: options.entry }),
    ...(options.niceness !== undefined && { niceness: options.niceness }),
  });
  status.checkerThread = host.state;
  cleanups.push(async () => {
    await host.stop(2_000);
    database.close();
    rmSync(folder, { recursive: true, force: true });
  });
  const started = host.start();
  if (!options.deferStart) await started;

  const app = createApp({
    config,
    database,
    clock,
    logger,
    source: host.source,
    quota: host.quota,
    status,
  });
  const created = createPartnersService(database.db, clock).create({
    name: "Thread Partner",
    email: "ops@thread.example",
  });
  const headers = {
    "x-api-key": created.apiKey,
    "x-api-secret": created.apiSecret,
    "content-type": "application/json",
  };
  async function call(method: string, path: string, body?: unknown) {
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    // any: the tests read bodies field by field.
    const json: any = await response.json();
    return { status: response.status, json };
  }
  async function watch(receipts: string[]) {
    const user = await call("POST", "/v1/users", { email: "ana@thread.example" });
    expect(user.status).toBe(201);
    for (const receipt of receipts) {
      const created = await call("POST", `/v1/users/${user.json.id}/cases`, {
        receipt_number: receipt,
      });
      expect(created.status).toBe(201);
    }
  }
  const count = (sql: string) => (database.sqlite.query(sql).get() as { n: number }).n;
  return { host, call, watch, count, logs, databasePath, config, started };
}

describe("the checker thread", () => {
  test("a look-up asked for while the thread still loads waits for it", async () => {
    const service = await threadedService({ deferStart: true });
    expect(service.host.state.state).toBe("starting");

    const result = await service.host.source.fetch("IOE0912345678");

    expect(result.kind).not.toBe("unavailable");
    await service.started;
  });

  test("a tick runs in the thread; main gets its summary and reads the quota exactly", async () => {
    const svc = await threadedService();
    await svc.watch(receiptNumbers(3, 301));

    const summary = await svc.host.tick();
    expect(summary).toMatchObject({ checked: 3, changed: 3, failed: 0, rateLimited: false });
    expect(svc.count("SELECT count(*) AS n FROM status_updates")).toBe(3);

    // The thread reserved a whole block in the database but used three calls of it.
    const counted = () => svc.count("SELECT coalesce(sum(count), 0) AS n FROM usage_counters");
    expect(counted()).toBe(SimulatorQuotaBlock);
    expect(svc.host.quota.used()).toBe(3);
    const health = await svc.call("GET", "/health");
    expect(health.json.uscis.quota_remaining).toBe(svc.config.uscisDailyQuota - 3);
    expect(health.json.checker.thread).toEqual({
      state: "running",
      restarts: 0,
      last_failure_at: null,
    });

    // A clean stop gives the rest of the block back.
    await svc.host.stop(2_000);
    expect(svc.host.state.state).toBe("stopped");
    expect(counted()).toBe(3);
  });

  test("ticks and live look-ups share one rate limiter and one daily quota", async () => {
    const fake: TorchFake = startTorchFake({
      clientId: TorchClientId,
      clientSecret: TorchClientSecret,
    });
    cleanups.push(() => fake.stop());
    const watched = receiptNumbers(4, 311);
    const lookedUp = receiptNumbers(3, 321);
    for (const receipt of [...watched, ...lookedUp]) fake.setCase(receipt, reviewedCase(receipt));
    const svc = await threadedService({
      env: { ...torchEnv(fake), USCIS_RATE_PER_SECOND: "4", USCIS_DAILY_QUOTA: "5" },
    });
    await svc.watch(watched);

    // Seven calls wanted at once, from both threads' callers; the day allows five.
    const [summary, ...answers] = await Promise.all([
      svc.host.tick(),
      ...lookedUp.map((receipt) => svc.call("POST", "/v1/check", { receipt_number: receipt })),
    ]);
    const calls = fake.requests.log.filter((request) => request.kind === "case_status");
    expect(calls).toHaveLength(5);
    expect(summary!.checked + answers.filter((a) => a.status === 200).length).toBe(5);
    // A tick that met the limit stops; one that did not checked all it had.
    if (!summary!.rateLimited) expect(summary!.checked).toBe(watched.length);

    // 4 a second is one call per 250 ms, whoever asked; two limiters would have sent the
    // first look-up and the tick's first call together. The slack is for a busy machine.
    const times = calls.map((request) => request.at).sort((a, b) => a - b);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(200);

    expect(svc.host.quota.remaining()).toBe(0);
    const health = await svc.call("GET", "/health");
    expect(health.json.uscis).toMatchObject({ state: "quota_exhausted", quota_remaining: 0 });
  }, 20_000);

  test("a thread that dies is logged, shown on /health and replaced", async () => {
    const svc = await threadedService({ entry: new URL("./crashing-thread.ts", import.meta.url) });
    await svc.watch(receiptNumbers(2, 331));

    await expect(svc.host.tick(CrashBudget)).rejects.toThrow("ended during the tick");
    const died = svc.logs.lines.find(
      (line) => line.msg === "checker thread ended; starting a new one",
    );
    expect(died).toMatchObject({
      level: "error",
      thread: "checker",
      err: { message: "injected failure in the checker thread" },
    });
    // Its connection went with it: the main thread still writes.
    const during = await svc.call("POST", "/v1/users", { email: "bo@thread.example" });
    expect(during.status).toBe(201);

    await until("a new thread", () => svc.host.state.state === "running", 5_000);
    expect(svc.host.state.restarts).toBe(1);
    const summary = await svc.host.tick();
    expect(summary).toMatchObject({ checked: 2, changed: 2 });

    const health = await svc.call("GET", "/health");
    expect(health.json.status).toBe("degraded");
    expect(health.json.checker.thread).toMatchObject({ state: "running", restarts: 1 });
    expect(Date.parse(health.json.checker.thread.last_failure_at)).toBeGreaterThan(0);
  });

  test.if(process.platform === "linux")(
    "a niceness lowers the thread's priority only",
    async () => {
      const nice = (task: string | number) => {
        const stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), nice: fields[16] };
      };
      // The main thread's task id is the process id.
      const before = nice(process.pid).nice;
      await threadedService({ niceness: 5 });
      const threads = readdirSync("/proc/self/task").map(nice);
      const lowered = String(Number(before) + 5);
      expect(threads.some((task) => task.name === "Worker" && task.nice === lowered)).toBe(true);
      expect(nice(process.pid).nice).toBe(before);
    },
  );

  test("a :memory: database keeps the checker on the main thread", async () => {
    const database = openDatabase(":memory:");
    migrate(database);
    cleanups.push(() => database.close());
    const logger = createLogger({ level: "silent", format: "json" });
    const status = newServiceStatus(Date.now());
    const config = loadConfig({ DATABASE_PATH: ":memory:" }, false);
    const checker = await startServiceChecker(config, {
      database,
      clock: systemClock,
      logger,
      status,
    });
    expect(status.checkerThread).toBeNull();
    const summary = await checker.tick();
    expect(summary).toMatchObject({ checked: 0, rateLimited: false });
    expect(summary.skipped).toBeUndefined();
    await checker.stop(100);
  });

  test("an entry that cannot be loaded stops start-up", async () => {
    const attempt = threadedService({ entry: new URL("./no-such-thread.ts", import.meta.url) });
    await expect(attempt).rejects.toThrow("did not start");
  });
});
