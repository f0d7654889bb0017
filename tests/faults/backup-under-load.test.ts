/**
 * Everything writing at once while `backup` runs, with the compiled executable: partners'
 * requests creating users and cases and looking receipts up, the checker (a tick a second on
 * the simulator), the e-mail and WhatsApp senders against their fakes, and `immigraflow backup`
 * started from another process three times during the load. The database is padded first so
 * each VACUUM INTO takes long enough for writes to land while it runs. What must hold: no
 * request fails and nothing busy or locked is logged; every backup passes integrity_check and
 * holds every row committed before it started; the service can start on a backup.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";
import { startTwilioFake, type TwilioFake } from "../fakes/twilio-fake.ts";
import {
  type BinaryProcess,
  type RunningServer,
  runBinary,
  startServer,
} from "../helpers/binary.ts";
import {
  binaryWorkspace,
  createPartnerWithCli,
  type Partner,
  partnerRequest,
  until,
} from "./harness.ts";

const ResendKey = "re_faults_backup_0123456789";
const AccountSid = `AC${"0123456789abcdef".repeat(2)}`;
const AuthToken = "faults-backup-twilio-token";
const Workers = 6;
const Backups = 3;
/** Padding: about 25 MB of cached look-ups, so one VACUUM INTO takes a few hundred ms. */
const PaddingRows = 12_000;
const Tables = ["users", "cases", "receipts", "status_updates", "outbox_jobs"] as const;

let ws: Awaited<ReturnType<typeof binaryWorkspace>>;
let resend: ResendFake;
let twilio: TwilioFake;
const processes: BinaryProcess[] = [];

beforeAll(async () => {
  ws = await binaryWorkspace("backup");
  resend = startResendFake({ apiKey: ResendKey });
  twilio = startTwilioFake({ accountSid: AccountSid, authToken: AuthToken });
}, 180_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  await resend?.stop();
  await twilio?.stop();
  if (ws) rmSync(ws.work, { recursive: true, force: true });
});

interface Answer {
  path: string;
  status: number;
  text: string;
  endedAt: number;
}

type Ids = Record<(typeof Tables)[number], Set<string>>;

function idsIn(db: Database): Ids {
  const read = (table: string, column: string) =>
    new Set(
      (db.query(`SELECT ${column} AS id FROM ${table}`).all() as { id: unknown }[]).map((row) =>
        String(row.id),
      ),
    );
  return {
    users: read("users", "id"),
    cases: read("cases", "id"),
    receipts: read("receipts", "receipt_number"),
    status_updates: read("status_updates", "id"),
    outbox_jobs: read("outbox_jobs", "id"),
  };
}

function pad(dbPath: string) {
  const db = new Database(dbPath);
  try {
    const insert = db.prepare(
      "INSERT INTO check_cache (receipt_number, answer, fetched_at) VALUES (?, ?, ?)",
    );
    const filler = "x".repeat(1_900);
    db.transaction(() => {
      for (let i = 0; i < PaddingRows; i += 1) {
        const receipt = `WAC77${String(i).padStart(8, "0")}`;
        insert.run(receipt, JSON.stringify({ receiptNumber: receipt, filler }), 0);
      }
    })();
  } finally {
    db.close();
  }
}

/**
 * One partner's integration at full speed: a user, a case for it, a rename, a live look-up,
 * again. Receipts end in 7: the simulator does not know those ending in 0000.
 */
async function work(server: RunningServer, partner: Partner, worker: number, stop: () => boolean) {
  const answers: Answer[] = [];
  const send = async (method: string, path: string, body: unknown) => {
    const answer = await partnerRequest(server.url, partner, method, path, body, 15_000);
    answers.push({
      path: `${method} ${path}`,
      status: answer.status,
      text: answer.text,
      endedAt: performance.now(),
    });
    return answer;
  };
  for (let n = 0; !stop(); n += 1) {
    const user = await send("POST", "/v1/users", {
      email: `w${worker}n${n}@faults.example`,
      phone: `+1415${String(worker).padStart(2, "0")}${String(n).padStart(5, "0")}`,
      notify_by_whatsapp: true,
    });
    const userId = (user.json as { id?: number } | null)?.id;
    if (userId === undefined) continue;
    await send("POST", `/v1/users/${userId}/cases`, {
      receipt_number: `IOE7${String(worker).padStart(2, "0")}${String(n).padStart(6, "0")}7`,
    });
    await send("PUT", `/v1/users/${userId}`, { name: `Worker ${worker} user ${n}` });
    await send("POST", "/v1/check", {
      receipt_number: `LIN7${String(worker).padStart(2, "0")}${String(n).padStart(6, "0")}7`,
    });
  }
  return answers;
}

describe("API writes, the checker, the senders and an online backup at once", () => {
  test("nothing busy or locked reaches anyone; each backup holds all before it", async () => {
    const dbPath = ws.databasePath("live");
    const env = {
      DATABASE_PATH: dbPath,
      HOST: "127.0.0.1",
      CHECKER_CRON: "* * * * * *",
      CHECK_INTERVAL_MINUTES: "1",
      RATE_LIMIT_PER_MINUTE: "1000000",
      RESEND_API_KEY: ResendKey,
      RESEND_BASE_URL: resend.url,
      EMAIL_FROM: "ImmigraFlow <cases@faults.example>",
      EMAIL_RATE_PER_SECOND: "200",
      TWILIO_ACCOUNT_SID: AccountSid,
      TWILIO_AUTH_TOKEN: AuthToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_API_BASE_URL: twilio.url,
    };
    const partner = await createPartnerWithCli(ws.binary, env);
    pad(dbPath);
    const server = await startServer(ws.binary, { env });
    processes.push(server.process);

    let stopping = false;
    const load = Promise.all(
      Array.from({ length: Workers }, (_, worker) => work(server, partner, worker, () => stopping)),
    );
    const live = new Database(dbPath, { readonly: true });
    const backups: { file: string; before: Ids; startedAt: number; endedAt: number }[] = [];
    try {
      for (let round = 0; round < Backups; round += 1) {
        const committed = idsIn(live).status_updates.size;
        // Let the load and the checker write something new before each backup.
        await until(
          "new status updates since the last backup",
          () => idsIn(live).status_updates.size > committed,
          20_000,
          () => server.process.dump(),
        );
        const file = join(ws.work, `backup-${round}.db`);
        const before = idsIn(live);
        const startedAt = performance.now();
        const result = await runBinary(ws.binary, ["backup", file], { env, timeoutMs: 30_000 });
        const endedAt = performance.now();
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toBe("");
        backups.push({ file, before, startedAt, endedAt });
      }
    } finally {
      stopping = true;
      live.close();
    }
    const answers = (await load).flat();
    expect(await server.process.stop(10_000)).toBe(0);

    // Every request of the load succeeded: none saw busy, locked, 5xx or anything else.
    expect(answers.length).toBeGreaterThan(50);
    const refused = answers.filter((a) => a.status < 200 || a.status > 299);
    expect(refused.map((a) => `${a.path} ${a.status} ${a.text}`)).toEqual([]);
    // Nor did the checker, the senders or anything else in the log.
    const trouble = server.process.logs.filter(
      (line) =>
        line.level === "error" ||
        line.level === "fatal" ||
        /busy|locked|SQLITE/i.test(JSON.stringify(line.err ?? "")),
    );
    expect(trouble).toEqual([]);

    let duringBackups = 0;
    for (const backup of backups) {
      const during = answers.filter(
        (a) => a.endedAt > backup.startedAt && a.endedAt < backup.endedAt,
      );
      duringBackups += during.length;
      const db = new Database(backup.file, { readonly: true });
      try {
        expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
        expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
        const held = idsIn(db);
        for (const table of Tables) {
          const missing = [...backup.before[table]].filter((id) => !held[table].has(id));
          expect(missing, `${table} missing from ${backup.file}`).toEqual([]);
        }
        const padding = db.query("SELECT count(*) AS n FROM check_cache").get() as { n: number };
        expect(padding.n).toBeGreaterThanOrEqual(PaddingRows);
      } finally {
        db.close();
      }
    }
    // The backups really ran alongside the writes.
    expect(duringBackups).toBeGreaterThan(0);

    // A backup is a database the service can run on: restore the last one and read it.
    const restored = join(ws.databasePath("restored"));
    copyFileSync(backups.at(-1)!.file, restored);
    const listed = await runBinary(ws.binary, ["partner", "list", "--json"], {
      env: { ...env, DATABASE_PATH: restored },
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id: partner.id }]);

    console.info(
      JSON.stringify({
        fault: "backup-under-load",
        requests: answers.length,
        requests_during_backups: duringBackups,
        backup_ms: backups.map((b) => Math.round(b.endedAt - b.startedAt)),
        rows_in_last_backup: Object.fromEntries(
          Tables.map((table) => [table, backups.at(-1)!.before[table].size]),
        ),
        emails: resend.delivered.length,
        whatsapp: twilio.messages.length,
      }),
    );
  }, 60_000);
});
