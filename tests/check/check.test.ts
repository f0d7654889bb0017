import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

const check = (receipt: unknown) =>
  t.call("POST", "/v1/check", { as: acme, body: { receipt_number: receipt } });

describe("POST /v1/check", () => {
  test("looks a receipt up live and stores no case or status update", async () => {
    const res = await check("eac-9999-103-403");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      receipt_number: "EAC9999103403",
      form_type: "I-130",
      category: "approved",
      status_code: "Case Was Approved",
      cached: false,
      checked_at: "2026-05-04T12:00:00.000Z",
    });
    expect(res.json.status_code_pt).not.toBe(res.json.status_code);
    expect(countRows(t, "cases")).toBe(0);
    expect(countRows(t, "status_updates")).toBe(0);
  });

  test("an answer under 10 minutes old is reused; an older one is fetched again", async () => {
    await check("EAC9999103403");
    t.clock.advance(9 * 60_000);
    expect((await check("EAC9999103403")).json.cached).toBe(true);
    t.clock.advance(2 * 60_000);
    expect((await check("EAC9999103403")).json.cached).toBe(false);
  });

  test("an unknown receipt is 404 not_found", async () => {
    const res = await check("EAC1234560000");
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("not_found");
  });

  test("a malformed receipt is 400 invalid_receipt_number", async () => {
    const res = await check("EAC12345");
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("invalid_receipt_number");
  });

  test("needs credentials", async () => {
    const res = await t.call("POST", "/v1/check", { body: { receipt_number: "EAC9999103403" } });
    expect(res.status).toBe(401);
  });
});
