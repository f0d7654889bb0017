/**
 * A real HTTP fake of Resend's `POST /emails`, for tests of the e-mail sender and for crash and
 * outage tests of the compiled binary (point RESEND_BASE_URL at `url`, RESEND_API_KEY at
 * `apiKey`).
 *
 *   const fake = startResendFake({ apiKey: "re_test_key" });
 *   fake.delivered;                          // e-mails accepted, one per idempotency key
 *   fake.requests;                           // every request to /emails, refused ones too
 *   fake.failNext(2, 503, "internal_server_error");  // the next two answer that error
 *   fake.setMode("429", { retryAfterSeconds: 3 });   // until changed; `times` makes it lapse
 *   fake.setMode("reset-connection", { afterAccept: true, times: 1 }); // e-mail kept, answer lost
 *   fake.setMode("slow", { delayMs: 500 });
 *   fake.setRateLimit(5);                    // 429 when closer than 200 ms to the last accepted
 *   fake.reset();                            // forget deliveries, requests, keys and modes
 *   await fake.stop();
 *
 * `POST /emails` behaves as Resend does, in this order:
 * 1. `Authorization: Bearer <apiKey>`: absent → 401 missing_api_key, wrong → 403
 *    invalid_api_key.
 * 2. The rate limit, if set: 429 rate_limit_exceeded with retry-after and ratelimit-* headers.
 * 3. failNext, then the mode: "429" (rate_limit_exceeded with retry-after, default 1 s),
 *    "500" (JSON internal_server_error), "503" (an HTML page, as a load balancer sends),
 *    "reset-connection" (the socket closes with no answer; with `afterAccept` the e-mail is
 *    accepted first), "slow" (waits `delayMs`, default 5 s, then goes on as "ok").
 * 4. Idempotency-Key (1-256 characters, else 400 invalid_idempotency_key): while the first
 *    request with a key is still being handled → 409 concurrent_idempotent_requests; after it
 *    was accepted, the same body → 200 with the same id and no second delivery, a different
 *    body → 409 invalid_idempotent_request. Refused requests do not claim their key.
 * 5. The body: not JSON → 400 validation_error; from, to, subject missing or empty → 422
 *    missing_required_field; a malformed from or to address → 422 validation_error.
 * 6. 200 `{ "id": "<uuid>" }`, and the e-mail joins `delivered`.
 * Errors are Resend's `{ statusCode, name, message }`. Other paths → 404 not_found, other
 * methods on /emails → 405 method_not_allowed.
 *
 * For a test that drives the binary from another process, the same state is on HTTP (no
 * credentials): GET /__fake/deliveries, GET /__fake/requests, POST /__fake/mode
 * `{ mode, times?, retryAfterSeconds?, delayMs?, afterAccept? }`, POST /__fake/fail-next
 * `{ times, status, name, message? }`, POST /__fake/rate-limit `{ perSecond }` (null turns it
 * off), POST /__fake/reset. `bun tests/fakes/resend-fake.ts [port] [apiKey]` runs it on its own
 * and prints `{"url":...,"apiKey":...}`.
 */

export type ResendFakeMode = "ok" | "429" | "500" | "503" | "reset-connection" | "slow";

export interface ResendFakeModeOptions {
  /** Applies to this many /emails requests, then lapses to "ok". */
  times?: number;
  /** "429": the retry-after header, in seconds; null leaves it out. */
  retryAfterSeconds?: number | null;
  /** "slow": how long to wait before answering. */
  delayMs?: number;
  /** "reset-connection": accept and record the e-mail, then drop the answer. */
  afterAccept?: boolean;
}

export interface ResendDelivery {
  id: string;
  idempotencyKey: string | null;
  from: string;
  to: string | string[];
  subject: string;
  html?: string;
  text?: string;
  reply_to?: string | string[];
  /** Epoch milliseconds. */
  receivedAt: number;
}

export interface ResendFakeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** How the Authorization header compared; its value is never kept. */
  auth: "ok" | "missing" | "wrong";
  userAgent: string | null;
  contentType: string | null;
  /** The parsed JSON body, when it parsed. */
  body?: unknown;
  /** null: the connection was closed without an answer. */
  status: number | null;
  /** The error name, for refused requests. */
  errorName?: string;
  /** Epoch milliseconds. */
  receivedAt: number;
}

export interface ResendFakeOptions {
  apiKey?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

export interface ResendFake {
  /** Base URL without a trailing slash: RESEND_BASE_URL. */
  url: string;
  apiKey: string;
  readonly delivered: ResendDelivery[];
  readonly requests: ResendFakeRequest[];
  /** The next `times` requests to /emails answer `status` with Resend's body for `name`. */
  failNext(times: number, status: number, name: string, message?: string): void;
  setMode(mode: ResendFakeMode, options?: ResendFakeModeOptions): void;
  /** Refuse requests closer than 1/perSecond s (less `toleranceMs`) to the last accepted one. */
  setRateLimit(perSecond: number | null, options?: { toleranceMs?: number }): void;
  reset(): void;
  stop(): Promise<void>;
}

interface ActiveMode extends ResendFakeModeOptions {
  mode: ResendFakeMode;
  remaining: number;
}

interface FailNext {
  remaining: number;
  status: number;
  name: string;
  message: string;
}

interface StoredKey {
  body: string;
  id: string;
}

const AddressPattern = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const NamedAddressPattern = /^[^<>]*<([^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)>$/;
const MaxRecipients = 50;

const Messages: Record<string, string> = {
  missing_api_key: "Missing API key in the authorization header.",
  invalid_api_key: "API key is invalid",
  rate_limit_exceeded:
    "Too many requests. You can only make 2 requests per second. See rate limit response " +
    "headers for more information. Or contact support to increase rate limit.",
  daily_quota_exceeded: "You have reached your daily email sending quota.",
  internal_server_error: "An unexpected error occurred.",
  invalid_idempotency_key: "The key must be between 1-256 chars.",
  invalid_idempotent_request: "Same idempotency key used with a different request payload.",
  concurrent_idempotent_requests:
    "Same idempotency key used while original request is still in progress.",
  not_found: "The requested endpoint does not exist.",
  method_not_allowed: "Method is not allowed for the requested path.",
};

export function startResendFake(options: ResendFakeOptions = {}): ResendFake {
  const apiKey = options.apiKey ?? "re_test_fake_key_0123456789";
  const delivered: ResendDelivery[] = [];
  const requests: ResendFakeRequest[] = [];
  const keys = new Map<string, StoredKey>();
  const inFlight = new Set<string>();
  let mode: ActiveMode | null = null;
  let failures: FailNext | null = null;
  let rateLimit: { intervalMs: number; toleranceMs: number } | null = null;
  let lastAcceptedAt = Number.NEGATIVE_INFINITY;

  function failNext(times: number, status: number, name: string, message?: string) {
    failures = { remaining: times, status, name, message: message ?? Messages[name] ?? name };
  }

  function setMode(next: ResendFakeMode, modeOptions: ResendFakeModeOptions = {}) {
    mode =
      next === "ok"
        ? null
        : { ...modeOptions, mode: next, remaining: modeOptions.times ?? Infinity };
  }

  function setRateLimit(perSecond: number | null, limitOptions: { toleranceMs?: number } = {}) {
    // A few milliseconds of slack: a sender spaced exactly right still reaches the socket with
    // a little jitter, and the point is to catch bursts, not to fail on a millisecond.
    rateLimit =
      perSecond === null
        ? null
        : { intervalMs: 1000 / perSecond, toleranceMs: limitOptions.toleranceMs ?? 5 };
    lastAcceptedAt = Number.NEGATIVE_INFINITY;
  }

  function reset() {
    delivered.length = 0;
    requests.length = 0;
    keys.clear();
    inFlight.clear();
    mode = null;
    failures = null;
    rateLimit = null;
    lastAcceptedAt = Number.NEGATIVE_INFINITY;
  }

  function takeFailure(): FailNext | null {
    const current = failures;
    if (!current) return null;
    current.remaining -= 1;
    if (current.remaining <= 0) failures = null;
    return current;
  }

  function takeMode(): ActiveMode | null {
    const current = mode;
    if (!current) return null;
    current.remaining -= 1;
    if (current.remaining <= 0) mode = null;
    return current;
  }

  function refuse(record: ResendFakeRequest, status: number, name: string, message?: string) {
    record.status = status;
    record.errorName = name;
    return resendError(status, name, message ?? Messages[name] ?? name);
  }

  function rateLimited(record: ResendFakeRequest): Response | null {
    if (!rateLimit) return null;
    const now = performance.now();
    if (now - lastAcceptedAt < rateLimit.intervalMs - rateLimit.toleranceMs) {
      const perSecond = String(Math.round(1000 / rateLimit.intervalMs));
      const message = Messages.rate_limit_exceeded!.replace("2 requests", `${perSecond} requests`);
      const response = refuse(record, 429, "rate_limit_exceeded", message);
      response.headers.set("retry-after", "1");
      response.headers.set("ratelimit-limit", perSecond);
      response.headers.set("ratelimit-remaining", "0");
      response.headers.set("ratelimit-reset", "1");
      return response;
    }
    lastAcceptedAt = now;
    return null;
  }

  function modeResponse(active: ActiveMode, record: ResendFakeRequest): Response | null {
    if (active.mode === "429") {
      const response = refuse(record, 429, "rate_limit_exceeded");
      const retryAfter = active.retryAfterSeconds === undefined ? 1 : active.retryAfterSeconds;
      if (retryAfter !== null) response.headers.set("retry-after", String(retryAfter));
      return response;
    }
    if (active.mode === "500") return refuse(record, 500, "internal_server_error");
    if (active.mode === "503") {
      record.status = 503;
      return new Response("<html><body><h1>503 Service Unavailable</h1></body></html>", {
        status: 503,
        headers: { "content-type": "text/html" },
      });
    }
    if (active.mode === "reset-connection" && !active.afterAccept) {
      record.status = null;
      return droppedConnection();
    }
    return null;
  }

  async function handleEmail(request: Request, record: ResendFakeRequest): Promise<Response> {
    const bearer = /^Bearer (.*)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    record.auth = !bearer ? "missing" : bearer === apiKey ? "ok" : "wrong";
    if (record.auth === "missing") return refuse(record, 401, "missing_api_key");
    if (record.auth === "wrong") return refuse(record, 403, "invalid_api_key");

    const limited = rateLimited(record);
    if (limited) return limited;

    const failure = takeFailure();
    if (failure) return refuse(record, failure.status, failure.name, failure.message);
    const active = takeMode();
    const early = active && modeResponse(active, record);
    if (early) return early;

    const raw = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(raw);
      record.body = body;
    } catch {
      return refuse(record, 400, "validation_error", "Invalid JSON body.");
    }

    const key = record.idempotencyKey;
    if (key !== null && (key.length === 0 || key.length > 256)) {
      return refuse(record, 400, "invalid_idempotency_key");
    }
    if (key !== null && inFlight.has(key)) {
      return refuse(record, 409, "concurrent_idempotent_requests");
    }
    const stored = key === null ? undefined : keys.get(key);
    if (stored) {
      if (stored.body !== canonical(body)) return refuse(record, 409, "invalid_idempotent_request");
      record.status = 200;
      return Response.json({ id: stored.id });
    }

    if (key !== null) inFlight.add(key);
    try {
      if (active?.mode === "slow") await Bun.sleep(active.delayMs ?? 5000);
      const invalid = validate(body);
      if (invalid) return refuse(record, 422, invalid.name, invalid.message);

      const email = body as Record<string, unknown>;
      const id = crypto.randomUUID();
      delivered.push({
        id,
        idempotencyKey: key,
        from: email.from as string,
        to: email.to as string | string[],
        subject: email.subject as string,
        ...(typeof email.html === "string" && { html: email.html }),
        ...(typeof email.text === "string" && { text: email.text }),
        ...(email.reply_to !== undefined && { reply_to: email.reply_to as string | string[] }),
        receivedAt: record.receivedAt,
      });
      if (key !== null) keys.set(key, { body: canonical(body), id });

      if (active?.mode === "reset-connection") {
        record.status = null;
        return droppedConnection();
      }
      record.status = 200;
      return Response.json({ id });
    } finally {
      if (key !== null) inFlight.delete(key);
    }
  }

  async function handleControl(request: Request, path: string): Promise<Response> {
    if (request.method === "GET" && path === "/__fake/deliveries") return Response.json(delivered);
    if (request.method === "GET" && path === "/__fake/requests") return Response.json(requests);
    if (request.method !== "POST") return resendError(405, "method_not_allowed");

    const input = (await request.json().catch(() => ({}))) as Record<string, unknown>;
    if (path === "/__fake/mode") {
      const { mode: next, ...modeOptions } = input as { mode?: ResendFakeMode };
      setMode(next ?? "ok", modeOptions as ResendFakeModeOptions);
    } else if (path === "/__fake/fail-next") {
      const failure = input as { times?: number; status?: number; name?: string; message?: string };
      failNext(
        failure.times ?? 1,
        failure.status ?? 500,
        failure.name ?? "internal_server_error",
        failure.message,
      );
    } else if (path === "/__fake/rate-limit") {
      setRateLimit((input.perSecond as number | null | undefined) ?? null, input);
    } else if (path === "/__fake/reset") {
      reset();
    } else {
      return resendError(404, "not_found");
    }
    return Response.json({ ok: true });
  }

  const server = Bun.serve({
    port: options.port ?? 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path.startsWith("/__fake/")) return handleControl(request, path);

      const record: ResendFakeRequest = {
        method: request.method,
        path,
        idempotencyKey: request.headers.get("idempotency-key"),
        auth: "missing",
        userAgent: request.headers.get("user-agent"),
        contentType: request.headers.get("content-type"),
        status: 0,
        receivedAt: Date.now(),
      };
      requests.push(record);
      if (path !== "/emails") return refuse(record, 404, "not_found");
      if (request.method !== "POST") return refuse(record, 405, "method_not_allowed");
      return handleEmail(request, record);
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    apiKey,
    delivered,
    requests,
    failNext,
    setMode,
    setRateLimit,
    reset,
    stop: () => server.stop(true),
  };
}

function resendError(statusCode: number, name: string, message = Messages[name] ?? name) {
  return Response.json({ statusCode, message, name }, { status: statusCode });
}

/**
 * A body whose stream fails before its first byte makes Bun close the socket without writing
 * a status line: the client sees ECONNRESET, as with a crashed proxy. `error()` with no reason
 * keeps Bun from printing a stack trace for it.
 */
function droppedConnection(): Response {
  return new Response(
    new ReadableStream({
      pull(controller) {
        controller.error();
      },
    }),
  );
}

function validate(body: unknown): { name: string; message: string } | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { name: "validation_error", message: "The request body must be a JSON object." };
  }
  const email = body as Record<string, unknown>;
  for (const field of ["from", "to", "subject"]) {
    const value = email[field];
    if (value === undefined || value === null || value === "" || isEmptyArray(value)) {
      return { name: "missing_required_field", message: `Missing \`${field}\` field.` };
    }
  }
  if (typeof email.from !== "string" || !isAddress(email.from)) {
    return {
      name: "validation_error",
      message:
        "Invalid `from` field. The email address needs to follow the " +
        "`email@example.com` or `Name <email@example.com>` format.",
    };
  }
  const to = Array.isArray(email.to) ? email.to : [email.to];
  if (to.length > MaxRecipients || !to.every((r) => typeof r === "string" && isAddress(r))) {
    return {
      name: "validation_error",
      message:
        "Invalid `to` field. The email address needs to follow the " +
        "`email@example.com` or `Name <email@example.com>` format.",
    };
  }
  if (typeof email.subject !== "string") {
    return { name: "validation_error", message: "Invalid `subject` field." };
  }
  if (typeof email.html !== "string" && typeof email.text !== "string") {
    return { name: "validation_error", message: "Either `html` or `text` must be provided." };
  }
  return null;
}

function isEmptyArray(value: unknown) {
  return Array.isArray(value) && value.length === 0;
}

function isAddress(value: string) {
  const trimmed = value.trim();
  return AddressPattern.test(trimmed) || NamedAddressPattern.test(trimmed);
}

/** JSON with sorted keys, so a replay with the same fields in another order still matches. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

if (import.meta.main) {
  const [port, apiKey] = process.argv.slice(2);
  const fake = startResendFake({
    port: port ? Number(port) : 0,
    ...(apiKey ? { apiKey } : {}),
  });
  console.log(JSON.stringify({ url: fake.url, apiKey: fake.apiKey }));
}
