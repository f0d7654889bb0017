import { type Context, Elysia, ValidationError } from "elysia";
import { storageFailure } from "../db/connection.ts";
import type { Logger } from "../logger.ts";
import { declaresJson, readFormBody, readJsonBody } from "./body.ts";
import { ApiError, type ErrorCode, envelope } from "./errors.ts";
import { acceptRequestId } from "./ids.ts";
import type { Metrics } from "./metrics.ts";
import { validationDetails } from "./validation.ts";

interface RequestState {
  id: string;
  startedAt: number;
  clientId?: number;
  userId?: number;
  /**
   * Why a body-taking request had none: it declared JSON and sent nothing (unparsable JSON to
   * API.md), or it sent nothing and declared nothing that matters.
   */
  missingBody?: "empty_json" | "absent";
}

const states = new WeakMap<Request, RequestState>();

export function requestState(request: Request): RequestState {
  let state = states.get(request);
  if (!state) {
    state = { id: acceptRequestId(request.headers.get("x-request-id")), startedAt: Date.now() };
    states.set(request, state);
  }
  return state;
}

export const requestIdOf = (request: Request) => requestState(request).id;

const BodyMethods = new Set(["POST", "PUT", "PATCH"]);

export const JsonContentType = "application/json; charset=utf-8";

/**
 * Request ids, our own JSON body reader, the error envelope and one log line per request,
 * for every route mounted after it.
 */
export function httpPlumbing(options: {
  logger: Logger;
  metrics: Metrics;
  allowedMethods: (path: string) => string[];
  /** Route patterns whose body is a form (a provider's callback), not JSON. */
  formRoutes?: string[];
}) {
  const { logger } = options;
  const formRoutes = new Set(options.formRoutes ?? []);
  return new Elysia({ name: "http-plumbing" })
    .onRequest(({ request, set }) => {
      set.headers["x-request-id"] = requestState(request).id;
      // Without a Host header the URL is a bare path, which the router would misread.
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(request.url)) {
        throw new ApiError("validation_error", "the request needs a Host header", [
          { field: "host", issue: "required" },
        ]);
      }
    })
    .onParse({ as: "global" }, async ({ request, route }) => {
      if (!BodyMethods.has(request.method)) return;
      if (formRoutes.has(route)) return (await readFormBody(request)) ?? null;
      // An empty body reaches validation as null, so only a route that needs one refuses it;
      // a body-less POST (logout) from a client that always declares JSON still works.
      const body = await readJsonBody(request);
      if (body === undefined) {
        requestState(request).missingBody = declaresJson(request) ? "empty_json" : "absent";
      }
      return body ?? null;
    })
    .onError({ as: "global" }, ({ code, error: raised, request, set, path }) => {
      const state = requestState(request);
      // The framework wraps whatever the body parser throws; ours are already ApiErrors.
      const error =
        raised instanceof Error && raised.cause instanceof ApiError ? raised.cause : raised;
      set.headers["x-request-id"] = state.id;
      set.headers["content-type"] = JsonContentType;

      if (error instanceof ApiError) {
        set.status = error.status;
        if (error.headers) Object.assign(set.headers, error.headers);
        return envelope(error.code, error.message, state.id, error.details);
      }
      if (error instanceof ValidationError) {
        set.status = 400;
        if (error.type === "body" && state.missingBody === "empty_json") {
          return envelope("invalid_json", "the body is empty; send a JSON object", state.id);
        }
        if (error.type === "body" && state.missingBody === "absent") {
          return envelope("validation_error", "the request needs a JSON body", state.id, [
            { field: "body", issue: "required" },
          ]);
        }
        const { message, details } = validationDetails(error.type, error.all as never);
        return envelope("validation_error", message, state.id, details);
      }
      const simple = simpleError(code, path, options.allowedMethods, request.method);
      if (simple) {
        set.status = simple.status;
        if (simple.allow) set.headers.allow = simple.allow;
        return envelope(simple.code, simple.message, state.id);
      }
      const sqliteCode = storageFailure(error);
      if (sqliteCode) {
        // The request's transaction rolled back and nothing of it was kept; the same request
        // can succeed once the database takes writes again. `code` is redacted in logs.
        logger.error(
          {
            request_id: state.id,
            method: request.method,
            path,
            sqlite_code: sqliteCode,
            err: error,
          },
          "database cannot store",
        );
        set.status = 503;
        return envelope(
          "service_unavailable",
          "the service cannot save anything right now; try again later",
          state.id,
        );
      }
      logger.error(
        { request_id: state.id, method: request.method, path, err: error },
        "unhandled error",
      );
      set.status = 500;
      return envelope("internal_error", "something went wrong on our side", state.id);
    })
    .onAfterHandle({ as: "global" }, ({ response, set }) => {
      // Left to itself the runtime labels JSON `application/json;charset=utf-8`; API.md and
      // the error answers spell it with the space, and a client comparing strings sees one.
      if (typeof response === "object" && response !== null && !(response instanceof Response)) {
        set.headers["content-type"] = JsonContentType;
      }
    })
    .onAfterResponse({ as: "global" }, ({ request, set, path, route }) => {
      const state = requestState(request);
      const status = typeof set.status === "number" ? set.status : 200;
      const routeLabel = route || "unmatched";
      const durationMs = Date.now() - state.startedAt;
      options.metrics.httpRequests.inc({ method: request.method, route: routeLabel, status });
      options.metrics.httpDuration.observe(
        { method: request.method, route: routeLabel },
        durationMs / 1000,
      );
      logger.info(
        {
          request_id: state.id,
          method: request.method,
          route: route || path,
          status,
          duration_ms: durationMs,
          client_id: state.clientId,
          user_id: state.userId,
        },
        "request",
      );
    });
}

function simpleError(
  code: string | number,
  path: string,
  allowedMethods: (path: string) => string[],
  method: string,
): { status: number; code: ErrorCode; message: string; allow?: string } | null {
  if (code === "PARSE") return { status: 400, code: "invalid_json", message: "invalid JSON" };
  if (code === "NOT_FOUND") {
    const allowed = allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(method)) {
      return {
        status: 405,
        code: "method_not_allowed",
        message: `${method} is not allowed here; use ${allowed.join(", ")}`,
        allow: allowed.join(", "),
      };
    }
    return { status: 404, code: "not_found", message: "no such route" };
  }
  return null;
}

/**
 * How strongly one segment of a route pattern claims a path, as the router ranks them: a
 * static segment wins over a parameter, which wins over a wildcard.
 */
const SegmentRank = { Wildcard: 0, Param: 1, Static: 2 } as const;
type SegmentRank = (typeof SegmentRank)[keyof typeof SegmentRank];

interface RoutePattern {
  methods: Set<string>;
  segments: string[];
  ranks: SegmentRank[];
  regex: RegExp;
}

export interface RouteMethodIndex {
  /**
   * The methods that answer on a concrete path: those of the most specific pattern matching
   * it. `/v1/users/resend-verification` is POST only, although `GET /v1/users/:user_id` would
   * match it too.
   */
  (path: string): string[];
  /**
   * The methods to name in a 405 when the router would hand this request to a parameter route
   * of its method although a more specific pattern of other methods owns the path (a GET on
   * `/v1/users/resend-verification` would otherwise read it as a user id); null otherwise.
   */
  shadowedBy(method: string, path: string): string[] | null;
}

const segmentsOf = (path: string) => path.replace(/\/+$/, "").split("/");

const rankOf = (segment: string): SegmentRank =>
  segment === "*"
    ? SegmentRank.Wildcard
    : segment.startsWith(":")
      ? SegmentRank.Param
      : SegmentRank.Static;

/** Negative when `a` is the more specific pattern, compared segment by segment from the left. */
function bySpecificity(a: RoutePattern, b: RoutePattern): number {
  const length = Math.max(a.ranks.length, b.ranks.length);
  for (let i = 0; i < length; i += 1) {
    const difference = (b.ranks[i] ?? -1) - (a.ranks[i] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Whether some concrete path matches both patterns. */
function overlap(a: RoutePattern, b: RoutePattern): boolean {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i += 1) {
    const [left, right] = [a.segments[i], b.segments[i]];
    if (left === "*" || right === "*") return true;
    if (left === undefined || right === undefined) return false;
    if (rankOf(left) === SegmentRank.Static && rankOf(right) === SegmentRank.Static) {
      if (left !== right) return false;
    }
  }
  return true;
}

/** Matches a concrete path against the app's route patterns, for 405 and its Allow header. */
export function routeMethodIndex(routes: { method: string; path: string }[]): RouteMethodIndex {
  const byPath = new Map<string, RoutePattern>();
  for (const route of routes) {
    const segments = segmentsOf(route.path);
    const key = segments.map((part) => (part.startsWith(":") ? ":" : part)).join("/");
    const known = byPath.get(key);
    if (known) {
      known.methods.add(route.method);
      continue;
    }
    byPath.set(key, {
      methods: new Set([route.method]),
      segments,
      ranks: segments.map(rankOf),
      regex: new RegExp(
        `^${segments
          .map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : escapeRegex(part)))
          .join("/")}/?$`,
      ),
    });
  }
  const patterns = [...byPath.values()].sort(bySpecificity);

  const allowed = (path: string): string[] => {
    const best = patterns.find((pattern) => pattern.regex.test(path));
    return best ? [...best.methods] : [];
  };

  // Only a pattern that overlaps a less specific one of another method can be shadowed; the
  // few there are, per method, are all a request has to be tested against.
  const suspects = new Map<string, RoutePattern[]>();
  for (const owner of patterns) {
    for (const taker of patterns) {
      if (bySpecificity(owner, taker) >= 0 || !overlap(owner, taker)) continue;
      for (const method of taker.methods) {
        if (owner.methods.has(method)) continue;
        const list = suspects.get(method) ?? [];
        if (!list.includes(owner)) list.push(owner);
        suspects.set(method, list);
      }
    }
  }

  return Object.assign(allowed, {
    shadowedBy(method: string, path: string): string[] | null {
      const candidates = suspects.get(method);
      if (!candidates?.some((pattern) => pattern.regex.test(path))) return null;
      const owners = allowed(path);
      return owners.includes(method) ? null : owners;
    },
  });
}

export function methodNotAllowed(method: string, allowed: string[]): ApiError {
  return new ApiError(
    "method_not_allowed",
    `${method} is not allowed here; use ${allowed.join(", ")}`,
    undefined,
    { allow: allowed.join(", ") },
  );
}

/**
 * The 405 for requests the router would misroute (see RouteMethodIndex.shadowedBy), checked
 * before routing. Mount it after the CORS plugin, so a browser can read the answer.
 */
export function shadowedRouteGuard(index: () => RouteMethodIndex) {
  return new Elysia({ name: "shadowed-route-guard" }).onRequest(({ request }) => {
    const url = request.url;
    const pathStart = url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("//") + 2);
    const queryStart = url.indexOf("?", pathStart);
    const path = url.slice(pathStart, queryStart === -1 ? undefined : queryStart);
    const allowed = index().shadowedBy(request.method, path);
    if (allowed) throw methodNotAllowed(request.method, allowed);
  });
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A body serialised ahead of time (see caseDetailsJson), sent as it is. The framework checks
 * only objects against a route's response schema, so tests hold such builders to it instead.
 * The headers gathered so far (request id, CORS) move into the response: with any left in
 * `set`, the framework would copy the finished response through a stream to merge them.
 * Response copies a byte body in, so the caller may reuse its buffer once this returns
 * (caseDetailsJson does; a test reads two bodies answered before either was sent).
 */
export function jsonText(set: Context["set"], body: string | Uint8Array, status = 200): Response {
  const headers = { ...set.headers, "content-type": JsonContentType };
  set.headers = {};
  set.status = status;
  return new Response(body, { status, headers: headers as Record<string, string> });
}
