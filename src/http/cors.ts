import { Elysia } from "elysia";
import { ApiError } from "./errors.ts";

const CorsAllowHeaders = "Content-Type, Authorization, X-API-KEY, X-API-SECRET";
const ExposeHeaders = "X-Request-Id, Retry-After";
const MaxAgeSeconds = 600;

/** The path the CORS preflight route is mounted on; the method index must not count it. */
export const PreflightPath = "/v1/*";

/**
 * Which browser origins may call the API, from CORS_ORIGINS. `*` allows any origin (config
 * refuses it in production); the origin is still echoed rather than `*`, so both cases answer
 * alike.
 */
function originPolicy(origins: string[]) {
  const any = origins.includes("*");
  const listed = new Set(origins.filter((o) => o !== "*").map((o) => o.toLowerCase()));
  return (origin: string | null): origin is string =>
    origin !== null && (any || listed.has(origin.toLowerCase()));
}

// Not `new URL(url)`: a request without a Host header arrives with a bare path as its URL.
const isApiPath = (url: string) =>
  url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").startsWith("/v1/");

/**
 * CORS for `/v1`. The preflight is a route of its own with no `access`, so it is answered
 * before any credential is looked at (browsers send none on it). Mount it right after the
 * plumbing, so its answers still get a request id and a log line.
 */
export function corsPlugin(options: {
  origins: string[];
  /** The methods the app's routes answer on a concrete path, as for 405. */
  allowedMethods: (path: string) => string[];
}) {
  const allowed = originPolicy(options.origins);

  return new Elysia({ name: "cors" })
    .onRequest(({ request, set }) => {
      if (request.method === "OPTIONS" || !isApiPath(request.url)) return;
      // Whether the allow header is there depends on Origin: a shared cache must know that.
      set.headers.vary = "Origin";
      const origin = request.headers.get("origin");
      if (!allowed(origin)) return;
      set.headers["access-control-allow-origin"] = origin;
      set.headers["access-control-expose-headers"] = ExposeHeaders;
    })
    .options(
      PreflightPath,
      ({ request, path, set }) => {
        const methods = options.allowedMethods(path);
        if (methods.length === 0) throw new ApiError("not_found", "no such route");

        set.status = 204;
        set.headers.vary = "Origin";
        set.headers.allow = [...methods, "OPTIONS"].join(", ");
        const origin = request.headers.get("origin");
        if (!allowed(origin)) return;
        set.headers["access-control-allow-origin"] = origin;
        set.headers["access-control-allow-methods"] = methods.join(", ");
        set.headers["access-control-allow-headers"] = CorsAllowHeaders;
        set.headers["access-control-max-age"] = String(MaxAgeSeconds);
      },
      { detail: { hide: true } },
    );
}
