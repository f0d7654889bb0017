/**
 * Crash tests of the outbox, with the compiled executable: SIGKILL it while messages are on
 * their way, start it again on the same database, and count what reached the providers' fakes.
 * The promise under test (DESIGN.md, "The outbox"): every job is delivered; an e-mail exactly
 * once, because every attempt carries the job's Idempotency-Key and Resend (like its fake)
 * delivers once per key; a WhatsApp message exactly once too: Twilio has no such key, so a job
 * found interrupted is first looked for in Twilio's Messages list (which the fake serves from
 * what it accepted) and, found there, recorded as sent with that message's SID.
 *
 * A restart hands back the jobs the killed run held (src/outbox/outbox.queries.ts,
 * releaseHeldJobs), so neither scenario waits for the worker's 120 s lease.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";
import { startTwilioFake, type TwilioFake } from "../fakes/twilio-fake.ts";
import {
  type BinaryProcess,
  copyBinaryTo,
  ensureBinary,
  type RunningServer,
  runBinary,
  startServer,
} from "../helpers/binary.ts";
import { copyWithWal } from "../helpers/database-copy.ts";

/**
 * Users per scenario; each brings a verification e-mail and a case's WhatsApp message. More
 * than a run of either channel (each channel's lane takes 100 jobs a run), so WhatsApp jobs
 * are still waiting when the mid-send kill comes. The blocker user comes on top.
 */
const Users = 120;
const ResendKey = "re_e2e_crash_0123456789abcdef";
const AccountSid = `AC${"0123456789abcdef".repeat(2)}`;
const AuthToken = "e2e-crash-twilio-token";
const WhatsAppFrom = "+14155238886";
/** Long enough to deliver everything left at the kill, far shorter than a lease. */
const DrainTimeoutMs = 60_000;

interface Partner {
  api_key: string;
  api_secret: string;
}

interface JobRow {
  id: number;
  channel: "email" | "whatsapp";
  purpose: string;
  idempotency_key: string;
  status_update_id: number | null;
  payload: string;
  state: string;
  attempts: number;
  lease_until: number | null;
  send_started_at: number | null;
  last_error: string | null;
  provider_message_id: string | null;
}

interface UpdateRow {
  id: number;
  kind: string;
  whatsapp_notify_status: string;
}

interface Scenario {
  name: string;
  dbPath: string;
  env: Record<string, string>;
  resend: ResendFake;
  twilio: TwilioFake;
  partner: Partner;
  /** The first e-mail, held at the Resend fake so the e-mail lane claims nothing else meanwhile. */
  blockerKey?: string;
  /**
   * Lets go of the blocker user's WhatsApp message, held at the Twilio fake so the WhatsApp
   * lane claims nothing else meanwhile. Within 10 s of its arrival: the sender gives up then.
   */
  releaseWhatsApp?: () => void;
}

let work = "";
let binary = "";
const processes: BinaryProcess[] = [];
const fakes: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  const built = await ensureBinary();
  work = mkdtempSync(join(tmpdir(), "immigraflow-crash-"));
  mkdirSync(join(work, "bin"));
  binary = copyBinaryTo(built, join(work, "bin"));
}, 180_000);

afterAll(async () => {
  // SIGKILL, not stop(): a child left over from a failed assertion has nothing worth saving.
  await Promise.all(processes.map((child) => child.kill()));
  await Promise.all(fakes.map((fake) => fake.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Polls `check` until it holds; the only kind of waiting in this file. */
async function until(
  label: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  explain: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`not within ${timeoutMs} ms: ${label}\n${explain()}`);
    await Bun.sleep(20);
  }
}

/** `twilioSlowMs`: how long the Twilio fake takes per message once set to "slow". */
async function setUp(name: string, twilioSlowMs = 0): Promise<Scenario> {
  const resend = startResendFake({ apiKey: ResendKey });
  const twilio = startTwilioFake({
    accountSid: AccountSid,
    authToken: AuthToken,
    slowMs: twilioSlowMs,
  });
  fakes.push(resend, twilio);
  const folder = join(work, name);
  mkdirSync(folder);
  const env = {
    DATABASE_PATH: join(folder, "immigraflow.db"),
    HOST: "127.0.0.1",
    // A tick every second, so new cases get their first update at once.
    CHECKER_CRON: "* * * * * *",
    // Not 1: the simulator would then move cases during the lease wait, and a tick could add
    // a job just as the service is stopped for the final count. New receipts are due at once
    // whatever the interval.
    CHECK_INTERVAL_MINUTES: "60",
    RESEND_API_KEY: ResendKey,
    RESEND_BASE_URL: resend.url,
    EMAIL_FROM: "ImmigraFlow <cases@crash.example>",
    // Far above what the slow fake allows anyway: pacing must not be what keeps jobs waiting.
    EMAIL_RATE_PER_SECOND: "50",
    TWILIO_ACCOUNT_SID: AccountSid,
    TWILIO_AUTH_TOKEN: AuthToken,
    TWILIO_WHATSAPP_FROM: WhatsAppFrom,
    TWILIO_API_BASE_URL: twilio.url,
  };
  const created = await runBinary(
    binary,
    ["partner", "create", "--name", "Crash Partner", "--email", "ops@crash.example", "--json"],
    { env },
  );
  expect(created.code, created.stderr).toBe(0);
  const partner = JSON.parse(created.stdout.trim().split("\n").at(-1) ?? "") as Partner;
  return { name, dbPath: env.DATABASE_PATH, env, resend, twilio, partner };
}

async function launch(scenario: Scenario): Promise<RunningServer> {
  const server = await startServer(binary, { env: scenario.env });
  processes.push(server.process);
  return server;
}

async function call(server: RunningServer, partner: Partner, path: string, body: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: {
      "X-API-KEY": partner.api_key,
      "X-API-SECRET": partner.api_secret,
      "Content-Type": "application/json",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  expect(response.status, `${path}: ${text}`).toBe(201);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Status updates the checker has reported writing, over every tick so far. */
function updatesWritten(server: RunningServer): number {
  return server.process.logs
    .filter((line) => line.msg === "checker tick")
    .reduce((sum, line) => sum + Number(line.changed ?? 0), 0);
}

/**
 * Makes all the jobs while each channel's lane is stuck on one slow message (the blocker
 * user's e-mail at Resend, its case's WhatsApp message at Twilio), so what a lane claims next,
 * and in which run, does not depend on when its 1 s poll falls: it takes its channel's jobs
 * oldest first, and waits for a whole run before taking more.
 */
async function fillOutbox(
  scenario: Scenario,
  server: RunningServer,
  blockerMs: number,
  whileBlocked: () => void,
): Promise<void> {
  const { resend, twilio } = scenario;
  resend.setMode("slow", { delayMs: blockerMs, times: 1 });
  const blockerUser = await call(server, scenario.partner, "/v1/users", {
    email: `blocker@${scenario.name}.example`,
    phone: "+14155559999",
    notify_by_whatsapp: true,
  });
  const blockedAt = Date.now();
  await until("the blocker e-mail reached Resend", () => resend.requests.length > 0, 5_000);
  const blocker = resend.requests[0]!;
  scenario.blockerKey = blocker.idempotencyKey ?? undefined;
  expect(scenario.blockerKey).toBeString();
  whileBlocked();

  const users: number[] = [];
  for (let i = 1; i <= Users; i += 1) {
    const user = await call(server, scenario.partner, "/v1/users", {
      email: `user${i}@${scenario.name}.example`,
      // Distinct numbers, so each message at the fake names its user.
      phone: `+1415555${String(i).padStart(4, "0")}`,
      notify_by_whatsapp: true,
    });
    users.push(user.id as number);
  }
  // The WhatsApp blocker must be let go before the sender's 10 s timeout, which starts when it
  // reaches Twilio; mid-send, as the 12 s e-mail blocker is answered: it comes late enough.
  await Bun.sleep(Math.max(0, blockedAt + Math.min(blockerMs, 12_000) - 9_000 - Date.now()));
  scenario.releaseWhatsApp = twilio.holdNext();
  await call(server, scenario.partner, `/v1/users/${blockerUser.id}/cases`, {
    receipt_number: `IOE88${"9".repeat(8)}`,
  });
  await until("the blocker WhatsApp reached Twilio", () => twilio.handling > 0, 5_000);
  for (const [index, userId] of users.entries()) {
    // Any well-formed receipt not ending in 0000 is a case the simulator knows.
    const receipt = `IOE88${String(index + 1).padStart(8, "0")}`;
    await call(server, scenario.partner, `/v1/users/${userId}/cases`, { receipt_number: receipt });
  }
  await until(
    "the checker wrote each case's initial update",
    () => updatesWritten(server) >= Users,
    15_000,
    () => server.process.dump(),
  );
  // Had the blocker been answered already, the batches would be whatever the poll made them.
  expect(blocker.status, "setup outlasted the blocker e-mail").toBe(0);
  expect(twilio.handling, "setup outlasted the blocker WhatsApp").toBe(1);
  expect(twilio.messages).toHaveLength(0);
}

function readJobs(db: Database): JobRow[] {
  return db.query("SELECT * FROM outbox_jobs ORDER BY id").all() as JobRow[];
}

/**
 * The outbox as the killed process left it, read from a copy of the database and its WAL: the
 * copy may replay the WAL as it opens, and the file the next start opens stays exactly what
 * the crash left.
 */
function jobsAtKill(dbPath: string): JobRow[] {
  const folder = mkdtempSync(join(work, "snapshot-"));
  const copy = join(folder, "copy.db");
  const db = new Database(copyWithWal(dbPath, copy));
  try {
    return readJobs(db);
  } finally {
    db.close();
  }
}

interface Health {
  outbox: { pending: number; in_flight: number };
}

/**
 * Starts the service again and waits until the outbox is empty. A start hands back the jobs a
 * crashed run still held, so nothing waits for its lease to run out.
 */
async function restartAndDrain(scenario: Scenario): Promise<void> {
  const server = await launch(scenario);
  let last: Health | null = null;
  await until(
    "the outbox drained after the restart",
    async () => {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
      last = (await response.json()) as Health;
      return last.outbox.pending === 0 && last.outbox.in_flight === 0;
    },
    DrainTimeoutMs,
    () => `last /health: ${JSON.stringify(last)}\n${server.process.dump()}`,
  );
  expect(await server.process.stop(10_000)).toBe(0);
}

/** Where a WhatsApp message came from: the job's key rides on its StatusCallback URL. */
function jobKeyOf(statusCallback: string | null): string | null {
  return statusCallback ? new URL(statusCallback).searchParams.get("job") : null;
}

function countBy<T>(items: T[], key: (item: T) => string | null): Map<string | null, T[]> {
  const groups = new Map<string | null, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/**
 * Every assertion that holds after any crash, reading the fakes and the stopped service's
 * database. Returns the numbers the report needs.
 */
function expectDeliveredOnce(scenario: Scenario, atKill: JobRow[]) {
  const db = new Database(scenario.dbPath, { readonly: true });
  let jobs: JobRow[];
  let updates: UpdateRow[];
  try {
    jobs = readJobs(db);
    updates = db
      .query("SELECT id, kind, whatsapp_notify_status FROM status_updates")
      .all() as UpdateRow[];
  } finally {
    db.close();
  }
  expect(jobs.every((job) => job.state !== "pending" && job.state !== "in_flight")).toBe(true);

  // E-mail: one verification per user plus the blocker's, each sent, each delivered once.
  const emails = jobs.filter((job) => job.channel === "email");
  expect(emails).toHaveLength(Users + 1);
  expect(emails.every((job) => job.purpose === "verification")).toBe(true);
  expect(emails.filter((job) => job.state !== "sent")).toEqual([]);
  const deliveries = countBy(scenario.resend.delivered, (d) => d.idempotencyKey);
  expect([...deliveries.keys()].sort()).toEqual(emails.map((job) => job.idempotency_key).sort());
  for (const job of emails) {
    const delivered = deliveries.get(job.idempotency_key)!;
    expect(delivered, `deliveries for ${job.idempotency_key}`).toHaveLength(1);
    expect(job.provider_message_id).toBe(delivered[0]!.id);
  }
  expect(scenario.resend.delivered).toHaveLength(emails.length);
  const requests = countBy(scenario.resend.requests, (r) => r.idempotencyKey);
  const repeated = [...requests.values()].filter((sent) => sent.length > 1);

  // WhatsApp: one initial update per case (the users' and the blocker's), each with one job.
  const whatsapp = jobs.filter((job) => job.channel === "whatsapp");
  expect(whatsapp).toHaveLength(Users + 1);
  expect(updates.filter((u) => u.kind === "initial")).toHaveLength(Users + 1);
  const messages = countBy(scenario.twilio.messages, (m) => jobKeyOf(m.statusCallback));
  const byKey = new Map(whatsapp.map((job) => [job.idempotency_key, job]));
  // No message the outbox did not ask for, and none twice.
  expect([...messages.keys()].filter((key) => key === null || !byKey.has(key))).toEqual([]);
  const twice = [...messages.entries()].filter(([, sent]) => sent.length > 1);
  expect(twice.map(([key]) => key)).toEqual([]);

  // Every one sent, with the one message Twilio has for it: none lost at the kill, none twice.
  for (const job of whatsapp) {
    const sent = messages.get(job.idempotency_key) ?? [];
    const to = (JSON.parse(job.payload) as { message: { to: string } }).message.to;
    expect(sent.map((m) => m.to)).toEqual([`whatsapp:${to}`]);
    expect(job.state, `job ${job.id}: ${job.last_error}`).toBe("sent");
    expect(job.provider_message_id).toBe(sent[0]!.sid);
    const update = updates.find((u) => u.id === job.status_update_id);
    expect(update?.whatsapp_notify_status).toBe("sent");
  }
  expect(scenario.twilio.messages).toHaveLength(whatsapp.length);
  // The ones whose request had started at the kill, each looked for at Twilio after it.
  const started = atKill.filter(
    (job) => job.channel === "whatsapp" && job.state === "in_flight" && job.send_started_at,
  );
  const lookups = scenario.twilio.requests.filter((r) => r.method === "GET");

  return {
    emailJobs: emails.length,
    resendRequests: scenario.resend.requests.length,
    keysRequestedTwice: repeated.length,
    repeatAnswers: repeated.flatMap((sent) => sent.slice(1).map((r) => r.status ?? "dropped")),
    whatsappJobs: whatsapp.length,
    twilioMessages: scenario.twilio.messages.length,
    whatsappSent: whatsapp.filter((job) => job.state === "sent").length,
    /** WhatsApp jobs whose request had started at the kill, as they ended. */
    startedAtKill: started.map((job) => byKey.get(job.idempotency_key)!),
    twilioLookups: lookups.length,
  };
}

function describeKill(atKill: JobRow[]) {
  const tally = (channel: string, state: string) =>
    atKill.filter((job) => job.channel === channel && job.state === state).length;
  return {
    email: { sent: tally("email", "sent"), inFlight: tally("email", "in_flight") },
    emailPending: tally("email", "pending"),
    whatsapp: { sent: tally("whatsapp", "sent"), inFlight: tally("whatsapp", "in_flight") },
    whatsappPending: tally("whatsapp", "pending"),
  };
}

describe("a SIGKILL of the compiled executable", () => {
  test.concurrent("mid-send: every e-mail once, every WhatsApp once", async () => {
    const scenario = await setUp("midway", 100);
    const server = await launch(scenario);
    await fillOutbox(scenario, server, 12_000, () => {
      // Slow enough that both channels have jobs taken but not yet sent when the kill comes.
      scenario.resend.setMode("slow", { delayMs: 200 });
      scenario.twilio.setMode("slow");
    });
    // Both lanes go on together, so both are caught mid-run.
    await until(
      "the blocker e-mail was answered",
      () => scenario.resend.delivered.some((d) => d.idempotencyKey === scenario.blockerKey),
      15_000,
    );
    scenario.releaseWhatsApp!();
    // Once the blockers are answered each lane takes 100 of its 120 jobs: kill a few WhatsApp
    // messages into that run, while an e-mail is inside the Resend fake. The fake runs on this
    // thread, so it cannot answer between this check and the signal: that e-mail is accepted
    // with its answer lost, the case the Idempotency-Key is for.
    // Likewise the WhatsApp requests whose starts the service has committed (a few go at once)
    // are all held inside the Twilio fake: they reached Twilio, and their answers are lost
    // with the process. Until they are answered the service starts no others.
    const live = new Database(scenario.dbPath, { readonly: true });
    const started = live.query(
      `SELECT count(*) AS n FROM outbox_jobs
       WHERE channel = 'whatsapp' AND state = 'in_flight' AND send_started_at IS NOT NULL`,
    );
    try {
      await until(
        "the first WhatsApp messages arrived, with an e-mail at Resend and the next at Twilio",
        () =>
          scenario.twilio.messages.length >= 3 &&
          scenario.twilio.handling > 0 &&
          scenario.resend.requests.some((request) => request.status === 0) &&
          (started.get() as { n: number }).n === scenario.twilio.handling,
        30_000,
        () => server.process.dump(),
      );
      await server.process.kill();
    } finally {
      live.close();
    }
    const atKill = jobsAtKill(scenario.dbPath);
    // As at Twilio, a request that arrived is carried out whether or not anyone hears back.
    await until(
      "the held WhatsApp requests were accepted",
      () => scenario.twilio.handling === 0,
      5_000,
    );
    const atTwilioBeforeRestart = new Set(scenario.twilio.messages.map((m) => m.sid));
    const kill = describeKill(atKill);
    // Some but not all of each channel, and both caught mid-batch.
    expect(kill.email.sent).toBeGreaterThan(0);
    expect(kill.email.inFlight).toBeGreaterThan(0);
    expect(kill.whatsapp.sent).toBeGreaterThan(0);
    expect(kill.whatsapp.inFlight).toBeGreaterThan(0);
    expect(kill.whatsappPending).toBeGreaterThan(0);

    scenario.resend.setMode("ok");
    scenario.twilio.setMode("ok");
    await restartAndDrain(scenario);
    const counts = expectDeliveredOnce(scenario, atKill);
    // The e-mail cut off at the kill was asked for again under its key, and not delivered
    // again (expectDeliveredOnce counted one delivery per key).
    expect(counts.keysRequestedTwice).toBeGreaterThanOrEqual(1);
    expect(counts.repeatAnswers).toContain(200);
    // The jobs whose requests had started are the ones held at Twilio. The restarted service
    // found each one's message there and took its SID, and sent none of them again.
    const { startedAtKill, ...report } = counts;
    expect(startedAtKill.length).toBeGreaterThan(0);
    for (const job of startedAtKill) {
      expect(atTwilioBeforeRestart.has(job.provider_message_id!)).toBe(true);
    }
    expect(counts.twilioLookups).toBe(startedAtKill.length);
    console.info(JSON.stringify({ scenario: scenario.name, atKill: kill, ...report }));
  }, 200_000);

  test.concurrent("right after the tick that made the jobs: each arrives once", async () => {
    const scenario = await setUp("after-tick");
    const server = await launch(scenario);
    // The blockers hold both lanes past the kill, so the tick's jobs are all still pending.
    await fillOutbox(scenario, server, 20_000, () => {});
    await server.process.kill();
    const atKill = jobsAtKill(scenario.dbPath);
    const taken = atKill.filter((job) => job.state !== "pending");
    expect(taken.map((job) => [job.channel, job.state])).toEqual([
      ["email", "in_flight"],
      ["whatsapp", "in_flight"],
    ]);
    expect(taken[0]!.idempotency_key).toBe(scenario.blockerKey!);
    // As at Twilio, the held request is carried out though its sender is gone.
    scenario.releaseWhatsApp!();
    await until("the blocker WhatsApp was accepted", () => scenario.twilio.handling === 0, 25_000);

    await restartAndDrain(scenario);
    const counts = expectDeliveredOnce(scenario, atKill);
    // Nothing of the tick's was taken, so nothing may be lost either.
    expect(counts.whatsappSent).toBe(Users + 1);
    expect(counts.twilioMessages).toBe(Users + 1);
    // The blocker was still being answered when the restart asked again: Resend says 409
    // (concurrent) until the first request is done, then answers with the first e-mail's id
    // instead of sending a second.
    expect(counts.repeatAnswers.at(-1)).toBe(200);
    expect(counts.repeatAnswers.slice(0, -1).every((status) => status === 409)).toBe(true);
    // Only the blocker's WhatsApp had started: it was looked up, found, and not sent again.
    const { startedAtKill, ...report } = counts;
    expect(startedAtKill.map((job) => job.id)).toEqual([taken[1]!.id]);
    expect(counts.twilioLookups).toBe(1);
    console.info(
      JSON.stringify({ scenario: scenario.name, atKill: describeKill(atKill), ...report }),
    );
  }, 200_000);
});
