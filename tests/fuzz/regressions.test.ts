/**
 * Bugs the route fuzzing found, pinned as plain examples so they stay fixed even if the
 * generators change. Each test failed before its fix.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

describe("docs assets: only the embedded files", () => {
  test("names of Object.prototype members are 404, not 500", async () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      const res = await t.call("GET", `/docs/assets/${name}`);
      expect({ name, status: res.status }).toEqual({ name, status: 404 });
    }
    expect((await t.call("GET", "/docs/assets/swagger-ui.css")).status).toBe(200);
  });

  test("an unknown asset is 404 in the error envelope, as every other 404", async () => {
    const res = await t.call("GET", "/docs/assets/nope.js");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.json).toMatchObject({
      error: { code: "not_found", message: "asset not found", request_id: expect.any(String) },
    });
  });
});

describe("deeply nested JSON bodies", () => {
  const json = { "content-type": "application/json" };

  test("40 KB of nested brackets is refused as invalid_json at once", async () => {
    for (const raw of [
      `${"[".repeat(20_000)}${"]".repeat(20_000)}`,
      `${'{"a":'.repeat(6_000)}1${"}".repeat(6_000)}`,
    ]) {
      const started = performance.now();
      const res = await t.call("POST", "/v1/users", { as: acme, raw, headers: json });
      expect(performance.now() - started).toBeLessThan(500);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_json");
    }
    expect(countRows(t, "users")).toBe(0);
  });

  test("nesting up to the limit, and brackets inside strings, are still read", async () => {
    const deepButAllowed = `${"[".repeat(32)}${"]".repeat(32)}`;
    const res = await t.call("PUT", "/v1/client/logo", {
      as: acme,
      raw: deepButAllowed,
      headers: json,
    });
    expect(res.json.error.code).toBe("validation_error");

    const bracketsInText = { email: "ana@example.com", name: `"[{${"[".repeat(100)}\\"` };
    const created = await t.call("POST", "/v1/users", { as: acme, body: bracketsInText });
    expect(created.status).toBe(201);
    expect(created.json.name).toBe(bracketsInText.name);
  });
});

describe("JSON objects with their own toString or valueOf", () => {
  test("in a field that wants a string they are 400 validation_error, not 500", async () => {
    const user = (await t.call("POST", "/v1/users", { as: acme, body: { email: "a@b.co" } })).json;
    const attempts = [
      t.call("POST", `/v1/users/${user.id}/cases`, {
        as: acme,
        body: { receipt_number: { toString: "" } },
      }),
      t.call("POST", "/v1/users", { as: acme, body: { email: { valueOf: 1, toString: 1 } } }),
      t.call("POST", "/v1/check", { as: acme, body: { receipt_number: { toString: null } } }),
      t.call("PUT", `/v1/users/${user.id}`, { as: acme, body: { name: { toString: "x" } } }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
    }
    expect(countRows(t, "cases")).toBe(0);
    expect(t.logs.lines.filter((line) => line.level === "error")).toEqual([]);
  });
});
