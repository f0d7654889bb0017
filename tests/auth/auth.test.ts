import { beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";
import {
  bearer,
  createUser,
  loginCodeJob,
  publishable,
  requestCode,
  signIn,
  verifyCode,
} from "./sign-in.ts";

let t: TestApp;
let acme: Credentials;
let anaId: number;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const DayMs = 24 * 60 * 60 * 1000;

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  anaId = await createUser(t, acme, {
    email: "ana@example.com",
    name: "Ana Souza",
    preferred_language: "pt",
  });
});

describe("asking for a sign-in code", () => {
  test("202; the code is queued in the user's language, stored as a hash", async () => {
    const res = await requestCode(t, acme, "  ANA@example.com ");
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true, expires_in: 600 });

    const job = loginCodeJob(t)!;
    expect(job).toMatchObject({ user_id: anaId, state: "pending" });
    expect(job.message.to).toBe("ana@example.com");
    expect(job.message.subject).toBe("Seu código de acesso para Acme Immigration Law");
    expect(job.message.text).toContain("expira em 10 minutos");
    expect(job.code).toMatch(/^\d{6}$/);
    expect(job.message.subject).not.toContain(job.code!);
    expect(job.redact).toEqual([job.code]);

    const row = t.database.sqlite.query("SELECT * FROM login_codes").get() as any;
    expect(row).toMatchObject({ user_id: anaId, attempts: 0, used_at: null });
    expect(row.code_hash).toBe(sha256(job.code!));
    expect(row.expires_at - row.created_at).toBe(10 * 60 * 1000);
  });

  test("speaks English and Spanish to users who chose them", async () => {
    await createUser(t, acme, { email: "bo@example.com", preferred_language: "en" });
    await createUser(t, acme, { email: "eva@example.com", preferred_language: "es" });
    await requestCode(t, acme, "bo@example.com");
    expect(loginCodeJob(t)!.message.subject).toBe("Your sign-in code for Acme Immigration Law");
    await requestCode(t, acme, "eva@example.com");
    expect(loginCodeJob(t)!.message.subject).toBe("Su código de acceso para Acme Immigration Law");
  });

  test("the code leaves the outbox row once delivered and never reaches the log", async () => {
    await requestCode(t, acme, "ana@example.com");
    const { id, code } = loginCodeJob(t)!;
    // The code and the verification e-mail from creating the user go in one run: a code never
    // waits for the user's older e-mails.
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 2, skipped: 2 });

    const job = t.database.sqlite
      .query("SELECT state, payload FROM outbox_jobs WHERE id = ?")
      .get(id) as any;
    expect(job.state).toBe("skipped");
    expect(job.payload).not.toContain(code);
    expect(job.payload).toContain("[redacted]");
    expect(JSON.stringify(t.logs.lines)).toContain("Seu código de acesso");
    expect(JSON.stringify(t.logs.lines)).not.toContain(code);
    expect(JSON.stringify(t.logs.lines)).not.toContain("ana@example.com");
  });

  test("a new code replaces the one before it", async () => {
    await requestCode(t, acme, "ana@example.com");
    const first = loginCodeJob(t)!.code!;
    await requestCode(t, acme, "ana@example.com");
    const second = loginCodeJob(t)!.code!;
    expect(countRows(t, "login_codes")).toBe(1);

    if (first !== second) {
      expect((await verifyCode(t, acme, "ana@example.com", first)).status).toBe(401);
    }
    expect((await verifyCode(t, acme, "ana@example.com", second)).status).toBe(200);
  });

  test("partner credentials may ask and verify on a user's behalf", async () => {
    const asked = await t.call("POST", "/v1/auth/login-code", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    expect(asked.status).toBe(202);
    const verified = await t.call("POST", "/v1/auth/verify", {
      as: acme,
      body: { email: "ana@example.com", code: loginCodeJob(t)!.code },
    });
    expect(verified.status).toBe(200);
    expect(verified.json.user.id).toBe(anaId);
  });
});

describe("verifying a code", () => {
  test("answers the token, its type and expiry, and the User; keeps only the hash", async () => {
    await requestCode(t, acme, "ana@example.com");
    const { code } = loginCodeJob(t)!;
    const res = await verifyCode(t, acme, "Ana@Example.com", ` ${code} `);

    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      token: expect.stringMatching(/^ift_[0-9A-Za-z]{43}$/),
      token_type: "Bearer",
      expires_at: new Date(t.clock.now() + 30 * DayMs).toISOString(),
      user: expect.objectContaining({ id: anaId, email: "ana@example.com", status: "active" }),
    });
    const session = t.database.sqlite.query("SELECT * FROM sessions").get() as any;
    expect(session).toMatchObject({ user_id: anaId, revoked_at: null });
    expect(session.token_hash).toBe(sha256(res.json.token));
    expect(JSON.stringify(session)).not.toContain(res.json.token);
    const used = t.database.sqlite.query("SELECT used_at FROM login_codes").get() as any;
    expect(used.used_at).toBe(t.clock.now());
    expect(JSON.stringify(t.logs.lines)).not.toContain(res.json.token);
  });

  test("USER_TOKEN_TTL_DAYS sets the token's life", async () => {
    t = testApp({ env: { USER_TOKEN_TTL_DAYS: "2" } });
    acme = t.createPartner();
    await createUser(t, acme, { email: "ana@example.com" });
    const session = await signIn(t, acme, "ana@example.com");
    expect(session.expires_at).toBe(new Date(t.clock.now() + 2 * DayMs).toISOString());
  });

  test("the first sign-in verifies the address and tells the webhooks", async () => {
    t.database.sqlite.run(
      "INSERT INTO webhooks (client_id, url, events, active, secret, created_at, updated_at) " +
        "VALUES (?, 'https://hooks.acme.example/in', '[\"user.email_verified\"]', 1, " +
        "'whsec_x', 0, 0)",
      [acme.id],
    );
    const session = await signIn(t, acme, "ana@example.com");
    const verifiedAt = new Date(t.clock.now()).toISOString();
    expect(session.user).toMatchObject({ email_verified_at: verifiedAt, updated_at: verifiedAt });

    const events = t.database.sqlite
      .query("SELECT payload FROM outbox_jobs WHERE purpose = 'webhook_event'")
      .all() as any[];
    expect(events).toHaveLength(1);
    const event = JSON.parse(events[0].payload).event;
    expect(event.type).toBe("user.email_verified");
    expect(event.data).toEqual(session.user);

    t.clock.advance(60_000);
    const again = await signIn(t, acme, "ana@example.com");
    expect(again.user).toMatchObject({ email_verified_at: verifiedAt });
    expect(countRows(t, "outbox_jobs WHERE purpose = 'webhook_event'")).toBe(1);
  });
});

describe("what a user token opens", () => {
  let token: string;
  let boId: number;

  beforeEach(async () => {
    boId = await createUser(t, acme, { email: "bo@example.com" });
    token = (await signIn(t, acme, "ana@example.com")).token;
  });

  test("GET /v1/users lists only the caller", async () => {
    const res = await t.call("GET", "/v1/users", { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.json.users.map((user: any) => user.id)).toEqual([anaId]);
    expect(res.json.next_cursor).toBeNull();
    expect(boId).not.toBe(anaId);
  });

  test("get, update and delete of self", async () => {
    const got = await t.call("GET", `/v1/users/${anaId}`, { headers: bearer(token) });
    expect(got.status).toBe(200);
    expect(got.json.email).toBe("ana@example.com");

    const put = await t.call("PUT", `/v1/users/${anaId}`, {
      headers: bearer(token),
      body: { name: "Ana S.", preferred_language: "es" },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ name: "Ana S.", preferred_language: "es" });

    const deleted = await t.call("DELETE", `/v1/users/${anaId}`, { headers: bearer(token) });
    expect(deleted.status).toBe(204);
    expect(countRows(t, "users")).toBe(1);
    expect(countRows(t, "sessions")).toBe(0);
  });

  test("the caller's own cases, and a live check", async () => {
    const created = await t.call("POST", `/v1/users/${anaId}/cases`, {
      headers: bearer(token),
      body: { receipt_number: "EAC9999103403", description: "work permit" },
    });
    expect(created.status).toBe(201);
    const list = await t.call("GET", `/v1/users/${anaId}/cases`, { headers: bearer(token) });
    expect(list.status).toBe(200);
    expect(list.json.cases).toHaveLength(1);
    const ref = created.json.case.user_case_id;
    const one = await t.call("GET", `/v1/users/${anaId}/cases/${ref}`, { headers: bearer(token) });
    expect(one.status).toBe(200);
    expect(one.json.case.user.id).toBe(anaId);

    const check = await t.call("POST", "/v1/check", {
      headers: bearer(token),
      body: { receipt_number: "EAC9999103403" },
    });
    expect(check.status).toBe(200);
  });

  test("last_used_at moves at most once a minute", async () => {
    const lastUsed = () =>
      (t.database.sqlite.query("SELECT last_used_at FROM sessions").get() as any).last_used_at;
    const signedInAt = t.clock.now();
    expect(lastUsed()).toBe(signedInAt);

    t.clock.advance(59_000);
    await t.call("GET", "/v1/users", { headers: bearer(token) });
    expect(lastUsed()).toBe(signedInAt);

    t.clock.advance(1_000);
    await t.call("GET", "/v1/users", { headers: bearer(token) });
    expect(lastUsed()).toBe(signedInAt + 60_000);
  });
});

describe("signing out", () => {
  test("logout answers 204 and the token stops working everywhere", async () => {
    const { token } = await signIn(t, acme, "ana@example.com");
    const other = await signIn(t, acme, "ana@example.com");

    const res = await t.call("POST", "/v1/auth/logout", { headers: bearer(token) });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");

    for (const [method, path] of [
      ["GET", "/v1/users"],
      ["GET", `/v1/users/${anaId}`],
      ["GET", `/v1/users/${anaId}/cases`],
      ["POST", "/v1/auth/logout"],
    ] as const) {
      const after = await t.call(method, path, { headers: bearer(token) });
      expect(after.status).toBe(401);
      expect(after.json.error.code).toBe("unauthorized");
    }
    const revoked = t.database.sqlite
      .query("SELECT revoked_at FROM sessions ORDER BY id")
      .all() as any[];
    expect(revoked.map((row) => row.revoked_at)).toEqual([t.clock.now(), null]);
    // Signing out on one device leaves the others signed in.
    expect((await t.call("GET", "/v1/users", { headers: bearer(other.token) })).status).toBe(200);
  });

  test("the publishable key alone cannot sign anyone out", async () => {
    const res = await t.call("POST", "/v1/auth/logout", { headers: publishable(acme) });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("forbidden");
  });
});
