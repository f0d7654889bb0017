/**
 * A partner's webhook endpoint on a real socket, verifying every delivery the way a Standard
 * Webhooks library does, for tests of the sender and of the compiled binary.
 *
 *   const receiver = startWebhookReceiver({ secret, now: () => clock.now() });
 *   receiver.url;                          // http://127.0.0.1:<port>/hooks
 *   receiver.deliveries;                   // every POST, verified or not, in order
 *   receiver.accepted;                     // verified ones it answered 2xx
 *   receiver.answer("500", { times: 2 });  // the next two answer 500, then back to 200
 *   receiver.answer("slow", { delayMs: 300 });
 *   receiver.answer("redirect", { location: other.url });
 *   receiver.answer("410");
 *   receiver.setSecret(rotated);
 *   await receiver.waitFor(3);             // until three deliveries have arrived
 *   await receiver.stop();
 *
 * Verification, in this order (a failure answers 401 and is recorded with its `problem`):
 * 1. `webhook-id`, `webhook-timestamp` and `webhook-signature` are all present.
 * 2. The timestamp is integer unix seconds within `toleranceSeconds` (default 300) of `now`.
 * 3. Some `v1,<base64>` entry of the space-separated signature equals base64 HMAC-SHA256,
 *    keyed with the base64-decoded secret after `whsec_`, over `id.timestamp.rawBody`.
 * The signature is recomputed here with node:crypto, independently of the service's code, so a
 * signing bug fails the test. A repeated `webhook-id` is not refused (that is the partner's
 * dedupe, and the tests want to see retries); it is marked `repeat: true`.
 *
 * Without a secret nothing is verified (`verified: null`) and every request is answered.
 * For another process the same state is on HTTP: GET /__receiver/deliveries, POST
 * /__receiver/answer `{ mode, times?, delayMs?, location? }`, POST /__receiver/secret
 * `{ secret }`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type ReceiverMode = "ok" | "500" | "503" | "410" | "slow" | "redirect" | "bad-signature";

export interface ReceiverAnswerOptions {
  /** Applies to this many deliveries, then back to "ok". */
  times?: number;
  /** "slow": how long to wait before answering 200. */
  delayMs?: number;
  /** "redirect": where the 302 points. */
  location?: string;
  /** A body for the error answers (a long one tests the excerpt's limit). */
  body?: string;
}

export interface ReceivedDelivery {
  id: string | null;
  timestamp: string | null;
  signature: string | null;
  userAgent: string | null;
  contentType: string | null;
  host: string | null;
  path: string;
  rawBody: string;
  /** The parsed body, when it parsed. */
  event: { id: string; type: string; created_at: string; data: any } | null;
  /** null: no secret was set, so nothing was checked. */
  verified: boolean | null;
  problem?: string;
  /** Another delivery with this webhook-id arrived before. */
  repeat: boolean;
  /** What the receiver answered; null while a slow answer is pending. */
  status: number | null;
  /** Epoch ms by the real clock. */
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  readonly deliveries: ReceivedDelivery[];
  /** Verified deliveries answered 2xx, in order. */
  readonly accepted: ReceivedDelivery[];
  answer(mode: ReceiverMode, options?: ReceiverAnswerOptions): void;
  setSecret(secret: string | null): void;
  /** Resolves once `count` deliveries have arrived (answered or not yet). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  reset(): void;
  stop(): Promise<void>;
}

export interface ReceiverOptions {
  secret?: string | null;
  /** The clock the timestamp is checked against; the sender's clock in tests. */
  now?: () => number;
  toleranceSeconds?: number;
  port?: number;
  path?: string;
  /** Serve https with this certificate (PEM); `url` then starts with https://127.0.0.1. */
  tls?: { cert: string; key: string };
}

interface ActiveAnswer extends ReceiverAnswerOptions {
  mode: ReceiverMode;
  remaining: number;
}

export function verifyStandardWebhook(
  secret: string,
  headers: { id: string | null; timestamp: string | null; signature: string | null },
  rawBody: string,
  nowMs: number,
  toleranceSeconds = 300,
): string | null {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return "missing webhook-* header";
  if (!/^\d+$/.test(timestamp)) return "timestamp is not unix seconds";
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) {
    return "timestamp outside tolerance";
  }
  if (!secret.startsWith("whsec_")) return "secret without whsec_ prefix";
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${rawBody}`).digest();
  for (const entry of signature.split(" ")) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) continue;
    const given = Buffer.from(value, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return null;
  }
  return "no matching v1 signature";
}

export function startWebhookReceiver(options: ReceiverOptions = {}): WebhookReceiver {
  let secret = options.secret ?? null;
  const now = options.now ?? Date.now;
  const tolerance = options.toleranceSeconds ?? 300;
  const path = options.path ?? "/hooks";
  const deliveries: ReceivedDelivery[] = [];
  const seen = new Set<string>();
  const waiters = new Set<() => void>();
  let active: ActiveAnswer | null = null;

  function take(): ActiveAnswer | null {
    const current = active;
    if (!current) return null;
    current.remaining -= 1;
    if (current.remaining <= 0) active = null;
    return current;
  }

  function answer(mode: ReceiverMode, answerOptions: ReceiverAnswerOptions = {}) {
    active =
      mode === "ok" ? null : { ...answerOptions, mode, remaining: answerOptions.times ?? Infinity };
  }

  async function respond(record: ReceivedDelivery, mode: ActiveAnswer | null): Promise<Response> {
    if (record.verified === false || mode?.mode === "bad-signature") {
      return new Response("invalid signature", { status: 401 });
    }
    switch (mode?.mode) {
      case "500":
      case "503":
      case "410":
        return new Response(mode.body ?? `answered ${mode.mode}`, { status: Number(mode.mode) });
      case "redirect":
        return new Response(null, {
          status: 302,
          headers: { location: mode.location ?? "http://127.0.0.1:9/elsewhere" },
        });
      case "slow":
        await Bun.sleep(mode.delayMs ?? 20_000);
        return new Response("ok, eventually", { status: 200 });
      default:
        return new Response(JSON.stringify({ received: true }), {
          status: 200,
          headers: { "content-type": "application/json" },
        });
    }
  }

  async function receive(request: Request): Promise<Response> {
    const rawBody = await request.text();
    const headers = {
      id: request.headers.get("webhook-id"),
      timestamp: request.headers.get("webhook-timestamp"),
      signature: request.headers.get("webhook-signature"),
    };
    let event: ReceivedDelivery["event"] = null;
    try {
      event = JSON.parse(rawBody);
    } catch {
      event = null;
    }
    const problem = secret
      ? verifyStandardWebhook(secret, headers, rawBody, now(), tolerance)
      : null;
    const record: ReceivedDelivery = {
      ...headers,
      userAgent: request.headers.get("user-agent"),
      contentType: request.headers.get("content-type"),
      host: request.headers.get("host"),
      path: new URL(request.url).pathname,
      rawBody,
      event,
      verified: secret ? problem === null : null,
      ...(problem ? { problem } : {}),
      repeat: headers.id !== null && seen.has(headers.id),
      status: null,
      receivedAt: Date.now(),
    };
    if (headers.id) seen.add(headers.id);
    deliveries.push(record);
    for (const wake of waiters) wake();
    const response = await respond(record, take());
    record.status = response.status;
    for (const wake of waiters) wake();
    return response;
  }

  async function control(request: Request, url: URL): Promise<Response> {
    if (url.pathname === "/__receiver/deliveries") return Response.json(deliveries);
    if (url.pathname === "/__receiver/answer" && request.method === "POST") {
      const body = (await request.json()) as ReceiverAnswerOptions & { mode: ReceiverMode };
      answer(body.mode, body);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/__receiver/secret" && request.method === "POST") {
      secret = ((await request.json()) as { secret: string | null }).secret;
      return Response.json({ ok: true });
    }
    return new Response("not found", { status: 404 });
  }

  const server = Bun.serve({
    port: options.port ?? 0,
    hostname: "127.0.0.1",
    // A slow answer must outlast the sender's timeout, not Bun's idle limit.
    idleTimeout: 0,
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname.startsWith("/__receiver/")) return control(request, url);
      if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
      return receive(request);
    },
  });

  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${server.port}${path}`,
    port: server.port!,
    deliveries,
    get accepted() {
      return deliveries.filter(
        (d) => d.verified !== false && d.status !== null && d.status >= 200 && d.status < 300,
      );
    },
    answer,
    setSecret(next) {
      secret = next;
    },
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (deliveries.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(deliveries);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`only ${deliveries.length} of ${count} deliveries within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reset() {
      deliveries.length = 0;
      seen.clear();
      active = null;
    },
    async stop() {
      await server.stop(true);
    },
  };
}

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 0);
  const receiver = startWebhookReceiver({ port, secret: process.argv[3] ?? null });
  console.log(JSON.stringify({ url: receiver.url }));
}
