import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

const createUser = (body: Record<string, unknown>) =>
  t.call("POST", "/v1/users", { as: acme, body });

describe("creating users", () => {
  test("answers 201 with the User, defaults filled and e-mail lower-cased", async () => {
    const res = await createUser({ email: "  Ana@Example.COM ", name: "Ana Souza" });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(Number),
      email: "ana@example.com",
      name: "Ana Souza",
      phone: null,
      preferred_language: "en",
      email_verified_at: null,
      notify_by_email: true,
      notify_by_whatsapp: false,
      status: "active",
      created_at: "2026-05-04T12:00:00.000Z",
      updated_at: "2026-05-04T12:00:00.000Z",
    });
  });

  test("queues the verification e-mail in the user's language; no log has the token", async () => {
    await createUser({ email: "ana@example.com", preferred_language: "pt", name: "Ana" });
    expect(countRows(t, "email_tokens")).toBe(1);
    const job = t.database.sqlite
      .query("SELECT purpose, state, payload FROM outbox_jobs")
      .get() as any;
    expect(job).toMatchObject({ purpose: "verification", state: "pending" });
    const message = JSON.parse(job.payload).message;
    expect(message.subject).toBe("Confirme seu e-mail para Acme Immigration Law");
    expect(message.text).toMatch(/verify-email\?token=ifv_[A-Za-z0-9]{43}/);

    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 1, skipped: 1 });
    expect(JSON.stringify(t.logs.lines)).toContain("Confirme seu e-mail");
    expect(JSON.stringify(t.logs.lines)).not.toMatch(/ifv_[A-Za-z0-9]{43}/);
    const after = t.database.sqlite.query("SELECT state, payload FROM outbox_jobs").get() as any;
    expect(after.state).toBe("skipped");
    expect(after.payload).not.toMatch(/ifv_[A-Za-z0-9]{43}/);
  });

  test("addresses no mail server takes are refused and nothing is stored", async () => {
    const bad = [
      "\u0000@example.com",
      "<script>@example.com",
      "a@example..com",
      ".a@example.com",
      "a.@example.com",
      "a@-example.com",
      "a@example",
    ];
    for (const email of bad) {
      const res = await createUser({ email });
      expect(res.status, email).toBe(400);
      expect(res.json.error.details[0]).toMatchObject({ field: "email" });
    }
    expect(countRows(t, "users")).toBe(0);
    expect((await createUser({ email: "o'brien+cases@ex-ample.co.uk" })).status).toBe(201);
  });

  test("the same e-mail twice for one partner is 409; for another partner it is fine", async () => {
    expect((await createUser({ email: "ana@example.com" })).status).toBe(201);
    const again = await createUser({ email: "ANA@example.com" });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("conflict");
    const other = t.createPartner("Other Firm");
    const elsewhere = await t.call("POST", "/v1/users", {
      as: other,
      body: { email: "ana@example.com" },
    });
    expect(elsewhere.status).toBe(201);
  });

  test("rejects a bad e-mail, a bad phone, a bad language, WhatsApp without a phone", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ email: "not-an-email" }, "email"],
      [{ email: "ana@example.com", phone: "11 99999-0000" }, "phone"],
      [{ email: "ana@example.com", preferred_language: "fr" }, "preferred_language"],
      [{ email: "ana@example.com", notify_by_whatsapp: true }, "notify_by_whatsapp"],
      [{ name: "No E-mail" }, "email"],
    ];
    for (const [body, field] of cases) {
      const res = await createUser(body);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
      expect(res.json.error.details[0].field).toBe(field);
    }
    expect(countRows(t, "users")).toBe(0);
  });
});

describe("listing, reading, updating, deleting", () => {
  test("lists newest first with cursor pagination and filters", async () => {
    for (let i = 0; i < 5; i++) await createUser({ email: `u${i}@example.com` });
    const first = await t.call("GET", "/v1/users?limit=2", { as: acme });
    expect(first.status).toBe(200);
    expect(first.json.users.map((u: any) => u.email)).toEqual(["u4@example.com", "u3@example.com"]);
    expect(first.json.next_cursor).toEqual(expect.any(String));
    const second = await t.call("GET", `/v1/users?limit=2&cursor=${first.json.next_cursor}`, {
      as: acme,
    });
    expect(second.json.users.map((u: any) => u.email)).toEqual([
      "u2@example.com",
      "u1@example.com",
    ]);
    const last = await t.call("GET", `/v1/users?limit=2&cursor=${second.json.next_cursor}`, {
      as: acme,
    });
    expect(last.json.users).toHaveLength(1);
    expect(last.json.next_cursor).toBeNull();

    const byEmail = await t.call("GET", "/v1/users?email=U3@example.com", { as: acme });
    expect(byEmail.json.users.map((u: any) => u.email)).toEqual(["u3@example.com"]);
  });

  test("limit outside 1..200 and a forged cursor are 400", async () => {
    for (const query of ["limit=0", "limit=201", "limit=abc", "cursor=bm9wZQ"]) {
      const res = await t.call("GET", `/v1/users?${query}`, { as: acme });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
    }
  });

  test("updates fields; an e-mail change clears verification and sends a new e-mail", async () => {
    const created = await createUser({ email: "ana@example.com" });
    t.database.sqlite.run("UPDATE users SET email_verified_at = 1 WHERE id = ?", [created.json.id]);
    t.clock.advance(60_000);
    const res = await t.call("PUT", `/v1/users/${created.json.id}`, {
      as: acme,
      body: { email: "ana.souza@example.com", phone: "+5511999990000", notify_by_whatsapp: true },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      email: "ana.souza@example.com",
      email_verified_at: null,
      phone: "+5511999990000",
      notify_by_whatsapp: true,
      updated_at: "2026-05-04T12:01:00.000Z",
    });
    expect(countRows(t, "email_tokens")).toBe(2);
  });

  test("clearing the phone while WhatsApp is on is refused", async () => {
    const created = await createUser({
      email: "ana@example.com",
      phone: "+5511999990000",
      notify_by_whatsapp: true,
    });
    const res = await t.call("PUT", `/v1/users/${created.json.id}`, {
      as: acme,
      body: { phone: null },
    });
    expect(res.status).toBe(400);
    const after = await t.call("GET", `/v1/users/${created.json.id}`, { as: acme });
    expect(after.json.phone).toBe("+5511999990000");
  });

  test("an update leaves the fields it does not name alone", async () => {
    const created = await createUser({ email: "ana@example.com", preferred_language: "pt" });
    await t.call("PUT", `/v1/users/${created.json.id}`, { as: acme, body: { status: "disabled" } });
    const res = await t.call("PUT", `/v1/users/${created.json.id}`, {
      as: acme,
      body: { name: "Ana" },
    });
    expect(res.json).toMatchObject({ name: "Ana", preferred_language: "pt", status: "disabled" });
    const listed = await t.call("GET", "/v1/users", { as: acme });
    expect(listed.json.users).toHaveLength(1);
  });

  test("partners may disable a user", async () => {
    const created = await createUser({ email: "ana@example.com" });
    const res = await t.call("PUT", `/v1/users/${created.json.id}`, {
      as: acme,
      body: { status: "disabled" },
    });
    expect(res.json.status).toBe("disabled");
    const listed = await t.call("GET", "/v1/users?status=disabled", { as: acme });
    expect(listed.json.users).toHaveLength(1);
  });

  test("delete erases the user with their cases and history", async () => {
    const created = await createUser({ email: "ana@example.com" });
    await t.call("POST", `/v1/users/${created.json.id}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    await t.checker.tick();
    expect(countRows(t, "status_updates")).toBe(1);
    const res = await t.call("DELETE", `/v1/users/${created.json.id}`, { as: acme });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(countRows(t, "users")).toBe(0);
    expect(countRows(t, "cases")).toBe(0);
    expect(countRows(t, "status_updates")).toBe(0);
    expect((await t.call("GET", `/v1/users/${created.json.id}`, { as: acme })).status).toBe(404);
  });
});
