/**
 * A real HTTP fake of Twilio's Messages API and its status callbacks, for tests of the WhatsApp
 * sender (through the real twilio SDK) and of the compiled binary (TWILIO_API_BASE_URL=url).
 *
 *   const fake = startTwilioFake({ accountSid, authToken });
 *   fake.messages;                               // every accepted message, oldest first
 *   fake.failNext("opted_out");                  // the next message request only
 *   fake.failNext("server_error", 3);            // the next three
 *   const release = fake.holdNext();             // the next message request waits for release()
 *   fake.setClock(clock.now);                    // stamps messages with a test's clock
 *   fake.setMode("too_many_requests");           // every request, until setMode("ok")
 *   await fake.reportStatus(sid, "failed", { errorCode: "63016" });  // signed, to its callback
 *   await fake.sendStatusCallback(url, params, { via: app.handle });  // any signed callback
 *   await fake.stop();
 *
 * `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` checks Basic auth (account SID and
 * auth token; 401 code 20003 otherwise) and the form body (To and From as whatsapp:+E164, Body
 * or ContentSid, ContentVariables as a JSON object), then answers 201 with a Message resource:
 * a fresh "SM" + 32 hex sid and status "queued". Errors use Twilio's body
 * `{ code, message, more_info, status }`. Any other path answers Twilio's 404 (code 20404).
 *
 * `GET` on the same path lists the accepted messages as Twilio does: filters To, From and
 * DateSent (`DateSent>` is on or after, `DateSent<` on or before; a date alone means its whole
 * GMT day), newest `date_sent` first, `PageSize` (default 50, at most 1000) with Twilio's page
 * fields (`next_page_uri` carrying `Page` and a `PageToken`, `first_page_uri`, `start`...).
 * The fake hands every message on at once, so `date_sent` is when it was received and its
 * status "sent" (or the last one reportStatus sent). A lookup takes the next mode as a send
 * does (failNext("server_error") fails whichever request comes first) and answers it alike.
 *
 * For a test whose code runs in another process, the same state is reachable over HTTP:
 * - `GET /__fake/messages` -> `{ messages, requests, handling }`
 * - `POST /__fake/mode` `{ "mode": "opted_out", "times": 1 }` (no `times`: until changed)
 * - `POST /__fake/status` `{ "sid", "status", "error_code"?, "error_message"? }` posts the
 *   signed callback to the message's StatusCallback and answers `{ "callback_status": 204 }`
 * - `POST /__fake/reset` forgets messages and modes
 */
import { getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks";

export type TwilioFakeMode =
  | "ok"
  /** HTTP 429, code 20429. */
  | "too_many_requests"
  /** HTTP 400, code 63018: the WhatsApp sender's rate limit. */
  | "sender_rate_limited"
  /** HTTP 400, code 63016: free text outside the 24-hour window. */
  | "outside_window"
  /** HTTP 400, code 21610: the recipient replied STOP. */
  | "opted_out"
  /** HTTP 400, code 21211: the To number is not valid. */
  | "invalid_number"
  /** HTTP 500, code 20500. */
  | "server_error"
  /** HTTP 503, code 20503. */
  | "service_unavailable"
  /** The connection is dropped before an answer; nothing is recorded. */
  | "connection_reset"
  /** Answers as "ok" after `slowMs` (default 2 s): for client timeouts. */
  | "slow";

export interface FakeMessage {
  sid: string;
  to: string;
  from: string;
  body: string | null;
  contentSid: string | null;
  /** As received: a JSON string. */
  contentVariables: string | null;
  statusCallback: string | null;
  receivedAt: number;
  /** What a lookup shows: "sent" once received, then the last status reported for it. */
  status: string;
}

export interface FakeRequestRecord {
  method: string;
  /** Path and query as received. */
  path: string;
  /** 0 for a connection dropped without an answer. */
  status: number;
}

export interface TwilioFakeOptions {
  accountSid: string;
  authToken: string;
  slowMs?: number;
  /** The time messages are stamped with; Date.now unless a test's clock is given. */
  now?: () => number;
}

type Deliver = (request: Request) => Promise<Response> | Response;

export interface CallbackOptions {
  /** Hands the signed request to this (an app's `handle`) instead of fetching the URL. */
  via?: Deliver;
  /** Replaces the computed X-Twilio-Signature; null sends none. */
  signature?: string | null;
}

export interface TwilioFake {
  /** Base URL without a trailing slash: TWILIO_API_BASE_URL. */
  url: string;
  readonly messages: FakeMessage[];
  readonly requests: FakeRequestRecord[];
  /** Message requests received and not yet answered (a slow mode holds them). */
  readonly handling: number;
  setMode(mode: TwilioFakeMode): void;
  setClock(now: () => number): void;
  failNext(mode: TwilioFakeMode, times?: number): void;
  /**
   * The next message request is held until the returned function is called, then handled as
   * its mode says: carried out even if its sender is gone by then, as Twilio would.
   */
  holdNext(): () => void;
  reset(): void;
  /** POSTs `params` form-encoded to `url`, signed the way Twilio signs it. */
  sendStatusCallback(
    url: string,
    params: Record<string, string>,
    options?: CallbackOptions,
  ): Promise<Response>;
  /** A status callback for a recorded message, to the StatusCallback it was sent with. */
  reportStatus(
    sid: string,
    status: string,
    extra?: { errorCode?: string; errorMessage?: string; via?: Deliver },
  ): Promise<Response>;
  stop(): Promise<void>;
}

/** Twilio's answers for each failure mode; `to` is quoted the way Twilio quotes it. */
const Errors: Record<string, (to: string) => { status: number; code: number; message: string }> = {
  too_many_requests: () => ({ status: 429, code: 20429, message: "Too Many Requests" }),
  sender_rate_limited: () => ({
    status: 400,
    code: 63018,
    message: "Rate limit exceeded for Channel",
  }),
  outside_window: () => ({
    status: 400,
    code: 63016,
    message:
      "Failed to send freeform message because you are outside the allowed window. " +
      "If you are using WhatsApp, please use a Message Template.",
  }),
  opted_out: () => ({
    status: 400,
    code: 21610,
    message: "Attempt to send to unsubscribed recipient",
  }),
  invalid_number: (to) => ({
    status: 400,
    code: 21211,
    message: `The 'To' number ${to} is not a valid phone number.`,
  }),
  server_error: () => ({ status: 500, code: 20500, message: "Internal Server Error" }),
  service_unavailable: () => ({ status: 503, code: 20503, message: "Service Unavailable" }),
};

const Dropped = new WeakSet<Response>();

const WhatsAppAddress = /^whatsapp:\+[1-9][0-9]{6,14}$/;

export function startTwilioFake(options: TwilioFakeOptions): TwilioFake {
  const { accountSid, authToken } = options;
  const slowMs = options.slowMs ?? 2000;
  let now = options.now ?? Date.now;
  let handling = 0;
  const messages: FakeMessage[] = [];
  const requests: FakeRequestRecord[] = [];
  let standingMode: TwilioFakeMode = "ok";
  const queued: TwilioFakeMode[] = [];
  const holds: Promise<void>[] = [];

  function takeMode(): TwilioFakeMode {
    return queued.shift() ?? standingMode;
  }

  function twilioError(status: number, code: number, message: string): Response {
    const body = { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
    return Response.json(body, { status });
  }

  function authorized(request: Request): boolean {
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
    return request.headers.get("authorization") === expected;
  }

  async function createMessage(request: Request): Promise<Response> {
    if (!authorized(request)) return twilioError(401, 20003, "Authenticate");
    const contentType = request.headers.get("content-type") ?? "";
    if (!contentType.startsWith("application/x-www-form-urlencoded")) {
      return twilioError(400, 20001, "Content-Type must be application/x-www-form-urlencoded");
    }
    const form = new URLSearchParams(await request.text());

    handling += 1;
    try {
      return await acceptMessage(form);
    } finally {
      handling -= 1;
    }
  }

  async function acceptMessage(form: URLSearchParams): Promise<Response> {
    await holds.shift();
    const failed = await applyMode(form.get("To") ?? "");
    if (failed) return failed;

    const invalid = formProblem(form);
    if (invalid) return twilioError(400, invalid.code, invalid.message);

    const message: FakeMessage = {
      sid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
      to: form.get("To")!,
      from: form.get("From")!,
      body: form.get("Body"),
      contentSid: form.get("ContentSid"),
      contentVariables: form.get("ContentVariables"),
      statusCallback: form.get("StatusCallback"),
      receivedAt: now(),
      status: "sent",
    };
    messages.push(message);
    // The answer to a create is the message as Twilio first holds it: queued, not yet sent.
    return Response.json(messageResource(accountSid, { ...message, status: "queued" }), {
      status: 201,
    });
  }

  /** The mode's failure, if it has one; a slow mode waits and then lets the request through. */
  async function applyMode(to: string): Promise<Response | null> {
    const mode = takeMode();
    if (mode === "connection_reset") return droppedConnection();
    if (mode === "slow") await Bun.sleep(slowMs);
    const failure = Errors[mode]?.(to);
    return failure ? twilioError(failure.status, failure.code, failure.message) : null;
  }

  async function listMessages(url: URL, request: Request): Promise<Response> {
    if (!authorized(request)) return twilioError(401, 20003, "Authenticate");
    const query = url.searchParams;
    const failed = await applyMode(query.get("To") ?? "");
    if (failed) return failed;
    const filters = listFilters(query);
    if ("error" in filters) return twilioError(400, 20001, filters.error);
    const rawSize = query.get("PageSize");
    const pageSize = rawSize === null ? 50 : Number(rawSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      return twilioError(400, 20001, "PageSize must be between 1 and 1000");
    }
    const page = Number(query.get("Page") ?? "0");
    // Newest date_sent first; the same second in the order received, latest first.
    const matching = messages
      .map((message, index) => ({ message, index }))
      .filter(({ message }) => filters.test(message))
      .sort((a, b) => sentSecond(b.message) - sentSecond(a.message) || b.index - a.index)
      .map(({ message }) => message);
    // A token names the last message of the page before, so new messages do not shift pages.
    const token = query.get("PageToken");
    const after = token ? matching.findIndex((m) => `PA${m.sid}` === token) + 1 : 0;
    if (token && after === 0) return twilioError(400, 20001, "Invalid PageToken");
    const shown = matching.slice(after, after + pageSize);
    const pageUri = (pageNumber: number, pageToken?: string) => {
      const params = new URLSearchParams();
      for (const key of ["To", "From", "DateSent", "DateSent<", "DateSent>"]) {
        const value = query.get(key);
        if (value !== null) params.set(key, value);
      }
      params.set("PageSize", String(pageSize));
      params.set("Page", String(pageNumber));
      if (pageToken) params.set("PageToken", pageToken);
      return `${url.pathname}?${params}`;
    };
    const last = shown.at(-1);
    const more = after + shown.length < matching.length && last !== undefined;
    return Response.json({
      end: Math.max(after + shown.length - 1, 0),
      first_page_uri: pageUri(0),
      messages: shown.map((message) => messageResource(accountSid, message)),
      next_page_uri: more ? pageUri(page + 1, `PA${last.sid}`) : null,
      page,
      page_size: pageSize,
      previous_page_uri: page > 0 ? pageUri(page - 1) : null,
      start: after,
      uri: pageUri(page, token ?? undefined),
    });
  }

  async function control(request: Request, path: string): Promise<Response> {
    if (request.method === "GET" && path === "/__fake/messages") {
      return Response.json({ messages, requests, handling });
    }
    if (request.method === "POST" && path === "/__fake/mode") {
      const { mode, times } = (await request.json()) as { mode: TwilioFakeMode; times?: number };
      if (times === undefined) setMode(mode);
      else failNext(mode, times);
      return new Response(null, { status: 204 });
    }
    if (request.method === "POST" && path === "/__fake/status") {
      const input = (await request.json()) as {
        sid: string;
        status: string;
        error_code?: string;
        error_message?: string;
      };
      const response = await reportStatus(input.sid, input.status, {
        errorCode: input.error_code,
        errorMessage: input.error_message,
      });
      return Response.json({ callback_status: response.status });
    }
    if (request.method === "POST" && path === "/__fake/reset") {
      reset();
      return new Response(null, { status: 204 });
    }
    return twilioError(404, 20404, "The requested resource was not found");
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname.startsWith("/__fake/")) return control(request, url.pathname);

      const messagesPath = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
      const response =
        request.method === "POST" && url.pathname === messagesPath
          ? await createMessage(request)
          : request.method === "GET" && url.pathname === messagesPath
            ? await listMessages(url, request)
            : authorized(request)
              ? twilioError(404, 20404, `The requested resource ${url.pathname} was not found`)
              : twilioError(401, 20003, "Authenticate");
      requests.push({
        method: request.method,
        path: `${url.pathname}${url.search}`,
        status: Dropped.has(response) ? 0 : response.status,
      });
      return response;
    },
  });

  function setMode(mode: TwilioFakeMode) {
    standingMode = mode;
    queued.length = 0;
  }

  function failNext(mode: TwilioFakeMode, times = 1) {
    for (let i = 0; i < times; i += 1) queued.push(mode);
  }

  function reset() {
    messages.length = 0;
    requests.length = 0;
    holds.length = 0;
    setMode("ok");
  }

  async function sendStatusCallback(
    url: string,
    params: Record<string, string>,
    callbackOptions: CallbackOptions = {},
  ): Promise<Response> {
    const signature =
      callbackOptions.signature === undefined
        ? getExpectedTwilioSignature(authToken, url, params)
        : callbackOptions.signature;
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      "user-agent": "TwilioProxy/1.1",
    };
    if (signature !== null) headers["x-twilio-signature"] = signature;
    const request = new Request(url, {
      method: "POST",
      headers,
      body: new URLSearchParams(params).toString(),
    });
    return callbackOptions.via ? callbackOptions.via(request) : fetch(request);
  }

  async function reportStatus(
    sid: string,
    status: string,
    extra: { errorCode?: string; errorMessage?: string; via?: Deliver } = {},
  ): Promise<Response> {
    const message = messages.find((candidate) => candidate.sid === sid);
    if (!message?.statusCallback) throw new Error(`no message ${sid} with a StatusCallback`);
    message.status = status;
    // Roughly what Twilio posts for a WhatsApp message; the set varies and grows over time.
    const params: Record<string, string> = {
      AccountSid: accountSid,
      ApiVersion: "2010-04-01",
      ChannelPrefix: "whatsapp",
      ChannelToAddress: message.to.replace(/^whatsapp:/, ""),
      From: message.from,
      MessageSid: sid,
      MessageStatus: status,
      SmsSid: sid,
      SmsStatus: status,
      StructuredMessage: "false",
      To: message.to,
    };
    if (extra.errorCode) params.ErrorCode = extra.errorCode;
    if (extra.errorMessage) params.ErrorMessage = extra.errorMessage;
    return sendStatusCallback(message.statusCallback, params, { via: extra.via });
  }

  return {
    url: `http://127.0.0.1:${server.port}`,
    messages,
    requests,
    get handling() {
      return handling;
    },
    setMode,
    setClock(clock: () => number) {
      now = clock;
    },
    failNext,
    holdNext() {
      const { promise, resolve } = Promise.withResolvers<void>();
      holds.push(promise);
      return resolve;
    },
    reset,
    sendStatusCallback,
    reportStatus,
    async stop() {
      await server.stop(true);
    },
  };
}

function formProblem(form: URLSearchParams): { code: number; message: string } | null {
  const to = form.get("To") ?? "";
  if (!WhatsAppAddress.test(to)) {
    return { code: 21211, message: `Invalid 'To' Phone Number: ${to}` };
  }
  if (!WhatsAppAddress.test(form.get("From") ?? "")) {
    return { code: 21212, message: "Invalid 'From' Phone Number" };
  }
  const contentSid = form.get("ContentSid");
  if (!contentSid && !form.get("Body")) {
    return { code: 21619, message: "A text message body or media urls must be specified." };
  }
  const variables = form.get("ContentVariables");
  if (variables !== null && !validVariables(variables)) {
    return { code: 21656, message: "The ContentVariables Parameter is invalid." };
  }
  return null;
}

/** A JSON object of non-empty strings, which is what Twilio accepts. */
function validVariables(raw: string): boolean {
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return false;
    return Object.values(parsed).every((value) => typeof value === "string" && value !== "");
  } catch {
    return false;
  }
}

const rfc2822 = (ms: number) => new Date(ms).toUTCString().replace("GMT", "+0000");

/** Twilio keeps times to the second. */
const sentSecond = (message: FakeMessage) => Math.floor(message.receivedAt / 1000) * 1000;

interface ListFilters {
  test(message: FakeMessage): boolean;
}

/**
 * To and From as given (with the "whatsapp:" prefix for WhatsApp), and the DateSent family: a
 * date-time compares to the second, a date alone stands for its whole GMT day.
 */
function listFilters(query: URLSearchParams): ListFilters | { error: string } {
  const checks: ((message: FakeMessage) => boolean)[] = [];
  const to = query.get("To");
  if (to !== null) checks.push((message) => message.to === to);
  const from = query.get("From");
  if (from !== null) checks.push((message) => message.from === from);
  const bounds: [string, (sent: number, start: number, end: number) => boolean][] = [
    ["DateSent", (sent, start, end) => sent >= start && sent <= end],
    ["DateSent>", (sent, start) => sent >= start],
    ["DateSent<", (sent, _start, end) => sent <= end],
  ];
  for (const [key, within] of bounds) {
    const raw = query.get(key);
    if (raw === null) continue;
    const range = dateRange(raw);
    if (!range) return { error: `Invalid ${key}: ${raw}` };
    checks.push((message) => within(sentSecond(message), range.start, range.end));
  }
  return { test: (message) => checks.every((check) => check(message)) };
}

function dateRange(raw: string): { start: number; end: number } | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    const start = Date.parse(`${raw}T00:00:00Z`);
    return Number.isNaN(start) ? null : { start, end: start + 86_399_000 };
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(raw)) return null;
  const at = Math.floor(Date.parse(raw) / 1000) * 1000;
  return Number.isNaN(at) ? null : { start: at, end: at };
}

function messageResource(accountSid: string, message: FakeMessage) {
  const created = rfc2822(message.receivedAt);
  const queued = message.status === "queued";
  return {
    account_sid: accountSid,
    api_version: "2010-04-01",
    body: message.body ?? "",
    date_created: created,
    date_sent: queued ? null : created,
    date_updated: created,
    direction: "outbound-api",
    error_code: null,
    error_message: null,
    from: message.from,
    messaging_service_sid: null,
    num_media: "0",
    num_segments: "1",
    price: null,
    price_unit: null,
    sid: message.sid,
    status: message.status,
    subresource_uris: {
      media: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}/Media.json`,
    },
    to: message.to,
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}.json`,
  };
}

/**
 * Bun.serve gives no handle on the socket; a body stream that fails before its first byte
 * makes Bun abort the connection, which the client sees as ECONNRESET. Throwing undefined
 * rather than an Error keeps Bun from printing a stack trace for it.
 */
function droppedConnection(): Response {
  const body = new ReadableStream({
    type: "direct",
    pull() {
      throw undefined;
    },
  });
  const response = new Response(body, { status: 201 });
  Dropped.add(response);
  return response;
}
