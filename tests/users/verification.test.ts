import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;

const HourMs = 60 * 60 * 1000;
const Html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
const Json = { accept: "application/json" };

beforeEach(() => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
});

async function createUser(body: Record<string, unknown>, as = acme): Promise<number> {
  const res = await t.call("POST", "/v1/users", { as, body });
  expect(res.status).toBe(201);
  return res.json.id;
}

/** The link of the newest verification e-mail written for a user, as the outbox holds it. */
function verificationLink(userId: number): string {
  const job = t.database.sqlite
    .query(
      "SELECT payload FROM outbox_jobs WHERE purpose = 'verification' AND user_id = ? " +
        "ORDER BY id DESC LIMIT 1",
    )
    .get(userId) as { payload: string } | null;
  expect(job).not.toBeNull();
  const link = /https?:\/\/\S+\/v1\/users\/verify-email\?token=ifv_[A-Za-z0-9]{43}/.exec(
    JSON.parse(job!.payload).message.text,
  );
  expect(link).not.toBeNull();
  return new URL(link![0]).pathname + new URL(link![0]).search;
}

const visit = (link: string, headers: Record<string, string> = Html) =>
  t.call("GET", link, { headers });

const readUser = async (id: number) => (await t.call("GET", `/v1/users/${id}`, { as: acme })).json;

function setLogo(clientId: number, logoUrl: string) {
  t.database.sqlite.run("UPDATE clients SET logo_url = ? WHERE id = ?", [logoUrl, clientId]);
}

describe("following the link", () => {
  test("only the newest link works, whichever route sent it", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const first = verificationLink(id);
    const resent = await t.call("POST", `/v1/client/users/${id}/resend-verification`, { as: acme });
    expect(resent.status).toBe(202);
    const second = verificationLink(id);
    expect(second).not.toBe(first);
    expect((await visit(first, Json)).status).toBe(400);
    expect((await visit(second, Json)).json).toMatchObject({ verified: true, user_id: id });
  });

  test("confirms with a page in the user's language and the partner's logo", async () => {
    setLogo(acme.id, "https://acme.example/logo.png");
    const id = await createUser({ email: "ana@example.com", preferred_language: "pt" });
    const link = verificationLink(id);
    t.clock.advance(5 * 60_000);

    // The browser asks for English; the page follows the language the user chose.
    const res = await visit(link, { ...Html, "accept-language": "en-US,en;q=0.9" });

    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('<html lang="pt-BR">');
    expect(res.text).toContain('<meta charset="utf-8" />');
    expect(res.text).toContain("<h1>Seu e-mail está confirmado</h1>");
    expect(res.text).toContain("Acme Immigration Law enviará a este endereço");
    expect(res.text).toContain(
      '<img src="https://acme.example/logo.png" alt="Acme Immigration Law"',
    );
    expect(res.text).not.toContain("ifv_");
    expect(res.text).not.toMatch(/<script|<link|https?:\/\/(?!acme\.example\/logo\.png)/);

    expect((await readUser(id)).email_verified_at).toBe("2026-05-04T12:05:00.000Z");
  });

  test("the page is locked down: no cache, no referrer, nothing loaded but the logo", async () => {
    setLogo(acme.id, "https://cdn.acme.example/brand/logo.png");
    const id = await createUser({ email: "ana@example.com" });
    const res = await visit(verificationLink(id));

    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const policy = res.headers.get("content-security-policy")!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("img-src https://cdn.acme.example;");
    expect(policy).toMatch(/style-src 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toMatch(/script-src|unsafe-inline/);
  });

  test("without a logo the partner's name stands in, escaped", async () => {
    const firm = t.createPartner('Souza & <b>Filhos</b> "Advocacia"');
    const id = await createUser({ email: "ana@example.com", preferred_language: "es" }, firm);
    const res = await visit(verificationLink(id));

    expect(res.status).toBe(200);
    expect(res.text).toContain("<h1>Su correo electrónico está confirmado</h1>");
    expect(res.text).toContain(
      '<p class="brand">Souza &amp; &lt;b&gt;Filhos&lt;/b&gt; &quot;Advocacia&quot;</p>',
    );
    expect(res.text).not.toContain("<b>");
    expect(res.text).not.toContain("<img");
    expect(res.headers.get("content-security-policy")).toContain("img-src 'none'");
  });

  test("a logo that is not a web address is left out", async () => {
    setLogo(acme.id, "javascript:alert(1)");
    const id = await createUser({ email: "ana@example.com" });
    const res = await visit(verificationLink(id));
    expect(res.text).not.toContain("javascript:");
    expect(res.text).toContain('<p class="brand">Acme Immigration Law</p>');
  });

  test("a second click says the address was already confirmed and changes nothing", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const link = verificationLink(id);
    expect((await visit(link)).status).toBe(200);
    const verifiedAt = (await readUser(id)).email_verified_at;
    t.clock.advance(HourMs);

    const again = await visit(link);

    expect(again.status).toBe(200);
    expect(again.text).toContain("<h1>Your e-mail was already confirmed</h1>");
    expect((await readUser(id)).email_verified_at).toBe(verifiedAt);
  });

  test("answers JSON when the caller prefers it", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const link = verificationLink(id);

    const first = await visit(link, Json);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("application/json");
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.json).toEqual({ verified: true, user_id: id, already_verified: false });

    const second = await visit(link, { accept: "text/html;q=0.5, application/json" });
    expect(second.json).toEqual({ verified: true, user_id: id, already_verified: true });
  });

  test("a browser, curl's */* and no Accept at all get the page", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const link = verificationLink(id);
    for (const headers of [Html, { accept: "*/*" }, {}]) {
      const res = await visit(link, headers);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    }
  });

  test("a HEAD request, as link checkers send, tells the status and spends nothing", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const link = verificationLink(id);

    const head = await t.call("HEAD", link, { headers: Html });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
    expect((await readUser(id)).email_verified_at).toBeNull();
    expect((await t.call("HEAD", "/v1/users/verify-email?token=nope")).status).toBe(400);

    const get = await visit(link);
    expect(get.text).toContain("<h1>Your e-mail is confirmed</h1>");
    expect((await readUser(id)).email_verified_at).not.toBeNull();
  });

  test("parameters a mail client appends do not break the link", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const res = await visit(`${verificationLink(id)}&utm_source=newsletter`);
    expect(res.status).toBe(200);
    expect((await readUser(id)).email_verified_at).not.toBeNull();
  });

  test("the request log names the route, never the token", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const link = verificationLink(id);
    await visit(link);
    const token = link.split("token=")[1]!;
    const line = t.logs.lines.find((l) => l.route === "/v1/users/verify-email");
    expect(line).toMatchObject({ status: 200, client_id: acme.id, user_id: id });
    expect(JSON.stringify(t.logs.lines)).not.toContain(token);
  });
});

describe("links that do not work", () => {
  test("a wrong or missing token is 400 with a page that says so", async () => {
    for (const query of [`?token=ifv_${"x".repeat(43)}`, "?token=garbage", "", "?token="]) {
      const res = await visit(`/v1/users/verify-email${query}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.text).toContain("<h1>This link is invalid or has expired</h1>");
    }
  });

  test("the invalid page speaks the browser's language, English otherwise", async () => {
    const bad = `/v1/users/verify-email?token=ifv_${"x".repeat(43)}`;
    const cases: [string, string][] = [
      ["pt-BR,pt;q=0.9,en;q=0.8", "Este link é inválido ou expirou"],
      ["fr-FR, es;q=0.7, en;q=0.5", "Este enlace no es válido o ha caducado"],
      ["de-DE,fr;q=0.8", "This link is invalid or has expired"],
    ];
    for (const [acceptLanguage, title] of cases) {
      const res = await visit(bad, { ...Html, "accept-language": acceptLanguage });
      expect(res.text).toContain(`<h1>${title}</h1>`);
    }
  });

  test("in JSON a bad token is 400 validation_error in the envelope", async () => {
    const res = await visit(`/v1/users/verify-email?token=ifv_${"x".repeat(43)}`, Json);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      code: "validation_error",
      message: "the link is invalid or has expired",
      request_id: expect.stringMatching(/^req_/),
    });
  });

  test("a link works for 48 hours and not a moment longer", async () => {
    const early = await createUser({ email: "early@example.com" });
    const late = await createUser({ email: "late@example.com" });
    const earlyLink = verificationLink(early);
    const lateLink = verificationLink(late);

    t.clock.advance(48 * HourMs - 1);
    expect((await visit(earlyLink)).status).toBe(200);
    t.clock.advance(1);
    const expired = await visit(lateLink);

    expect(expired.status).toBe(400);
    expect(expired.text).toContain("This link is invalid or has expired");
    expect((await readUser(late)).email_verified_at).toBeNull();
    expect((await readUser(early)).email_verified_at).not.toBeNull();
  });

  test("after an e-mail change the old link is invalid and the new one works", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const oldLink = verificationLink(id);
    const changed = await t.call("PUT", `/v1/users/${id}`, {
      as: acme,
      body: { email: "ana.souza@example.com" },
    });
    expect(changed.status).toBe(200);
    const newLink = verificationLink(id);
    expect(newLink).not.toBe(oldLink);

    expect((await visit(oldLink)).status).toBe(400);
    expect((await readUser(id)).email_verified_at).toBeNull();
    expect((await visit(newLink)).status).toBe(200);
    expect((await readUser(id)).email_verified_at).not.toBeNull();
  });

  test("a link verified through the old address does not vouch for the new one", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const oldLink = verificationLink(id);
    expect((await visit(oldLink)).status).toBe(200);
    await t.call("PUT", `/v1/users/${id}`, { as: acme, body: { email: "ana2@example.com" } });

    const again = await visit(oldLink);

    expect(again.status).toBe(400);
    expect((await readUser(id)).email_verified_at).toBeNull();
  });
});

describe("user.email_verified", () => {
  function subscribe(clientId: number, events: string[]) {
    t.database.sqlite.run(
      "INSERT INTO webhooks (client_id, url, events, active, secret, created_at, updated_at) " +
        "VALUES (?, 'https://hooks.acme.example/in', ?, 1, 'whsec_test', 0, 0)",
      [clientId, JSON.stringify(events)],
    );
  }

  const webhookJobs = () =>
    (
      t.database.sqlite
        .query("SELECT payload FROM outbox_jobs WHERE channel = 'webhook' ORDER BY id")
        .all() as { payload: string }[]
    ).map((job) => JSON.parse(job.payload).event);

  test("goes to a subscribed webhook once, carrying the verified user", async () => {
    subscribe(acme.id, ["user.email_verified"]);
    const id = await createUser({ email: "ana@example.com", name: "Ana" });
    const link = verificationLink(id);
    t.clock.advance(60_000);

    await visit(link);
    await visit(link);

    const events = webhookJobs();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      type: "user.email_verified",
      created_at: "2026-05-04T12:01:00.000Z",
      data: { id, email: "ana@example.com", email_verified_at: "2026-05-04T12:01:00.000Z" },
    });
  });

  test("writes nothing when no webhook listens for it", async () => {
    subscribe(acme.id, ["case.status_changed"]);
    const id = await createUser({ email: "ana@example.com" });
    await visit(verificationLink(id));
    expect(webhookJobs()).toHaveLength(0);
  });
});

describe("resending the verification e-mail", () => {
  const resend = (email: string, headers: Record<string, string>) =>
    t.call("POST", "/v1/users/resend-verification", { headers, body: { email } });
  const publishable = () => ({ "x-api-key": acme.apiKey });

  test("queues a new link; the older one stops working", async () => {
    const id = await createUser({ email: "ana@example.com", preferred_language: "es" });
    const first = verificationLink(id);
    t.clock.advance(60_000);

    const res = await resend("  ANA@example.com ", publishable());

    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true });
    const second = verificationLink(id);
    expect(second).not.toBe(first);
    expect((await visit(first)).status).toBe(400);
    const page = await visit(second);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Su correo electrónico está confirmado");
  });

  test("partner credentials may ask too", async () => {
    const id = await createUser({ email: "ana@example.com" });
    const before = countRows(t, "outbox_jobs");
    const res = await t.call("POST", "/v1/users/resend-verification", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    expect(res.status).toBe(202);
    expect(countRows(t, "outbox_jobs")).toBe(before + 1);
    expect((await visit(verificationLink(id))).status).toBe(200);
  });

  test("nothing is sent to a verified or a disabled user", async () => {
    const verified = await createUser({ email: "ana@example.com" });
    await visit(verificationLink(verified));
    const disabled = await createUser({ email: "bia@example.com" });
    await t.call("PUT", `/v1/users/${disabled}`, { as: acme, body: { status: "disabled" } });
    const before = countRows(t, "outbox_jobs");

    expect((await resend("ana@example.com", publishable())).status).toBe(202);
    expect((await resend("bia@example.com", publishable())).status).toBe(202);

    expect(countRows(t, "outbox_jobs")).toBe(before);
  });

  test("the body is validated: an e-mail is required and nothing else is allowed", async () => {
    const bodies: [unknown, string][] = [
      [{}, "email"],
      [{ email: "not-an-email" }, "email"],
      [{ email: "ana@example.com", user_id: 1 }, "user_id"],
    ];
    for (const [body, field] of bodies) {
      const res = await t.call("POST", "/v1/users/resend-verification", {
        headers: publishable(),
        body,
      });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_error");
      expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
  });
});
