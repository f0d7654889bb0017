import { beforeEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { eq } from "drizzle-orm";
import { toCase, toHistory, toStatusUpdate } from "../../src/cases/cases.mapper.ts";
import { CaseDetailsResponse } from "../../src/cases/cases.schemas.ts";
import { cases, receipts, statusUpdates, users } from "../../src/db/schema.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let userId: number;

const Origin = "https://app.acme.example";

beforeEach(async () => {
  t = testApp({ env: { CORS_ORIGINS: Origin } });
  acme = t.createPartner();
  userId = (await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } }))
    .json.id;
});

async function checkedCase(receipt = "EAC9999103403"): Promise<number> {
  const created = await t.call("POST", `/v1/users/${userId}/cases`, {
    as: acme,
    body: { receipt_number: receipt },
  });
  expect(created.status).toBe(201);
  await t.checker.tick();
  return created.json.case.id;
}

/** The case read as the object mappers build it from rows drizzle reads and parses. */
function mappedDetails(caseId: number) {
  const row = t.db.select().from(cases).where(eq(cases.id, caseId)).get()!;
  const user = t.db.select().from(users).where(eq(users.id, row.userId)).get()!;
  const receipt = t.db
    .select()
    .from(receipts)
    .where(eq(receipts.receiptNumber, row.receiptNumber))
    .get()!;
  const updates = t.db
    .select()
    .from(statusUpdates)
    .where(eq(statusUpdates.caseId, caseId))
    .all()
    .sort((a, b) => b.id - a.id);
  return {
    case: toCase(row, receipt.lastCheckedAt, user),
    status_updates: updates.map(toStatusUpdate),
    update_count: updates.length,
  };
}

const read = (caseId: number, headers: Record<string, string> = {}) =>
  t.call("GET", `/v1/users/${userId}/cases/${caseId}`, { as: acme, headers });

describe("the case read's body", () => {
  test("last_checked is the case's own receipt's, and null before its first check", async () => {
    const first = await checkedCase("EAC9999103403");
    t.database.sqlite.run("UPDATE receipts SET last_checked_at = 1000 WHERE receipt_number = ?", [
      "EAC9999103403",
    ]);
    const second = await checkedCase("EAC9999103404");
    t.database.sqlite.run("UPDATE receipts SET last_checked_at = 2000 WHERE receipt_number = ?", [
      "EAC9999103404",
    ]);
    const unchecked = (
      await t.call("POST", `/v1/users/${userId}/cases`, {
        as: acme,
        body: { receipt_number: "EAC9999103405" },
      })
    ).json.case.id;

    const lastChecked = async (caseId: number) => (await read(caseId)).json.case.last_checked;
    expect(await lastChecked(first)).toBe(new Date(1000).toISOString());
    expect(await lastChecked(second)).toBe(new Date(2000).toISOString());
    expect(await lastChecked(unchecked)).toBeNull();
    const backOffice = await t.call("GET", `/v1/client/cases/${second}`, { as: acme });
    expect(backOffice.json.case.last_checked).toBe(new Date(2000).toISOString());
  });

  test("history carries the Spanish and Portuguese texts the checker stored", async () => {
    const caseId = await checkedCase();
    const stored = t.database.sqlite
      .query("SELECT history FROM status_updates WHERE case_id = ?")
      .get(caseId) as { history: string };
    const history = JSON.parse(stored.history);
    expect(history.some((entry: { description_es: unknown }) => entry.description_es)).toBe(true);

    const res = await read(caseId);
    expect(res.status).toBe(200);
    expect(res.json.status_updates[0].history).toEqual(history);
    const [first] = res.json.status_updates[0].history;
    expect(first.description_pt).not.toBe(first.description);
  });

  test("it matches CaseDetailsResponse and what the object mappers make", async () => {
    const caseId = await checkedCase();
    t.clock.advance(7 * 24 * 60 * 60 * 1000);
    t.database.sqlite.query("UPDATE receipts SET next_check_at = 0").run();
    await t.checker.tick();

    const res = await read(caseId);
    expect(Value.Check(CaseDetailsResponse, res.json)).toBe(true);
    expect(res.json).toEqual(mappedDetails(caseId));
  });

  test("awkward text around the spliced history survives", async () => {
    const caseId = await checkedCase();
    const awkward = 'quote " backslash \\ "history":[] line\u2028sep \u{1F600} <tag> $& $1';
    t.database.sqlite
      .query(
        `UPDATE status_updates SET detail_message = ?, email_notify_last_error = ?,
           status_code_es = NULL, form_type = NULL, submitted_date = NULL, history = '[]'
         WHERE case_id = ?`,
      )
      .run(awkward, awkward, caseId);
    t.database.sqlite.query("UPDATE cases SET description = ? WHERE id = ?").run(awkward, caseId);

    const res = await read(caseId);
    expect(res.json.status_updates[0]).toMatchObject({
      detail_message: awkward,
      email_notify_last_error: awkward,
      status_code_es: null,
      form_type: null,
      submitted_date: null,
      history: [],
    });
    expect(res.json.case.description).toBe(awkward);
    expect(Value.Check(CaseDetailsResponse, res.json)).toBe(true);
    expect(res.json).toEqual(mappedDetails(caseId));
  });

  test("its bytes are the object form serialised, with each history as stored", async () => {
    const caseId = await checkedCase();
    // A second update, newer and with an empty history: the splice runs between two of them.
    t.database.sqlite.run(
      "CREATE TEMP TABLE copied AS SELECT * FROM status_updates WHERE case_id = ?",
      [caseId],
    );
    t.database.sqlite.run(
      "UPDATE copied SET id = NULL, history = '[]', timestamp = timestamp + 86400123",
    );
    t.database.sqlite.run("INSERT INTO status_updates SELECT * FROM copied");
    // Values each mapper step treats apart: a false flag, nulls, times and text to escape.
    const awkward = 'quote " backslash \\ "history":[] line\u2028sep \u{1F600} \u0001 é';
    t.database.sqlite
      .query(
        `UPDATE status_updates SET email_notify_last_error = ?, submitted_date = NULL,
           email_notify_sent_at = 1, whatsapp_notify_sent_at = -1 WHERE case_id = ?`,
      )
      .run(awkward, caseId);
    t.database.sqlite
      .query("UPDATE cases SET description = ?, active = 0 WHERE id = ?")
      .run(awkward, caseId);

    const stored = t.database.sqlite
      .query("SELECT history FROM status_updates WHERE case_id = ? ORDER BY id DESC")
      .all(caseId) as { history: string }[];
    expect(stored.length).toBeGreaterThan(1);
    const mapped = mappedDetails(caseId);
    const expected = JSON.stringify({
      ...mapped,
      status_updates: mapped.status_updates.map((update, index) => {
        const history = stored[index]!.history;
        // The premise of comparing text: stored history is JSON.stringify's own output.
        expect(JSON.stringify(JSON.parse(history))).toBe(history);
        return { ...update, history: JSON.parse(history) };
      }),
    });
    const res = await read(caseId);
    expect(res.status).toBe(200);
    expect(res.json.case.active).toBe(false);
    expect(res.text).toBe(expected);
  });

  test("a body answered stays its own when another case is read before it is sent", async () => {
    const first = await checkedCase("EAC9999103403");
    const second = await checkedCase("EAC9999103404");
    const expected = [(await read(first)).text, (await read(second)).text];
    expect(expected[0]).not.toBe(expected[1]);

    // Both answered before either is read, as a server with slow clients would hold them.
    const request = (caseId: number) =>
      new Request(`http://localhost/v1/users/${userId}/cases/${caseId}`, {
        headers: { "x-api-key": acme.apiKey, "x-api-secret": acme.apiSecret },
      });
    const answered = [await t.app.handle(request(first)), await t.app.handle(request(second))];
    expect(await answered[0]!.text()).toBe(expected[0]!);
    expect(await answered[1]!.text()).toBe(expected[1]!);
  });

  test("headers set before the handler still go out: JSON, request id, CORS", async () => {
    const caseId = await checkedCase();
    const res = await read(caseId, { origin: Origin, "x-request-id": "req-case-read-1" });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("x-request-id")).toBe("req-case-read-1");
    expect(res.headers.get("access-control-allow-origin")).toBe(Origin);
    expect(res.headers.get("vary")).toBe("Origin");

    const line = t.logs.lines.find((entry) => entry.request_id === "req-case-read-1");
    expect(line).toMatchObject({ msg: "request", status: 200, client_id: acme.id });
  });

  test("create and update answer the same body as the read, with their own status", async () => {
    const created = await t.call("POST", `/v1/users/${userId}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
      headers: { "x-request-id": "req-case-create-1" },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("x-request-id")).toBe("req-case-create-1");
    const line = t.logs.lines.find((entry) => entry.request_id === "req-case-create-1");
    expect(line).toMatchObject({ status: 201 });
    expect(created.json).toEqual(mappedDetails(created.json.case.id));

    await t.checker.tick();
    const updated = await t.call("PUT", `/v1/users/${userId}/cases/${created.json.case.id}`, {
      as: acme,
      body: { description: "renamed" },
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toEqual((await read(created.json.case.id)).json);
    expect(updated.json.case.description).toBe("renamed");
  });

  test("the back office's read of the same case answers the same body", async () => {
    const caseId = await checkedCase();
    const mine = await read(caseId);
    const office = await t.call("GET", `/v1/client/cases/${caseId}`, { as: acme });
    expect(office.status).toBe(200);
    expect(office.json).toEqual(mine.json);
  });
});

describe("history in the object form (webhook payloads)", () => {
  test("stored entries keep their translations; a missing Portuguese falls back to English", () => {
    const stored = [
      {
        date: "2026-03-01",
        description: "Received.",
        description_es: "Recibido.",
        description_pt: "Recebido.",
      },
      { date: "2026-03-02", description: "Approved." },
      { description: "no date" },
    ];
    expect(toHistory(stored)).toEqual([
      {
        date: "2026-03-01",
        description: "Received.",
        description_es: "Recibido.",
        description_pt: "Recebido.",
      },
      {
        date: "2026-03-02",
        description: "Approved.",
        description_es: null,
        description_pt: "Approved.",
      },
    ]);
    expect(toHistory("not a list")).toEqual([]);
  });
});
