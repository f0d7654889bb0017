import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";
import {
  bearer,
  createUser,
  loginCodeJob,
  publishable,
  requestCode,
  signIn,
  snapshot,
  verifyCode,
} from "./sign-in.ts";

let t: TestApp;
let acme: Credentials;
let rival: Credentials;
let anaId: number;

const DayMs = 24 * 60 * 60 * 1000;

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  rival = t.createPartner("Rival Legal Group");
  anaId = await createUser(t, acme, { email: "ana@example.com" });
});

/** A code that is not the one in the outbox. */
const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

async function freshCode(email = "ana@example.com") {
  expect((await requestCode(t, acme, email)).status).toBe(202);
  return loginCodeJob(t)!.code!;
}

function expectUnauthorized(res: { status: number; json: any }) {
  expect(res.status).toBe(401);
  expect(res.json.error.code).toBe("unauthorized");
}

describe("sign-in credentials", () => {
  test("no credentials is 401 on every auth route, before the body is looked at", async () => {
    const before = snapshot(t);
    for (const path of ["/v1/auth/login-code", "/v1/auth/verify", "/v1/auth/logout"]) {
      expectUnauthorized(await t.call("POST", path, { body: { nonsense: true } }));
      expectUnauthorized(await t.call("POST", path, { body: { email: "ana@example.com" } }));
    }
    expect(snapshot(t)).toEqual(before);
  });

  test("wrong secret, unknown key or disabled partner: 401, nothing sent", async () => {
    const before = snapshot(t);
    const attempts: Record<string, string>[] = [
      { "x-api-key": acme.apiKey, "x-api-secret": rival.apiSecret },
      { "x-api-key": "ifk_000000000000000000000000" },
      { "x-api-secret": acme.apiSecret },
    ];
    for (const headers of attempts) {
      const res = await t.call("POST", "/v1/auth/login-code", {
        headers,
        body: { email: "ana@example.com" },
      });
      expectUnauthorized(res);
    }
    t.database.sqlite.run("UPDATE clients SET disabled_at = 1 WHERE id = ?", [acme.id]);
    expectUnauthorized(await requestCode(t, acme, "ana@example.com"));
    expect(snapshot(t)).toEqual(before);
  });

  test("a malformed or unknown bearer token is 401", async () => {
    for (const authorization of [
      "Bearer",
      "Bearer ",
      `Bearer ift_${"a".repeat(43)}`,
      `Basic ${btoa("ana:secret")}`,
      `Bearer ${acme.apiSecret}`,
    ]) {
      const res = await t.call("GET", "/v1/users", { headers: { authorization } });
      expectUnauthorized(res);
    }
  });
});

describe("codes", () => {
  test("a used code is 401 the second time and mints nothing", async () => {
    const code = await freshCode();
    expect((await verifyCode(t, acme, "ana@example.com", code)).status).toBe(200);
    const before = snapshot(t);
    expectUnauthorized(await verifyCode(t, acme, "ana@example.com", code));
    expect(snapshot(t)).toEqual(before);
  });

  test("each wrong guess is counted; the sixth guess fails even when it is right", async () => {
    const code = await freshCode();
    for (let guess = 1; guess <= 5; guess++) {
      const res = await verifyCode(t, acme, "ana@example.com", wrongCode(code));
      expectUnauthorized(res);
      const row = t.database.sqlite.query("SELECT attempts FROM login_codes").get() as any;
      expect(row.attempts).toBe(guess);
    }
    const before = snapshot(t);
    const sixth = await verifyCode(t, acme, "ana@example.com", code);
    expectUnauthorized(sixth);
    expect(snapshot(t)).toEqual(before);
    expect(countRows(t, "sessions")).toBe(0);
  });

  test("every failure says the same thing", async () => {
    const code = await freshCode();
    const messages = new Set<string>();
    for (const res of [
      await verifyCode(t, acme, "ana@example.com", wrongCode(code)),
      await verifyCode(t, acme, "nobody@example.com", code),
      await verifyCode(t, rival, "ana@example.com", code),
    ]) {
      expectUnauthorized(res);
      messages.add(res.json.error.message);
    }
    expect(messages.size).toBe(1);
  });

  test("a code is dead after 10 minutes", async () => {
    const code = await freshCode();
    t.clock.advance(10 * 60 * 1000);
    const before = snapshot(t);
    expectUnauthorized(await verifyCode(t, acme, "ana@example.com", code));
    expect(snapshot(t)).toEqual(before);
  });

  test("a code still works a moment before its 10 minutes are up", async () => {
    const code = await freshCode();
    t.clock.advance(10 * 60 * 1000 - 1);
    expect((await verifyCode(t, acme, "ana@example.com", code)).status).toBe(200);
  });

  test("malformed codes are 400 and count as no guess", async () => {
    await freshCode();
    for (const code of ["12345", "1234567", "12a456", ""]) {
      const res = await verifyCode(t, acme, "ana@example.com", code);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
    }
    const extra = await t.call("POST", "/v1/auth/verify", {
      headers: publishable(acme),
      body: { email: "ana@example.com", code: "123456", remember: true },
    });
    expect(extra.status).toBe(400);
    const row = t.database.sqlite.query("SELECT attempts FROM login_codes").get() as any;
    expect(row.attempts).toBe(0);
  });

  test("a disabled user gets no code, and a code sent earlier stops working", async () => {
    const code = await freshCode();
    await t.call("PUT", `/v1/users/${anaId}`, { as: acme, body: { status: "disabled" } });
    const jobs = countRows(t, "outbox_jobs");

    expect((await requestCode(t, acme, "ana@example.com")).status).toBe(202);
    expect(countRows(t, "outbox_jobs")).toBe(jobs);
    const before = snapshot(t);
    expectUnauthorized(await verifyCode(t, acme, "ana@example.com", code));
    expect(snapshot(t)).toEqual(before);
  });

  test("another partner's publishable key cannot sign this partner's user in", async () => {
    const before = snapshot(t);
    expect((await requestCode(t, rival, "ana@example.com")).status).toBe(202);
    expect(snapshot(t)).toEqual(before);

    const code = await freshCode();
    const after = snapshot(t);
    expectUnauthorized(await verifyCode(t, rival, "ana@example.com", code));
    expect(snapshot(t)).toEqual(after);
    expect((await verifyCode(t, acme, "ana@example.com", code)).status).toBe(200);
  });
});

describe("login-code reveals nothing about an address", () => {
  const comparable = (res: { status: number; headers: Headers; text: string }) => {
    const headers = [...res.headers.entries()].filter(([name]) => name !== "x-request-id");
    return { status: res.status, headers, text: res.text };
  };

  test("known, unknown, disabled and other partners' addresses answer alike", async () => {
    await createUser(t, acme, { email: "off@example.com" });
    await t.call("PUT", "/v1/users/2", { as: acme, body: { status: "disabled" } });
    await createUser(t, rival, { email: "rita@example.com" });

    const known = comparable(await requestCode(t, acme, "ana@example.com"));
    expect(known.status).toBe(202);
    for (const email of ["nobody@example.com", "off@example.com", "rita@example.com"]) {
      const before = snapshot(t);
      expect(comparable(await requestCode(t, acme, email))).toEqual(known);
      expect(snapshot(t)).toEqual(before);
    }
  });
});

describe("user tokens", () => {
  let token: string;

  beforeEach(async () => {
    token = (await signIn(t, acme, "ana@example.com")).token;
  });

  test("an expired token is 401", async () => {
    t.clock.advance(30 * DayMs - 1);
    expect((await t.call("GET", "/v1/users", { headers: bearer(token) })).status).toBe(200);
    t.clock.advance(1);
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
  });

  test("a revoked token is 401 and cannot change anything", async () => {
    expect((await t.call("POST", "/v1/auth/logout", { headers: bearer(token) })).status).toBe(204);
    const before = snapshot(t);
    expectUnauthorized(
      await t.call("PUT", `/v1/users/${anaId}`, { headers: bearer(token), body: { name: "X" } }),
    );
    expectUnauthorized(
      await t.call("POST", `/v1/users/${anaId}/cases`, {
        headers: bearer(token),
        body: { receipt_number: "EAC9999103403" },
      }),
    );
    expectUnauthorized(await t.call("DELETE", `/v1/users/${anaId}`, { headers: bearer(token) }));
    expect(snapshot(t)).toEqual(before);
  });

  test("the token of a deleted user is 401", async () => {
    expect((await t.call("DELETE", `/v1/users/${anaId}`, { as: acme })).status).toBe(204);
    expect(countRows(t, "sessions")).toBe(0);
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
  });

  test("a disabled user's token is 401; enabling the user does not revive it", async () => {
    await t.call("PUT", `/v1/users/${anaId}`, { as: acme, body: { status: "disabled" } });
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
    const session = t.database.sqlite.query("SELECT revoked_at FROM sessions").get() as any;
    expect(session.revoked_at).toBe(t.clock.now());

    await t.call("PUT", `/v1/users/${anaId}`, { as: acme, body: { status: "active" } });
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
  });

  test("a user disabled by other means than the API cannot use a token either", async () => {
    t.database.sqlite.run("UPDATE users SET status = 'disabled' WHERE id = ?", [anaId]);
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
  });

  test("the token of a disabled partner's user is 401", async () => {
    t.database.sqlite.run("UPDATE clients SET disabled_at = 1 WHERE id = ?", [acme.id]);
    expectUnauthorized(await t.call("GET", "/v1/users", { headers: bearer(token) }));
  });

  test("a user token on partner-only routes is 403 and changes nothing", async () => {
    const before = snapshot(t);
    for (const [method, path, body] of [
      ["POST", "/v1/users", { email: "new@example.com" }],
      ["POST", "/v1/auth/login-code", { email: "ana@example.com" }],
      ["POST", "/v1/auth/verify", { email: "ana@example.com", code: "123456" }],
      ["GET", "/v1/webhooks", undefined],
      ["POST", "/v1/webhooks", { url: "https://hooks.example.com/in" }],
      ["GET", "/v1/webhooks/1", undefined],
      ["GET", "/v1/client", undefined],
      ["GET", "/v1/client/users", undefined],
      ["GET", "/v1/client/cases", undefined],
    ] as const) {
      const res = await t.call(method, path, { headers: bearer(token), body });
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe("forbidden");
    }
    const status = await t.call("PUT", `/v1/users/${anaId}`, {
      headers: bearer(token),
      body: { status: "disabled" },
    });
    expect(status.status).toBe(403);
    expect(snapshot(t)).toEqual(before);
  });

  test("another user's ids are 404 with a user token, in this partner or another", async () => {
    const boId = await createUser(t, acme, { email: "bo@example.com" });
    const ritaId = await createUser(t, rival, { email: "rita@example.com" });
    const boCase = await t.call("POST", `/v1/users/${boId}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    const boCaseRef = boCase.json.case.user_case_id;
    const before = snapshot(t);

    for (const otherId of [boId, ritaId]) {
      for (const [method, path, body] of [
        ["GET", `/v1/users/${otherId}`, undefined],
        ["PUT", `/v1/users/${otherId}`, { name: "Hijacked" }],
        ["DELETE", `/v1/users/${otherId}`, undefined],
        ["GET", `/v1/users/${otherId}/cases`, undefined],
        ["POST", `/v1/users/${otherId}/cases`, { receipt_number: "IOE0912345678" }],
      ] as const) {
        const res = await t.call(method, path, { headers: bearer(token), body });
        expect(res.status).toBe(404);
        expect(res.json.error.code).toBe("not_found");
      }
    }
    for (const method of ["GET", "PUT", "DELETE"] as const) {
      const res = await t.call(method, `/v1/users/${boId}/cases/${boCaseRef}`, {
        headers: bearer(token),
        body: method === "PUT" ? { description: "mine now" } : undefined,
      });
      expect(res.status).toBe(404);
    }
    // Reaching through one's own id does not open someone else's case either.
    const crossed = await t.call("GET", `/v1/users/${anaId}/cases/${boCaseRef}`, {
      headers: bearer(token),
    });
    expect(crossed.status).toBe(404);
    expect(snapshot(t)).toEqual(before);
  });
});
