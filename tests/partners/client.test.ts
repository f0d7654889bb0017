import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

const Start = "2026-05-04T12:00:00.000Z";

const createUser = async (body: Record<string, unknown>) => {
  const res = await t.call("POST", "/v1/client/users", { as: acme, body });
  expect(res.status).toBe(201);
  return res.json;
};

const createCase = async (userId: number, receipt: string, description?: string) => {
  const res = await t.call("POST", `/v1/client/users/${userId}/cases`, {
    as: acme,
    body: { receipt_number: receipt, ...(description ? { description } : {}) },
  });
  expect(res.status).toBe(201);
  return res.json.case;
};

const listCases = async (query = "") => {
  const res = await t.call("GET", `/v1/client/cases${query ? `?${query}` : ""}`, { as: acme });
  expect(res.status).toBe(200);
  return res.json;
};

const receiptsOf = (list: { cases: { receipt_number: string }[] }) =>
  list.cases.map((c) => c.receipt_number);

const verificationJobs = () =>
  (
    t.database.sqlite
      .query("SELECT count(*) AS n FROM outbox_jobs WHERE purpose = 'verification'")
      .get() as { n: number }
  ).n;

describe("the partner's account", () => {
  test("GET /v1/client answers the Client with usage counted over all its users", async () => {
    const ana = await createUser({ email: "ana@example.com" });
    const bia = await createUser({ email: "bia@example.com" });
    await createCase(ana.id, "EAC9999103403");
    const paused = await createCase(ana.id, "LIN9999106498");
    await createCase(bia.id, "EAC9999103403");
    await t.call("PUT", `/v1/users/${ana.id}/cases/${paused.id}`, {
      as: acme,
      body: { active: false },
    });

    const res = await t.call("GET", "/v1/client", { as: acme });

    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: acme.id,
      name: "Acme Immigration Law",
      contact_email: expect.any(String),
      logo_url: null,
      api_key: acme.apiKey,
      created_at: Start,
      updated_at: Start,
      usage: { users: 2, cases: 3, active_cases: 2 },
    });
    expect(res.text).not.toContain(acme.apiSecret);
  });

  test("another partner's users and cases are not counted", async () => {
    const rival = t.createPartner("Rival Legal Group");
    const rita = await t.call("POST", "/v1/users", {
      as: rival,
      body: { email: "rita@example.com" },
    });
    await t.call("POST", `/v1/users/${rita.json.id}/cases`, {
      as: rival,
      body: { receipt_number: "EAC9999103403" },
    });

    const res = await t.call("GET", "/v1/client", { as: acme });

    expect(res.json.usage).toEqual({ users: 0, cases: 0, active_cases: 0 });
  });

  test("PUT /v1/client/logo sets the logo, GET shows it, and null removes it", async () => {
    t.clock.advance(60_000);

    const set = await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: "https://acme.example/brand/logo.png" },
    });

    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({
      logo_url: "https://acme.example/brand/logo.png",
      updated_at: "2026-05-04T12:01:00.000Z",
      usage: { users: 0, cases: 0, active_cases: 0 },
    });
    const read = await t.call("GET", "/v1/client", { as: acme });
    expect(read.json).toEqual(set.json);

    const cleared = await t.call("PUT", "/v1/client/logo", { as: acme, body: { logo_url: null } });
    expect(cleared.status).toBe(200);
    expect((await t.call("GET", "/v1/client", { as: acme })).json.logo_url).toBeNull();
  });

  test("the new logo is the one in the next verification e-mail", async () => {
    await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: "https://acme.example/new-logo.png" },
    });

    await createUser({ email: "ana@example.com" });

    const job = t.database.sqlite.query("SELECT payload FROM outbox_jobs").get() as any;
    expect(JSON.parse(job.payload).message.html).toContain("https://acme.example/new-logo.png");
  });

  test("a logo that is not a plain https URL is refused, naming logo_url", async () => {
    for (const logo of [
      "http://acme.example/logo.png",
      "javascript:alert(1)",
      "https://acme.example/my logo.png",
      "https://",
      "https://user:pass@acme.example/logo.png",
      `https://acme.example/${"a".repeat(2048)}`,
      42,
    ]) {
      const res = await t.call("PUT", "/v1/client/logo", { as: acme, body: { logo_url: logo } });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
      expect(res.json.error.details[0].field).toBe("logo_url");
    }
    const missing = await t.call("PUT", "/v1/client/logo", { as: acme, body: {} });
    expect(missing.status).toBe(400);
  });
});

describe("back-office users", () => {
  test("create answers the User and, by default, queues the verification e-mail", async () => {
    const user = await createUser({ email: " Ana@Example.com ", name: "Ana Souza" });

    expect(user).toMatchObject({
      email: "ana@example.com",
      name: "Ana Souza",
      email_verified_at: null,
      status: "active",
    });
    expect(verificationJobs()).toBe(1);
    expect(countRows(t, "email_tokens")).toBe(1);
  });

  test("email_verified: true makes the address verified now and sends nothing", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });

    expect(user.email_verified_at).toBe(Start);
    expect(verificationJobs()).toBe(0);
    expect(countRows(t, "email_tokens")).toBe(0);
    const read = await t.call("GET", `/v1/users/${user.id}`, { as: acme });
    expect(read.json.email_verified_at).toBe(Start);
  });

  test("send_verification: false leaves the address unverified and sends nothing", async () => {
    const user = await createUser({ email: "ana@example.com", send_verification: false });

    expect(user.email_verified_at).toBeNull();
    expect(verificationJobs()).toBe(0);
    expect(countRows(t, "email_tokens")).toBe(0);
  });

  test("the back-office fields are not accepted on /v1/users", async () => {
    for (const field of ["email_verified", "send_verification"]) {
      const res = await t.call("POST", "/v1/users", {
        as: acme,
        body: { email: "ana@example.com", [field]: field === "email_verified" },
      });
      expect(res.status).toBe(400);
      expect(res.json.error.details[0]).toEqual({ field, issue: "unknown_field" });
    }
    expect(countRows(t, "users")).toBe(0);
  });

  test("the /v1/users rules hold: 409 for a taken e-mail, 400 for bad fields", async () => {
    await createUser({ email: "ana@example.com" });

    const again = await t.call("POST", "/v1/client/users", {
      as: acme,
      body: { email: "ANA@example.com", email_verified: true },
    });
    expect(again.status).toBe(409);
    const bad = await t.call("POST", "/v1/client/users", {
      as: acme,
      body: { email: "bia@example.com", email_verified: "yes" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].field).toBe("email_verified");
    expect(countRows(t, "users")).toBe(1);
  });

  test("lists newest first with email and status filters and cursor pagination", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createUser({ email: `u${i}@example.com` })).id);
    await t.call("PUT", `/v1/client/users/${ids[1]}`, { as: acme, body: { status: "disabled" } });

    const first = await t.call("GET", "/v1/client/users?limit=2", { as: acme });
    const second = await t.call(
      "GET",
      `/v1/client/users?limit=2&cursor=${first.json.next_cursor}`,
      {
        as: acme,
      },
    );
    const third = await t.call(
      "GET",
      `/v1/client/users?limit=2&cursor=${second.json.next_cursor}`,
      {
        as: acme,
      },
    );

    const emails = (res: typeof first) => res.json.users.map((u: any) => u.email);
    expect(emails(first)).toEqual(["u4@example.com", "u3@example.com"]);
    expect(emails(second)).toEqual(["u2@example.com", "u1@example.com"]);
    expect(emails(third)).toEqual(["u0@example.com"]);
    expect(third.json.next_cursor).toBeNull();
    const byEmail = await t.call("GET", "/v1/client/users?email=U3@Example.com", { as: acme });
    expect(emails(byEmail)).toEqual(["u3@example.com"]);
    const disabled = await t.call("GET", "/v1/client/users?status=disabled", { as: acme });
    expect(emails(disabled)).toEqual(["u1@example.com"]);
    const bad = await t.call("GET", "/v1/client/users?status=gone", { as: acme });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].field).toBe("status");
  });

  test("get and update, including status and verification", async () => {
    const user = await createUser({ email: "ana@example.com", send_verification: false });
    t.clock.advance(60_000);

    const read = await t.call("GET", `/v1/client/users/${user.id}`, { as: acme });
    expect(read.json).toEqual(user);
    const updated = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { name: "Ana Souza", status: "disabled", email_verified: true },
    });

    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({
      name: "Ana Souza",
      status: "disabled",
      email_verified_at: "2026-05-04T12:01:00.000Z",
      updated_at: "2026-05-04T12:01:00.000Z",
    });
    expect(verificationJobs()).toBe(0);
  });

  test("email_verified: true on a verified address keeps its verification time", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });
    t.clock.advance(60_000);

    const res = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { email_verified: true },
    });

    expect(res.json.email_verified_at).toBe(Start);
  });

  test("a new e-mail is re-verified unless vouched for or told not to send", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });

    const plain = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { email: "ana.souza@example.com" },
    });
    expect(plain.json.email_verified_at).toBeNull();
    expect(verificationJobs()).toBe(1);

    const quiet = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { email: "ana.s@example.com", send_verification: false },
    });
    expect(quiet.json.email_verified_at).toBeNull();
    expect(verificationJobs()).toBe(1);

    const vouched = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { email: "ana@work.example", email_verified: true },
    });
    expect(vouched.json).toMatchObject({ email: "ana@work.example", email_verified_at: Start });
    expect(verificationJobs()).toBe(1);
  });

  test("email_verified: false takes the verification back and asks the user again", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });

    const res = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { email_verified: false },
    });

    expect(res.json.email_verified_at).toBeNull();
    expect(verificationJobs()).toBe(1);
  });

  test("an update naming no verification field leaves verification alone", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });

    const res = await t.call("PUT", `/v1/client/users/${user.id}`, {
      as: acme,
      body: { name: "Ana" },
    });

    expect(res.json.email_verified_at).toBe(Start);
    expect(verificationJobs()).toBe(0);
  });

  test("delete answers 204 and erases the user with their cases", async () => {
    const user = await createUser({ email: "ana@example.com" });
    await createCase(user.id, "EAC9999103403");
    await t.checker.tick();

    const res = await t.call("DELETE", `/v1/client/users/${user.id}`, { as: acme });

    expect(res.status).toBe(204);
    expect((await t.call("GET", `/v1/client/users/${user.id}`, { as: acme })).status).toBe(404);
    expect(countRows(t, "cases")).toBe(0);
    expect(countRows(t, "status_updates")).toBe(0);
    expect((await t.call("GET", "/v1/client", { as: acme })).json.usage.users).toBe(0);
  });

  test("resend-verification queues a new e-mail for an unverified address", async () => {
    const user = await createUser({ email: "ana@example.com", send_verification: false });

    const res = await t.call("POST", `/v1/client/users/${user.id}/resend-verification`, {
      as: acme,
    });

    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true });
    expect(verificationJobs()).toBe(1);
    expect(countRows(t, "email_tokens")).toBe(1);
  });

  test("resend-verification for a verified address: same answer, nothing sent", async () => {
    const user = await createUser({ email: "ana@example.com", email_verified: true });

    const res = await t.call("POST", `/v1/client/users/${user.id}/resend-verification`, {
      as: acme,
    });

    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true });
    expect(verificationJobs()).toBe(0);
  });
});

describe("back-office cases", () => {
  test("POST /v1/client/users/{id}/cases answers 201 with the case details", async () => {
    const user = await createUser({ email: "ana@example.com", name: "Ana" });

    const res = await t.call("POST", `/v1/client/users/${user.id}/cases`, {
      as: acme,
      body: { receipt_number: "eac-99-991-03403", description: "Ana's I-130" },
    });

    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      case: {
        id: expect.any(Number),
        user_case_id: expect.stringMatching(/^FLOW\d{7}$/),
        receipt_number: "EAC9999103403",
        description: "Ana's I-130",
        created_at: Start,
        last_checked: null,
        active: true,
        user,
      },
      status_updates: [],
      update_count: 0,
    });
    const again = await t.call("POST", `/v1/client/users/${user.id}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    expect(again.status).toBe(409);
  });

  test("GET /v1/client/cases/{ref} answers the same details as the user's route", async () => {
    const user = await createUser({ email: "ana@example.com" });
    const created = await createCase(user.id, "EAC9999103403");
    await t.checker.tick();

    const byId = await t.call("GET", `/v1/client/cases/${created.id}`, { as: acme });
    const byFlowId = await t.call("GET", `/v1/client/cases/${created.user_case_id}`, {
      as: acme,
    });
    const lowerFlowId = await t.call(
      "GET",
      `/v1/client/cases/${created.user_case_id.toLowerCase()}`,
      { as: acme },
    );
    const viaUser = await t.call("GET", `/v1/users/${user.id}/cases/${created.id}`, { as: acme });

    expect(byId.status).toBe(200);
    expect(byId.json).toEqual(viaUser.json);
    expect(byFlowId.json).toEqual(viaUser.json);
    expect(lowerFlowId.json).toEqual(viaUser.json);
    expect(byId.json.update_count).toBe(1);
    expect(byId.json.status_updates[0]).toMatchObject({ kind: "initial", category: "approved" });
    const missing = await t.call("GET", "/v1/client/cases/FLOW0000000", { as: acme });
    expect(missing.status).toBe(404);
  });

  test("lists every user's cases newest first, with the user, across pages", async () => {
    const ana = await createUser({ email: "ana@example.com", name: "Ana" });
    const bia = await createUser({ email: "bia@example.com", name: null });
    await createCase(ana.id, "EAC9999103403");
    await createCase(bia.id, "LIN9999106498");
    await createCase(ana.id, "EAC9999103404");
    await createCase(bia.id, "EAC9999103403");
    await createCase(ana.id, "SRC9999102777");
    await t.checker.tick();

    const first = await listCases("limit=2");
    const second = await listCases(`limit=2&cursor=${first.next_cursor}`);
    const third = await listCases(`limit=2&cursor=${second.next_cursor}`);

    expect(receiptsOf(first)).toEqual(["SRC9999102777", "EAC9999103403"]);
    expect(receiptsOf(second)).toEqual(["EAC9999103404", "LIN9999106498"]);
    expect(receiptsOf(third)).toEqual(["EAC9999103403"]);
    expect(third.next_cursor).toBeNull();
    expect(first.cases[1].user).toEqual({ id: bia.id, email: "bia@example.com", name: null });
    expect(third.cases[0].user).toEqual({ id: ana.id, email: "ana@example.com", name: "Ana" });
    expect(third.cases[0]).toMatchObject({
      status_category: "approved",
      status_code: "Case Was Approved",
      form_type: "I-130",
      status_updated_at: Start,
      update_count: 1,
      check_error: null,
      last_checked: Start,
    });
  });

  test("filters by user, active, category and receipt, and combines them", async () => {
    const ana = await createUser({ email: "ana@example.com" });
    const bia = await createUser({ email: "bia@example.com" });
    const anaApproved = await createCase(ana.id, "EAC9999103403");
    const anaReview = await createCase(ana.id, "LIN9999106498");
    const biaApproved = await createCase(bia.id, "EAC9999103403");
    await createCase(bia.id, "SRC9999102777");
    await t.checker.tick();
    await t.call("PUT", `/v1/users/${ana.id}/cases/${anaReview.id}`, {
      as: acme,
      body: { active: false },
    });
    const ids = (list: { cases: { id: number }[] }) => list.cases.map((c) => c.id);

    expect(ids(await listCases(`user_id=${ana.id}`))).toEqual([anaReview.id, anaApproved.id]);
    expect(ids(await listCases("active=false"))).toEqual([anaReview.id]);
    expect((await listCases("active=true")).cases).toHaveLength(3);
    expect(ids(await listCases("category=approved"))).toEqual([biaApproved.id, anaApproved.id]);
    expect(ids(await listCases("category=in_review"))).toEqual([anaReview.id]);
    expect((await listCases("category=denied")).cases).toEqual([]);
    expect(ids(await listCases("receipt_number=eac-9999-103-403"))).toEqual([
      biaApproved.id,
      anaApproved.id,
    ]);
    expect(ids(await listCases(`receipt_number=EAC9999103403&user_id=${bia.id}`))).toEqual([
      biaApproved.id,
    ]);
    expect(ids(await listCases(`category=approved&active=true&user_id=${ana.id}`))).toEqual([
      anaApproved.id,
    ]);
  });

  test("a filter pages like the full list", async () => {
    const ana = await createUser({ email: "ana@example.com" });
    const bia = await createUser({ email: "bia@example.com" });
    for (const receipt of ["EAC9999103403", "EAC9999103404", "EAC9999103405"]) {
      await createCase(ana.id, receipt);
      await createCase(bia.id, receipt);
    }

    const first = await listCases(`user_id=${bia.id}&limit=2`);
    const second = await listCases(`user_id=${bia.id}&limit=2&cursor=${first.next_cursor}`);

    expect(receiptsOf(first)).toEqual(["EAC9999103405", "EAC9999103404"]);
    expect(receiptsOf(second)).toEqual(["EAC9999103403"]);
    expect(second.next_cursor).toBeNull();
    expect([...first.cases, ...second.cases].every((c: any) => c.user.id === bia.id)).toBe(true);
  });

  test("updated_since keeps the cases whose newest status update is at or after it", async () => {
    const ana = await createUser({ email: "ana@example.com" });
    const early = await createCase(ana.id, "EAC9999103403");
    const never = await createCase(ana.id, "EAC9999100000");
    await t.checker.tick();
    t.clock.advance(60 * 60 * 1000);
    const late = await createCase(ana.id, "LIN9999106498");
    await t.checker.tick();
    const ids = (list: { cases: { id: number }[] }) => list.cases.map((c) => c.id);

    expect(ids(await listCases("updated_since=2026-05-04T12:00:00.000Z"))).toEqual([
      late.id,
      early.id,
    ]);
    expect(ids(await listCases("updated_since=2026-05-04T13:00:00.000Z"))).toEqual([late.id]);
    expect(ids(await listCases("updated_since=2026-05-04T14:00:00%2B01:00"))).toEqual([late.id]);
    expect(ids(await listCases("updated_since=2026-05-04T13:00:00.001Z"))).toEqual([]);
    // A receipt USCIS does not know has no status update, so it was never "updated".
    expect(ids(await listCases())).toContain(never.id);
    expect(ids(await listCases("updated_since=2026-01-01T00:00:00Z"))).not.toContain(never.id);
  });

  test("bad filters are 400 validation_error naming the field", async () => {
    const refused: [string, string][] = [
      ["updated_since=yesterday", "updated_since"],
      ["updated_since=2026-02-30T00:00:00Z", "updated_since"],
      ["updated_since=2026-05-04T12:00:00", "updated_since"],
      ["updated_since=2026-05-04", "updated_since"],
      ["category=approve", "category"],
      ["category=", "category"],
      ["user_id=abc", "user_id"],
      ["user_id=0", "user_id"],
      ["user_id=1e3", "user_id"],
      ["active=yes", "active"],
      ["cursor=bm9wZQ", "cursor"],
      ["limit=abc", "limit"],
    ];
    for (const [query, field] of refused) {
      const res = await t.call("GET", `/v1/client/cases?${query}`, { as: acme });
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.json.error.code).toBe("validation_error");
      expect(res.json.error.details[0].field).toBe(field);
    }
  });

  test("a bad receipt filter is invalid_receipt_number, as on case creation", async () => {
    const { id: userId } = await createUser({ email: "ana@example.com" });
    for (const receipt of ["EAC123", "%25", "EAC15123O5678"]) {
      const query = `receipt_number=${encodeURIComponent(receipt)}`;
      const res = await t.call("GET", `/v1/client/cases?${query}`, { as: acme });
      const created = await t.call("POST", `/v1/client/users/${userId}/cases`, {
        as: acme,
        body: { receipt_number: receipt },
      });
      expect({ receipt, status: res.status, body: res.json }).toMatchObject({
        receipt,
        status: 400,
        body: {
          error: {
            code: "invalid_receipt_number",
            message: created.json.error.message,
            details: [{ field: "receipt_number", issue: created.json.error.details[0].issue }],
          },
        },
      });
    }
  });
});
