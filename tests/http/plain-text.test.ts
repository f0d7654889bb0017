import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let userId: number;

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner();
  userId = (await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } }))
    .json.id;
});

const emoji = "😀"; // two UTF-16 units, one character
const decomposed = "e\u0301"; // two code points, one character once composed: é

/** Every plain-text field of the API, as a request that sets it to `text`. */
const fields: [string, (text: string) => ReturnType<TestApp["call"]>, string][] = [
  [
    "user name (create)",
    (name) =>
      t.call("POST", "/v1/users", {
        as: acme,
        body: { email: `u${crypto.randomUUID()}@example.com`, name },
      }),
    "name",
  ],
  [
    "user name (update)",
    (name) => t.call("PUT", `/v1/users/${userId}`, { as: acme, body: { name } }),
    "name",
  ],
  [
    "case description",
    (description) =>
      t.call("POST", `/v1/users/${userId}/cases`, {
        as: acme,
        body: { receipt_number: "EAC9999103403", description },
      }),
    "description",
  ],
];

describe("plain-text lengths count characters as people do", () => {
  for (const [label, send, field] of fields) {
    test(`${label}: 200 emoji or 200 decomposed é fit; 201 do not`, async () => {
      for (const text of [emoji.repeat(200), decomposed.repeat(200)]) {
        const res = await send(text);
        expect(res.status).toBeLessThan(300);
        // Stored and echoed in the NFC form: é composed, the emoji untouched.
        const stored = (res.json.case ?? res.json)[field];
        expect(stored).toBe(text.normalize("NFC"));
        expect([...stored]).toHaveLength(200);
        if (res.json.case) {
          await t.call("DELETE", `/v1/users/${userId}/cases/${res.json.case.id}`, { as: acme });
        }
      }
      for (const text of [emoji.repeat(201), decomposed.repeat(201), "x".repeat(201)]) {
        const res = await send(text);
        expect(res.status).toBe(400);
        expect(res.json.error).toMatchObject({
          code: "validation_error",
          message: `${field}: must be at most 200 characters`,
          details: [{ field, issue: "length" }],
        });
      }
    });

    test(`${label}: half of a surrogate pair is refused, not stored as U+FFFD`, async () => {
      for (const text of ["a\ud800b", "\udc00", `${emoji.repeat(3)}\ud83d`]) {
        const res = await send(text);
        expect(res.status).toBe(400);
        expect(res.json.error).toMatchObject({
          code: "validation_error",
          message: expect.stringContaining(`${field}: must be well-formed text`),
          details: [{ field, issue: "format" }],
        });
      }
    });
  }

  test("C1 controls and Unicode line and paragraph separators are refused too", async () => {
    for (const text of [
      "abc\u0085def",
      "a\u009bb",
      "a\u0080b",
      "Bob\u2028Subject: hi",
      "a\u2029b",
    ]) {
      for (const [what, call, field] of fields) {
        const res = await call(text);
        expect(res.status, `${what}: ${JSON.stringify(text)}`).toBe(400);
        expect(res.json.error.message).toBe(`${field}: must not contain control characters`);
      }
    }
  });

  test("control characters are still refused, and a missing name still is allowed", async () => {
    const res = await fields[0]![1]("a\tb");
    expect(res.json.error.message).toBe("name: must not contain control characters");
    const empty = await fields[0]![1]("");
    expect(empty.json.error.message).toBe("name: must be at least 1 characters");
    const none = await t.call("PUT", `/v1/users/${userId}`, { as: acme, body: { name: null } });
    expect(none.status).toBe(200);
  });
});
