import { expect, test } from "bun:test";
import { getTableColumns, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { flatRows } from "../../src/db/flat-rows.ts";
import { cases, clients, statusUpdates, users } from "../../src/db/schema.ts";
import { testApp } from "../helpers/app.ts";

test("flat rows read from .values() are what drizzle's .all() maps", async () => {
  const t = testApp();
  const acme = t.createPartner();
  const user = await t.call("POST", "/v1/users", {
    as: acme,
    body: { email: "ana@example.com", name: null },
  });
  await t.call("PUT", `/v1/users/${user.json.id}`, {
    as: acme,
    body: { notify_by_email: false },
  });
  for (const receipt of ["EAC9999103403", "EAC9999103404"]) {
    await t.call("POST", `/v1/users/${user.json.id}/cases`, {
      as: acme,
      body: { receipt_number: receipt },
    });
  }
  const list = await t.call("GET", `/v1/users/${user.json.id}/cases`, { as: acme });
  const [first] = list.json.cases;
  await t.call("PUT", `/v1/users/${user.json.id}/cases/${first.id}`, {
    as: acme,
    body: { active: false },
  });
  await t.checker.tick();

  // Booleans, JSON, enums, nulls, and a decoder given with mapWith.
  const tables: SQLiteTable[] = [clients, users, cases, statusUpdates];
  for (const table of tables) {
    const selection = {
      ...getTableColumns(table),
      counted: sql<number>`count(*) over ()`.mapWith(String),
    };
    const byDrizzle = t.db.select(selection).from(table).all();
    expect(byDrizzle.length).toBeGreaterThan(0);
    const rows = flatRows(selection);
    const values = t.db.select(selection).from(table).prepare().values();
    expect(values.map((row) => rows.read(row as unknown[]))).toEqual(byDrizzle);
  }

  // A row may start past other columns.
  const caseColumns = getTableColumns(cases);
  const caseRows = flatRows(caseColumns);
  const shifted = t.db
    .select({ lead: cases.id, ...caseColumns })
    .from(cases)
    .prepare()
    .values()
    .map((row) => caseRows.read(row as unknown[], 1));
  expect(shifted).toEqual(t.db.select().from(cases).all());
  expect(shifted.map((row) => row.active)).toContain(false);
});
