/**
 * A static path of one method next to a parameter route of another
 * (`POST /v1/users/resend-verification` beside `GET /v1/users/:user_id`): the router hands a
 * GET on the static path to the parameter route, which reads "resend-verification" as a user
 * id. API.md's rule is 405 with Allow for a known path and the wrong method, whatever routes
 * of that method happen to match it.
 */
import { describe, expect, test } from "bun:test";
import { PreflightPath } from "../../src/http/cors.ts";
import { routeMethodIndex } from "../../src/http/plumbing.ts";
import { testApp } from "../helpers/app.ts";

const Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const App = "https://app.acme.example";

function collisionApp() {
  const t = testApp({ env: { CORS_ORIGINS: App } });
  return { t, acme: t.createPartner() };
}

/** Every path of the app without a parameter, with the methods that answer on it. */
function staticPaths(routes: { method: string; path: string }[]) {
  const paths = new Map<string, Set<string>>();
  for (const route of routes) {
    if (route.path === PreflightPath || /[:*]/.test(route.path)) continue;
    const methods = paths.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    paths.set(route.path, methods);
  }
  return paths;
}

describe("a static path shadowed by a parameter route of another method", () => {
  test("GET /v1/users/resend-verification: 405, Allow: POST, readable by the browser", async () => {
    const { t, acme } = collisionApp();
    const res = await t.call("GET", "/v1/users/resend-verification", {
      as: acme,
      headers: { origin: App },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(res.json.error).toMatchObject({
      code: "method_not_allowed",
      message: "GET is not allowed here; use POST",
      request_id: res.headers.get("x-request-id"),
    });
    expect(res.headers.get("access-control-allow-origin")).toBe(App);
  });

  test("every static path answers 405 with its own methods for any other method", async () => {
    const { t, acme } = collisionApp();
    const paths = staticPaths(t.app.routes);
    expect(paths.get("/v1/users/resend-verification")).toEqual(new Set(["POST"]));
    for (const [path, methods] of paths) {
      for (const method of Methods.filter((m) => !methods.has(m))) {
        const res = await t.call(method, path, { as: acme });
        const label = `${method} ${path}: ${res.text}`;
        expect(res.status, label).toBe(405);
        expect(res.json.error.code, label).toBe("method_not_allowed");
        expect(new Set(res.headers.get("allow")?.split(", ")), label).toEqual(methods);
      }
    }
  });

  test("the preflight offers the static path's methods only", async () => {
    const { t } = collisionApp();
    const res = await t.call("OPTIONS", "/v1/users/resend-verification", {
      headers: { origin: App, "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toBe("POST");
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
  });

  test("parameter routes still answer on every other path", async () => {
    const { t, acme } = collisionApp();
    const created = await t.call("POST", "/v1/users", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    const id = created.json.id;
    expect((await t.call("GET", `/v1/users/${id}`, { as: acme })).status).toBe(200);
    expect((await t.call("GET", "/v1/users/resend-verification2", { as: acme })).status).toBe(400);
    const patch = await t.call("PATCH", `/v1/users/${id}`, { as: acme });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")).toBe("GET, PUT, DELETE");
    const resend = await t.call("POST", "/v1/users/resend-verification", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    expect(resend.status).toBe(202);
  });
});

describe("the route-method index", () => {
  const index = routeMethodIndex([
    { method: "GET", path: "/things/:id" },
    { method: "PUT", path: "/things/:id" },
    { method: "POST", path: "/things/search" },
    { method: "GET", path: "/things/:id/parts" },
    { method: "DELETE", path: "/things/special/parts" },
    { method: "GET", path: "/files/*" },
  ]);

  test("names the most specific pattern's methods", () => {
    expect(index("/things/7")).toEqual(["GET", "PUT"]);
    expect(index("/things/search")).toEqual(["POST"]);
    expect(index("/things/search/")).toEqual(["POST"]);
    expect(index("/things/7/parts")).toEqual(["GET"]);
    expect(index("/things/special/parts")).toEqual(["DELETE"]);
    expect(index("/files/a/b")).toEqual(["GET"]);
    expect(index("/nothing")).toEqual([]);
  });

  test("flags only requests a parameter route would take from a more specific path", () => {
    expect(index.shadowedBy("GET", "/things/search")).toEqual(["POST"]);
    expect(index.shadowedBy("PUT", "/things/search")).toEqual(["POST"]);
    expect(index.shadowedBy("POST", "/things/search")).toBeNull();
    expect(index.shadowedBy("GET", "/things/special/parts")).toEqual(["DELETE"]);
    expect(index.shadowedBy("GET", "/things/7")).toBeNull();
    expect(index.shadowedBy("GET", "/things/7/parts")).toBeNull();
    expect(index.shadowedBy("OPTIONS", "/things/search")).toBeNull();
  });
});
