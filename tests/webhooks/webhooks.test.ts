import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { EventTypes } from "../../src/events/events.ts";
import { countRows } from "../helpers/app.ts";
import { type WebhookFixture, webhookFixture } from "./setup.ts";

let fx: WebhookFixture;

beforeEach(() => {
  fx = webhookFixture();
});

afterEach(async () => {
  await fx.close();
});

const SecretPattern = /^whsec_[A-Za-z0-9+/]{42,43}=?$/;

describe("creating a webhook", () => {
  test("answers 201 with the Webhook, all events by default, and the secret", async () => {
    const res = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: fx.receiver.url, description: "CRM sync" },
    });

    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(Number),
      url: fx.receiver.url,
      description: "CRM sync",
      events: ["*"],
      active: true,
      disabled_reason: null,
      created_at: "2026-05-04T12:00:00.000Z",
      updated_at: "2026-05-04T12:00:00.000Z",
      last_delivery_at: null,
      last_delivery_status: null,
      consecutive_failures: 0,
      secret: expect.stringMatching(SecretPattern),
    });
    // 32 random bytes behind the prefix: the HMAC key, not the text.
    expect(Buffer.from(res.json.secret.slice(6), "base64")).toHaveLength(32);
  });

  test("each webhook gets its own secret", async () => {
    const one = await fx.subscribe();
    const two = await fx.subscribe();
    expect(one.secret).not.toBe(two.secret);
  });

  test("keeps the chosen events, without repeats, and '*' stands for all", async () => {
    const chosen = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: {
        url: fx.receiver.url,
        events: ["case.status_changed", "case.created", "case.status_changed"],
        active: false,
      },
    });
    expect(chosen.json).toMatchObject({
      events: ["case.status_changed", "case.created"],
      active: false,
    });

    const all = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: fx.receiver.url, events: ["case.created", "*"] },
    });
    expect(all.json.events).toEqual(["*"]);
  });

  test("accepts every documented event name", async () => {
    const res = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: fx.receiver.url, events: [...EventTypes] },
    });
    expect(res.status).toBe(201);
    expect(res.json.events).toEqual([...EventTypes]);
  });

  test.each([
    [{ events: ["case.updated"] }, "events.0"],
    [{ events: ["*", "user.signed_in"] }, "events.1"],
    [{ events: [] }, "events"],
    [{ events: "case.created" }, "events"],
    [{ url: "" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ url: "ftp://127.0.0.1/hooks" }, "url"],
    [{ description: "x".repeat(201) }, "description"],
    [{ secret: "whsec_mine" }, "secret"],
  ])("refuses %j with 400 validation_error on %s, and stores nothing", async (body, field) => {
    const res = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: fx.receiver.url, ...body },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("validation_error");
    expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(countRows(fx.t, "webhooks")).toBe(0);
  });

  test("normalises the URL as it will be called", async () => {
    const res = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: `  http://127.0.0.1:${fx.receiver.port}/a/../hooks?x=1#frag  ` },
    });
    expect(res.status).toBe(201);
    expect(res.json.url).toBe(`http://127.0.0.1:${fx.receiver.port}/hooks?x=1`);
  });
});

describe("reading webhooks", () => {
  test("GET shows the webhook and never its secret", async () => {
    const { id, secret } = await fx.subscribe();
    const res = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(res.status).toBe(200);
    expect(res.json.id).toBe(id);
    expect(res.json).not.toHaveProperty("secret");
    expect(res.text).not.toContain(secret);

    const list = await fx.t.call("GET", "/v1/webhooks", { as: fx.acme });
    expect(list.text).not.toContain(secret);
    expect(list.json.webhooks[0]).not.toHaveProperty("secret");
  });

  test("lists newest first, a page at a time", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await fx.subscribe({ description: `#${i}` })).id);

    const first = await fx.t.call("GET", "/v1/webhooks?limit=2", { as: fx.acme });
    expect(first.json.webhooks.map((w: { id: number }) => w.id)).toEqual([ids[4], ids[3]]);
    expect(first.json.next_cursor).toEqual(expect.any(String));

    const second = await fx.t.call("GET", `/v1/webhooks?limit=2&cursor=${first.json.next_cursor}`, {
      as: fx.acme,
    });
    expect(second.json.webhooks.map((w: { id: number }) => w.id)).toEqual([ids[2], ids[1]]);

    const last = await fx.t.call("GET", `/v1/webhooks?limit=2&cursor=${second.json.next_cursor}`, {
      as: fx.acme,
    });
    expect(last.json).toEqual({
      webhooks: [expect.objectContaining({ id: ids[0] })],
      next_cursor: null,
    });
  });

  test("a cursor this service never gave out is a validation error", async () => {
    const res = await fx.t.call("GET", "/v1/webhooks?cursor=bm9wZQ", { as: fx.acme });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("validation_error");
  });

  test("an id that does not exist is 404; one that is not an id is 400", async () => {
    expect((await fx.t.call("GET", "/v1/webhooks/999", { as: fx.acme })).status).toBe(404);
    const bad = await fx.t.call("GET", "/v1/webhooks/1e3", { as: fx.acme });
    expect(bad.status).toBe(400);
  });
});

describe("updating a webhook", () => {
  test("changes the given fields only and leaves the secret alone", async () => {
    const { id, secret } = await fx.subscribe({ description: "CRM", events: ["case.created"] });
    fx.t.clock.advance(60_000);

    const res = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { events: ["user.created", "user.deleted"], description: null },
    });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      url: fx.receiver.url,
      events: ["user.created", "user.deleted"],
      description: null,
      active: true,
      updated_at: "2026-05-04T12:01:00.000Z",
      created_at: "2026-05-04T12:00:00.000Z",
    });
    expect(res.json).not.toHaveProperty("secret");
    const stored = fx.t.database.sqlite.query("SELECT secret FROM webhooks WHERE id = ?").get(id);
    expect(stored).toEqual({ secret });
  });

  test("rotate_secret answers a new secret once; deliveries are signed with it", async () => {
    const { id, secret } = await fx.subscribe();
    const res = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { rotate_secret: true },
    });
    expect(res.status).toBe(200);
    expect(res.json.secret).toMatch(SecretPattern);
    expect(res.json.secret).not.toBe(secret);
    const again = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(again.json).not.toHaveProperty("secret");

    // The receiver still holds the old secret: the next delivery must fail its check.
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    await fx.drain();
    expect(fx.receiver.deliveries.at(-1)).toMatchObject({ verified: false, status: 401 });

    fx.receiver.setSecret(res.json.secret);
    fx.t.clock.set(fx.webhookJobs()[0]!.next_attempt_at);
    await fx.drain();
    expect(fx.receiver.deliveries.at(-1)).toMatchObject({ verified: true, status: 200 });
  });

  test("rotate_secret: false changes nothing", async () => {
    const { id, secret } = await fx.subscribe();
    const res = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { rotate_secret: false },
    });
    expect(res.json).not.toHaveProperty("secret");
    const stored = fx.t.database.sqlite.query("SELECT secret FROM webhooks WHERE id = ?").get(id);
    expect(stored).toEqual({ secret });
  });

  test("the URL is validated as at creation, and a bad one changes nothing", async () => {
    const { id } = await fx.subscribe();
    const res = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { url: "gopher://127.0.0.1/", description: "changed" },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([{ field: "url", issue: "scheme" }]);
    const after = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(after.json).toMatchObject({ url: fx.receiver.url, description: null });
  });

  test("unknown fields and unknown events are refused", async () => {
    const { id } = await fx.subscribe();
    const typo = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { activ: false },
    });
    expect(typo.status).toBe(400);
    const unknown = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { events: ["case.exploded"] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe("validation_error");
  });

  test("turning a disabled webhook back on clears the reason it was disabled", async () => {
    const { id } = await fx.subscribe();
    fx.t.database.sqlite.run(
      "UPDATE webhooks SET active = 0, disabled_reason = 'the endpoint answered 410 Gone'",
    );
    const res = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { active: true },
    });
    expect(res.json).toMatchObject({ active: true, disabled_reason: null });
  });
});

describe("deleting a webhook", () => {
  test("answers 204, then 404, and takes its queued deliveries with it", async () => {
    const { id } = await fx.subscribe();
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    expect(fx.webhookJobs()).toHaveLength(1);

    const res = await fx.t.call("DELETE", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme })).status).toBe(404);
    expect((await fx.t.call("DELETE", `/v1/webhooks/${id}`, { as: fx.acme })).status).toBe(404);
    expect(fx.webhookJobs()).toHaveLength(0);

    await fx.drain();
    expect(fx.receiver.deliveries).toHaveLength(0);
  });

  test("an inactive webhook gets no new events", async () => {
    await fx.subscribe({ active: false });
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    expect(fx.webhookJobs()).toHaveLength(0);
  });
});

describe("the deliveries route", () => {
  test("lists attempts newest first: outcome, status, error, duration, time", async () => {
    const { id } = await fx.subscribe();
    fx.receiver.answer("500", { times: 1, body: "database on fire" });
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    await fx.drain();
    fx.t.clock.set(fx.webhookJobs()[0]!.next_attempt_at);
    await fx.drain();
    const eventId = fx.webhookJobs()[0]!.event_id;

    const res = await fx.t.call("GET", `/v1/webhooks/${id}/deliveries`, { as: fx.acme });

    expect(res.status).toBe(200);
    expect(res.json.next_cursor).toBeNull();
    expect(res.json.deliveries).toEqual([
      {
        id: expect.any(Number),
        event_id: eventId,
        event_type: "user.created",
        attempt: 2,
        outcome: "delivered",
        response_status: 200,
        error: null,
        response_excerpt: '{"received":true}',
        duration_ms: expect.any(Number),
        attempted_at: new Date(fx.t.clock.now()).toISOString(),
      },
      {
        id: expect.any(Number),
        event_id: eventId,
        event_type: "user.created",
        attempt: 1,
        outcome: "retrying",
        response_status: 500,
        error: "HTTP 500",
        response_excerpt: "database on fire",
        duration_ms: expect.any(Number),
        attempted_at: "2026-05-04T12:00:00.000Z",
      },
    ]);
    const webhook = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(webhook.json).toMatchObject({
      last_delivery_at: new Date(fx.t.clock.now()).toISOString(),
      last_delivery_status: "delivered",
      consecutive_failures: 0,
    });
  });

  test("pages with limit and cursor", async () => {
    const { id } = await fx.subscribe();
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email } });
    }
    await fx.drain();
    const first = await fx.t.call("GET", `/v1/webhooks/${id}/deliveries?limit=2`, { as: fx.acme });
    expect(first.json.deliveries).toHaveLength(2);
    const rest = await fx.t.call(
      "GET",
      `/v1/webhooks/${id}/deliveries?limit=2&cursor=${first.json.next_cursor}`,
      { as: fx.acme },
    );
    expect(rest.json.deliveries).toHaveLength(1);
    expect(rest.json.next_cursor).toBeNull();
    const ids = [...first.json.deliveries, ...rest.json.deliveries].map((d) => d.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });
});

test("the OpenAPI document describes the webhook routes", async () => {
  const res = await fx.t.call("GET", "/docs/json");
  const paths = Object.keys(res.json.paths);
  expect(paths).toEqual(
    expect.arrayContaining([
      "/v1/webhooks",
      "/v1/webhooks/{webhook_id}",
      "/v1/webhooks/{webhook_id}/deliveries",
    ]),
  );
});
