/**
 * A real HTTP fake of the USCIS Torch Case Status API, for tests of the client and for
 * end-to-end tests of the compiled binary (point USCIS_API_BASE_URL at `url` and
 * USCIS_TOKEN_URL at `tokenUrl`, with USCIS_MODE=sandbox).
 *
 *   const fake = startTorchFake({ clientId: "id", clientSecret: "secret" });
 *   fake.setCase("EAC9999103403", observation);          // or a raw Torch JSON body
 *   fake.setMode("sandbox_closed");                      // every case call, until changed
 *   fake.setMode("unauthorized", { times: 1 });           // the next call only
 *   fake.setMode("not_found", { receipt: "EAC9999103403" }); // one receipt only
 *   fake.setSpikeArrest(5);                              // 429 if closer than 200 ms apart
 *   fake.refuseCredentials(); fake.expireTokens();       // token endpoint behaviour
 *   fake.requests.token; fake.requests.caseStatus;       // counts, plus fake.requests.log
 *   await fake.stop();
 *
 * Endpoints:
 * - `POST /oauth/accesstoken`: checks the form body (grant_type=client_credentials, client_id,
 *   client_secret) and answers an Apigee-like token object whose `expires_in` is a string.
 *   Refused credentials get 401 with an Apigee error body.
 * - `GET /case-status/:receipt`: needs `Authorization: Bearer <issued token>` (401 with the
 *   documented body otherwise), then applies the mode for that receipt, else the global mode;
 *   in "ok" mode it answers the configured case, 404 (documented body) for an unknown receipt
 *   and 422 for a malformed one, as Torch does.
 *
 * A per-receipt mode wins over the global one. `times` makes a mode apply that many case calls
 * and then lapse. Modes: see TorchFakeMode below.
 */
import { type Clock, systemClock } from "../../src/clock.ts";
import { TorchErrorBodies, toTorchBody } from "../../src/uscis/torch-wire.ts";
import type { Observation } from "../../src/uscis/types.ts";

export type TorchFakeMode =
  /** The configured case, or 404/422 as Torch would answer. */
  | "ok"
  /** 401 `{"code":401,"message":"Invalid Access Token"}` even with a good token. */
  | "unauthorized"
  /** 404 with the documented body, whatever the receipt. */
  | "not_found"
  /** 422 with the documented body. */
  | "invalid_receipt"
  /** 429 "Spike Arrest Violation" on every call (see setSpikeArrest for the real behaviour). */
  | "spike_arrest"
  /** 503 `{"code":503,"message":"Service Unavailable"}`. */
  | "service_unavailable"
  /** The live sandbox's closed-hours 503: leading whitespace, `{"error":{"code":"503",...}}`. */
  | "sandbox_closed"
  /** An HTML page (status 200 unless `status` is given), as a proxy or maintenance page. */
  | "html"
  /** A 200 whose body is cut-off JSON. */
  | "invalid_json"
  /** A 200 JSON body without receiptNumber / current_case_status_text_en. */
  | "missing_fields"
  /** `{"errors":[{code,message,traceId}]}` (status 400 unless `status` is given). */
  | "errors_array"
  /** Apigee's `{"fault":{"faultstring":...}}` (status 500 unless `status` is given). */
  | "fault"
  /** Undocumented statuses with a small JSON body. */
  | "bad_request"
  | "forbidden"
  | "server_error"
  /** Waits `delayMs` (default 5 s) and then answers as in "ok": for client timeouts. */
  | "slow";

export interface ModeOptions {
  /** Only this receipt; otherwise every case call. */
  receipt?: string;
  /** Applies to this many case calls, then lapses. */
  times?: number;
  /** Overrides the HTTP status for the html, errors_array and fault modes. */
  status?: number;
  /** For "slow". */
  delayMs?: number;
  /** For "spike_arrest": sent as Retry-After, in seconds. */
  retryAfterSeconds?: number;
}

export interface FakeRequest {
  kind: "token" | "case_status" | "other";
  method: string;
  /** As received, still percent-encoded. */
  path: string;
  query: string;
  receipt?: string;
  authorization?: string | null;
  accept?: string | null;
  /** The token request's form fields, as received. */
  form?: Record<string, string>;
  contentType?: string | null;
  status: number;
  at: number;
}

export interface TorchFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** Seconds in `expires_in`; 1799 like Apigee. */
  tokenLifetimeSeconds?: number;
  /** Apigee sends `expires_in` as a string; "number" tries the other shape. */
  expiresInType?: "string" | "number";
  /** Decides token expiry, so a test can age tokens without waiting. */
  clock?: Clock;
  cases?: Record<string, Observation | object>;
}

export interface TorchFake {
  /** Base URL without a trailing slash: USCIS_API_BASE_URL. */
  url: string;
  /** USCIS_TOKEN_URL. */
  tokenUrl: string;
  stop(): Promise<void>;
  setCase(receipt: string, bodyOrObservation: Observation | object): void;
  removeCase(receipt: string): void;
  setMode(mode: TorchFakeMode, options?: ModeOptions): void;
  /** Back to "ok" everywhere. */
  clearModes(): void;
  /** Refuse requests closer than 1/perSecond to the previous accepted one; null turns it off. */
  setSpikeArrest(perSecond: number | null): void;
  /** Make the token endpoint answer 401 (true) or accept the right credentials again (false). */
  refuseCredentials(refuse?: boolean): void;
  /** Forget every issued token, so the next case call gets 401. */
  expireTokens(): void;
  setTokenLifetime(seconds: number): void;
  readonly requests: { token: number; caseStatus: number; log: FakeRequest[] };
  resetRequests(): void;
}

interface ActiveMode {
  mode: TorchFakeMode;
  remaining: number;
  status?: number;
  delayMs?: number;
  retryAfterSeconds?: number;
}

const ReceiptPattern = /^[A-Z]{3}(?:\d{10}|\*\d{9})$/;

export function startTorchFake(options: TorchFakeOptions = {}): TorchFake {
  const clientId = options.clientId ?? "fake-client-id";
  const clientSecret = options.clientSecret ?? "fake-client-secret";
  const clock = options.clock ?? systemClock;
  let tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 1799;
  let refusing = false;
  let spikeIntervalMs: number | null = null;
  let lastAcceptedAt = Number.NEGATIVE_INFINITY;

  const cases = new Map<string, object>();
  const tokens = new Map<string, number>();
  const receiptModes = new Map<string, ActiveMode>();
  let globalMode: ActiveMode | null = null;
  const requests = { token: 0, caseStatus: 0, log: [] as FakeRequest[] };

  for (const [receipt, body] of Object.entries(options.cases ?? {})) setCase(receipt, body);

  function setCase(receipt: string, bodyOrObservation: Observation | object) {
    cases.set(
      receipt,
      "statusTitle" in bodyOrObservation
        ? toTorchBody(bodyOrObservation as Observation)
        : bodyOrObservation,
    );
  }

  function takeMode(receipt: string): ActiveMode | null {
    const perReceipt = receiptModes.get(receipt);
    const active = perReceipt ?? globalMode;
    if (!active) return null;
    active.remaining -= 1;
    if (active.remaining <= 0) {
      if (perReceipt) receiptModes.delete(receipt);
      else globalMode = null;
    }
    return active;
  }

  async function handleToken(request: Request, record: FakeRequest): Promise<Response> {
    requests.token += 1;
    record.kind = "token";
    record.contentType = request.headers.get("content-type");
    const form = new URLSearchParams(await request.text());
    record.form = Object.fromEntries(form);
    const formEncoded = record.contentType?.startsWith("application/x-www-form-urlencoded");
    const valid =
      formEncoded &&
      form.get("grant_type") === "client_credentials" &&
      form.get("client_id") === clientId &&
      form.get("client_secret") === clientSecret;
    if (refusing || !valid) {
      return json(401, { ErrorCode: "invalid_client", Error: "ClientId is Invalid" });
    }

    const accessToken = `fake_${crypto.randomUUID().replaceAll("-", "")}`;
    const issuedAt = clock.now();
    tokens.set(accessToken, issuedAt + tokenLifetimeSeconds * 1000);
    return json(200, {
      refresh_token_expires_in: "0",
      api_product_list: "[case-status-product]",
      api_product_list_json: ["case-status-product"],
      organization_name: "uscis",
      "developer.email": "developer@example.com",
      token_type: "BearerToken",
      issued_at: String(issuedAt),
      client_id: clientId,
      access_token: accessToken,
      application_name: "immigraflow-tests",
      scope: "",
      expires_in:
        options.expiresInType === "number" ? tokenLifetimeSeconds : String(tokenLifetimeSeconds),
      refresh_count: "0",
      status: "approved",
    });
  }

  async function handleCase(request: Request, receipt: string, record: FakeRequest) {
    requests.caseStatus += 1;
    record.kind = "case_status";
    record.receipt = receipt;
    record.authorization = request.headers.get("authorization");
    record.accept = request.headers.get("accept");

    const bearer = /^Bearer (.+)$/.exec(record.authorization ?? "")?.[1];
    const expiresAt = bearer ? tokens.get(bearer) : undefined;
    if (expiresAt === undefined || clock.now() >= expiresAt) {
      return json(401, TorchErrorBodies[401]);
    }

    if (spikeIntervalMs !== null) {
      const now = performance.now();
      if (now - lastAcceptedAt < spikeIntervalMs) return json(429, TorchErrorBodies[429]);
      lastAcceptedAt = now;
    }

    const mode = takeMode(receipt);
    if (mode?.mode === "slow") await Bun.sleep(mode.delayMs ?? 5000);
    if (mode && mode.mode !== "slow" && mode.mode !== "ok") return errorResponse(mode);

    if (!ReceiptPattern.test(receipt)) return json(422, TorchErrorBodies[422]);
    const body = cases.get(receipt);
    return body ? json(200, body) : json(404, TorchErrorBodies[404]);
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      const record: FakeRequest = {
        kind: "other",
        method: request.method,
        path: url.pathname,
        query: url.search,
        status: 0,
        at: clock.now(),
      };
      requests.log.push(record);

      let response: Response;
      const caseMatch = /^\/case-status\/([^/]+)$/.exec(url.pathname);
      if (request.method === "POST" && url.pathname === "/oauth/accesstoken") {
        response = await handleToken(request, record);
      } else if (request.method === "GET" && caseMatch?.[1]) {
        response = await handleCase(request, decodeURIComponent(caseMatch[1]), record);
      } else {
        response = json(404, {
          fault: {
            faultstring: `Unable to identify proxy for host: default and url: ${url.pathname}`,
            detail: { errorcode: "messaging.adaptors.http.flow.ApplicationNotFound" },
          },
        });
      }
      record.status = response.status;
      return response;
    },
  });

  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    tokenUrl: `${url}/oauth/accesstoken`,
    stop: () => server.stop(true),
    setCase,
    removeCase: (receipt) => {
      cases.delete(receipt);
    },
    setMode(mode, modeOptions = {}) {
      const active: ActiveMode = {
        mode,
        remaining: modeOptions.times ?? Number.POSITIVE_INFINITY,
        ...(modeOptions.status !== undefined && { status: modeOptions.status }),
        ...(modeOptions.delayMs !== undefined && { delayMs: modeOptions.delayMs }),
        ...(modeOptions.retryAfterSeconds !== undefined && {
          retryAfterSeconds: modeOptions.retryAfterSeconds,
        }),
      };
      if (modeOptions.receipt) receiptModes.set(modeOptions.receipt, active);
      else globalMode = mode === "ok" ? null : active;
    },
    clearModes() {
      receiptModes.clear();
      globalMode = null;
    },
    setSpikeArrest(perSecond) {
      spikeIntervalMs = perSecond === null ? null : 1000 / perSecond;
      lastAcceptedAt = Number.NEGATIVE_INFINITY;
    },
    refuseCredentials(refuse = true) {
      refusing = refuse;
    },
    expireTokens() {
      tokens.clear();
    },
    setTokenLifetime(seconds) {
      tokenLifetimeSeconds = seconds;
    },
    requests,
    resetRequests() {
      requests.token = 0;
      requests.caseStatus = 0;
      requests.log.length = 0;
    },
  };
}

function errorResponse(mode: ActiveMode): Response {
  switch (mode.mode) {
    case "unauthorized":
      return json(401, TorchErrorBodies[401]);
    case "not_found":
      return json(404, TorchErrorBodies[404]);
    case "invalid_receipt":
      return json(422, TorchErrorBodies[422]);
    case "spike_arrest": {
      const response = json(429, TorchErrorBodies[429]);
      if (mode.retryAfterSeconds !== undefined) {
        response.headers.set("Retry-After", String(mode.retryAfterSeconds));
      }
      return response;
    }
    case "service_unavailable":
      return json(503, TorchErrorBodies[503]);
    case "sandbox_closed":
      return text(
        503,
        "application/json",
        '\n\n   {"error":{"code":"503","message":"The Case Status API Sandbox is unavailable at ' +
          'this time. Please try again between 7:00 AM and 8:00 PM Eastern, Monday to Friday."}}',
      );
    case "html":
      return text(
        mode.status ?? 200,
        "text/html; charset=utf-8",
        "<!DOCTYPE html><html><head><title>Maintenance</title></head>" +
          "<body><h1>USCIS is down for maintenance</h1></body></html>",
      );
    case "invalid_json":
      return text(200, "application/json", '{"case_status": {"receiptNumber": "EAC99991');
    case "missing_fields":
      return json(200, { case_status: { formType: "I-130" }, message: "Query was successful" });
    case "errors_array":
      return json(mode.status ?? 400, {
        errors: [{ code: "400", message: "Bad request", traceId: "7f1c2d9e-fake" }],
      });
    case "fault":
      return json(mode.status ?? 500, {
        fault: {
          faultstring: "Execution of ServiceCallout failed",
          detail: { errorcode: "steps.servicecallout.ExecutionFailed" },
        },
      });
    case "bad_request":
      return json(400, { code: 400, message: "Bad Request" });
    case "forbidden":
      return json(403, { code: 403, message: "Forbidden" });
    case "server_error":
      return json(500, { code: 500, message: "Internal Server Error" });
    case "ok":
    case "slow":
      throw new Error(`mode ${mode.mode} is not an error`);
  }
}

function json(status: number, body: unknown): Response {
  return text(status, "application/json", JSON.stringify(body));
}

function text(status: number, contentType: string, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": contentType } });
}
