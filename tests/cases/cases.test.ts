import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let userId: number;

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner();
  userId = (await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } }))
    .json.id;
});

const createCase = (body: Record<string, unknown>, user = userId) =>
  t.call("POST", `/v1/users/${user}/cases`, { as: acme, body });

describe("receipts as people type them", () => {
  const accepted: [string, string][] = [
    ["eac9999103403", "EAC9999103403"],
    ["EAC 999 910 3403", "EAC9999103403"],
    ["eac-99-991-03403", "EAC9999103403"],
    ["EAC\u00a09999103403", "EAC9999103403"],
    ["EAC\u20139999\u2014103403", "EAC9999103403"],
    [
      "\uff25\uff21\uff23\uff19\uff19\uff19\uff19\uff11\uff10\uff13\uff14\uff10\uff13",
      "EAC9999103403",
    ],
    [" IOE.0912.345.678 ", "IOE0912345678"],
  ];
  for (const [typed, stored] of accepted) {
    test(`${JSON.stringify(typed)} is stored as ${stored}`, async () => {
      const res = await createCase({ receipt_number: typed });
      expect(res.status).toBe(201);
      expect(res.json.case.receipt_number).toBe(stored);
      const row = t.database.sqlite.query("SELECT receipt_number FROM cases").get() as any;
      expect(row.receipt_number).toBe(stored);
      expect(typeof row.receipt_number).toBe("string");
    });
  }

  const refused: [string, string][] = [
    ["", "required"],
    ["EAC999910340", "length"],
    ["EAC99991034031", "length"],
    ["EAC999910340O", "format"],
    ["1234567890123", "format"],
  ];
  for (const [typed, issue] of refused) {
    test(`${JSON.stringify(typed)} is 400 invalid_receipt_number (${issue})`, async () => {
      const res = await createCase({ receipt_number: typed });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_receipt_number");
      expect(res.json.error.details).toEqual([{ field: "receipt_number", issue }]);
      expect(countRows(t, "cases")).toBe(0);
      expect(countRows(t, "receipts")).toBe(0);
    });
  }

  test("a receipt sent as a number is a validation error, not a truncated receipt", async () => {
    const res = await createCase({ receipt_number: 9999103403 });
    expect(res.status).toBe(400);
    expect(countRows(t, "cases")).toBe(0);
  });
});

describe("the case lifecycle", () => {
  test("create answers details with a FLOW id; the first tick adds the initial", async () => {
    const created = await createCase({
      receipt_number: "EAC9999103403",
      description: "Ana's I-130",
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      case: {
        receipt_number: "EAC9999103403",
        description: "Ana's I-130",
        active: true,
        last_checked: null,
        user: { id: userId, email: "ana@example.com" },
      },
      status_updates: [],
      update_count: 0,
    });
    expect(created.json.case.user_case_id).toMatch(/^FLOW\d{7}$/);

    await t.checker.tick();
    const byFlowId = await t.call(
      "GET",
      `/v1/users/${userId}/cases/${created.json.case.user_case_id}`,
      { as: acme },
    );
    const byId = await t.call("GET", `/v1/users/${userId}/cases/${created.json.case.id}`, {
      as: acme,
    });
    expect(byFlowId.json).toEqual(byId.json);
    expect(byId.json.update_count).toBe(1);
    const [update] = byId.json.status_updates;
    expect(update).toMatchObject({
      kind: "initial",
      category: "approved",
      status_code: "Case Was Approved",
      form_type: "I-130",
      notified: 0,
      email_notify_status: "skipped",
      whatsapp_notify_status: "skipped",
    });
    expect(update.history.length).toBeGreaterThan(0);
    expect(byId.json.case.last_checked).toBe("2026-05-04T12:00:00.000Z");
  });

  test("the same receipt twice for one user is 409 with the existing user_case_id", async () => {
    const first = await createCase({ receipt_number: "EAC9999103403" });
    const again = await createCase({ receipt_number: "eac-9999-103-403" });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("conflict");
    expect(again.json.error.details[0].user_case_id).toBe(first.json.case.user_case_id);
    expect(countRows(t, "cases")).toBe(1);
  });

  test("the same receipt for two users is allowed and fetched once", async () => {
    const other = (
      await t.call("POST", "/v1/users", { as: acme, body: { email: "bia@example.com" } })
    ).json.id;
    expect((await createCase({ receipt_number: "EAC9999103403" })).status).toBe(201);
    expect((await createCase({ receipt_number: "EAC9999103403" }, other)).status).toBe(201);
    expect(countRows(t, "receipts")).toBe(1);
    await t.checker.tick();
    expect(countRows(t, "status_updates")).toBe(2);
  });

  test("list shows summaries with the newest status; ?active filters", async () => {
    await createCase({ receipt_number: "EAC9999103403" });
    const second = await createCase({ receipt_number: "LIN9999106498" });
    await t.checker.tick();
    await t.call("PUT", `/v1/users/${userId}/cases/${second.json.case.id}`, {
      as: acme,
      body: { active: false },
    });
    const all = await t.call("GET", `/v1/users/${userId}/cases`, { as: acme });
    expect(all.status).toBe(200);
    expect(all.json.cases).toHaveLength(2);
    expect(all.json.cases[1]).toMatchObject({
      receipt_number: "EAC9999103403",
      status_code: "Case Was Approved",
      status_category: "approved",
      form_type: "I-130",
      update_count: 1,
      check_error: null,
    });
    const active = await t.call("GET", `/v1/users/${userId}/cases?active=true`, { as: acme });
    expect(active.json.cases.map((c: any) => c.receipt_number)).toEqual(["EAC9999103403"]);
  });

  test("update changes the description and active flag but never the receipt", async () => {
    const created = await createCase({ receipt_number: "EAC9999103403" });
    const path = `/v1/users/${userId}/cases/${created.json.case.id}`;
    const changed = await t.call("PUT", path, {
      as: acme,
      body: { description: "Renamed", active: false },
    });
    expect(changed.status).toBe(200);
    expect(changed.json.case).toMatchObject({ description: "Renamed", active: false });
    const receipt = await t.call("PUT", path, {
      as: acme,
      body: { receipt_number: "LIN9999106498" },
    });
    expect(receipt.status).toBe(400);
    expect(receipt.json.error.details[0]).toEqual({
      field: "receipt_number",
      issue: "unknown_field",
    });
  });

  test("an inactive case is never checked", async () => {
    const created = await createCase({ receipt_number: "EAC9999103403" });
    await t.call("PUT", `/v1/users/${userId}/cases/${created.json.case.id}`, {
      as: acme,
      body: { active: false },
    });
    await t.checker.tick();
    expect(countRows(t, "status_updates")).toBe(0);
  });

  test("delete answers 204, erases the history and the case stops being checked", async () => {
    const created = await createCase({ receipt_number: "EAC9999103403" });
    await t.checker.tick();
    const res = await t.call(
      "DELETE",
      `/v1/users/${userId}/cases/${created.json.case.user_case_id}`,
      { as: acme },
    );
    expect(res.status).toBe(204);
    expect(countRows(t, "status_updates")).toBe(0);
    t.clock.advance(7 * 24 * 3600_000);
    const summary = await t.checker.tick();
    expect(summary.checked).toBe(0);
  });

  test("a description over 200 characters is refused", async () => {
    const res = await createCase({ receipt_number: "EAC9999103403", description: "x".repeat(201) });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].field).toBe("description");
  });

  test("an unknown receipt leaves check_error not_found and no status update", async () => {
    await createCase({ receipt_number: "EAC1234560000" });
    await t.checker.tick();
    const list = await t.call("GET", `/v1/users/${userId}/cases`, { as: acme });
    expect(list.json.cases[0]).toMatchObject({
      check_error: "not_found",
      update_count: 0,
      status_code: null,
    });
  });
});
