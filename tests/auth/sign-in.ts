import { expect } from "bun:test";
import type { Credentials, TestApp } from "../helpers/app.ts";

/** The headers a browser sends: the publishable key alone. */
export const publishable = (partner: Credentials) => ({ "x-api-key": partner.apiKey });

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createUser(
  t: TestApp,
  partner: Credentials,
  body: Record<string, unknown>,
): Promise<number> {
  const res = await t.call("POST", "/v1/users", { as: partner, body });
  expect(res.status).toBe(201);
  return res.json.id;
}

export const requestCode = (t: TestApp, partner: Credentials, email: string) =>
  t.call("POST", "/v1/auth/login-code", { headers: publishable(partner), body: { email } });

export const verifyCode = (t: TestApp, partner: Credentials, email: string, code: string) =>
  t.call("POST", "/v1/auth/verify", { headers: publishable(partner), body: { email, code } });

/** The newest sign-in e-mail in the outbox, as it waits for the sender. */
export function loginCodeJob(t: TestApp) {
  const job = t.database.sqlite
    .query(
      "SELECT id, user_id, state, payload FROM outbox_jobs WHERE purpose = 'login_code' " +
        "ORDER BY id DESC LIMIT 1",
    )
    .get() as { id: number; user_id: number; state: string; payload: string } | null;
  if (!job) return null;
  const payload = JSON.parse(job.payload);
  const code = /^ {4}(\d{6})$/m.exec(payload.message.text)?.[1] ?? null;
  return { ...job, message: payload.message, redact: payload.redact, code };
}

/** Asks for a code, reads it from the outbox and trades it for a token. */
export async function signIn(t: TestApp, partner: Credentials, email: string) {
  expect((await requestCode(t, partner, email)).status).toBe(202);
  const code = loginCodeJob(t)?.code;
  if (!code) throw new Error(`no sign-in code was queued for ${email}`);
  const res = await verifyCode(t, partner, email, code);
  expect(res.status).toBe(200);
  return res.json as { token: string; expires_at: string; user: { id: number } };
}

/** The rows a refused request must leave alone. */
export function snapshot(t: TestApp) {
  const read = (sql: string) => t.database.sqlite.query(sql).all();
  return {
    users: read("SELECT * FROM users ORDER BY id"),
    loginCodes: read("SELECT * FROM login_codes ORDER BY id"),
    sessions: read("SELECT id, user_id, expires_at, revoked_at FROM sessions ORDER BY id"),
    outbox: read("SELECT id, purpose, state FROM outbox_jobs ORDER BY id"),
    cases: read("SELECT * FROM cases ORDER BY id"),
  };
}
