/**
 * The fuzz world: the real app on :memory: with two partners (and a disabled third), a signed-in
 * user with a checked case and a webhook on each side, a WhatsApp job Twilio can call back about
 * and a few webhook deliveries. `ensure()` rebuilds whatever a successful fuzzed request
 * deleted or disabled, so later runs still reach the deep paths. `send()` turns a generated
 * request into a real one, with the world's placeholders filled in.
 */
import { mock } from "bun:test";
import { promises as dnsPromises } from "node:dns";
import { getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks";
import { hashSecret } from "../../src/http/secrets.ts";
import { TwilioStatusPath } from "../../src/notifications/twilio-status.ts";
import { loginCodeJob, signIn } from "../auth/sign-in.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";

// Webhook URLs are vetted with a DNS look-up; fuzzed host names must not reach a real resolver
// (slow, and different on every CI machine). The fuzz only names hosts under fuzz.example,
// which resolve to a public documentation address, or a private one when the name says
// "private", and under fuzz.invalid, which resolve to nothing. Any other name goes to the real
// resolver, so another test file in the same process sees DNS as it is.
const realLookup = dnsPromises.lookup.bind(dnsPromises);
mock.module("node:dns/promises", () => {
  const lookup = async (hostname: string, options?: object) => {
    if (/\.fuzz\.invalid\.?$/i.test(hostname)) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    }
    if (!/\.fuzz\.example\.?$/i.test(hostname)) return realLookup(hostname, options ?? {});
    const address = /private/i.test(hostname) ? "10.0.0.7" : "93.184.215.14";
    return [{ address, family: 4 }];
  };
  return { lookup, default: { lookup } };
});

export const TwilioAuthToken = "fuzz-twilio-auth-token";
export const PublicBaseUrl = "https://api.immigraflow.test";

export const FuzzEnv = {
  // The fuzz sends thousands of requests a minute on one key; the limiter has tests of its own.
  RATE_LIMIT_PER_MINUTE: "100000000",
  CORS_ORIGINS: "https://app.example",
  PUBLIC_BASE_URL: PublicBaseUrl,
  TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`,
  TWILIO_AUTH_TOKEN: TwilioAuthToken,
  TWILIO_WHATSAPP_FROM: "+14155238886",
};

export const CredentialKinds = [
  "partner",
  "rival",
  "publishable",
  "user",
  "rivalUser",
  "none",
  "wrongSecret",
  "secretOnly",
  "unknownKey",
  "disabledPartner",
  "partnerAndBearer",
  "junkAuthorization",
] as const;

export type CredentialKind = (typeof CredentialKinds)[number];

/** One generated request, before the world's values are filled in. */
export interface FuzzRequest {
  method: string;
  /** Path with placeholders, already percent-encoded where it should be. */
  path: string;
  /** "" or "?..." */
  query: string;
  credentials: CredentialKind;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Sign the form body as Twilio would (only the Twilio callback route uses it). */
  twilioSignature?: "valid" | "wrong" | "none";
  /** For junkAuthorization: the Authorization header as sent. */
  authorization?: string;
}

export interface Outcome {
  status: number;
  headers: Headers;
  text: string;
  /** The request as sent, with placeholders filled: what leak checks compare against. */
  sentText: string;
}

/**
 * Rows a refused request must leave alone. Left out: `last_used_at` of sessions (touched by
 * any authenticated request, refused or not) and the wrong-guess count of login codes (a
 * wrong code is a 401 that is meant to count), and USCIS usage counters (a 404 from USCIS
 * spends quota, as it should).
 */
const WatchedTables: Record<string, string> = {
  clients: "*",
  users: "*",
  email_tokens: "*",
  cases: "*",
  receipts: "*",
  status_updates: "*",
  outbox_jobs: "*",
  webhooks: "*",
  webhook_deliveries: "*",
  check_cache: "*",
  sessions: "id, user_id, token_hash, expires_at, revoked_at, created_at",
  login_codes: "id, user_id, code_hash, expires_at, used_at, created_at",
};

interface Side {
  partner: Credentials;
  user: number;
  email: string;
  token: string;
  caseId: number;
  flowId: string;
  webhook: number;
}

export interface World {
  t: TestApp;
  acme: Side;
  rival: Side;
  disabled: Credentials;
  /** Rebuilds fixtures a previous run deleted, disabled or signed out. */
  ensure(): Promise<void>;
  /** Sets up what the request's placeholders need (a fresh sign-in code), before the snapshot. */
  prepare(request: FuzzRequest): Promise<void>;
  /** A cheap fingerprint of every watched table. */
  fingerprint(): string;
  send(request: FuzzRequest): Promise<Outcome>;
}

/** Numbers for fixture e-mails and receipts, per world, so a seed replays the same world. */
interface Serial {
  next(): number;
}

export async function createWorld(): Promise<World> {
  const t = testApp({ env: FuzzEnv });
  let counter = 0;
  const serial: Serial = { next: () => ++counter };
  const acmePartner = t.createPartner("Acme Immigration Law");
  const rivalPartner = t.createPartner("Rival Legal Group LLP");
  const disabled = t.createPartner("Gone");
  t.database.sqlite.run("UPDATE clients SET disabled_at = 1 WHERE id = ?", [disabled.id]);

  const acme = await newSide(t, serial, acmePartner, "ana");
  const rival = await newSide(t, serial, rivalPartner, "rita");
  await t.checker.tick();
  seedTwilioJob(t);
  seedDeliveries(t, acme.webhook);

  const world: World = {
    t,
    acme,
    rival,
    disabled,
    async ensure() {
      await repair(t, serial, acme, "ana");
      await repair(t, serial, rival, "rita");
    },
    async prepare(request) {
      if (typeof request.body !== "string" || !request.body.includes(placeholderOf("loginCode"))) {
        return;
      }
      // Partner credentials: only the per-address limit applies, and the clock refills it.
      await t.call("POST", "/v1/auth/login-code", {
        as: acme.partner,
        body: { email: acme.email },
      });
    },
    fingerprint: () => fingerprint(t),
    send: (request) => send(world, request),
  };
  return world;
}

async function newSide(
  t: TestApp,
  serial: Serial,
  partner: Credentials,
  who: string,
): Promise<Side> {
  const side = {
    partner,
    user: 0,
    email: "",
    token: "",
    caseId: 0,
    flowId: "",
    webhook: 0,
  };
  await newUser(t, serial, side, who);
  await newCase(t, serial, side);
  await newWebhook(t, side);
  return side;
}

async function newUser(t: TestApp, serial: Serial, side: Side, who: string) {
  side.email = `${who}.${serial.next()}@example.com`;
  const created = await t.call("POST", "/v1/users", {
    as: side.partner,
    body: { email: side.email, phone: "+5511999990000", notify_by_whatsapp: true },
  });
  if (created.status !== 201) throw new Error(`fixture user: ${created.status} ${created.text}`);
  side.user = created.json.id;
  // Past the per-address limits the earlier runs may have spent.
  t.clock.advance(11 * 60 * 1000);
  side.token = (await signIn(t, side.partner, side.email)).token;
}

async function newCase(t: TestApp, serial: Serial, side: Side) {
  // A fuzzed request may already have added the next receipt to this user: try another.
  for (let attempt = 0; attempt < 5; attempt++) {
    const receipt = `EAC${9_999_100_000 + serial.next() * 7 + 3}`;
    const created = await t.call("POST", `/v1/users/${side.user}/cases`, {
      as: side.partner,
      body: { receipt_number: receipt, description: "fixture" },
    });
    if (created.status === 409) continue;
    if (created.status !== 201) throw new Error(`fixture case: ${created.status} ${created.text}`);
    side.caseId = created.json.case.id;
    side.flowId = created.json.case.user_case_id;
    return;
  }
  throw new Error("fixture case: every receipt tried was taken");
}

async function newWebhook(t: TestApp, side: Side) {
  const created = await t.call("POST", "/v1/webhooks", {
    as: side.partner,
    body: { url: "https://hooks.fuzz.example/immigraflow", description: "fixture" },
  });
  if (created.status !== 201) throw new Error(`fixture webhook: ${created.status} ${created.text}`);
  side.webhook = created.json.id;
}

async function repair(t: TestApp, serial: Serial, side: Side, who: string) {
  const sqlite = t.database.sqlite;
  const user = sqlite.query("SELECT status FROM users WHERE id = ?").get(side.user) as {
    status: string;
  } | null;
  const session = sqlite
    .query("SELECT 1 FROM sessions WHERE token_hash = ? AND revoked_at IS NULL")
    .get(hashSecret(side.token));
  if (user?.status !== "active" || !session) await newUser(t, serial, side, who);
  const found = sqlite
    .query("SELECT 1 FROM cases WHERE id = ? AND user_id = ?")
    .get(side.caseId, side.user);
  if (!found) await newCase(t, serial, side);
  const webhook = sqlite.query("SELECT 1 FROM webhooks WHERE id = ?").get(side.webhook);
  if (!webhook) await newWebhook(t, side);
}

/** A WhatsApp job with a provider id, so a signed Twilio callback can find something. */
function seedTwilioJob(t: TestApp) {
  t.database.sqlite.run(
    "UPDATE outbox_jobs SET provider_message_id = 'SMfuzz0001', state = 'sent' " +
      "WHERE id = (SELECT min(id) FROM outbox_jobs WHERE channel = 'whatsapp')",
  );
}

function seedDeliveries(t: TestApp, webhookId: number) {
  for (let i = 0; i < 5; i++) {
    t.database.sqlite.run(
      "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, outcome, " +
        "response_status, error, attempted_at) VALUES (?, ?, 'case.created', ?, ?, ?, ?, ?)",
      [webhookId, `evt_fuzz${i}`, i + 1, i % 2 ? "retrying" : "delivered", 200, null, i],
    );
  }
}

function fingerprint(t: TestApp): string {
  const parts: string[] = [];
  for (const [table, columns] of Object.entries(WatchedTables)) {
    const rows = t.database.sqlite.query(`SELECT ${columns} FROM ${table} ORDER BY rowid`).values();
    parts.push(`${table}:${rows.length}:${Bun.hash(JSON.stringify(rows)).toString(36)}`);
  }
  return parts.join(" ");
}

function placeholders(world: World): Record<string, () => string> {
  const { t, acme, rival } = world;
  return {
    acmeUser: () => String(acme.user),
    acmeEmail: () => acme.email,
    acmeCase: () => String(acme.caseId),
    acmeFlow: () => acme.flowId,
    acmeWebhook: () => String(acme.webhook),
    rivalUser: () => String(rival.user),
    rivalEmail: () => rival.email,
    rivalCase: () => String(rival.caseId),
    rivalFlow: () => rival.flowId,
    rivalWebhook: () => String(rival.webhook),
    loginCode: () => loginCodeJob(t)?.code ?? "000000",
    verifyToken: () => newestVerificationToken(t),
    messageSid: () => "SMfuzz0001",
  };
}

const placeholderOf = (name: string) => `{{${name}}}`;

function newestVerificationToken(t: TestApp): string {
  const job = t.database.sqlite
    .query("SELECT payload FROM outbox_jobs WHERE purpose = 'verification' ORDER BY id DESC")
    .get() as { payload: string } | null;
  const text = job ? String(JSON.parse(job.payload).message?.text ?? "") : "";
  return /token=(ifv_[A-Za-z0-9]{43})/.exec(text)?.[1] ?? "ifv_none";
}

function fill(world: World, text: string): string {
  const values = placeholders(world);
  return text.replace(/\{\{([A-Za-z]+)\}\}/g, (whole, name: string) => values[name]?.() ?? whole);
}

function credentialHeaders(world: World, request: FuzzRequest): Record<string, string> {
  const { acme, rival, disabled } = world;
  const pair = (c: Credentials) => ({ "x-api-key": c.apiKey, "x-api-secret": c.apiSecret });
  switch (request.credentials) {
    case "partner":
      return pair(acme.partner);
    case "rival":
      return pair(rival.partner);
    case "publishable":
      return { "x-api-key": acme.partner.apiKey };
    case "user":
      return { authorization: `Bearer ${acme.token}` };
    case "rivalUser":
      return { authorization: `Bearer ${rival.token}` };
    case "none":
      return {};
    case "wrongSecret":
      return { "x-api-key": acme.partner.apiKey, "x-api-secret": rival.partner.apiSecret };
    case "secretOnly":
      return { "x-api-secret": acme.partner.apiSecret };
    case "unknownKey":
      return { "x-api-key": `ifk_${"Z".repeat(24)}`, "x-api-secret": acme.partner.apiSecret };
    case "disabledPartner":
      return pair(disabled);
    case "partnerAndBearer":
      return { ...pair(acme.partner), authorization: `Bearer ${acme.token}` };
    case "junkAuthorization":
      return { authorization: request.authorization ?? "Bearer" };
  }
}

async function send(world: World, request: FuzzRequest): Promise<Outcome> {
  const path = fill(world, request.path);
  const query = fill(world, request.query);
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) headers.set(name, value);
  for (const [name, value] of Object.entries(credentialHeaders(world, request))) {
    headers.set(name, value);
  }
  const body = typeof request.body === "string" ? fill(world, request.body) : request.body;
  if (request.twilioSignature && request.twilioSignature !== "none") {
    const params = Object.fromEntries(new URLSearchParams(typeof body === "string" ? body : ""));
    const search = new URL(`http://localhost${path}${query}`).search;
    const signed = `${PublicBaseUrl}${TwilioStatusPath}${search}`;
    const signature =
      request.twilioSignature === "valid"
        ? getExpectedTwilioSignature(TwilioAuthToken, signed, params)
        : "c2lnbmF0dXJl";
    headers.set("x-twilio-signature", signature);
  }

  const response = await world.t.app.handle(
    new Request(`http://localhost${path}${query}`, { method: request.method, headers, body }),
  );
  const text = await response.text();
  // Some writes happen just after the answer (sign-in codes, wrong-guess counts, the log line).
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));

  const sentHeaders = [...headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
  const sentBody = typeof body === "string" ? body : body ? new TextDecoder().decode(body) : "";
  return {
    status: response.status,
    headers: response.headers,
    text,
    sentText: `${request.method} ${path}${query}\n${sentHeaders}\n\n${sentBody}`,
  };
}
