/**
 * HTTP: the bare Bun.serve ceiling against the case read a partner's back end makes most,
 * GET /v1/users/{user_id}/cases/{case_ref} for a case with 10 status updates, then the list
 * endpoints and case creation, all with wrk at 64 connections on loopback. A second reference,
 * a bare Bun.serve answering the case read's own bytes, tells how much of the gap to the "ok"
 * ceiling is moving that body at all and how much is our code.
 *
 * The database holds 20,000 other cases, so the indexes have some depth. The per-credential
 * rate limit (600 a minute by default) is lifted, or nearly every request would be a 429.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { processCpuMs, scratchDir } from "./lib/machine.ts";
import { type BenchRow, benchMain, formatInt, formatMs, progress } from "./lib/result.ts";
import {
  openBenchDatabase,
  runCheckerOnce,
  seedCaseWithHistory,
  seedPartner,
  seedUsers,
  seedWatchedReceipts,
} from "./lib/seed.ts";
import { type ServerProcess, startServer } from "./lib/servers.ts";
import { runWrk, type WrkStats } from "./lib/wrk.ts";

const Name = "http";
const MeasureSeconds = 10;
const WarmSeconds = 3;
const BackgroundCases = 20_000;

export interface HttpFixture {
  databasePath: string;
  headers: Record<string, string>;
  casePath: string;
  listPath: string;
  clientListPath: string;
  createPath: string;
}

/** The fixture both this benchmark and the under-load one read from. */
export async function seedHttpFixture(databasePath: string, firstIndex = 0): Promise<HttpFixture> {
  const handle = openBenchDatabase(databasePath);
  const partner = seedPartner(handle);
  const [reader, lister, creator] = seedUsers(handle.sqlite, {
    clientId: partner.clientId,
    count: 3,
    first: firstIndex,
  });
  // First, while it is the only receipt in the database: the checker writes its history.
  const watched = await seedCaseWithHistory(handle, {
    userId: reader!,
    index: firstIndex,
    updates: 10,
  });
  const others = seedUsers(handle.sqlite, {
    clientId: partner.clientId,
    count: BackgroundCases / 10,
    first: firstIndex + 10,
  });
  const future = Date.now() + 365 * 24 * 60 * 60 * 1000;
  seedWatchedReceipts(handle.sqlite, {
    userIds: others,
    count: BackgroundCases,
    first: firstIndex + 10,
    nextCheckAt: future,
  });
  // The lister's 50 cases, each with the status update its first check wrote.
  seedWatchedReceipts(handle.sqlite, {
    userIds: [lister!],
    count: 50,
    first: firstIndex + 10 + BackgroundCases,
    nextCheckAt: Date.now() - 60_000,
  });
  await runCheckerOnce(handle, { now: Date.now(), maxReceipts: 50 });
  handle.close();

  return {
    databasePath,
    headers: { "x-api-key": partner.apiKey, "x-api-secret": partner.apiSecret },
    casePath: `/v1/users/${reader}/cases/${watched.caseId}`,
    listPath: `/v1/users/${lister}/cases`,
    clientListPath: "/v1/client/cases",
    createPath: `/v1/users/${creator}/cases`,
  };
}

export function appServerEnv(databasePath: string): Record<string, string> {
  return {
    DATABASE_PATH: databasePath,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    USCIS_MODE: "simulator",
    USCIS_DAILY_QUOTA: "100000000",
    RATE_LIMIT_PER_MINUTE: "1000000000",
  };
}

/**
 * One GET through fetch, to prove the path answers what the benchmark claims it answers.
 * Returns the body's bytes, for the payload-matched ceiling.
 */
export async function checkCaseRead(server: ServerProcess, fixture: HttpFixture) {
  const response = await fetch(`http://127.0.0.1:${server.port}${fixture.casePath}`, {
    headers: fixture.headers,
  });
  const body = new Uint8Array(await response.arrayBuffer());
  const text = new TextDecoder().decode(body);
  const updates = response.ok ? (JSON.parse(text).update_count as number) : -1;
  if (updates !== 10)
    throw new Error(`case read answered ${response.status}: ${text.slice(0, 200)}`);
  return body;
}

/** A bare Bun.serve answering `body` on every request: the ceiling for an answer that size. */
async function measurePayloadCeiling(dir: string, body: Uint8Array) {
  const bodyFile = join(dir, "case-read.json");
  writeFileSync(bodyFile, body);
  const server = await startServer({
    script: "bench/servers/payload.ts",
    env: { BENCH_BODY_FILE: bodyFile },
  });
  try {
    return await measure(server, "/");
  } finally {
    await server.stop();
  }
}

type Measured = WrkStats & { serverCpuMsPerRequest: number | null };

/** wrk against `url`, warmed first, with the CPU the server process spent per request. */
async function measure(
  server: ServerProcess,
  path: string,
  extra: Partial<Parameters<typeof runWrk>[0]> = {},
  warm = true,
): Promise<Measured> {
  const url = `http://127.0.0.1:${server.port}${path}`;
  if (warm) await runWrk({ url, seconds: WarmSeconds, ...extra });
  const before = processCpuMs(server.pid);
  const stats = await runWrk({ url, seconds: MeasureSeconds, ...extra });
  const after = processCpuMs(server.pid);
  const spent = before === null || after === null ? null : after - before;
  return { ...stats, serverCpuMsPerRequest: spent === null ? null : spent / stats.requests };
}

/** The server's CPU per request goes in every figure: on a shared machine it moves least. */
const describe = (stats: Measured) =>
  `${formatInt(stats.requestsPerSecond)} req/s, p99 ${formatMs(stats.p99Ms)}` +
  (stats.serverCpuMsPerRequest === null
    ? ""
    : `, ${stats.serverCpuMsPerRequest.toFixed(3)} ms CPU/req`);

const clean = (stats: WrkStats) => stats.errors === 0 && stats.timeouts === 0;

const values = (stats: Measured) => ({
  requests_per_second: Math.round(stats.requestsPerSecond),
  p50_ms: stats.p50Ms,
  p99_ms: stats.p99Ms,
  errors: stats.errors + stats.timeouts,
  ...(stats.serverCpuMsPerRequest === null
    ? {}
    : { server_cpu_ms_per_request: stats.serverCpuMsPerRequest }),
});

export async function runHttp(): Promise<BenchRow[]> {
  const dir = scratchDir(Name);
  progress(Name, "seeding 20,000 cases and a case with 10 status updates");
  const fixture = await seedHttpFixture(join(dir, "http.db"));

  progress(Name, `ceiling: bare Bun.serve, ${MeasureSeconds} s`);
  const bare = await startServer({ script: "bench/servers/bare.ts" });
  const ceiling = await measure(bare, "/");
  await bare.stop();

  const app = await startServer({
    script: "bench/servers/app.ts",
    env: appServerEnv(fixture.databasePath),
    logFile: join(dir, "app.log"),
  });
  try {
    const body = await checkCaseRead(app, fixture);
    const bytes = `${formatInt(body.length)} bytes`;
    progress(Name, `payload ceiling: bare Bun.serve answering the case's ${bytes}`);
    const payload = await measurePayloadCeiling(dir, body);
    progress(Name, `GET case (${bytes}), ${MeasureSeconds} s`);
    const read = await measure(app, fixture.casePath, { headers: fixture.headers });
    progress(Name, "GET user's cases, GET client's cases, POST case");
    const list = await measure(app, fixture.listPath, { headers: fixture.headers });
    const clientList = await measure(app, fixture.clientListPath, { headers: fixture.headers });
    // Not warmed: every POST watches a new receipt, and the lua script counts from one base.
    const create = await measure(
      app,
      fixture.createPath,
      { headers: fixture.headers, createPath: fixture.createPath },
      false,
    );

    const share = read.requestsPerSecond / ceiling.requestsPerSecond;
    const payloadShare = payload.requestsPerSecond / ceiling.requestsPerSecond;
    const ofPayload = read.requestsPerSecond / payload.requestsPerSecond;
    const ceilingText = `${formatInt(ceiling.requestsPerSecond)} req/s`;
    return [
      {
        benchmark: "HTTP ceiling: bare Bun.serve 'ok'",
        figure: describe(ceiling),
        reference: "reference (64 conns, wrk)",
        pass: clean(ceiling) ? null : false,
        values: values(ceiling),
      },
      {
        benchmark: `HTTP ceiling: bare Bun.serve, the case's ${bytes}`,
        figure: `${describe(payload)} (${Math.round(payloadShare * 100)}% of 'ok')`,
        reference: "reference (same body as the case read)",
        pass: clean(payload) ? null : false,
        values: { ...values(payload), share_of_ceiling: payloadShare, body_bytes: body.length },
      },
      {
        benchmark: "HTTP GET case, 10 updates: rate",
        figure:
          `${describe(read)} (${Math.round(share * 100)}%; ` +
          `${Math.round(ofPayload * 100)}% of the same body bare)`,
        reference: `>= 50% of ${ceilingText}`,
        pass: share >= 0.5 && clean(read),
        values: {
          ...values(read),
          share_of_ceiling: share,
          share_of_payload_ceiling: ofPayload,
        },
      },
      {
        benchmark: "HTTP GET case, 10 updates: p99",
        figure: formatMs(read.p99Ms),
        reference: "< 15 ms",
        pass: read.p99Ms < 15 && clean(read),
      },
      {
        benchmark: "HTTP GET user's cases (50)",
        figure: describe(list),
        reference: "report only",
        pass: clean(list) ? null : false,
        values: values(list),
      },
      {
        benchmark: "HTTP GET /v1/client/cases (50)",
        figure: describe(clientList),
        reference: "report only",
        pass: clean(clientList) ? null : false,
        values: values(clientList),
      },
      {
        benchmark: "HTTP POST case (create)",
        figure: describe(create),
        reference: "report only",
        pass: clean(create) ? null : false,
        values: values(create),
      },
    ];
  } finally {
    await app.stop();
  }
}

if (import.meta.main) await benchMain(Name, runHttp);
