import { beforeEach, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { callerAddress, createRateLimiter } from "../../src/http/rate-limit.ts";
import {
  bearer,
  createUser,
  loginCodeJob,
  publishable,
  requestCode,
  signIn,
  snapshot,
  verifyCode,
} from "../auth/sign-in.ts";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

const TenMinutesMs = 10 * 60 * 1000;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
});

function expectRateLimited(res: { status: number; headers: Headers; json: any }, wait: string) {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(wait);
  expect(res.json.error.code).toBe("rate_limited");
  expect(res.json.error.request_id).toMatch(/^req_/);
}

/** Sends `count` requests and expects every one of them through. */
async function spend(count: number, send: () => Promise<{ status: number }>, status = 200) {
  for (let i = 0; i < count; i++) expect((await send()).status).toBe(status);
}

describe("per API key, on every authenticated route", () => {
  const listUsers = (as: Credentials) => () => t.call("GET", "/v1/users", { as });

  test("the 601st request in a minute is 429 with Retry-After; other keys go on", async () => {
    await spend(600, listUsers(acme));
    t.clock.advance(15_000);
    expectRateLimited(await listUsers(acme)(), "45");
    expectRateLimited(
      await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } }),
      "45",
    );
    expect(countRows(t, "users")).toBe(0);

    const rival = t.createPartner("Rival Legal Group");
    expect((await listUsers(rival)()).status).toBe(200);
    // The public key has a budget of its own, so a browser cannot starve the partner's server.
    expect((await requestCode(t, acme, "ana@example.com")).status).toBe(202);
  });

  test("the window starts over when the clock moves past it", async () => {
    await spend(600, listUsers(acme));
    t.clock.advance(59_999);
    expectRateLimited(await listUsers(acme)(), "1");
    t.clock.advance(1);
    await spend(600, listUsers(acme));
    expectRateLimited(await listUsers(acme)(), "60");
  });

  test("RATE_LIMIT_PER_MINUTE sets the budget; user tokens have one per user", async () => {
    t = testApp({ env: { RATE_LIMIT_PER_MINUTE: "8" } });
    acme = t.createPartner();
    await createUser(t, acme, { email: "ana@example.com" });
    await createUser(t, acme, { email: "bo@example.com" });
    const ana = (await signIn(t, acme, "ana@example.com")).token;
    const bo = (await signIn(t, acme, "bo@example.com")).token;
    expect((await listUsers(acme)()).status).toBe(200);

    await spend(8, () => t.call("GET", "/v1/users", { headers: bearer(ana) }));
    expectRateLimited(await t.call("GET", "/v1/users", { headers: bearer(ana) }), "60");
    expect((await t.call("GET", "/v1/users", { headers: bearer(bo) })).status).toBe(200);
    // Two users created and one list: the partner's own budget is separate.
    await spend(5, listUsers(acme));
    expectRateLimited(await listUsers(acme)(), "60");
  });

  test("requests without valid credentials are 401, not counted against the key", async () => {
    const wrong = { "x-api-key": acme.apiKey, "x-api-secret": "ifs_wrong" };
    for (let i = 0; i < 700; i++) {
      expect((await t.call("GET", "/v1/users", { headers: wrong })).status).toBe(401);
    }
    expect((await listUsers(acme)()).status).toBe(200);
  });
});

describe("login-code, per e-mail address and per caller address", () => {
  beforeEach(async () => {
    await createUser(t, acme, { email: "ana@example.com" });
  });

  test("the 6th code for an address in 10 minutes is 429, known or not", async () => {
    await spend(5, () => requestCode(t, acme, "ana@example.com"), 202);
    await spend(5, () => requestCode(t, acme, "nobody@example.com"), 202);
    t.clock.advance(60_000);
    const before = snapshot(t);

    const known = await requestCode(t, acme, " ANA@example.com");
    const unknown = await requestCode(t, acme, "nobody@example.com");
    expectRateLimited(known, "540");
    expect(unknown.status).toBe(known.status);
    expect(unknown.json.error.message).toBe(known.json.error.message);
    expect(unknown.headers.get("retry-after")).toBe(known.headers.get("retry-after"));
    expect(snapshot(t)).toEqual(before);

    expect((await requestCode(t, acme, "someone.else@example.com")).status).toBe(202);
    t.clock.advance(TenMinutesMs - 60_000);
    expect((await requestCode(t, acme, "ana@example.com")).status).toBe(202);
  });

  test("a caller may ask for 30 addresses in 10 minutes, whatever it forwards", async () => {
    for (let i = 0; i < 30; i++) {
      const res = await requestCode(t, acme, `person${i}@example.com`);
      expect(res.status).toBe(202);
    }
    const spoofed = await t.call("POST", "/v1/auth/login-code", {
      headers: { ...publishable(acme), "x-forwarded-for": "203.0.113.9" },
      body: { email: "ana@example.com" },
    });
    expectRateLimited(spoofed, "600");
    expect(countRows(t, "login_codes")).toBe(0);

    // A partner's server signs people in from one address; only its key's budget applies.
    const fromServer = await t.call("POST", "/v1/auth/login-code", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    expect(fromServer.status).toBe(202);
    expect(countRows(t, "login_codes")).toBe(1);
  });

  test("with TRUST_FORWARDED_FOR, callers behind one proxy get a budget each", async () => {
    const proxied = testApp({ env: { TRUST_FORWARDED_FOR: "true" } });
    const partner = proxied.createPartner();
    const ask = (from: string, i: number) =>
      proxied.call("POST", "/v1/auth/login-code", {
        headers: { ...publishable(partner), "x-forwarded-for": `${from}, 10.0.0.1` },
        body: { email: `person${i}@example.com` },
      });
    for (let i = 0; i < 30; i++) expect((await ask("203.0.113.9", i)).status).toBe(202);
    expectRateLimited(await ask("203.0.113.9", 31), "600");
    expect((await ask("198.51.100.7", 32)).status).toBe(202);
  });

  test("one partner's key cannot spend an address's budget at another partner", async () => {
    const rival = t.createPartner("Rival Legal Group");
    await spend(5, () => requestCode(t, rival, "ana@example.com"), 202);
    expect((await requestCode(t, rival, "ana@example.com")).status).toBe(429);
    expect((await requestCode(t, acme, "ana@example.com")).status).toBe(202);
  });

  test("verify: 10 tries an address in 10 minutes, then 429 even if right", async () => {
    await requestCode(t, acme, "ana@example.com");
    const code = loginCodeJob(t)!.code!;
    await spend(10, () => verifyCode(t, acme, "nobody@example.com", code), 401);
    expectRateLimited(await verifyCode(t, acme, "nobody@example.com", code), "600");

    await spend(4, () => verifyCode(t, acme, "ana@example.com", "000000"), 401);
    expect((await verifyCode(t, acme, "ana@example.com", code)).status).toBe(200);
  });
});

describe("the limiter itself", () => {
  test("counts per key, refuses past the limit without counting, and forgets old keys", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ clock, limit: 2, windowMs: 1000, maxKeys: 2 });
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(limiter.take("a")).toEqual({ allowed: true });
    clock.advance(400);
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("b")).toEqual({ allowed: true });

    // A third key pushes out the oldest window, so memory stays bounded.
    expect(limiter.take("c")).toEqual({ allowed: true });
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(() => limiter.check("a")).not.toThrow();
    expect(() => limiter.check("a")).toThrow("too many requests");
  });

  test("X-Forwarded-For is read only when trusted, and only its first hop", () => {
    const request = new Request("http://localhost/", {
      headers: { "x-forwarded-for": " 198.51.100.7 , 10.0.0.1" },
    });
    const server = { requestIP: () => ({ address: "10.0.0.1" }) };
    expect(callerAddress(request, server)).toBe("10.0.0.1");
    expect(callerAddress(request, server, true)).toBe("198.51.100.7");
    expect(callerAddress(request, null)).toBe("local");
    expect(callerAddress(new Request("http://localhost/"), server, true)).toBe("10.0.0.1");
  });
});
