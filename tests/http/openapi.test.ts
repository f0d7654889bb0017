/**
 * The OpenAPI document at /docs/json, as a client generator or a validator reads it: valid
 * OpenAPI 3, each operation with the credentials it takes and the error answers it can give in
 * the envelope, and API.md's named types under components.schemas.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { bearer, createUser, publishable, signIn } from "../auth/sign-in.ts";
import { testApp } from "../helpers/app.ts";

const ApiMdPath = join(import.meta.dir, "..", "..", "..", "shared", "API.md");
/** The type names API.md uses, as of its current text (the skippable test below checks). */
const ApiMdTypeNames = [
  "Case",
  "CaseCreateRequest",
  "CaseDetailsResponse",
  "CaseSummary",
  "CaseUpdateRequest",
  "CheckRequest",
  "CheckResponse",
  "Client",
  "ClientLogoUpdateRequest",
  "ErrorEnvelope",
  "LoginCodeRequest",
  "LoginCodeVerifyRequest",
  "LoginVerifyResponse",
  "PartnerCaseDetailsResponse",
  "PartnerCaseSummary",
  "ResendVerificationRequest",
  "StatusUpdate",
  "User",
  "UserCreateRequest",
  "UserUpdateRequest",
  "Webhook",
  "WebhookCreateRequest",
  "WebhookUpdateRequest",
];

// any: the document is read field by field, as the tests read every JSON answer.
async function openApiDocument(): Promise<any> {
  const t = testApp();
  const res = await t.call("GET", "/docs/json");
  expect(res.status).toBe(200);
  return res.json;
}

const Partner = { apiKey: [], apiSecret: [] };
const PublishableKey = { apiKey: [] };
const UserToken = { userToken: [] };

/** Every `$ref` in the document, with where it sits. */
function refs(node: unknown, at = "#"): { at: string; ref: string }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => refs(item, `${at}/${i}`));
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === "$ref" ? [{ at, ref: String(value) }] : refs(value, `${at}/${key}`),
  );
}

function resolve(document: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
}

describe("the OpenAPI document", () => {
  test("is valid OpenAPI 3 against the specification's own schema", async () => {
    const document = await openApiDocument();
    expect(document.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test("every $ref resolves and no schema id appears twice", async () => {
    const document = await openApiDocument();
    for (const { at, ref } of refs(document)) {
      expect(resolve(document, ref), `${ref} at ${at}`).toBeDefined();
    }
    expect(JSON.stringify(document)).not.toContain('"$id"');
  });

  test("each operation names the credentials it takes", async () => {
    const { paths } = await openApiDocument();
    expect(paths["/v1/users"].post.security).toEqual([Partner]);
    expect(paths["/v1/users/{user_id}/cases"].get.security).toEqual([Partner, UserToken]);
    expect(paths["/v1/auth/login-code"].post.security).toEqual([PublishableKey, Partner]);
    expect(paths["/v1/users/resend-verification"].post.security).toEqual([
      PublishableKey,
      Partner,
      UserToken,
    ]);
    expect(paths["/v1/auth/logout"].post.security).toEqual([UserToken]);
    expect(paths["/v1/client/cases"].get.security).toEqual([Partner]);
    expect(paths["/v1/webhooks/{webhook_id}"].put.security).toEqual([Partner]);
    expect(paths["/v1/users/verify-email"].get.security).toEqual([]);
    expect(paths["/health"].get.security).toEqual([]);
    expect(JSON.stringify(paths)).not.toContain("x-access");
  });

  test("what the document says about credentials is what the routes do", async () => {
    const t = testApp();
    const { paths } = (await t.call("GET", "/docs/json")).json;
    const acme = t.createPartner();
    const userId = await createUser(t, acme, { email: "ana@example.com" });
    const { token } = await signIn(t, acme, "ana@example.com");
    const takes = (path: string, method: string, scheme: object) =>
      paths[path][method].security.some(
        (entry: object) => JSON.stringify(entry) === JSON.stringify(scheme),
      );

    // A user token where the document lists none is 403; where it lists one, it gets past.
    const routes: [string, string][] = [
      ["/v1/users", "/v1/users"],
      ["/v1/client", "/v1/client"],
      ["/v1/webhooks", "/v1/webhooks"],
      ["/v1/users/{user_id}/cases", `/v1/users/${userId}/cases`],
    ];
    for (const [path, concrete] of routes) {
      const res = await t.call("GET", concrete, { headers: bearer(token) });
      expect(res.status === 403, `${path}: ${res.status}`).toBe(!takes(path, "get", UserToken));
    }
    const withKeyOnly = await t.call("GET", "/v1/client", { headers: publishable(acme) });
    expect(withKeyOnly.status).toBe(403);
    expect(takes("/v1/client", "get", PublishableKey)).toBe(false);
  });

  test("error answers are listed per operation, in the envelope", async () => {
    const document = await openApiDocument();
    const { paths, components } = document;
    const statuses = (path: string, method: string) =>
      Object.keys(paths[path][method].responses).sort();

    expect(statuses("/v1/users/{user_id}", "get")).toEqual(
      ["200", "400", "401", "403", "404", "429", "500", "503"].sort(),
    );
    expect(statuses("/v1/users", "post")).toEqual(
      ["201", "400", "401", "403", "409", "413", "415", "429", "500", "503"].sort(),
    );
    // Every credential kind opens it, so no 403; nothing in its path to miss, so no 404.
    expect(statuses("/v1/users/resend-verification", "post")).not.toContain("403");
    expect(statuses("/v1/users/resend-verification", "post")).not.toContain("404");
    expect(statuses("/v1/users/{user_id}", "delete")).toContain("204");
    // The verification link's own 400 is an HTML page, not replaced by the envelope.
    expect(paths["/v1/users/verify-email"].get.responses["400"].content["text/html"]).toBeDefined();

    for (const [path, operations] of Object.entries<Record<string, any>>(paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        expect(operation.responses["500"], `${method} ${path}`).toBeDefined();
      }
    }
    const notFound = resolve(
      document,
      paths["/v1/webhooks/{webhook_id}"].get.responses["404"].$ref,
    );
    expect(notFound).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
    });
    expect(components.responses.RateLimited.headers["Retry-After"]).toBeDefined();
    expect(components.schemas.ErrorEnvelope.properties.error.required).toEqual([
      "code",
      "message",
      "request_id",
    ]);
  });

  test("API.md's named types are components, referenced where they are used", async () => {
    const { paths, components } = await openApiDocument();
    for (const name of [
      "User",
      "UserList",
      "CaseSummary",
      "CaseDetailsResponse",
      "StatusUpdate",
      "HistoryEntry",
      "CheckResponse",
      "Client",
      "PartnerCaseSummary",
      "Webhook",
      "WebhookDelivery",
      "LoginVerifyResponse",
      "ErrorEnvelope",
    ]) {
      expect(components.schemas[name], name).toBeDefined();
    }
    const json = (response: any) => response.content["application/json"].schema;
    expect(json(paths["/v1/users/{user_id}"].get.responses["200"])).toEqual({
      $ref: "#/components/schemas/User",
    });
    expect(json(paths["/v1/check"].post.responses["200"])).toEqual({
      $ref: "#/components/schemas/CheckResponse",
    });
    expect(json(paths["/v1/client/cases/{case_ref}"].get.responses["200"])).toEqual({
      $ref: "#/components/schemas/PartnerCaseDetailsResponse",
    });
    expect(json(paths["/v1/client/users/{user_id}/cases"].post.responses["201"])).toEqual({
      $ref: "#/components/schemas/PartnerCaseDetailsResponse",
    });
    expect(components.schemas.PartnerCaseDetailsResponse).toEqual(
      components.schemas.CaseDetailsResponse,
    );
    const requestBody = (operation: any) => json(operation.requestBody);
    expect(requestBody(paths["/v1/check"].post)).toEqual({
      $ref: "#/components/schemas/CheckRequest",
    });
    expect(requestBody(paths["/v1/users/resend-verification"].post)).toEqual({
      $ref: "#/components/schemas/ResendVerificationRequest",
    });
    expect(json(paths["/v1/users/resend-verification"].post.responses["202"])).toEqual({
      $ref: "#/components/schemas/Accepted",
    });
    expect(components.schemas.CaseDetailsResponse.properties.status_updates.items).toEqual({
      $ref: "#/components/schemas/StatusUpdate",
    });
  });

  test("every type API.md names is a component", async () => {
    const { components } = await openApiDocument();
    const missing = ApiMdTypeNames.filter((name) => components.schemas[name] === undefined);
    expect(missing).toEqual([]);
  });

  // The contract lives beside the repository, not in it; a clone on its own keeps this copy.
  test.skipIf(!existsSync(ApiMdPath))("this test's copy of API.md's type names is current", () => {
    const apiMd = readFileSync(ApiMdPath, "utf8");
    // Backticked PascalCase words: `User`, `CheckRequest`; GET or FLOW are not type names.
    const named = new Set([...apiMd.matchAll(/`([A-Z][a-z][A-Za-z]*)`/g)].map((m) => m[1]!));
    expect([...named].sort()).toEqual([...ApiMdTypeNames].sort());
  });

  test("every JSON body a route takes or answers with is a named component", async () => {
    const { paths } = await openApiDocument();
    const unnamed: string[] = [];
    for (const [path, operations] of Object.entries<Record<string, any>>(paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const bodies: [string, any][] = [
          ["request", operation.requestBody?.content?.["application/json"]],
          ...Object.entries<any>(operation.responses).map(([status, response]): [string, any] => [
            status,
            response.content?.["application/json"],
          ]),
        ];
        for (const [which, media] of bodies) {
          if (media && !media.schema?.$ref) unnamed.push(`${method} ${path} ${which}`);
        }
      }
    }
    // The verification link's JSON answer is described by hand beside its HTML page.
    expect(unnamed).toEqual(["get /v1/users/verify-email 200"]);
  });

  test("/health documents its 503", async () => {
    const responses = (await openApiDocument()).paths["/health"].get.responses;
    expect(Object.keys(responses).sort()).toEqual(["200", "500", "503"]);
  });

  test("does not depend on which routes were called before it", async () => {
    const t = testApp();
    const acme = t.createPartner();
    const userId = await createUser(t, acme, { email: "ana@example.com" });
    expect((await t.call("GET", `/v1/users/${userId}`, { as: acme })).status).toBe(200);
    const added = await t.call("POST", `/v1/users/${userId}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    expect(added.status).toBe(201);
    expect((await t.call("GET", "/v1/client", { as: acme })).status).toBe(200);

    const { components } = (await t.call("GET", "/docs/json")).json;
    // Answers say nothing of extra fields, as their schemas are written; requests refuse them.
    for (const name of ["User", "CaseDetailsResponse", "PartnerCaseDetailsResponse", "Client"]) {
      expect(components.schemas[name].additionalProperties, name).toBeUndefined();
    }
    expect(components.schemas.UserCreateRequest.additionalProperties).toBe(false);
    expect(components.schemas.CaseCreateRequest.additionalProperties).toBe(false);
  });

  test("is the same document on every request", async () => {
    const t = testApp();
    const first = await t.call("GET", "/docs/json");
    const second = await t.call("GET", "/docs/json");
    expect(second.text).toBe(first.text);
  });
});
