import { beforeEach, describe, expect, test } from "bun:test";
import { bearer, createUser, signIn } from "../auth/sign-in.ts";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner();
});

function expectEnvelope(json: any, code: string) {
  expect(json.error.code).toBe(code);
  expect(typeof json.error.message).toBe("string");
  expect(json.error.request_id).toMatch(/^req_[0-9A-Z]{26}$/);
}

describe("bad input answers the envelope and changes nothing", () => {
  test("broken JSON is 400 invalid_json", async () => {
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      raw: '{"email": "ana@example.com"',
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expectEnvelope(res.json, "invalid_json");
    expect(countRows(t, "users")).toBe(0);
  });

  test("an unknown field is 400 validation_error naming it", async () => {
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      body: { email: "ana@example.com", emial: "typo@example.com" },
    });
    expect(res.status).toBe(400);
    expectEnvelope(res.json, "validation_error");
    expect(res.json.error.details).toContainEqual({ field: "emial", issue: "unknown_field" });
    expect(countRows(t, "users")).toBe(0);
  });

  test("a value outside a choice or a limit says what is allowed", async () => {
    const create = (body: Record<string, unknown>) =>
      t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com", ...body } });
    const language = await create({ preferred_language: "fr" });
    expect(language.status).toBe(400);
    expect(language.json.error.message).toBe("preferred_language: must be one of en, es, pt");
    expect(language.json.error.details).toEqual([
      { field: "preferred_language", issue: "invalid" },
    ]);

    const longName = await create({ name: "x".repeat(60_000) });
    expect(longName.status).toBe(400);
    expect(longName.json.error.message).toMatch(/^name: must be at most \d+ characters$/);
    expect(longName.json.error.details).toEqual([{ field: "name", issue: "length" }]);

    const phone = await create({ phone: "+1 415 555 0123" });
    expect(phone.status).toBe(400);
    expect(phone.json.error.message).toBe("phone: has the wrong format");
    expect(phone.json.error.details).toEqual([{ field: "phone", issue: "format" }]);

    for (const name of ["nul\u0000here", "\u202e evil", "tab\tname"]) {
      const hidden = await create({ name });
      expect(hidden.status).toBe(400);
      expect(hidden.json.error.message).toBe("name: must not contain control characters");
    }

    const filter = await t.call("GET", "/v1/users?status=bogus", { as: acme });
    expect(filter.status).toBe(400);
    expect(filter.json.error.message).toMatch(/^status: must be one of /);
    expect(countRows(t, "users")).toBe(0);
  });

  test("a body that is not JSON is 415", async () => {
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      raw: "email=ana@example.com",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expectEnvelope(res.json, "unsupported_media_type");
    expect(countRows(t, "users")).toBe(0);
  });

  test("JSON sent as text/plain is still 415", async () => {
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      raw: JSON.stringify({ email: "ana@example.com" }),
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(415);
    expect(countRows(t, "users")).toBe(0);
  });

  test("a body over 64 KiB is 413, with and without a Content-Length", async () => {
    const big = JSON.stringify({ email: "ana@example.com", name: "x".repeat(70 * 1024) });
    const declared = await t.call("POST", "/v1/users", {
      as: acme,
      raw: big,
      headers: { "content-type": "application/json" },
    });
    expect(declared.status).toBe(413);
    expectEnvelope(declared.json, "payload_too_large");

    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await t.app.handle(
      new Request("http://localhost/v1/users", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": acme.apiKey,
          "x-api-secret": acme.apiSecret,
        },
        body: stream,
      }),
    );
    expect(response.status).toBe(413);
    expect(countRows(t, "users")).toBe(0);
  });

  test("a body just under 64 KiB is read", async () => {
    const name = "x".repeat(150);
    const padding = " ".repeat(64 * 1024 - 200);
    const raw = `{"email":"ana@example.com","name":"${name}"}${padding}`;
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      raw,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(201);
  });

  test("ids that are not numbers are 400 validation_error", async () => {
    for (const id of ["abc", "1.5", "-3", "0", "1e3", "0x10", "01", "99999999999999999999"]) {
      const res = await t.call("GET", `/v1/users/${id}`, { as: acme });
      expect(res.status).toBe(400);
      expectEnvelope(res.json, "validation_error");
      expect(res.json.error.details[0].field).toBe("user_id");
    }
  });

  test("no body where one is required is 400 validation_error naming the body", async () => {
    for (const headers of [{}, { "content-type": "text/plain" }] as Record<string, string>[]) {
      const res = await t.call("POST", "/v1/users", { as: acme, raw: "", headers });
      expect(res.status).toBe(400);
      expectEnvelope(res.json, "validation_error");
      expect(res.json.error.details).toEqual([{ field: "body", issue: "required" }]);
    }
    expect(countRows(t, "users")).toBe(0);
  });

  test("a body declared JSON but empty is unparsable JSON: 400 invalid_json", async () => {
    for (const raw of ["", "  \r\n"]) {
      for (const contentType of ["application/json", "application/json; charset=utf-8"]) {
        const res = await t.call("POST", "/v1/users", {
          as: acme,
          raw,
          headers: { "content-type": contentType },
        });
        expect(res.status).toBe(400);
        expectEnvelope(res.json, "invalid_json");
      }
    }
    expect(countRows(t, "users")).toBe(0);
  });

  test("a route that takes no body does not mind an empty one declared JSON", async () => {
    await createUser(t, acme, { email: "ana@example.com" });
    const { token } = await signIn(t, acme, "ana@example.com");
    const res = await t.call("POST", "/v1/auth/logout", {
      raw: "",
      headers: { ...bearer(token), "content-type": "application/json" },
    });
    expect(res.status).toBe(204);
  });

  test("a JSON array or string instead of an object is 400 validation_error", async () => {
    for (const raw of ["[]", '"ana@example.com"', "null", "42"]) {
      const res = await t.call("POST", "/v1/users", {
        as: acme,
        raw,
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(400);
      expectEnvelope(res.json, "validation_error");
    }
    expect(countRows(t, "users")).toBe(0);
  });
});

describe("routes and methods", () => {
  test("an unknown route is 404 not_found in the envelope", async () => {
    const res = await t.call("GET", "/v1/nothing-here", { as: acme });
    expect(res.status).toBe(404);
    expectEnvelope(res.json, "not_found");
  });

  test("a known route with the wrong method is 405 with Allow", async () => {
    const res = await t.call("PATCH", "/v1/users", { as: acme, body: {} });
    expect(res.status).toBe(405);
    expectEnvelope(res.json, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("GET");
    expect(res.headers.get("allow")).toContain("POST");
  });
});

describe("media types", () => {
  test("every JSON answer, success or error, says application/json; charset=utf-8", async () => {
    const userId = await createUser(t, acme, { email: "ana@example.com" });
    const answers = [
      await t.call("GET", "/health"),
      await t.call("GET", "/docs/json"),
      await t.call("GET", `/v1/users/${userId}`, { as: acme }),
      await t.call("GET", "/v1/users", { as: acme }),
      await t.call("POST", "/v1/users/resend-verification", {
        as: acme,
        body: { email: "ana@example.com" },
      }),
      await t.call("POST", `/v1/users/${userId}/cases`, {
        as: acme,
        body: { receipt_number: "EAC9999103403" },
      }),
      await t.call("GET", "/v1/users/999", { as: acme }),
      await t.call("GET", "/v1/users"),
    ];
    for (const res of answers) {
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    }
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 202, 201, 404, 401]);
  });

  test("the docs page says its charset", async () => {
    const res = await t.call("GET", "/docs");
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });
});

describe("request ids", () => {
  test("a sane request id is echoed", async () => {
    const res = await t.call("GET", "/health", { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });

  test("an odd one is replaced by a minted one", async () => {
    const res = await t.call("GET", "/health", { headers: { "x-request-id": "bad id\twith tab" } });
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("errors carry the same id in the header and the body", async () => {
    const res = await t.call("GET", "/v1/users");
    expect(res.status).toBe(401);
    expect(res.json.error.request_id).toBe(res.headers.get("x-request-id"));
  });

  test("each request is logged once with its id, and no secret", async () => {
    await t.call("GET", "/v1/users", { as: acme, headers: { "x-request-id": "trace-1" } });
    const lines = t.logs.lines.filter((line) => line.request_id === "trace-1");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: "request", status: 200, route: "/v1/users" });
    expect(JSON.stringify(t.logs.lines)).not.toContain(acme.apiSecret);
  });
});
