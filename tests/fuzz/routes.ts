/**
 * One generator per route of the app, keyed as `app.routes` names them ("METHOD /path"). The
 * coverage test fails when a route has none, so a new route cannot slip past the fuzzing.
 * Each spec names the route's real path parameters, query parameters and body fields (see
 * API.md and the route schemas) and the credentials that open it; `requestFor` mixes those
 * with junk, wrong credentials and hostile headers.
 */
import fc from "fast-check";
import {
  type Arb,
  bool,
  boolText,
  caseRef,
  categoryText,
  contentType,
  cursorText,
  description,
  docsAsset,
  email,
  events,
  extraHeaders,
  headerValue,
  idText,
  jsonText,
  junkString,
  junkValue,
  language,
  limitText,
  loginCode,
  mostly,
  nearValidObject,
  pathSegment,
  personName,
  phone,
  placeholder,
  queryString,
  rawBody,
  receipt,
  timestampText,
  url,
  userId,
  userStatus,
  verifyTokenText,
  webhookId,
} from "./arbitraries.ts";
import type { ResponseRules } from "./properties.ts";
import { type CredentialKind, CredentialKinds, type FuzzRequest } from "./world.ts";

export interface RouteSpec {
  params?: Record<string, Arb<string>>;
  query?: Record<string, Arb<string>>;
  /** JSON fields, or "form" for a provider's form post, or "none" for a route without one. */
  body?: Record<string, Arb<unknown>> | "form" | "none";
  /** Body fields the well-formed requests always carry, so they get past "is required". */
  required?: string[];
  /** The credentials that open the route (API.md section 2); others are tried too. */
  access: CredentialKind[];
  rules?: ResponseRules;
}

const P: CredentialKind[] = ["partner"];
const PU: CredentialKind[] = ["partner", "user"];
const Public: CredentialKind[] = ["none"];

const page = { limit: limitText, cursor: cursorText };
const userQuery = {
  ...page,
  email: email,
  status: fc.oneof({ weight: 4, arbitrary: userStatus }, { weight: 1, arbitrary: junkString }),
};

const userCreate = {
  email: mostly(email),
  name: personName,
  phone,
  preferred_language: mostly(language),
  notify_by_email: bool,
  notify_by_whatsapp: bool,
};
const userUpdate = { ...userCreate, status: mostly(userStatus) };
const vouching = { email_verified: bool, send_verification: bool };
const caseCreate = { receipt_number: mostly(receipt), description };
const caseUpdate = { description, active: bool };
const webhookCreate = {
  url: mostly(url),
  events,
  description,
  active: bool,
};

/** Paths the CORS preflight is asked about: real ones, and ones that are not. */
const preflightPath: Arb<string> = fc.oneof(
  fc.constantFrom(
    "users",
    `users/${placeholder("acmeUser")}`,
    `users/${placeholder("acmeUser")}/cases/${placeholder("acmeFlow")}`,
    "users/resend-verification",
    "client",
    "client/cases",
    "webhooks/1/deliveries",
    "auth/login-code",
    "check",
    "nope",
    "users/1/2/3/4",
    "",
  ),
  fc.array(pathSegment(junkString), { minLength: 1, maxLength: 4 }).map((s) => s.join("/")),
);

const twilioForm = {
  MessageSid: fc.oneof(
    fc.constant(placeholder("messageSid")),
    fc.constantFrom("SMunknown", "", "SM".padEnd(34, "0")),
    junkString,
  ),
  SmsSid: fc.oneof(fc.constant(placeholder("messageSid")), junkString),
  MessageStatus: fc.oneof(
    fc.constantFrom("failed", "undelivered", "delivered", "read", "sent", "queued", "FAILED"),
    junkString,
  ),
  ErrorCode: fc.oneof(fc.constantFrom("63016", "21610", "30003", "", " 1 "), junkString),
  ErrorMessage: fc.oneof(
    fc.constantFrom("The 'To' number whatsapp:+15551234567 is not valid", "x".repeat(400)),
    junkString,
  ),
  AccountSid: fc.constantFrom(`AC${"0".repeat(32)}`, "ACwrong"),
};

export const RouteSpecs: Record<string, RouteSpec> = {
  "OPTIONS /v1/*": {
    params: { "*": preflightPath },
    access: Public,
    body: "none",
  },
  "GET /docs/json": { access: Public, rules: { noLeakCheck: true } },
  "GET /docs": { access: Public, rules: { nonJson: true, noLeakCheck: true } },
  "GET /docs/assets/:asset": {
    params: { asset: docsAsset },
    access: Public,
    rules: { nonJson: true, noLeakCheck: true },
  },
  "GET /health": { access: Public },
  "GET /metrics": { access: Public, rules: { nonJson: true, noLeakCheck: true } },

  "POST /v1/check": {
    body: { receipt_number: mostly(receipt) },
    required: ["receipt_number"],
    access: PU,
  },

  "GET /v1/users/verify-email": {
    query: { token: verifyTokenText, utm_source: junkString },
    access: Public,
    rules: { nonJson: true, writesOnGet: true },
  },
  "POST /v1/users/resend-verification": {
    body: { email: mostly(email) },
    required: ["email"],
    access: ["publishable", "partner", "user"],
  },
  "GET /v1/users": { query: userQuery, access: PU },
  "POST /v1/users": { body: userCreate, required: ["email"], access: P },
  "GET /v1/users/:user_id": { params: { user_id: userId }, access: PU },
  "PUT /v1/users/:user_id": { params: { user_id: userId }, body: userUpdate, access: PU },
  "DELETE /v1/users/:user_id": { params: { user_id: userId }, access: PU },

  "GET /v1/users/:user_id/cases": {
    params: { user_id: userId },
    query: { ...page, active: boolText },
    access: PU,
  },
  "POST /v1/users/:user_id/cases": {
    params: { user_id: userId },
    body: caseCreate,
    required: ["receipt_number"],
    access: PU,
  },
  "GET /v1/users/:user_id/cases/:case_ref": {
    params: { user_id: userId, case_ref: caseRef },
    access: PU,
  },
  "PUT /v1/users/:user_id/cases/:case_ref": {
    params: { user_id: userId, case_ref: caseRef },
    body: caseUpdate,
    access: PU,
  },
  "DELETE /v1/users/:user_id/cases/:case_ref": {
    params: { user_id: userId, case_ref: caseRef },
    access: PU,
  },

  "POST /v1/auth/login-code": {
    body: { email: mostly(email) },
    required: ["email"],
    access: ["publishable", "partner"],
  },
  "POST /v1/auth/verify": {
    body: {
      email: fc.oneof(
        { weight: 2, arbitrary: fc.constant(placeholder("acmeEmail")) },
        { weight: 1, arbitrary: mostly(email) },
      ),
      code: mostly(loginCode),
    },
    required: ["email", "code"],
    access: ["publishable", "partner"],
  },
  "POST /v1/auth/logout": { body: "none", access: ["user"] },

  "GET /v1/client": { access: P },
  "PUT /v1/client/logo": {
    body: { logo_url: fc.oneof(url, fc.constant(null), junkValue) },
    required: ["logo_url"],
    access: P,
  },
  "GET /v1/client/users": { query: userQuery, access: P },
  "POST /v1/client/users": { body: { ...userCreate, ...vouching }, required: ["email"], access: P },
  "GET /v1/client/users/:user_id": { params: { user_id: userId }, access: P },
  "PUT /v1/client/users/:user_id": {
    params: { user_id: userId },
    body: { ...userUpdate, ...vouching },
    access: P,
  },
  "DELETE /v1/client/users/:user_id": { params: { user_id: userId }, access: P },
  "POST /v1/client/users/:user_id/resend-verification": {
    params: { user_id: userId },
    body: "none",
    access: P,
  },
  "POST /v1/client/users/:user_id/cases": {
    params: { user_id: userId },
    body: caseCreate,
    required: ["receipt_number"],
    access: P,
  },
  "GET /v1/client/cases": {
    query: {
      ...page,
      user_id: fc.oneof(fc.constant(placeholder("acmeUser")), idText),
      active: boolText,
      category: categoryText,
      receipt_number: receipt,
      updated_since: timestampText,
    },
    access: P,
  },
  "GET /v1/client/cases/:case_ref": { params: { case_ref: caseRef }, access: P },

  "GET /v1/webhooks": { query: page, access: P },
  "POST /v1/webhooks": { body: webhookCreate, required: ["url"], access: P },
  "GET /v1/webhooks/:webhook_id": { params: { webhook_id: webhookId }, access: P },
  "PUT /v1/webhooks/:webhook_id": {
    params: { webhook_id: webhookId },
    body: { ...webhookCreate, rotate_secret: bool },
    access: P,
  },
  "DELETE /v1/webhooks/:webhook_id": { params: { webhook_id: webhookId }, access: P },
  "GET /v1/webhooks/:webhook_id/deliveries": {
    params: { webhook_id: webhookId },
    query: page,
    access: P,
  },

  "POST /v1/providers/twilio/status": {
    query: { job: fc.oneof(fc.constantFrom("whatsapp:1:1", ""), junkString) },
    body: "form",
    access: Public,
  },
};

const junkAuthorization = fc.oneof(
  fc.constantFrom(
    "Bearer",
    "Bearer ",
    "Bearer  ",
    "bearer ift_short",
    `Bearer ift_${"A".repeat(43)}`,
    `Bearer ift_${"A".repeat(43)} extra`,
    "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "Token abc",
    `Bearer ${"x".repeat(10_000)}`,
    "",
  ),
  headerValue,
);

const credentials = (preferred: CredentialKind[]): Arb<CredentialKind> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...preferred) },
    { weight: 2, arbitrary: fc.constantFrom(...CredentialKinds) },
  );

function pathFor(pattern: string, spec: RouteSpec): Arb<string> {
  const segments = pattern.split("/").map((segment) => {
    if (segment === "*") return spec.params?.["*"] ?? fc.constant("");
    if (!segment.startsWith(":")) return fc.constant(segment);
    const param = spec.params?.[segment.slice(1)];
    if (!param) throw new Error(`${pattern}: no generator for ${segment}`);
    return pathSegment(param);
  });
  return fc
    .tuple(fc.tuple(...segments), fc.constantFrom("", "", "", "", "/"))
    .map(([parts, trailing]) => `${parts.join("/")}${trailing}`);
}

function bodyFor(
  method: string,
  spec: RouteSpec,
): Arb<{ body?: string | Uint8Array; type?: string }> {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return fc.constant({});
  const typed = (body: Arb<string | Uint8Array | undefined>, type: Arb<string | undefined>) =>
    fc.tuple(body, type).map(([b, t]) => (b === undefined ? {} : { body: b, type: t }));

  if (spec.body === "form") {
    const form = nearValidObject(twilioForm).map((fields) =>
      new URLSearchParams(
        Object.entries(fields).map(([k, v]): [string, string] => [
          k,
          typeof v === "string" ? v : (JSON.stringify(v) ?? ""),
        ]),
      ).toString(),
    );
    return fc.oneof(
      { weight: 6, arbitrary: typed(form, fc.constant("application/x-www-form-urlencoded")) },
      { weight: 1, arbitrary: typed(form, contentType) },
      { weight: 1, arbitrary: typed(rawBody, contentType) },
    );
  }
  if (spec.body === undefined || spec.body === "none") {
    return fc.oneof(
      { weight: 4, arbitrary: fc.constant({}) },
      { weight: 1, arbitrary: typed(jsonText(junkValue), contentType) },
      { weight: 1, arbitrary: typed(rawBody, contentType) },
    );
  }
  const clean = fc
    .record(spec.body, { requiredKeys: spec.required ?? [] })
    .map((body) => JSON.stringify(body));
  return fc.oneof(
    { weight: 6, arbitrary: typed(clean, fc.constant("application/json")) },
    { weight: 4, arbitrary: typed(jsonText(nearValidObject(spec.body)), contentType) },
    { weight: 1, arbitrary: typed(jsonText(junkValue), contentType) },
    { weight: 1, arbitrary: typed(rawBody, contentType) },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** Requests for one route: its method and pattern, with everything else generated. */
export function requestFor(key: string, spec: RouteSpec): Arb<FuzzRequest> {
  const [method, pattern] = key.split(" ") as [string, string];
  const query = spec.query
    ? queryString(spec.query)
    : fc.oneof(
        { weight: 4, arbitrary: fc.constant("") },
        { weight: 1, arbitrary: queryString({}) },
      );
  return fc
    .record({
      // HEAD is how link checkers look at a GET route; it must answer alike and change nothing.
      method:
        method === "GET"
          ? fc.constantFrom("GET", "GET", "GET", "GET", "HEAD")
          : fc.constant(method),
      path: pathFor(pattern, spec),
      query,
      credentials: credentials(spec.access),
      authorization: junkAuthorization,
      headers: extraHeaders,
      body: bodyFor(method, spec),
      twilioSignature: fc.constantFrom("valid", "valid", "wrong", "none"),
    })
    .map(({ body, headers, twilioSignature, authorization, ...rest }) => {
      const request: FuzzRequest = { ...rest, headers: { ...headers } };
      if (rest.credentials === "junkAuthorization") request.authorization = authorization;
      if (body.body !== undefined) request.body = body.body;
      if (body.type !== undefined) request.headers["content-type"] = body.type;
      if (spec.body === "form") request.twilioSignature = twilioSignature;
      if (method === "OPTIONS") {
        request.headers["access-control-request-method"] = "POST";
        request.headers["access-control-request-headers"] = "content-type, x-api-key";
      }
      return request;
    });
}
