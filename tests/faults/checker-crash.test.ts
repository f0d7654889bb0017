/**
 * SIGKILL of the compiled executable in the middle of a checker tick, twice, then a clean run to
 * the end, in sandbox mode against the Torch fake made slow per request so every kill lands with
 * one case-status request inside the fake. What must hold (DESIGN.md, "The checker", and the
 * quota in `usage_counters`): no status update is written twice or lost, everything committed
 * before a kill is still there after it, and our quota count equals the fake's own count of
 * case-status requests, the one cut short at each kill included.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type FakeRequest, startTorchFake, type TorchFake } from "../fakes/torch-fake.ts";
import { type BinaryProcess, type RunningServer, startServer } from "../helpers/binary.ts";
import {
  binaryWorkspace,
  createPartnerWithCli,
  type Partner,
  partnerRequest,
  receiptNumbers,
  reviewedCase,
  snapshotOf,
  TorchClientId,
  TorchClientSecret,
  torchEnv,
  until,
} from "./harness.ts";

const Receipts = receiptNumbers(12, 101);
const SlowMs = 300;

let ws: Awaited<ReturnType<typeof binaryWorkspace>>;
let fake: TorchFake;
const processes: BinaryProcess[] = [];

beforeAll(async () => {
  ws = await binaryWorkspace("checker-crash");
  fake = startTorchFake({ clientId: TorchClientId, clientSecret: TorchClientSecret });
  for (const receipt of Receipts) fake.setCase(receipt, reviewedCase(receipt));
}, 180_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  await fake?.stop();
  if (ws) rmSync(ws.work, { recursive: true, force: true });
});

async function launch(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer(ws.binary, { env });
  processes.push(server.process);
  return server;
}

const caseCalls = (): FakeRequest[] =>
  fake.requests.log.filter((request) => request.kind === "case_status");

/** Kills the service once `more` further answers went out and the next request is inside. */
async function killMidTick(server: RunningServer, more: number) {
  const answeredBefore = caseCalls().filter((r) => r.status !== 0).length;
  await until(
    `${more} more answers, then a request held inside the fake`,
    () => {
      const calls = caseCalls();
      const answered = calls.filter((r) => r.status !== 0).length;
      return answered >= answeredBefore + more && calls.some((r) => r.status === 0);
    },
    20_000,
    () => server.process.dump(),
  );
  // The fake runs on this thread: it cannot answer between the check above and the signal.
  const inside = caseCalls().find((r) => r.status === 0)!.receipt!;
  const answered = caseCalls()
    .filter((r) => r.status === 200)
    .map((r) => r.receipt!);
  await server.process.kill();
  return { inside, answered };
}

interface UpdateRow {
  id: number;
  case_id: number;
  kind: string;
  receipt_number: string;
}

function readUpdates(db: Database): UpdateRow[] {
  return db
    .query(
      `SELECT s.id, s.case_id, s.kind, c.receipt_number FROM status_updates s
       JOIN cases c ON c.id = s.case_id ORDER BY s.id`,
    )
    .all() as UpdateRow[];
}

function usageCount(db: Database): number {
  const row = db
    .query("SELECT coalesce(sum(count), 0) AS n FROM usage_counters WHERE source = 'torch'")
    .get() as { n: number };
  return row.n;
}

describe("SIGKILL in the middle of a checker tick", () => {
  test("no status update doubled or lost; the quota count matches USCIS's", async () => {
    const dbPath = ws.databasePath("crash");
    const env = {
      DATABASE_PATH: dbPath,
      HOST: "127.0.0.1",
      ...torchEnv(fake),
      // Forty receipts a tick at one tick a second: all twelve fall in the first tick.
      USCIS_RATE_PER_SECOND: "50",
      CHECK_INTERVAL_MINUTES: "60",
    };
    const partner: Partner = await createPartnerWithCli(ws.binary, env);

    // The cases are made with the checker idle (its schedule never comes up), so the first
    // tick of the next run starts with all of them due.
    const setup = await launch({ ...env, CHECKER_CRON: "0 0 1 1 *" });
    const caseReceipts = new Map<number, string>();
    for (let i = 0; i < 10; i += 1) {
      const user = await partnerRequest(setup.url, partner, "POST", "/v1/users", {
        email: `crash${i}@faults.example`,
      });
      expect(user.status, user.text).toBe(201);
      const userId = (user.json as { id: number }).id;
      // Users 0 and 1 also watch receipts 10 and 11; users 2 and 3 share the receipts of 0, 1.
      const watched = [Receipts[i]!];
      if (i < 2) watched.push(Receipts[10 + i]!);
      else if (i < 4) watched.push(Receipts[i - 2]!);
      for (const receipt of watched) {
        const kase = await partnerRequest(setup.url, partner, "POST", `/v1/users/${userId}/cases`, {
          receipt_number: receipt,
        });
        expect(kase.status, kase.text).toBe(201);
        caseReceipts.set((kase.json as { case: { id: number } }).case.id, receipt);
      }
    }
    expect(caseReceipts.size).toBe(14);
    expect(await setup.process.stop(10_000)).toBe(0);
    expect(fake.requests.caseStatus).toBe(0);

    const tickEnv = { ...env, CHECKER_CRON: "* * * * * *" };
    fake.setMode("slow", { delayMs: SlowMs });
    const kills = [];
    for (const more of [5, 3]) {
      const server = await launch(tickEnv);
      const kill = await killMidTick(server, more);
      const snapshot = snapshotOf(dbPath, ws.work);
      try {
        const updates = readUpdates(snapshot);
        // Everything USCIS answered before the kill was committed, and only that.
        expect(new Set(updates.map((u) => u.receipt_number))).toEqual(new Set(kill.answered));
        expect(usageCount(snapshot)).toBe(caseCalls().length);
        kills.push({ ...kill, updates });
      } finally {
        snapshot.close();
      }
      expect(kill.answered.length).toBeLessThan(Receipts.length);
    }

    fake.clearModes();
    const last = await launch(tickEnv);
    await until(
      "every receipt checked after the restarts",
      async () => {
        const health = await fetch(`${last.url}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await health.json()) as { checker: { due_receipts: number } };
        return body.checker.due_receipts === 0;
      },
      20_000,
      () => last.process.dump(),
    );
    expect(await last.process.stop(10_000)).toBe(0);

    const db = new Database(dbPath, { readonly: true });
    try {
      const updates = readUpdates(db);
      // One initial update per case: none lost to a kill, none written again after one.
      expect(updates.map((u) => u.case_id).sort((a, b) => a - b)).toEqual(
        [...caseReceipts.keys()].sort((a, b) => a - b),
      );
      expect(updates.every((u) => u.kind === "initial")).toBe(true);
      for (const update of updates) {
        expect(update.receipt_number).toBe(caseReceipts.get(update.case_id)!);
      }
      // What each kill had committed is still there, unchanged.
      for (const kill of kills) {
        for (const committed of kill.updates) {
          expect(updates.find((u) => u.id === committed.id)).toEqual(committed);
        }
      }
      const jobs = db
        .query(
          "SELECT idempotency_key AS k, count(*) AS n FROM outbox_jobs GROUP BY k HAVING n > 1",
        )
        .all();
      expect(jobs).toEqual([]);

      // The quota: one count per request USCIS received, the two cut short included, and one
      // request per receipt besides those two.
      const calls = caseCalls();
      expect(usageCount(db)).toBe(calls.length);
      expect(calls.length).toBe(Receipts.length + kills.length);
      const perReceipt = new Map<string, number>();
      for (const call of calls) {
        perReceipt.set(call.receipt!, (perReceipt.get(call.receipt!) ?? 0) + 1);
      }
      const asked = (receipt: string) => perReceipt.get(receipt) ?? 0;
      const askedTwice = Receipts.filter((receipt) => asked(receipt) === 2);
      expect(askedTwice.sort()).toEqual(kills.map((kill) => kill.inside).sort());
      expect(Receipts.filter((receipt) => asked(receipt) === 0)).toEqual([]);

      console.info(
        JSON.stringify({
          fault: "checker-crash",
          kills: kills.map((kill) => ({
            answered: kill.answered.length,
            inside: kill.inside,
            updates: kill.updates.length,
          })),
          case_status_requests: calls.length,
          usage_count: usageCount(db),
          status_updates: updates.length,
        }),
      );
    } finally {
      db.close();
    }
  }, 60_000);
});
