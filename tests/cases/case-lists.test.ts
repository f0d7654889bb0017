import { beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import {
  type PartnerListFilter,
  partnerCaseList,
  partnerListShape,
  userCaseList,
} from "../../src/cases/cases.queries.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

const createUser = async (as: Credentials, email: string): Promise<number> =>
  (await t.call("POST", "/v1/users", { as, body: { email } })).json.id;

const watch = async (as: Credentials, userId: number, receipt: string) =>
  (await t.call("POST", `/v1/users/${userId}/cases`, { as, body: { receipt_number: receipt } }))
    .json.case.id as number;

function planOf(query: { getQuery(): { sql: string; params: unknown[] } }): string[] {
  const { sql, params } = query.getQuery();
  const bound = params.map(() => 1);
  return (t.database.sqlite.query(`EXPLAIN QUERY PLAN ${sql}`).all(...bound) as any[]).map(
    (row) => row.detail as string,
  );
}

describe("the back-office list walks an index and stops at its page", () => {
  const shapes: [string, PartnerListFilter][] = [
    ["no filter", { limit: 50 }],
    ["a cursor", { beforeId: 10, limit: 50 }],
    ["active", { active: true, limit: 50 }],
    ["category", { category: "approved", limit: 50 }],
    ["updated_since", { statusUpdatedSince: 0, limit: 50 }],
    ["a user", { userId: 1, limit: 50 }],
  ];
  for (const [name, filter] of shapes) {
    test(`${name}: newest first by index, no sort of every case`, () => {
      const plan = planOf(partnerCaseList(t.db, partnerListShape(filter)));
      expect(plan.join("\n")).not.toContain("TEMP B-TREE");
      expect(plan[0]).toMatch(/^SEARCH (cases|users) USING/);
      expect(plan.join("\n")).toMatch(/cases USING INDEX cases_(client|user) /);
    });
  }

  test("a receipt starts from the receipt's own index", () => {
    for (const filter of [
      { receiptNumber: "EAC9999103403", limit: 50 },
      { receiptNumber: "EAC9999103403", userId: 1, active: true, beforeId: 10, limit: 50 },
    ]) {
      const plan = planOf(partnerCaseList(t.db, partnerListShape(filter))).join("\n");
      expect(plan).toMatch(/SEARCH cases USING INDEX cases_(user_)?receipt \(.*receipt_number=\?/);
      expect(plan).not.toContain("SCAN cases");
    }
  });

  test("a user's own list walks cases_user", () => {
    for (const shape of [
      { active: false, beforeId: false },
      { active: true, beforeId: true },
    ]) {
      const plan = planOf(userCaseList(t.db, shape));
      expect(plan.join("\n")).toContain("cases USING INDEX cases_user (user_id=");
      expect(plan.join("\n")).not.toContain("TEMP B-TREE");
    }
  });
});

describe("cases.client_id, the owner's partner", () => {
  test("a case made through the API carries its user's partner", async () => {
    const userId = await createUser(acme, "ana@example.com");
    const caseId = await watch(acme, userId, "EAC9999103403");
    const row = t.database.sqlite.query("SELECT client_id FROM cases WHERE id = ?").get(caseId);
    expect(row).toEqual({ client_id: acme.id });
  });

  test("an insert that leaves it out gets it from the user (seeds, fixtures, tools)", async () => {
    const userId = await createUser(acme, "ana@example.com");
    const now = t.clock.now();
    t.database.sqlite
      .query("INSERT INTO receipts (receipt_number, next_check_at, created_at) VALUES (?, ?, ?)")
      .run("EAC9999103403", now, now);
    t.database.sqlite
      .query(
        `INSERT INTO cases (user_id, receipt_number, user_case_id, created_at, updated_at)
         VALUES (?, 'EAC9999103403', 'FLOW0000001', ?, ?)`,
      )
      .run(userId, now, now);
    const row = t.database.sqlite.query("SELECT client_id FROM cases").get();
    expect(row).toEqual({ client_id: acme.id });

    const listed = await t.call("GET", "/v1/client/cases", { as: acme });
    expect(listed.json.cases.map((c: { user_case_id: string }) => c.user_case_id)).toEqual([
      "FLOW0000001",
    ]);
  });

  test("a wrong copy still shows no partner another partner's case", async () => {
    const globex = t.createPartner("Globex Visas");
    const ana = await createUser(acme, "ana@example.com");
    const caseId = await watch(acme, ana, "EAC9999103403");
    t.database.sqlite.query("UPDATE cases SET client_id = ? WHERE id = ?").run(globex.id, caseId);

    const theirs = await t.call("GET", "/v1/client/cases", { as: globex });
    expect(theirs.status).toBe(200);
    expect(theirs.json.cases).toEqual([]);
  });

  test("migration 0001 fills it in for the cases that were already there", () => {
    const handle = openDatabase(":memory:");
    const [init, ...later] = readMigrationFiles({
      migrationsFolder: join(import.meta.dir, "../../drizzle"),
    });
    const target = handle.db as unknown as {
      dialect: { migrate(m: unknown[], s: unknown, c: object): void };
      session: unknown;
    };
    target.dialect.migrate([init], target.session, {});
    const sqlite = handle.sqlite;
    for (const [id, email] of [
      [1, "ops@acme.example"],
      [2, "ops@globex.example"],
    ] as const) {
      sqlite
        .query(
          `INSERT INTO clients (id, name, contact_email, api_key, secret_hash, created_at,
             updated_at) VALUES (?, ?, ?, ?, 'x', 0, 0)`,
        )
        .run(id, `Partner ${id}`, email, `ifk_${id}`);
      sqlite
        .query(
          `INSERT INTO users (id, client_id, email, created_at, updated_at)
           VALUES (?, ?, 'someone@example.com', 0, 0)`,
        )
        .run(10 + id, id);
    }
    sqlite.exec(
      `INSERT INTO receipts (receipt_number, next_check_at, created_at)
       VALUES ('EAC9999103403', 0, 0)`,
    );
    sqlite.exec(
      `INSERT INTO cases (user_id, receipt_number, user_case_id, created_at, updated_at)
       VALUES (11, 'EAC9999103403', 'FLOW0000001', 0, 0),
              (12, 'EAC9999103403', 'FLOW0000002', 0, 0)`,
    );

    // 0001 (this column) and the migrations after it.
    expect(migrate(handle)).toBe(later.length);
    expect(sqlite.query("SELECT user_case_id, client_id FROM cases ORDER BY id").all()).toEqual([
      { user_case_id: "FLOW0000001", client_id: 1 },
      { user_case_id: "FLOW0000002", client_id: 2 },
    ]);
    handle.close();
  });
});
