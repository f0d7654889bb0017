/**
 * What must hold for every answer, whatever was sent:
 * - no 5xx, and no error in the log;
 * - an X-Request-Id, the caller's own when it was a sane one;
 * - a 4xx in the error envelope with a code of API.md, a 2xx in JSON (where the route is JSON);
 * - nothing that reads like a stack trace, a query or a source path, unless the caller sent it;
 * - no 2xx for credentials the route is not open to;
 * - a refused request, a GET, HEAD or OPTIONS, leaves the database as it was; no row ever
 *   points at nothing; Object.prototype and friends stay untouched.
 */
import { ErrorStatus } from "../../src/http/errors.ts";
import type { CredentialKind, FuzzRequest, Outcome, World } from "./world.ts";

/** Text that only comes from the inside of the service. */
const LeakMarkers: [string, RegExp][] = [
  ["stack frame", /\n\s*at \S|\bat [\w.<>]+ \(|\(\/[^)]*:\d+:\d+\)/],
  ["source path", /\/src\/|node_modules|\/work\/|\.ts:\d+/],
  ["SQLite", /sqlite/i],
  ["SQL select", /\bselect\b[\s\S]{0,200}\bfrom\b/i],
  ["SQL insert", /\binsert\s+into\b/i],
  ["SQL update", /\bupdate\s+["`]?\w+["`]?\s+set\b/i],
  ["SQL delete", /\bdelete\s+from\b/i],
  ["drizzle", /drizzle/i],
  ["JS error name", /\b(TypeError|ReferenceError|SyntaxError|RangeError)\b/],
  ["undefined or NaN in text", /\b(undefined|NaN)\b|\[object Object\]/],
];

export interface ResponseRules {
  /** The route may answer something other than JSON (HTML page, Prometheus text, assets). */
  nonJson?: boolean;
  /** The route's answer is static documentation or metrics; leak markers do not apply. */
  noLeakCheck?: boolean;
  /** A GET that writes on purpose (the verification link redeems its token). */
  writesOnGet?: boolean;
  /** Who the route opens to (API.md section 2); nobody else may get a 2xx. */
  access?: CredentialKind[];
}

/** Who a request's credentials make the caller, as the authenticator would decide. */
const PrincipalOf: Record<CredentialKind, "partner" | "publishable" | "user" | null> = {
  partner: "partner",
  rival: "partner",
  publishable: "publishable",
  user: "user",
  rivalUser: "user",
  // The bearer token wins when both are sent.
  partnerAndBearer: "user",
  none: null,
  wrongSecret: null,
  secretOnly: null,
  unknownKey: null,
  disabledPartner: null,
  junkAuthorization: null,
};

const SaneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;
const SafeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Snapshot {
  fingerprint: string;
  logLines: number;
  prototypeKeys: string;
}

export function snapshot(world: World): Snapshot {
  return {
    fingerprint: world.fingerprint(),
    logLines: world.t.logs.lines.length,
    prototypeKeys: prototypeKeys(),
  };
}

function prototypeKeys(): string {
  return [Object.prototype, Array.prototype, Function.prototype]
    .map((proto) => Reflect.ownKeys(proto).map(String).sort().join(","))
    .join("|");
}

export function checkOutcome(
  world: World,
  request: FuzzRequest,
  outcome: Outcome,
  before: Snapshot,
  rules: ResponseRules = {},
): void {
  const { status, headers, text } = outcome;
  const problems: string[] = [];

  if (status >= 500) problems.push(`status ${status}`);
  const requestId = headers.get("x-request-id");
  if (!requestId) problems.push("no X-Request-Id header");
  // As the service reads it: through a Headers object, with its own whitespace rules.
  const sentId = new Headers(request.headers).get("x-request-id");
  if (sentId && SaneRequestId.test(sentId) && requestId !== sentId) {
    problems.push(`a sane X-Request-Id "${sentId}" was not echoed (got "${requestId}")`);
  }

  const contentType = headers.get("content-type") ?? "";
  const isJson = /^application\/(.+\+)?json\b/i.test(contentType);
  if (status >= 400 && text !== "" && !(rules.nonJson && !isJson)) {
    problems.push(...envelopeProblems(status, contentType, text, requestId));
  }
  if (status < 300 && text !== "" && !rules.nonJson && !isJson) {
    problems.push(`a ${status} answer is ${contentType || "untyped"}, not JSON`);
  }

  const principal = PrincipalOf[request.credentials];
  const guarded = rules.access && !rules.access.includes("none");
  if (guarded && status < 300 && !(principal && rules.access?.includes(principal))) {
    problems.push(
      `${request.credentials} credentials got a ${status} on a route for ${rules.access}`,
    );
  }

  if (!rules.noLeakCheck) {
    const answer = `${[...headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${text}`;
    for (const [label, marker] of LeakMarkers) {
      if (marker.test(answer) && !marker.test(outcome.sentText)) {
        problems.push(`answer contains a ${label}: ${excerpt(answer, marker)}`);
      }
    }
  }

  const errors = world.t.logs.lines
    .slice(before.logLines)
    .filter((line) => ["error", "fatal", 50, 60].includes(line.level as string | number));
  if (errors.length > 0) {
    problems.push(`logged an error: ${JSON.stringify(errors[0]).slice(0, 600)}`);
  }

  const readOnly =
    SafeMethods.has(request.method) && !(rules.writesOnGet && request.method === "GET");
  if ((status >= 400 || readOnly) && world.fingerprint() !== before.fingerprint) {
    const what = readOnly ? `${request.method} (${status})` : `a ${status} answer`;
    problems.push(`${what} changed the database:\n  ${diff(before.fingerprint, world)}`);
  }
  problems.push(...invariantProblems(world));
  if (prototypeKeys() !== before.prototypeKeys || ({} as Record<string, unknown>).polluted) {
    problems.push("a built-in prototype was changed");
  }

  if (problems.length > 0) {
    throw new Error(
      `${problems.join("\n")}\n--- answer ${status} ${contentType}\n${text.slice(0, 800)}`,
    );
  }
}

/** What must hold between the tables after any answer: nothing half-written survives. */
function invariantProblems(world: World): string[] {
  const sqlite = world.t.database.sqlite;
  const problems: string[] = [];
  const orphans = sqlite.query("PRAGMA foreign_key_check").all();
  if (orphans.length > 0) problems.push(`rows point at nothing: ${JSON.stringify(orphans[0])}`);
  const unwatched = sqlite
    .query(
      "SELECT c.id FROM cases c LEFT JOIN receipts r ON r.receipt_number = c.receipt_number " +
        "WHERE r.receipt_number IS NULL",
    )
    .all();
  if (unwatched.length > 0) problems.push(`cases without a receipt row: ${unwatched.length}`);
  const badReceipts = sqlite
    .query("SELECT receipt_number FROM cases WHERE length(receipt_number) != 13")
    .all();
  if (badReceipts.length > 0) problems.push(`stored receipt ${JSON.stringify(badReceipts[0])}`);
  return problems;
}

function envelopeProblems(
  status: number,
  contentType: string,
  text: string,
  requestId: string | null,
): string[] {
  if (!/^application\/json\b/i.test(contentType)) {
    return [`a ${status} answer is ${contentType || "untyped"}, not JSON`];
  }
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return [`a ${status} answer says JSON but does not parse`];
  }
  const error = body?.error;
  const problems: string[] = [];
  if (!error || typeof error !== "object") return [`a ${status} answer has no error envelope`];
  if (!(error.code in ErrorStatus)) problems.push(`unknown error code ${error.code}`);
  else if (ErrorStatus[error.code as keyof typeof ErrorStatus] !== status) {
    problems.push(`code ${error.code} travels with ${status}`);
  }
  if (typeof error.message !== "string" || error.message === "") problems.push("no message");
  if (error.request_id !== requestId) problems.push("request_id differs from X-Request-Id");
  return problems;
}

function excerpt(text: string, marker: RegExp): string {
  const at = text.search(marker);
  return JSON.stringify(text.slice(Math.max(0, at - 60), at + 100));
}

function diff(before: string, world: World): string {
  const now = world.fingerprint().split(" ");
  return before
    .split(" ")
    .filter((part, i) => part !== now[i])
    .map((part, i) => `${part} -> ${now.find((p) => p.startsWith(part.split(":")[0]!)) ?? i}`)
    .join("\n  ");
}
