import { describe, expect, test } from "bun:test";
import { testApp } from "../helpers/app.ts";
import { webhookFixture } from "../webhooks/setup.ts";

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

describe("/health and /metrics on the outbox", () => {
  const Minute = 60_000;

  test("a webhook retry scheduled hours ahead is not late; a due job past 30 min is", async () => {
    const fixture = webhookFixture();
    const { t, acme, receiver } = fixture;
    try {
      await fixture.subscribe({ events: ["user.created"] });
      receiver.answer("500");
      // Its verification e-mail is only logged (no Resend key), and done with at the first run.
      await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } });
      // Four failed attempts: the next one waits two hours (API.md's schedule).
      for (let attempt = 0; attempt < 4; attempt++) {
        const [job] = fixture.webhookJobs();
        t.clock.set(Math.max(t.clock.now(), job!.next_attempt_at));
        expect(await t.outbox.runOnce()).toMatchObject({ retried: 1 });
      }
      t.clock.advance(5 * Minute);
      const waiting = await t.call("GET", "/health");
      expect(waiting.json.outbox).toMatchObject({
        pending: 1,
        in_flight: 0,
        due: 0,
        oldest_pending_seconds: 0,
      });
      expect(waiting.json.status).toBe("ok");

      const [job] = fixture.webhookJobs();
      t.clock.set(job!.next_attempt_at + 31 * Minute);
      const late = await t.call("GET", "/health");
      expect(late.json.outbox).toMatchObject({ pending: 1, due: 1 });
      expect(late.json.outbox.oldest_pending_seconds).toBe(31 * 60);
      expect(late.json.status).toBe("degraded");
    } finally {
      await fixture.close();
    }
  });

  test("/metrics has each channel's due jobs, their wait and deliveries by outcome", async () => {
    const t = testApp();
    const acme = t.createPartner();
    await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } });
    await t.call("POST", "/v1/users", { as: acme, body: { email: "bea@example.com" } });
    t.clock.advance(90_000);

    const before = (await t.call("GET", "/metrics")).text;
    expect(before).toContain('immigraflow_outbox_jobs_due{channel="email"} 2');
    expect(before).toContain('immigraflow_outbox_jobs_due{channel="webhook"} 0');
    expect(before).toContain('immigraflow_outbox_oldest_due_seconds{channel="email"} 90');
    expect(before).toContain('immigraflow_outbox_jobs{channel="email",state="pending"} 2');
    expect(before).toContain(
      'immigraflow_outbox_deliveries_total{channel="email",outcome="skipped"} 0',
    );

    // No Resend key in this app: the e-mails are logged and skipped.
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 2, skipped: 2 });
    const after = (await t.call("GET", "/metrics")).text;
    expect(after).toContain('immigraflow_outbox_jobs_due{channel="email"} 0');
    expect(after).toContain('immigraflow_outbox_oldest_due_seconds{channel="email"} 0');
    expect(after).toContain(
      'immigraflow_outbox_deliveries_total{channel="email",outcome="skipped"} 2',
    );
    expect(after).not.toContain("ana@example.com");
  });
});
