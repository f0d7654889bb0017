import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let rival: Credentials;
let rivalUserId: number;

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  rival = t.createPartner("Rival Legal Group");
  const created = await t.call("POST", "/v1/users", {
    as: rival,
    body: { email: "rita@example.com" },
  });
  rivalUserId = created.json.id;
});

describe("users: credentials", () => {
  test("no credentials is 401 on every user route, before the body is looked at", async () => {
    for (const [method, path] of [
      ["GET", "/v1/users"],
      ["POST", "/v1/users"],
      ["GET", `/v1/users/${rivalUserId}`],
      ["PUT", `/v1/users/${rivalUserId}`],
      ["DELETE", `/v1/users/${rivalUserId}`],
    ] as const) {
      const res = await t.call(method, path, { body: { nonsense: true } });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
  });

  test("a wrong secret, an unknown key, or a secret without a key is 401", async () => {
    const attempts: Record<string, string>[] = [
      { "x-api-key": acme.apiKey, "x-api-secret": rival.apiSecret },
      { "x-api-key": "ifk_000000000000000000000000", "x-api-secret": acme.apiSecret },
      { "x-api-secret": acme.apiSecret },
      { "x-api-key": acme.apiKey, "x-api-secret": "" },
    ];
    for (const headers of attempts) {
      const res = await t.call("GET", "/v1/users", { headers });
      expect(res.status).toBe(401);
    }
  });

  test("the publishable key alone does not open partner routes: 403", async () => {
    const res = await t.call("POST", "/v1/users", {
      headers: { "x-api-key": acme.apiKey },
      body: { email: "x@example.com" },
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("forbidden");
    expect(countRows(t, "users")).toBe(1);
  });

  test("an unknown bearer token is 401", async () => {
    const res = await t.call("GET", "/v1/users", {
      headers: { authorization: `Bearer ift_${"a".repeat(43)}` },
    });
    expect(res.status).toBe(401);
  });

  test("a disabled partner's credentials stop working", async () => {
    t.database.sqlite.run("UPDATE clients SET disabled_at = 1 WHERE id = ?", [acme.id]);
    expect((await t.call("GET", "/v1/users", { as: acme })).status).toBe(401);
  });
});

describe("users: another partner's users do not exist", () => {
  test("get, update and delete of another partner's user are 404 and change nothing", async () => {
    expect((await t.call("GET", `/v1/users/${rivalUserId}`, { as: acme })).status).toBe(404);
    const put = await t.call("PUT", `/v1/users/${rivalUserId}`, {
      as: acme,
      body: { name: "Hijacked" },
    });
    expect(put.status).toBe(404);
    expect(put.json.error.code).toBe("not_found");
    expect((await t.call("DELETE", `/v1/users/${rivalUserId}`, { as: acme })).status).toBe(404);
    const still = await t.call("GET", `/v1/users/${rivalUserId}`, { as: rival });
    expect(still.json).toMatchObject({ email: "rita@example.com", name: null });
  });

  test("the list shows only the caller's users, even filtered by another's e-mail", async () => {
    expect((await t.call("GET", "/v1/users", { as: acme })).json.users).toEqual([]);
    const filtered = await t.call("GET", "/v1/users?email=rita@example.com", { as: acme });
    expect(filtered.json.users).toEqual([]);
  });

  test("a missing user and another partner's user answer exactly alike", async () => {
    const other = await t.call("GET", `/v1/users/${rivalUserId}`, { as: acme });
    const missing = await t.call("GET", "/v1/users/999999", { as: acme });
    expect(other.status).toBe(missing.status);
    expect(other.json.error.message).toBe(missing.json.error.message);
  });
});
