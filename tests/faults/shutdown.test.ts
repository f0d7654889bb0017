/**
 * SIGTERM to the compiled executable while work is in flight: a live look-up waiting on a slow
 * Torch fake, a checker tick waiting on it too, an e-mail waiting on a slow Resend fake. What
 * must hold (src/cli/serve.ts, SHUTDOWN_TIMEOUT_SECONDS): new connections are refused at once,
 * what is in flight finishes, or, when it cannot within the timeout, is handed back for the
 * next start, and the process exits 0 within the timeout either way.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";
import { startTorchFake, type TorchFake } from "../fakes/torch-fake.ts";
import { type BinaryProcess, type RunningServer, startServer } from "../helpers/binary.ts";
import {
  binaryWorkspace,
  createPartnerWithCli,
  partnerRequest,
  receiptNumbers,
  reviewedCase,
  TorchClientId,
  TorchClientSecret,
  torchEnv,
  tryConnect,
  until,
} from "./harness.ts";

const ResendKey = "re_faults_shutdown_0123456789";
const [Watched, LookedUp] = receiptNumbers(2, 201) as [string, string];
/** Never comes up during a test: the checker stays idle unless a test wants ticks. */
const IdleCron = "0 0 1 1 *";

let ws: Awaited<ReturnType<typeof binaryWorkspace>>;
const processes: BinaryProcess[] = [];
const fakes: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  ws = await binaryWorkspace("shutdown");
}, 180_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  await Promise.all(fakes.map((fake) => fake.stop()));
  if (ws) rmSync(ws.work, { recursive: true, force: true });
});

function torchFake(): TorchFake {
  const fake = startTorchFake({ clientId: TorchClientId, clientSecret: TorchClientSecret });
  fake.setCase(Watched, reviewedCase(Watched));
  fake.setCase(LookedUp, reviewedCase(LookedUp));
  fakes.push(fake);
  return fake;
}

function resendFake(): ResendFake {
  const fake = startResendFake({ apiKey: ResendKey });
  fakes.push(fake);
  return fake;
}

function resendEnv(fake: ResendFake): Record<string, string> {
  return {
    RESEND_API_KEY: ResendKey,
    RESEND_BASE_URL: fake.url,
    EMAIL_FROM: "ImmigraFlow <cases@faults.example>",
  };
}

async function setUp(name: string, extra: Record<string, string>) {
  const env = { DATABASE_PATH: ws.databasePath(name), HOST: "127.0.0.1", ...extra };
  const partner = await createPartnerWithCli(ws.binary, env);
  return { env, partner };
}

async function launch(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer(ws.binary, { env });
  processes.push(server.process);
  return server;
}

/**
 * Sends SIGTERM and waits for the "shutting down" line; the listener is closed in the same
 * turn of the event loop as that line is written. Returns when the signal went out.
 */
async function terminate(server: RunningServer): Promise<number> {
  const from = server.process.logs.length;
  const sentAt = performance.now();
  server.process.child.kill("SIGTERM");
  await server.process.waitForLog("shutting down", 5_000, from);
  return sentAt;
}

/**
 * Within moments of the signal, while the work in flight is still running, a new connection is
 * refused, by TCP and for an HTTP client. The "shutting down" line is written just before the
 * listener closes, so the first attempt may still land in that instant (a few ms, measured).
 */
async function expectRefused(server: RunningServer, stillInFlight: () => boolean) {
  await until(
    "new connections refused",
    async () => (await tryConnect(server.port)) === "ECONNREFUSED",
    1_000,
  );
  expect(stillInFlight(), "the work in flight ended before connections were refused").toBe(true);
  expect(await tryConnect(server.port)).toBe("ECONNREFUSED");
  const late = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) }).then(
    (response) => `answered ${response.status}`,
    (error: Error) => error.name,
  );
  expect(late).not.toStartWith("answered");
}

/** Waits for the exit; returns the code and how long after `sentAt` it came. */
async function exitAfter(server: RunningServer, sentAt: number) {
  const code = await server.process.exited;
  return { code, afterMs: performance.now() - sentAt };
}

function outboxJobs(dbPath: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .query("SELECT id, state, idempotency_key, provider_message_id FROM outbox_jobs ORDER BY id")
      .all() as {
      id: number;
      state: string;
      idempotency_key: string;
      provider_message_id: string;
    }[];
  } finally {
    db.close();
  }
}

describe("SIGTERM with work in flight", () => {
  test.concurrent("a look-up and a tick finish; new connections are refused", async () => {
    const fake = torchFake();
    const { env, partner } = await setUp("lookup", {
      ...torchEnv(fake),
      SHUTDOWN_TIMEOUT_SECONDS: "5",
      CHECKER_CRON: "* * * * * *",
      CHECK_INTERVAL_MINUTES: "60",
    });
    fake.setMode("slow", { delayMs: 1_500 });
    const server = await launch(env);
    const user = await partnerRequest(server.url, partner, "POST", "/v1/users", {
      email: "term@faults.example",
    });
    const userId = (user.json as { id: number }).id;
    const kase = await partnerRequest(server.url, partner, "POST", `/v1/users/${userId}/cases`, {
      receipt_number: Watched,
    });
    expect(kase.status, kase.text).toBe(201);

    const inside = (receipt: string) =>
      fake.requests.log.some((r) => r.receipt === receipt && r.status === 0);
    await until(
      "the tick's request inside the fake",
      () => inside(Watched),
      10_000,
      () => server.process.dump(),
    );
    const lookUp = partnerRequest(server.url, partner, "POST", "/v1/check", {
      receipt_number: LookedUp,
    });
    await until("the look-up inside the fake", () => inside(LookedUp), 10_000);

    const sentAt = await terminate(server);
    await expectRefused(server, () => inside(LookedUp));

    const answer = await lookUp;
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toMatchObject({ receipt_number: LookedUp, cached: false });
    const exit = await exitAfter(server, sentAt);
    expect(exit.code).toBe(0);
    expect(exit.afterMs).toBeLessThan(5_000);
    expect(server.process.logs.some((line) => line.msg === "stopped")).toBe(true);

    // The tick was let finish: its answer is the case's first status update.
    const db = new Database(env.DATABASE_PATH, { readonly: true });
    try {
      const rows = db.query("SELECT kind FROM status_updates").all();
      expect(rows).toEqual([{ kind: "initial" }]);
    } finally {
      db.close();
    }
  }, 30_000);

  test.concurrent("an e-mail on its way to a slow Resend is delivered first", async () => {
    const resend = resendFake();
    const { env, partner } = await setUp("mail", {
      ...resendEnv(resend),
      SHUTDOWN_TIMEOUT_SECONDS: "5",
      CHECKER_CRON: IdleCron,
    });
    resend.setMode("slow", { delayMs: 1_500 });
    const server = await launch(env);
    const user = await partnerRequest(server.url, partner, "POST", "/v1/users", {
      email: "mail@faults.example",
    });
    expect(user.status, user.text).toBe(201);
    await until(
      "the verification e-mail inside the Resend fake",
      () => resend.requests.some((request) => request.status === 0),
      10_000,
    );

    const sentAt = await terminate(server);
    await expectRefused(server, () => resend.requests.some((request) => request.status === 0));
    const exit = await exitAfter(server, sentAt);
    expect(exit.code).toBe(0);
    expect(exit.afterMs).toBeLessThan(5_000);

    expect(resend.delivered).toHaveLength(1);
    const jobs = outboxJobs(env.DATABASE_PATH);
    expect(jobs.map((job) => [job.state, job.provider_message_id])).toEqual([
      ["sent", resend.delivered[0]!.id],
    ]);
  }, 30_000);

  test.concurrent("slower than the timeout: handed back, exit 0 on time, sent once", async () => {
    const fake = torchFake();
    const resend = resendFake();
    const { env, partner } = await setUp("late", {
      ...torchEnv(fake),
      ...resendEnv(resend),
      SHUTDOWN_TIMEOUT_SECONDS: "1",
      CHECKER_CRON: IdleCron,
    });
    fake.setMode("slow", { delayMs: 6_000 });
    resend.setMode("slow", { delayMs: 4_000 });
    const server = await launch(env);
    const user = await partnerRequest(server.url, partner, "POST", "/v1/users", {
      email: "late@faults.example",
    });
    expect(user.status, user.text).toBe(201);
    await until(
      "the e-mail inside the Resend fake",
      () => resend.requests.some((request) => request.status === 0),
      10_000,
    );
    const lookUp = partnerRequest(server.url, partner, "POST", "/v1/check", {
      receipt_number: LookedUp,
    }).then(
      (answer) => `answered ${answer.status}`,
      (error: Error) => error.name,
    );
    await until(
      "the look-up inside the fake",
      () => fake.requests.log.some((r) => r.receipt === LookedUp && r.status === 0),
      10_000,
    );

    const sentAt = await terminate(server);
    const exit = await exitAfter(server, sentAt);
    expect(exit.code).toBe(0);
    expect(exit.afterMs).toBeGreaterThanOrEqual(900);
    expect(exit.afterMs).toBeLessThan(2_500);
    // A look-up stores nothing: cut off, the caller asks again; it must not hang.
    expect(await lookUp).not.toStartWith("answered 2");

    // The e-mail is neither lost nor given up: still taken, so the next start sends it.
    const [job] = outboxJobs(env.DATABASE_PATH);
    expect(job?.state).toBe("in_flight");
    await until(
      "the first request answered at the fake",
      () => resend.requests.every((request) => request.status !== 0),
      10_000,
    );
    resend.setMode("ok");

    const restarted = await launch(env);
    await until(
      "the e-mail sent after the restart",
      () => outboxJobs(env.DATABASE_PATH).every((row) => row.state === "sent"),
      15_000,
      () => restarted.process.dump(),
    );
    expect(await restarted.process.stop(10_000)).toBe(0);
    // Asked for twice under one Idempotency-Key, delivered once.
    expect(resend.requests.map((request) => request.idempotencyKey)).toEqual([
      job!.idempotency_key,
      job!.idempotency_key,
    ]);
    expect(resend.delivered).toHaveLength(1);
    expect(outboxJobs(env.DATABASE_PATH)[0]?.provider_message_id).toBe(resend.delivered[0]!.id);
  }, 45_000);
});
