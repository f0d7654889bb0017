/**
 * Fuzzing below the routes: any method on any path (real patterns, near misses, unknown ones,
 * odd encodings), with any credentials, headers and body. The same rules as the route fuzzing
 * hold, and a 405 names the methods that would work.
 */
import { describe, test } from "bun:test";
import fc from "fast-check";
import {
  caseRef,
  contentType,
  extraHeaders,
  idText,
  jsonText,
  junkString,
  junkValue,
  pathSegment,
  queryString,
  rawBody,
} from "./arbitraries.ts";
import { checkOutcome, type ResponseRules, snapshot } from "./properties.ts";
import { RouteSpecs } from "./routes.ts";
import { CredentialKinds, createWorld, type FuzzRequest } from "./world.ts";

const Seed = Number(process.env.FUZZ_SEED ?? 20260504);
const Runs = Number(process.env.FUZZ_RUNS ?? 200);

const Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "QUERY"];

const patterns = [...new Set(Object.keys(RouteSpecs).map((key) => key.split(" ")[1]!))];

/** A route pattern with its parameters filled by anything id-like or not. */
const patternPath = fc
  .tuple(
    fc.constantFrom(...patterns),
    fc.array(pathSegment(fc.oneof(idText, caseRef)), {
      minLength: 3,
      maxLength: 3,
    }),
  )
  .map(([pattern, values]) => {
    let i = 0;
    return pattern
      .split("/")
      .map((part) => (part.startsWith(":") || part === "*" ? values[i++ % values.length] : part))
      .join("/");
  });

const oddPath = fc.oneof(
  fc.constantFrom(
    "/",
    "/v1",
    "/v1/",
    "//v1//users",
    "/V1/USERS",
    "/v1/users;jsessionid=1",
    "/v1/users%2F1",
    "/v1/users/%2e%2e/client",
    "/v1/users/../client",
    "/v1/./users",
    "/v1/users/1/cases/2/extra",
    "/v1/client/users/1/cases/2",
    "/v2/users",
    "/docs/",
    "/docs/assets/",
    "/docs/json/extra",
    "/health/",
    "/metrics.json",
    "/favicon.ico",
    "/.env",
    "/.git/config",
    "/src/app.ts",
    "/node_modules/elysia/package.json",
    `/v1/${"a".repeat(8_000)}`,
    `/v1/users/${"9".repeat(5_000)}`,
  ),
  fc
    .tuple(
      fc.constantFrom("", "/v1", "/v1/users", "/v1/client", "/docs"),
      fc.array(pathSegment(junkString), { minLength: 1, maxLength: 4 }),
    )
    .map(([prefix, segments]) => `${prefix}/${segments.join("/")}`),
);

const anyRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom(...Methods),
    path: fc.oneof({ weight: 3, arbitrary: patternPath }, { weight: 2, arbitrary: oddPath }),
    query: fc.oneof(fc.constant(""), queryString({ limit: junkString, cursor: junkString })),
    credentials: fc.constantFrom(...CredentialKinds),
    headers: extraHeaders,
    body: fc.option(fc.oneof(jsonText(junkValue), rawBody), { nil: undefined }),
    type: contentType,
  })
  .map(({ method, body, type, ...rest }) => {
    const request: FuzzRequest = { method, ...rest, headers: { ...rest.headers } };
    if (body !== undefined && method !== "GET" && method !== "HEAD") request.body = body;
    if (type !== undefined) request.headers["content-type"] = type;
    return request;
  });

/** Documentation and metrics are not JSON and quote code; the verification link is a page. */
function rulesFor(path: string): ResponseRules {
  if (/^\/(docs|metrics)/.test(path)) return { nonJson: true, noLeakCheck: true };
  if (path.startsWith("/v1/users/verify-email")) return { nonJson: true, writesOnGet: true };
  return {};
}

describe(`transport fuzzing (seed ${Seed}, ${Runs} runs)`, () => {
  test("any method on any path keeps to the rules", { timeout: 60_000 }, async () => {
    const world = await createWorld();
    await fc.assert(
      fc.asyncProperty(anyRequest, async (request) => {
        await world.ensure();
        world.t.clock.advance(61_000);
        const before = snapshot(world);
        const outcome = await world.send(request);
        checkOutcome(world, request, outcome, before, rulesFor(request.path));
        if (outcome.status === 405 && !outcome.headers.get("allow")) {
          throw new Error(`405 without an Allow header for ${request.method} ${request.path}`);
        }
      }),
      { seed: Seed, numRuns: Runs * 3 },
    );
  });
});
