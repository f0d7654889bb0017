import { afterEach, describe, expect, test } from "bun:test";
import { bearer, createUser as createAuthUser, publishable, signIn } from "../auth/sign-in.ts";
import { startWebhookReceiver } from "../fakes/webhook-receiver.ts";
import { type Credentials, countRows, type TestApp } from "../helpers/app.ts";
import { type WebhookFixture, webhookFixture } from "./setup.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fixture(options: Parameters<typeof webhookFixture>[0] = {}): WebhookFixture {
  const fx = webhookFixture(options);
  cleanups.push(() => fx.close());
  return fx;
}

/** Every webhook route, against webhook `id`, with a body that would be valid. */
function routes(id: number, url: string) {
  return [
    ["GET", "/v1/webhooks", undefined],
    ["POST", "/v1/webhooks", { url }],
    ["GET", `/v1/webhooks/${id}`, undefined],
    ["PUT", `/v1/webhooks/${id}`, { description: "taken over", rotate_secret: true }],
    ["DELETE", `/v1/webhooks/${id}`, undefined],
    ["GET", `/v1/webhooks/${id}/deliveries`, undefined],
  ] as const;
}

function snapshot(t: TestApp) {
  const read = (sql: string) => t.database.sqlite.query(sql).all();
  return {
    webhooks: read("SELECT * FROM webhooks ORDER BY id"),
    deliveries: read("SELECT * FROM webhook_deliveries ORDER BY id"),
  };
}

/** Acme's webhook with one delivery in its log. */
async function acmeWebhook(fx: WebhookFixture) {
  const hook = await fx.subscribe();
  await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
  await fx.drain();
  expect(countRows(fx.t, "webhook_deliveries")).toBe(1);
  return hook;
}

describe("credentials", () => {
  test("no credentials: 401 on every route, before the body is looked at", async () => {
    const fx = fixture();
    const { id } = await acmeWebhook(fx);
    const before = snapshot(fx.t);
    for (const [method, path, body] of routes(id, fx.receiver.url)) {
      const res = await fx.t.call(method, path, { body: body ?? undefined });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
    const garbage = await fx.t.call("POST", "/v1/webhooks", { body: { nonsense: true } });
    expect(garbage.status).toBe(401);
    expect(snapshot(fx.t)).toEqual(before);
  });

  test("a wrong secret or an unknown key: 401 on every route", async () => {
    const fx = fixture();
    const { id } = await acmeWebhook(fx);
    const before = snapshot(fx.t);
    const wrong: Credentials[] = [
      { ...fx.acme, apiSecret: `ifs_${"x".repeat(40)}` },
      { ...fx.acme, apiKey: `ifk_${"y".repeat(24)}` },
    ];
    for (const as of wrong) {
      for (const [method, path, body] of routes(id, fx.receiver.url)) {
        const res = await fx.t.call(method, path, { as, body: body ?? undefined });
        expect(res.status, `${method} ${path}`).toBe(401);
      }
    }
    expect(snapshot(fx.t)).toEqual(before);
  });

  test("a publishable key alone: 403 on every route", async () => {
    const fx = fixture();
    const { id } = await acmeWebhook(fx);
    const before = snapshot(fx.t);
    for (const [method, path, body] of routes(id, fx.receiver.url)) {
      const res = await fx.t.call(method, path, {
        headers: publishable(fx.acme),
        body: body ?? undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe("forbidden");
    }
    expect(snapshot(fx.t)).toEqual(before);
  });

  test("an end user's token: 403 on every route", async () => {
    const fx = fixture();
    const { id } = await acmeWebhook(fx);
    await createAuthUser(fx.t, fx.acme, { email: "bia@example.com" });
    const { token } = await signIn(fx.t, fx.acme, "bia@example.com");
    const before = snapshot(fx.t);
    for (const [method, path, body] of routes(id, fx.receiver.url)) {
      const res = await fx.t.call(method, path, {
        headers: bearer(token),
        body: body ?? undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect(snapshot(fx.t)).toEqual(before);
  });
});

describe("another partner's webhooks do not exist", () => {
  test("every id route answers 404, exactly as for an id that was never used", async () => {
    const fx = fixture();
    const { id, secret } = await acmeWebhook(fx);
    const globex = fx.t.createPartner("Globex Immigration");
    const before = snapshot(fx.t);

    for (const [method, path, body] of routes(id, fx.receiver.url).slice(2)) {
      const theirs = await fx.t.call(method, path, { as: globex, body: body ?? undefined });
      const never = await fx.t.call(method, path.replace(`/${id}`, "/424242"), {
        as: globex,
        body: body ?? undefined,
      });
      expect(theirs.status, `${method} ${path}`).toBe(404);
      expect(theirs.json.error).toEqual({ ...never.json.error, request_id: expect.any(String) });
      expect(theirs.text).not.toContain(secret);
      expect(theirs.text).not.toContain(fx.receiver.url);
    }
    expect(snapshot(fx.t)).toEqual(before);
  });

  test("the list shows only the caller's webhooks, and create makes the caller's own", async () => {
    const fx = fixture();
    await acmeWebhook(fx);
    const globex = fx.t.createPartner("Globex Immigration");
    const empty = await fx.t.call("GET", "/v1/webhooks", { as: globex });
    expect(empty.json).toEqual({ webhooks: [], next_cursor: null });

    const created = await fx.t.call("POST", "/v1/webhooks", {
      as: globex,
      body: { url: fx.receiver.url },
    });
    expect(created.status).toBe(201);
    const acmeList = await fx.t.call("GET", "/v1/webhooks", { as: fx.acme });
    expect(acmeList.json.webhooks.map((w: { id: number }) => w.id)).not.toContain(created.json.id);
    const row = fx.t.database.sqlite
      .query("SELECT client_id FROM webhooks WHERE id = ?")
      .get(created.json.id);
    expect(row).toEqual({ client_id: globex.id });
  });

  test("a cursor cannot reach into another partner's list", async () => {
    const fx = fixture();
    const globex = fx.t.createPartner("Globex Immigration");
    await fx.subscribe({}, globex);
    await fx.subscribe({}, globex);
    const mine = await fx.subscribe();
    const cursor = Buffer.from(`v1:${mine.id + 1}`).toString("base64url");
    const res = await fx.t.call("GET", `/v1/webhooks?cursor=${cursor}`, { as: fx.acme });
    expect(res.json.webhooks.map((w: { id: number }) => w.id)).toEqual([mine.id]);
  });
});

describe("SSRF: addresses a webhook may not point at", () => {
  /** Every form refused with WEBHOOK_ALLOW_PRIVATE off; http is allowed to reach the check. */
  const refused: [string, string][] = [
    ["http://127.0.0.1/hooks", "loopback"],
    ["http://127.8.9.10/hooks", "loopback"],
    ["http://localhost/hooks", "loopback"],
    ["http://LOCALHOST./hooks", "loopback"],
    ["http://0x7f000001/hooks", "loopback"],
    ["http://2130706433/hooks", "loopback"],
    ["http://0177.0.0.1/hooks", "loopback"],
    ["http://017700000001/hooks", "loopback"],
    ["http://127.1/hooks", "loopback"],
    ["http://0x7f.1/hooks", "loopback"],
    ["http://127.0.0.1./hooks", "loopback"],
    ["http://%31%32%37.0.0.1/hooks", "loopback"],
    ["http://\uff11\uff12\uff17.0.0.1/hooks", "loopback"],
    ["http://[::1]/hooks", "loopback"],
    ["http://[0:0:0:0:0:0:0:1]/hooks", "loopback"],
    ["http://[::ffff:7f00:1]/hooks", "loopback"],
    ["http://[::ffff:127.0.0.1]/hooks", "loopback"],
    ["http://[::127.0.0.1]/hooks", "loopback"],
    ["http://[64:ff9b::7f00:1]/hooks", "loopback"],
    ["http://[2002:7f00:1::]/hooks", "loopback"],
    ["http://0.0.0.0/hooks", "unspecified"],
    ["http://0/hooks", "unspecified"],
    ["http://[::]/hooks", "unspecified"],
    ["http://10.0.0.1/hooks", "private"],
    ["http://172.16.0.1/hooks", "private"],
    ["http://172.31.255.254/hooks", "private"],
    ["http://192.168.1.1/hooks", "private"],
    ["http://[::ffff:10.0.0.1]/hooks", "private"],
    ["http://[fc00::1]/hooks", "private"],
    ["http://[fd12:3456::1]/hooks", "private"],
    ["http://169.254.1.1/hooks", "link-local"],
    ["http://[fe80::1]/hooks", "link-local"],
    ["http://100.64.0.1/hooks", "carrier-grade NAT"],
    ["http://100.127.255.254/hooks", "carrier-grade NAT"],
    ["http://169.254.169.254/latest/meta-data/", "metadata"],
    ["http://0xa9fea9fe/latest/meta-data/", "metadata"],
    ["http://[::ffff:169.254.169.254]/latest/", "metadata"],
    ["http://[64:ff9b::a9fe:a9fe]/latest/", "metadata"],
    ["http://[fd00:ec2::254]/latest/", "metadata"],
    ["http://100.100.100.200/latest/", "metadata"],
    ["http://224.0.0.1/hooks", "multicast"],
    ["http://[ff02::1]/hooks", "multicast"],
    ["http://255.255.255.255/hooks", "reserved or broadcast"],
    ["http://240.0.0.1/hooks", "reserved or broadcast"],
    ["http://192.0.2.10/hooks", "documentation"],
    ["http://[2001:db8::1]/hooks", "documentation"],
    ["http://198.18.0.1/hooks", "benchmarking"],
  ];

  test.each(refused)("%s is refused at creation (%s), and nothing is stored", async (url, why) => {
    const fx = fixture({ env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    const res = await fx.t.call("POST", "/v1/webhooks", { as: fx.acme, body: { url } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("validation_error");
    expect(res.json.error.details).toEqual([{ field: "url", issue: "address" }]);
    expect(res.json.error.message).toContain(`(${why})`);
    expect(countRows(fx.t, "webhooks")).toBe(0);
  });

  test("the same forms are refused when a webhook is changed to them", async () => {
    const fx = fixture({ env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    const created = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: "https://93.184.215.14/hooks" },
    });
    expect(created.status).toBe(201);
    for (const [url] of refused) {
      const res = await fx.t.call("PUT", `/v1/webhooks/${created.json.id}`, {
        as: fx.acme,
        body: { url },
      });
      expect(res.status, url).toBe(400);
    }
    const after = await fx.t.call("GET", `/v1/webhooks/${created.json.id}`, { as: fx.acme });
    expect(after.json.url).toBe("https://93.184.215.14/hooks");
  });

  test("public addresses pass the guard", async () => {
    const fx = fixture({ env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    for (const url of [
      "https://93.184.215.14/hooks",
      "https://[2606:4700:4700::1111]/hooks",
      "https://8.8.8.8:8443/hooks?source=immigraflow",
      "https://[::ffff:8.8.4.4]/hooks",
      "https://172.32.0.1/hooks",
    ]) {
      const res = await fx.t.call("POST", "/v1/webhooks", { as: fx.acme, body: { url } });
      expect(res.status, `${url}: ${res.text}`).toBe(201);
    }
  });

  test("user names and passwords in the URL are refused", async () => {
    const fx = fixture();
    for (const url of ["https://user:pw@93.184.215.14/", "https://token@93.184.215.14/"]) {
      const res = await fx.t.call("POST", "/v1/webhooks", { as: fx.acme, body: { url } });
      expect(res.status).toBe(400);
      expect(res.json.error.details).toEqual([{ field: "url", issue: "userinfo" }]);
      expect(res.text).not.toContain("pw@");
    }
  });

  test("a host that does not resolve is refused", async () => {
    const fx = fixture();
    const res = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: "https://no-such-host.invalid/hooks" },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([{ field: "url", issue: "unresolvable" }]);
  });

  test("http is refused unless WEBHOOK_ALLOW_HTTP is set", async () => {
    const strict = fixture({ env: { WEBHOOK_ALLOW_HTTP: "false" } });
    const plainHttp = await strict.t.call("POST", "/v1/webhooks", {
      as: strict.acme,
      body: { url: strict.receiver.url },
    });
    expect(plainHttp.status).toBe(400);
    expect(plainHttp.json.error).toMatchObject({
      message: "url must use https",
      details: [{ field: "url", issue: "scheme" }],
    });
    const secure = await strict.t.call("POST", "/v1/webhooks", {
      as: strict.acme,
      body: { url: `https://127.0.0.1:${strict.receiver.port}/hooks` },
    });
    expect(secure.status).toBe(201);

    const relaxed = fixture();
    const allowed = await relaxed.t.call("POST", "/v1/webhooks", {
      as: relaxed.acme,
      body: { url: relaxed.receiver.url },
    });
    expect(allowed.status).toBe(201);
  });
});

describe("SSRF: the guard runs again before every delivery", () => {
  async function refusedDelivery(fx: WebhookFixture, id: number) {
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    expect(await fx.t.outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(fx.receiver.deliveries).toHaveLength(0);
    const [job] = fx.webhookJobs();
    expect(job!.state).toBe("failed");
    const log = await fx.t.call("GET", `/v1/webhooks/${id}/deliveries`, { as: fx.acme });
    expect(log.json.deliveries).toHaveLength(1);
    expect(log.json.deliveries[0]).toMatchObject({
      outcome: "refused",
      response_status: null,
      attempt: 1,
    });
    return { job: job!, delivery: log.json.deliveries[0] };
  }

  test("a loopback receiver saved under allow-private is never called", async () => {
    // The API accepted it (allow-private on); the sender runs with it off.
    const fx = fixture({ webhookSender: { allowPrivate: false } });
    const { id } = await fx.subscribe();
    const { job, delivery } = await refusedDelivery(fx, id);
    expect(job.last_error).toBe(
      "refused: url address 127.0.0.1 is not public (loopback), which is not allowed",
    );
    expect(delivery.error).toBe(job.last_error);
    const webhook = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(webhook.json).toMatchObject({
      last_delivery_status: "refused",
      consecutive_failures: 1,
    });
  });

  test("a name that resolves privately at delivery time is refused (rebinding)", async () => {
    const name = "rebind.immigraflow.test";
    let answer = "93.184.215.14";
    const resolve = async () => [{ address: answer, family: 4 as const }];
    const fx = fixture({ webhookSender: { allowPrivate: false, resolve } });
    const { id } = await fx.subscribe();
    fx.t.database.sqlite.run("UPDATE webhooks SET url = ? WHERE id = ?", [
      `http://${name}:${fx.receiver.port}/hooks`,
      id,
    ]);
    answer = "127.0.0.1";
    const { job } = await refusedDelivery(fx, id);
    expect(job.last_error).toContain("loopback");
  });

  test("one private address among public ones is enough to refuse", async () => {
    const resolve = async () => [
      { address: "93.184.215.14", family: 4 as const },
      { address: "::1", family: 6 as const },
    ];
    const fx = fixture({ webhookSender: { allowPrivate: false, resolve } });
    const { id } = await fx.subscribe();
    fx.t.database.sqlite.run("UPDATE webhooks SET url = ? WHERE id = ?", [
      `http://dual.immigraflow.test:${fx.receiver.port}/hooks`,
      id,
    ]);
    const { job } = await refusedDelivery(fx, id);
    expect(job.last_error).toContain("loopback");
  });

  test("an http webhook is refused once WEBHOOK_ALLOW_HTTP is turned off", async () => {
    const fx = fixture({ webhookSender: { allowHttp: false } });
    const { id } = await fx.subscribe();
    const { job } = await refusedDelivery(fx, id);
    expect(job.last_error).toBe("refused: url must use https");
  });

  test("a row written straight into the database gets no further", async () => {
    const fx = fixture({ env: { WEBHOOK_ALLOW_PRIVATE: "false" } });
    const target = startWebhookReceiver();
    cleanups.push(() => target.stop());
    fx.t.database.sqlite.run(
      "INSERT INTO webhooks (client_id, url, events, active, secret, created_at, updated_at) " +
        "VALUES (?, ?, '[\"*\"]', 1, ?, 0, 0)",
      [fx.acme.id, target.url, `whsec_${Buffer.alloc(32, 1).toString("base64")}`],
    );
    await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email: "ana@example.com" } });
    await fx.drain();
    expect(target.deliveries).toHaveLength(0);
    expect(fx.webhookJobs()[0]).toMatchObject({ state: "failed" });
  });
});

describe("what a partner can learn", () => {
  test("the secret is in no log line and no delivery row", async () => {
    const fx = fixture();
    const { id, secret } = await acmeWebhook(fx);
    const rotated = await fx.t.call("PUT", `/v1/webhooks/${id}`, {
      as: fx.acme,
      body: { rotate_secret: true },
    });
    const logs = JSON.stringify(fx.t.logs.lines);
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(rotated.json.secret);
    const rows = JSON.stringify(
      fx.t.database.sqlite.query("SELECT * FROM webhook_deliveries").all(),
    );
    expect(rows).not.toContain(secret);
  });
});
