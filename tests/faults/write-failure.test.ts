/**
 * A database write that fails. Root ignores file permissions, so the failures are made the way
 * SQLite itself reports them: `PRAGMA query_only` (SQLITE_READONLY), `PRAGMA max_page_count`
 * at the current size (SQLITE_FULL), another connection holding the write lock past
 * busy_timeout (SQLITE_BUSY). What must hold: the caller gets 503 `service_unavailable` in the
 * envelope, never 500 and never a detail of the database; nothing accepted before is lost; the
 * failed request leaves no part of itself behind; writes work again once the cause is gone.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { httpPlumbing } from "../../src/http/plumbing.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { type FaultService, faultService, type Partner } from "./harness.ts";

const work = mkdtempSync(join(tmpdir(), "immigraflow-faults-write-"));
const services: FaultService[] = [];

afterAll(() => {
  for (const svc of services) svc.database.close();
  rmSync(work, { recursive: true, force: true });
});

function service(databasePath?: string, env?: Record<string, string>) {
  const svc = faultService({ ...(databasePath && { databasePath }), ...(env && { env }) });
  services.push(svc);
  return svc;
}

type Answer = Awaited<ReturnType<FaultService["call"]>>;

/** 503 service_unavailable in the envelope, with the request id and nothing of the database. */
function expectUnavailable(answer: Answer, label: string) {
  expect(answer.status, `${label}: ${answer.text}`).toBe(503);
  expect(answer.json.error.code).toBe("service_unavailable");
  expect(answer.json.error.request_id).toBe(answer.headers.get("x-request-id"));
  expect(answer.text).not.toMatch(/sqlite|readonly|disk|locked|busy|full|SELECT|INSERT/i);
}

/** /health while writes fail: 200 (reads still serve), degraded, and which condition it is. */
async function expectHealthDegraded(svc: FaultService, problem: string) {
  const health = await svc.call("GET", "/health");
  expect(health.status, health.text).toBe(200);
  expect(health.json.status).toBe("degraded");
  expect(health.json.database).toEqual({ ok: true, writable: false, problem });
}

async function expectHealthWritable(svc: FaultService) {
  const health = await svc.call("GET", "/health");
  expect(health.status, health.text).toBe(200);
  expect(health.json.database).toEqual({ ok: true, writable: true });
}

/** Everything a partner can read about its users and their cases, for before/after checks. */
async function everything(svc: FaultService, partner: Partner) {
  const users = await svc.call("GET", "/v1/users?limit=100", partner);
  expect(users.status).toBe(200);
  const cases = [];
  for (const user of users.json.users) {
    const list = await svc.call("GET", `/v1/users/${user.id}/cases`, partner);
    expect(list.status).toBe(200);
    cases.push(list.json);
  }
  return { users: users.json.users, cases };
}

function tableCounts(sqlite: Database) {
  const tables = ["users", "cases", "receipts", "email_tokens", "outbox_jobs", "status_updates"];
  return Object.fromEntries(
    tables.map((table) => [
      table,
      (sqlite.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    ]),
  );
}

async function acceptUserWithCase(svc: FaultService, partner: Partner, n: number) {
  const user = await svc.call("POST", "/v1/users", partner, { email: `kept${n}@faults.example` });
  expect(user.status).toBe(201);
  const kase = await svc.call("POST", `/v1/users/${user.json.id}/cases`, partner, {
    receipt_number: `LIN99991${String(n).padStart(5, "0")}`,
  });
  expect(kase.status).toBe(201);
  return { userId: user.json.id as number, caseRef: kase.json.case.id as number };
}

describe("a database write that fails answers 503 and loses nothing accepted before", () => {
  test("read-only: every write is 503, reads answer, writes come back", async () => {
    // A loopback webhook address, so the write is what fails, not the address check.
    const svc = service(undefined, { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" });
    const partner = svc.createPartner();
    const kept = await acceptUserWithCase(svc, partner, 1);
    await svc.tick();
    const before = await everything(svc, partner);
    const counts = tableCounts(svc.sqlite);

    svc.sqlite.run("PRAGMA query_only = ON");
    const writes: [string, string, unknown][] = [
      ["POST", "/v1/users", { email: "refused@faults.example" }],
      ["PUT", `/v1/users/${kept.userId}`, { name: "Renamed While Read-only" }],
      ["POST", `/v1/users/${kept.userId}/cases`, { receipt_number: "SRC9999102777" }],
      ["DELETE", `/v1/users/${kept.userId}/cases/${kept.caseRef}`, undefined],
      ["POST", "/v1/webhooks", { url: "http://127.0.0.1:9/in" }],
      // A live look-up counts against the USCIS quota first: that write fails too.
      ["POST", "/v1/check", { receipt_number: "EAC9999103403" }],
    ];
    for (const [method, path, body] of writes) {
      expectUnavailable(await svc.call(method, path, partner, body), `${method} ${path}`);
    }
    expect(await everything(svc, partner)).toEqual(before);
    await expectHealthDegraded(svc, "read_only");
    // Operators see which SQLite condition it was (the code itself is redacted as `code`).
    const logged = svc.logs.lines.filter((line) => line.sqlite_code === "SQLITE_READONLY");
    expect(logged.length).toBe(writes.length);

    svc.sqlite.run("PRAGMA query_only = OFF");
    expect(tableCounts(svc.sqlite)).toEqual(counts);
    await expectHealthWritable(svc);
    const again = await svc.call("POST", "/v1/users", partner, { email: "later@faults.example" });
    expect(again.status).toBe(201);
  });

  test("full: the write that does not fit is 503; every accepted one stays, on disk", async () => {
    const path = join(work, "full", "immigraflow.db");
    const svc = service(path);
    const partner = svc.createPartner();
    await acceptUserWithCase(svc, partner, 1);
    const pages = (svc.sqlite.query("PRAGMA page_count").get() as { page_count: number })
      .page_count;
    svc.sqlite.run(`PRAGMA max_page_count = ${pages}`);

    // Users with long names until the file cannot grow; the free room in its last pages
    // takes a few.
    const accepted: number[] = [];
    let refused: Answer | null = null;
    let countsBeforeRefusal = tableCounts(svc.sqlite);
    for (let i = 0; i < 500 && !refused; i += 1) {
      countsBeforeRefusal = tableCounts(svc.sqlite);
      const answer = await svc.call("POST", "/v1/users", partner, {
        email: `fill${i}@faults.example`,
        name: `Filler ${i} ${"x".repeat(90)}`,
      });
      if (answer.status === 201) accepted.push(answer.json.id);
      else refused = answer;
    }
    expect(refused, "the database never filled").not.toBeNull();
    expectUnavailable(refused!, "POST /v1/users on a full database");
    // The user, its verification token and its e-mail job are one transaction: none of it.
    expect(tableCounts(svc.sqlite)).toEqual(countsBeforeRefusal);
    for (const id of accepted) {
      expect((await svc.call("GET", `/v1/users/${id}`, partner)).status).toBe(200);
    }
    expect(svc.logs.lines.some((line) => line.sqlite_code === "SQLITE_FULL")).toBe(true);
    await expectHealthDegraded(svc, "full");

    // Room again: the next write is accepted, and a fresh connection finds all of it.
    svc.sqlite.run("PRAGMA max_page_count = 1073741823");
    await expectHealthWritable(svc);
    const later = await svc.call("POST", "/v1/users", partner, { email: "later@faults.example" });
    expect(later.status).toBe(201);
    const expected = tableCounts(svc.sqlite);
    svc.database.close();
    services.splice(services.indexOf(svc), 1);
    const reopened = openDatabase(path);
    try {
      migrate(reopened);
      expect(tableCounts(reopened.sqlite)).toEqual(expected);
      const ids = reopened.sqlite.query("SELECT id FROM users").all() as { id: number }[];
      expect(ids.map((row) => row.id)).toEqual(
        expect.arrayContaining([...accepted, later.json.id]),
      );
    } finally {
      reopened.close();
    }
  });

  test("busy: a lock held past busy_timeout is 503; reads and later writes work", async () => {
    const path = join(work, "busy", "immigraflow.db");
    const svc = service(path);
    const partner = svc.createPartner();
    await acceptUserWithCase(svc, partner, 1);
    const before = await everything(svc, partner);

    const other = new Database(path);
    try {
      other.run("BEGIN IMMEDIATE");
      const started = Date.now();
      // The service's own busy_timeout (5 s) runs out first: the wait is bounded, not endless.
      const blocked = await svc.call("POST", "/v1/users", partner, { email: "b@faults.example" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
      expectUnavailable(blocked, "POST /v1/users while another connection writes");
      // WAL: readers are not held up by the writer.
      expect(await everything(svc, partner)).toEqual(before);
      // /health tries the write lock too, but gives up long before the service's 5 s.
      const probing = Date.now();
      await expectHealthDegraded(svc, "busy");
      expect(Date.now() - probing).toBeLessThan(2_000);
    } finally {
      other.run("ROLLBACK");
      other.close();
    }
    await expectHealthWritable(svc);
    const after = await svc.call("POST", "/v1/users", partner, { email: "b@faults.example" });
    expect(after.status).toBe(201);
    expect(svc.logs.lines.some((line) => line.sqlite_code === "SQLITE_BUSY")).toBe(true);
  }, 20_000);

  test("the /health write probe stores nothing and leaves no lock behind", async () => {
    const path = join(work, "probe", "immigraflow.db");
    const svc = service(path);
    await acceptUserWithCase(svc, svc.createPartner(), 1);
    const other = new Database(path);
    try {
      const version = () => other.query("PRAGMA data_version").get();
      const before = version();
      for (let i = 0; i < 20; i += 1) await expectHealthWritable(svc);
      // data_version moves when another connection commits: the probe never did.
      expect(version()).toEqual(before);
      other.run("PRAGMA busy_timeout = 0");
      other.run("BEGIN IMMEDIATE");
      other.run("ROLLBACK");
    } finally {
      other.close();
    }
  });

  test("a short write by another process (a CLI command) is waited for", async () => {
    const path = join(work, "short-lock", "immigraflow.db");
    const svc = service(path);
    const partner = svc.createPartner();
    await acceptUserWithCase(svc, partner, 1);

    // What `partner rotate-secret` does while the service runs: a write of its own, held here
    // for 800 ms. It must be another process: the service's wait blocks this thread.
    const holder = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const { Database } = require("bun:sqlite");
         const db = new Database(process.env.HOLD_DB);
         db.run("BEGIN IMMEDIATE");
         db.run("UPDATE clients SET name = name");
         console.log("locked");
         Bun.sleepSync(800);
         db.run("COMMIT");`,
      ],
      { env: { PATH: process.env.PATH ?? "", HOLD_DB: path }, stdout: "pipe", stderr: "pipe" },
    );
    try {
      const reader = holder.stdout.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain("locked");

      // Reads first, then writes: without the write lock from the start, SQLite refuses the
      // upgrade at once instead of waiting busy_timeout.
      const started = Date.now();
      const user = await svc.call("POST", "/v1/users", partner, { email: "w@faults.example" });
      expect(user.status, user.text).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      const kase = await svc.call("POST", `/v1/users/${user.json.id}/cases`, partner, {
        receipt_number: "SRC9999102777",
      });
      expect(kase.status, kase.text).toBe(201);
    } finally {
      expect(await holder.exited).toBe(0);
    }
  });

  test("I/O errors and locks are 503 too, wrapped or not; others stay 500", async () => {
    // No portable way to make the disk fail under a test, so the errors are the ones bun:sqlite
    // raises, built by hand: an Error with SQLite's (extended) code, alone or as a cause.
    const sqliteError = (code: string, message: string) =>
      Object.assign(new Error(message), { name: "SQLiteError", code });
    const failures: Record<string, Error> = {
      ioerr: sqliteError("SQLITE_IOERR_WRITE", "disk I/O error"),
      locked: sqliteError("SQLITE_LOCKED", "database table is locked"),
      snapshot: sqliteError("SQLITE_BUSY_SNAPSHOT", "database is locked"),
      moved: sqliteError("SQLITE_READONLY_DBMOVED", "attempt to write a readonly database"),
      wrapped: new Error("Failed query: insert into users", {
        cause: sqliteError("SQLITE_FULL", "database or disk is full"),
      }),
      constraint: sqliteError("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed"),
      plain: new Error("something else"),
    };
    const logs = memoryDestination();
    const logger = createLogger({ level: "debug", format: "json", destination: logs.stream });
    const app = new Elysia()
      .use(httpPlumbing({ logger, metrics: createMetrics(), allowedMethods: () => ["GET"] }))
      .get("/fail/:kind", ({ params }) => {
        throw failures[params.kind]!;
      });
    const statusOf = async (kind: string) => {
      const response = await app.handle(new Request(`http://localhost/fail/${kind}`));
      const body = (await response.json()) as { error: { code: string } };
      return `${response.status} ${body.error.code}`;
    };

    for (const kind of ["ioerr", "locked", "snapshot", "moved", "wrapped"]) {
      expect(`${kind}: ${await statusOf(kind)}`).toBe(`${kind}: 503 service_unavailable`);
    }
    expect(await statusOf("constraint")).toBe("500 internal_error");
    expect(await statusOf("plain")).toBe("500 internal_error");
  });

  test("the checker and the senders ride out a read-only database and catch up", async () => {
    const svc = service();
    const partner = svc.createPartner();
    const kept = await acceptUserWithCase(svc, partner, 7);
    svc.sqlite.run("PRAGMA query_only = ON");

    const summary = await svc.tick();
    expect(summary).toMatchObject({ changed: 0, failed: 1 });
    await expect(svc.outbox.runOnce()).rejects.toThrow();
    expect(svc.quota.used()).toBe(0);

    svc.sqlite.run("PRAGMA query_only = OFF");
    expect(await svc.tick()).toMatchObject({ checked: 1, changed: 1, failed: 0 });
    while ((await svc.outbox.runOnce()).claimed > 0) {}
    const detail = await svc.call("GET", `/v1/users/${kept.userId}/cases/${kept.caseRef}`, partner);
    expect(detail.status, detail.text).toBe(200);
    expect(detail.json.status_updates.map((u: { kind: string }) => u.kind)).toEqual(["initial"]);
    expect(svc.count("SELECT count(*) AS n FROM status_updates")).toBe(1);
    expect(svc.count("SELECT count(*) AS n FROM outbox_jobs WHERE state = 'pending'")).toBe(0);
  });
});
