import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let rival: Credentials;

beforeEach(() => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  rival = t.createPartner("Rival Legal Group");
  t.database.sqlite.run("UPDATE clients SET logo_url = 'https://acme.example/logo.png'");
});

async function createUser(email: string, as = acme): Promise<number> {
  const res = await t.call("POST", "/v1/users", { as, body: { email, name: "Ana Souza" } });
  expect(res.status).toBe(201);
  return res.json.id;
}

const verificationJobs = (userId: number) =>
  (
    t.database.sqlite
      .query("SELECT count(*) AS n FROM outbox_jobs WHERE purpose = 'verification' AND user_id = ?")
      .get(userId) as { n: number }
  ).n;

function verificationLink(userId: number): string {
  const job = t.database.sqlite
    .query(
      "SELECT payload FROM outbox_jobs WHERE purpose = 'verification' AND user_id = ? " +
        "ORDER BY id DESC LIMIT 1",
    )
    .get(userId) as { payload: string };
  const token = /token=(ifv_[A-Za-z0-9]{43})/.exec(JSON.parse(job.payload).message.text)![1];
  return `/v1/users/verify-email?token=${token}`;
}

const resend = (email: string, headers: Record<string, string>) =>
  t.call("POST", "/v1/users/resend-verification", { headers, body: { email } });

const publishable = (partner: Credentials) => ({ "x-api-key": partner.apiKey });

/** Signs a user in the way an app would: a code by e-mail, traded for a user token. */
async function signIn(email: string, partner = acme): Promise<string> {
  const asked = await t.call("POST", "/v1/auth/login-code", {
    headers: publishable(partner),
    body: { email },
  });
  expect(asked.status).toBe(202);
  const job = t.database.sqlite
    .query("SELECT payload FROM outbox_jobs WHERE purpose = 'login_code' ORDER BY id DESC LIMIT 1")
    .get() as { payload: string };
  const code = /\b\d{6}\b/.exec(JSON.parse(job.payload).message.text)![0];
  const verified = await t.call("POST", "/v1/auth/verify", {
    headers: publishable(partner),
    body: { email, code },
  });
  expect(verified.status).toBe(200);
  return verified.json.token;
}

/** Status and body with the request id set aside: the only part that may differ. */
function comparable(res: { status: number; json: any; headers: Headers }) {
  const json = structuredClone(res.json);
  if (json?.error) delete json.error.request_id;
  return { status: res.status, json, retryAfter: res.headers.get("retry-after") };
}

describe("resend-verification reveals nothing about an address", () => {
  test("known, unknown, verified and disabled addresses get the same answer", async () => {
    const unverified = await createUser("ana@example.com");
    const verified = await createUser("bia@example.com");
    expect((await t.call("GET", verificationLink(verified))).status).toBe(200);
    const disabled = await createUser("cris@example.com");
    await t.call("PUT", `/v1/users/${disabled}`, { as: acme, body: { status: "disabled" } });
    const rivalsUser = await createUser("dora@example.com", rival);

    const answers = [];
    for (const email of [
      "ana@example.com",
      "nobody@example.com",
      "bia@example.com",
      "cris@example.com",
      "dora@example.com",
    ]) {
      answers.push(comparable(await resend(email, publishable(acme))));
    }

    for (const answer of answers) {
      expect(answer).toEqual({ status: 202, json: { accepted: true }, retryAfter: null });
    }
    // Only the one that should get an e-mail did.
    expect(verificationJobs(unverified)).toBe(2);
    expect(verificationJobs(verified)).toBe(1);
    expect(verificationJobs(disabled)).toBe(1);
    expect(verificationJobs(rivalsUser)).toBe(1);
  });

  test("past the limit a known and an unknown address get the same 429", async () => {
    await createUser("ana@example.com");
    const limited = [];
    for (const email of ["ana@example.com", "nobody@example.com"]) {
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await resend(email, publishable(acme)));
      expect(answers.slice(0, 5).map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
      limited.push(comparable(answers[5]!));
    }
    expect(limited[0]!.status).toBe(429);
    expect(limited[0]!.json.error.code).toBe("rate_limited");
    expect(limited[0]!.retryAfter).toMatch(/^\d+$/);
    expect(limited[1]).toEqual(limited[0]!);
  });
});

describe("resend-verification stays within the caller's reach", () => {
  test("another partner's publishable key cannot send this partner's user an e-mail", async () => {
    const ana = await createUser("ana@example.com");
    const before = countRows(t, "outbox_jobs");

    const res = await resend("ana@example.com", publishable(rival));

    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true });
    expect(countRows(t, "outbox_jobs")).toBe(before);
    // The same request with the right partner's key does send one: the check above can fail.
    await resend("ana@example.com", publishable(acme));
    expect(verificationJobs(ana)).toBe(2);
  });

  test("a user token asks only for its own address", async () => {
    const ana = await createUser("ana@example.com");
    const bia = await createUser("bia@example.com");
    const anaToken = await signIn("ana@example.com");
    const asAna = { authorization: `Bearer ${anaToken}` };

    const forBia = await resend("bia@example.com", asAna);

    expect(forBia.status).toBe(202);
    expect(forBia.json).toEqual({ accepted: true });
    expect(verificationJobs(bia)).toBe(1);

    // Signing in verified Ana; a new address makes her unverified again, and then her own
    // token does get her a new link.
    await t.call("PUT", `/v1/users/${ana}`, { as: acme, body: { email: "ana2@example.com" } });
    const before = verificationJobs(ana);
    expect((await resend("ana2@example.com", asAna)).status).toBe(202);
    expect(verificationJobs(ana)).toBe(before + 1);
  });

  test("no credentials, a wrong key or a wrong secret is 401 and sends nothing", async () => {
    await createUser("ana@example.com");
    const before = countRows(t, "outbox_jobs");
    const attempts: Record<string, string>[] = [
      {},
      { "x-api-key": "ifk_000000000000000000000000" },
      { "x-api-key": acme.apiKey, "x-api-secret": rival.apiSecret },
      { authorization: `Bearer ift_${"a".repeat(43)}` },
    ];
    for (const headers of attempts) {
      const res = await resend("ana@example.com", headers);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
    expect(countRows(t, "outbox_jobs")).toBe(before);
  });
});

describe("verify-email tells a stranger nothing", () => {
  test("wrong, expired and superseded links show one identical page with no detail", async () => {
    const expiredUser = await createUser("old@example.com");
    const expiredLink = verificationLink(expiredUser);
    t.clock.advance(49 * 60 * 60 * 1000);
    const movedUser = await createUser("ana@example.com");
    const movedLink = verificationLink(movedUser);
    await t.call("PUT", `/v1/users/${movedUser}`, {
      as: acme,
      body: { email: "ana.new@example.com" },
    });

    const pages = [];
    for (const link of [
      expiredLink,
      movedLink,
      `/v1/users/verify-email?token=ifv_${"A".repeat(43)}`,
      "/v1/users/verify-email?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ]) {
      const res = await t.call("GET", link, { headers: { accept: "text/html" } });
      expect(res.status).toBe(400);
      pages.push(res.text);
    }

    expect(new Set(pages).size).toBe(1);
    const page = pages[0]!;
    for (const detail of ["Acme", "acme.example", "Ana", "@example.com", "<img", "<script"]) {
      expect(page).not.toContain(detail);
    }
  });

  test("a token redeems nothing but the address it was sent to", async () => {
    const ana = await createUser("ana@example.com");
    const link = verificationLink(ana);
    // The token is not a credential anywhere else.
    const token = link.split("token=")[1]!;
    const res = await t.call("GET", `/v1/users/${ana}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    const stillUnverified = await t.call("GET", `/v1/users/${ana}`, { as: acme });
    expect(stillUnverified.json.email_verified_at).toBeNull();
  });

  test("only the token's hash is stored", async () => {
    const ana = await createUser("ana@example.com");
    const token = verificationLink(ana).split("token=")[1]!;
    const rows = JSON.stringify(t.database.sqlite.query("SELECT * FROM email_tokens").all());
    expect(rows).not.toContain(token);
    expect(rows).toContain(new Bun.CryptoHasher("sha256").update(token).digest("hex"));
  });
});
