import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { countRows, testApp } from "../helpers/app.ts";

const App = "https://app.acme.example";
const Stranger = "https://evil.example";

function corsApp(origins = `${App}, https://portal.acme.example/`) {
  const t = testApp({ env: { CORS_ORIGINS: origins } });
  return { t, acme: t.createPartner() };
}

const preflight = (
  t: ReturnType<typeof testApp>,
  path: string,
  origin: string | null,
  method = "POST",
) =>
  t.call("OPTIONS", path, {
    headers: {
      ...(origin ? { origin } : {}),
      "access-control-request-method": method,
      "access-control-request-headers": "content-type,x-api-key",
    },
  });

describe("preflight", () => {
  test("an allowed origin gets the allow headers, before any credential is asked for", async () => {
    const { t } = corsApp();
    const res = await preflight(t, "/v1/users/resend-verification", App);

    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(res.headers.get("access-control-allow-origin")).toBe(App);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "Content-Type, Authorization, X-API-KEY, X-API-SECRET",
    );
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("the back office and every other /v1 route answer it too", async () => {
    const { t } = corsApp();
    const paths: [string, string][] = [
      ["/v1/client", "GET"],
      ["/v1/client/logo", "PUT"],
      ["/v1/client/users/7", "DELETE"],
      ["/v1/client/users/7/resend-verification", "POST"],
      ["/v1/client/cases/FLOW1234567", "GET"],
      ["/v1/users/7/cases/3", "PUT"],
      ["/v1/check", "POST"],
    ];
    for (const [path, method] of paths) {
      const res = await preflight(t, path, "https://portal.acme.example", method);
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin"), path).toBe(
        "https://portal.acme.example",
      );
      expect(res.headers.get("access-control-allow-methods"), path).toContain(method);
    }
  });

  test("a disallowed origin gets 204 without any allow header", async () => {
    const { t } = corsApp();
    for (const origin of [Stranger, "https://app.acme.example.evil.example", "null"]) {
      const res = await preflight(t, "/v1/users/resend-verification", origin);
      expect(res.status).toBe(204);
      expect(res.headers.get("vary")).toBe("Origin");
      for (const header of ["origin", "methods", "headers", "max-age"]) {
        expect(res.headers.get(`access-control-allow-${header}`)).toBeNull();
      }
    }
  });

  test("with CORS_ORIGINS unset no origin is allowed", async () => {
    const t = testApp();
    const res = await preflight(t, "/v1/users/resend-verification", App);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("credentials on a preflight are not even looked at", async () => {
    const { t } = corsApp();
    const res = await t.call("OPTIONS", "/v1/users", {
      headers: { origin: App, "x-api-key": "ifk_000000000000000000000000", "x-api-secret": "x" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(App);
  });

  test("OPTIONS is never a 405; an unknown path is still 404", async () => {
    const { t, acme } = corsApp();
    const plain = await t.call("OPTIONS", "/v1/users");
    expect(plain.status).toBe(204);
    expect(plain.headers.get("allow")).toBe("GET, POST, OPTIONS");

    const unknown = await preflight(t, "/v1/nothing-here", App);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("not_found");
    expect((await t.call("GET", "/v1/nothing-here", { as: acme })).status).toBe(404);

    const wrongMethod = await t.call("DELETE", "/v1/users", { as: acme });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET, POST");
  });

  test("each preflight gets its request log line", async () => {
    const { t } = corsApp();
    await preflight(t, "/v1/users/resend-verification", App);
    expect(t.logs.lines).toContainEqual(
      expect.objectContaining({ msg: "request", method: "OPTIONS", status: 204 }),
    );
  });
});

describe("actual requests", () => {
  test("an allowed origin can read the answer, its request id and Retry-After", async () => {
    const { t, acme } = corsApp();
    const res = await t.call("POST", "/v1/users/resend-verification", {
      headers: { origin: App, "x-api-key": acme.apiKey },
      body: { email: "ana@example.com" },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBe(App);
    expect(res.headers.get("access-control-expose-headers")).toBe("X-Request-Id, Retry-After");
    expect(res.headers.get("vary")).toBe("Origin");
  });

  test("errors carry the headers too, so the page can read why it failed", async () => {
    const { t } = corsApp();
    const res = await t.call("POST", "/v1/users/resend-verification", {
      headers: { origin: App },
      body: { email: "ana@example.com" },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe(App);
  });

  test("a disallowed origin gets no allow header, and the server still decides alone", async () => {
    const { t, acme } = corsApp();
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      headers: { origin: Stranger },
      body: { email: "ana@example.com" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("vary")).toBe("Origin");
    expect(countRows(t, "users")).toBe(1);
  });

  test("routes outside /v1 are not opened to other origins", async () => {
    const { t } = corsApp();
    const res = await t.call("GET", "/health", { headers: { origin: App } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("CORS_ORIGINS=*", () => {
  test("allows any origin outside production, echoing it", async () => {
    const { t } = corsApp("*");
    const res = await preflight(t, "/v1/users/resend-verification", Stranger);
    expect(res.headers.get("access-control-allow-origin")).toBe(Stranger);
  });

  test("is refused with USCIS_MODE=production", () => {
    const env = {
      CORS_ORIGINS: "*",
      USCIS_MODE: "production",
      USCIS_CLIENT_ID: "id",
      USCIS_CLIENT_SECRET: "secret",
    };
    expect(() => loadConfig(env, false)).toThrow(ConfigError);
  });
});
