import { describe, expect, test } from "bun:test";
import { testApp } from "../helpers/app.ts";

describe("service routes", () => {
  test("/health reports database, checker and USCIS state, no personal data", async () => {
    const t = testApp();
    const acme = t.createPartner();
    await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } });
    const res = await t.call("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: "ok",
      database: { ok: true, writable: true },
      checker: { lag_seconds: 0, due_receipts: 0 },
      uscis: { mode: "simulator" },
    });
    expect(res.text).not.toContain("ana@example.com");
  });

  test("/health answers 503 when the database cannot be used", async () => {
    const t = testApp();
    t.database.close();
    const res = await t.call("GET", "/health");
    expect(res.status).toBe(503);
    expect(res.json.database.ok).toBe(false);
  });

  test("/metrics speaks Prometheus text and counts requests", async () => {
    const t = testApp();
    await t.call("GET", "/health");
    const res = await t.call("GET", "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(res.text).toContain(
      'immigraflow_http_requests_total{method="GET",route="/health",status="200"} 1',
    );
    expect(res.text).toContain("immigraflow_uscis_quota_remaining");
  });

  test("/docs is a page whose assets come from the service itself", async () => {
    const t = testApp();
    const page = await t.call("GET", "/docs");
    expect(page.status).toBe(200);
    expect(page.text).toContain("/docs/assets/swagger-ui-bundle.js");
    expect(page.text).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    const bundle = await t.call("GET", "/docs/assets/swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect(bundle.text.length).toBeGreaterThan(100_000);
  });

  test("/docs/json is the OpenAPI document of the routes", async () => {
    const t = testApp();
    const res = await t.call("GET", "/docs/json");
    expect(res.status).toBe(200);
    expect(res.json.openapi).toMatch(/^3\./);
    const paths = Object.keys(res.json.paths);
    const create = res.json.paths["/v1/users"].post.requestBody.content["application/json"];
    expect(create.schema).toEqual({ $ref: "#/components/schemas/UserCreateRequest" });
    const body = res.json.components.schemas.UserCreateRequest;
    expect(body.properties.email.type).toBe("string");
    expect(body.additionalProperties).toBe(false);
    for (const path of [
      "/v1/users",
      "/v1/users/{user_id}",
      "/v1/users/{user_id}/cases/{case_ref}",
      "/v1/check",
      "/health",
    ]) {
      expect(paths.some((p) => p.replace(/\/$/, "") === path)).toBe(true);
    }
  });
});
