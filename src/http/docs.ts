import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import * as authSchemas from "../auth/auth.schemas.ts";
import * as casesSchemas from "../cases/cases.schemas.ts";
import * as checkSchemas from "../check/check.schemas.ts";
import * as clientSchemas from "../partners/client.schemas.ts";
import * as usersSchemas from "../users/users.schemas.ts";
import * as webhooksSchemas from "../webhooks/webhooks.schemas.ts";
import type { AccessKind } from "./auth.ts";
import { notFound } from "./errors.ts";

const Assets: Record<string, { path: string; type: string }> = {
  "swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { path: swaggerBundle, type: "text/javascript; charset=utf-8" },
};

const SpecPath = "/docs/json";

interface RouteInfo {
  method: string;
  path: string;
  hooks: { body?: unknown; response?: unknown };
}

type Json = Record<string, unknown>;

interface Operation {
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, Json & { content?: Record<string, { schema?: unknown }> }>;
  parameters?: { in: string }[];
  security?: Record<string, string[]>[];
  "x-access"?: AccessKind[];
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown>; responses?: Record<string, unknown> };
  security?: unknown;
}

const openApiPath = (path: string) =>
  path.replace(/\/+$/, "").replace(/:([A-Za-z_]+)/g, "{$1}") || "/";

/**
 * The generator leaves request bodies without a media type when the app reads bodies with its
 * own parser (ours, for the 415/413 rules), so the schemas are put back from the routes: JSON
 * everywhere but the form-posting provider callbacks.
 */
function completeRequestBodies(
  document: OpenApiDocument,
  routes: RouteInfo[],
  formPaths: string[],
): OpenApiDocument {
  for (const route of routes) {
    if (!route.hooks.body) continue;
    const operation = document.paths?.[openApiPath(route.path)]?.[route.method.toLowerCase()];
    if (!operation?.requestBody || Object.keys(operation.requestBody.content ?? {}).length > 0) {
      continue;
    }
    const mediaType = formPaths.includes(route.path)
      ? "application/x-www-form-urlencoded"
      : "application/json";
    // A JSON round trip drops TypeBox's symbol keys, leaving plain JSON Schema.
    operation.requestBody.content = {
      [mediaType]: { schema: JSON.parse(JSON.stringify(route.hooks.body)) },
    };
  }
  return document;
}

/**
 * Named types that say nothing of additional properties, noted before any app is built. The
 * framework writes `additionalProperties: false` into a response schema when it first compiles
 * that route's validator, so without this the document would depend on which routes had been
 * called before it was first asked for.
 */
const DeclaresNoAdditionalProperties = new WeakSet<object>();

/**
 * The object types of the feature schema modules, under their export names: the names API.md
 * gives them. The first name wins for an object exported twice.
 */
const NamedSchemas: Map<object, string> = (() => {
  const named = new Map<object, string>();
  const modules: Record<string, unknown>[] = [
    usersSchemas,
    casesSchemas,
    checkSchemas,
    clientSchemas,
    webhooksSchemas,
    authSchemas,
  ];
  for (const module of modules) {
    for (const [name, schema] of Object.entries(module)) {
      const isObjectType = (schema as { type?: unknown } | null)?.type === "object";
      if (isObjectType && !/(Params|Query)$/.test(name) && !named.has(schema as object)) {
        named.set(schema as object, name);
        if (!Object.hasOwn(schema as object, "additionalProperties")) {
          DeclaresNoAdditionalProperties.add(schema as object);
        }
      }
    }
  }
  return named;
})();

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Walks a route's own schema beside the document's copy of it (the same tree, give or take the
 * generator's rewriting of nullable unions), and puts every named type in components.schemas,
 * leaving a $ref where it was. Where the two trees part, the copy keeps the rest inline.
 */
function nameSchemas(source: unknown, copy: unknown, schemas: Record<string, unknown>): unknown {
  if (!isObject(source) || !isObject(copy)) return copy;
  const named = copy;
  for (const key of ["properties", "patternProperties"] as const) {
    const [inner, innerCopy] = [source[key], named[key]];
    if (!isObject(inner) || !isObject(innerCopy)) continue;
    for (const field of Object.keys(innerCopy)) {
      innerCopy[field] = nameSchemas(inner[field], innerCopy[field], schemas);
    }
  }
  if (named.items !== undefined) named.items = nameSchemas(source.items, named.items, schemas);
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const [inner, innerCopy] = [source[key], named[key]];
    if (!Array.isArray(inner) || !Array.isArray(innerCopy)) continue;
    named[key] = innerCopy.map((item, i) => nameSchemas(inner[i], item, schemas));
  }
  const name = NamedSchemas.get(source);
  if (!name) return named;
  const { $id: _id, ...schema } = named;
  if (DeclaresNoAdditionalProperties.has(source)) delete schema.additionalProperties;
  schemas[name] ??= schema;
  return schemaRef(name);
}

function nameRouteSchemas(document: OpenApiDocument, routes: RouteInfo[]): void {
  const schemas: Record<string, unknown> = {};
  for (const route of routes) {
    const operation = document.paths?.[openApiPath(route.path)]?.[route.method.toLowerCase()];
    if (!operation) continue;
    for (const media of Object.values(operation.requestBody?.content ?? {})) {
      media.schema = nameSchemas(route.hooks.body, media.schema, schemas);
    }
    const responses = isObject(route.hooks.response) ? route.hooks.response : {};
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      for (const media of Object.values(response.content ?? {})) {
        media.schema = nameSchemas(responses[status], media.schema, schemas);
      }
    }
  }
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...schemas, ErrorEnvelope },
  };
  // A JSON Schema resource id may appear once in a document; every named one is a $ref now.
  dropIds(document);
}

function dropIds(node: unknown): void {
  if (Array.isArray(node)) for (const item of node) dropIds(item);
  if (!isObject(node)) return;
  delete node.$id;
  for (const value of Object.values(node)) dropIds(value);
}

/** API.md's credentials, as the security schemes of the document. */
const SecurityOf: Record<AccessKind, Record<string, string[]>> = {
  partner: { apiKey: [], apiSecret: [] },
  publishable: { apiKey: [] },
  user: { userToken: [] },
};

const ErrorEnvelope = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      properties: {
        code: { type: "string", description: "a stable machine word, listed in API.md" },
        message: { type: "string", description: "for humans" },
        details: {
          type: "array",
          items: {
            type: "object",
            required: ["issue"],
            properties: { field: { type: "string" }, issue: { type: "string" } },
          },
        },
        request_id: { type: "string", description: "the X-Request-Id of the answer" },
      },
    },
  },
};

const envelopeResponse = (description: string, headers?: Json) => ({
  description,
  ...(headers && { headers }),
  content: { "application/json": { schema: schemaRef("ErrorEnvelope") } },
});

/** The error answers every route shares, by status, in the envelope. */
const ErrorResponses: Record<string, { name: string; response: Json }> = {
  "400": {
    name: "BadRequest",
    response: envelopeResponse("`validation_error`, `invalid_json` or `invalid_receipt_number`"),
  },
  "401": {
    name: "Unauthorized",
    response: envelopeResponse("`unauthorized`: no or bad credentials"),
  },
  "403": {
    name: "Forbidden",
    response: envelopeResponse("`forbidden`: these credentials do not open this route"),
  },
  "404": {
    name: "NotFound",
    response: envelopeResponse("`not_found`: no such resource within the caller's reach"),
  },
  "409": { name: "Conflict", response: envelopeResponse("`conflict` with an existing resource") },
  "413": {
    name: "PayloadTooLarge",
    response: envelopeResponse("`payload_too_large`: over 64 KiB"),
  },
  "415": {
    name: "UnsupportedMediaType",
    response: envelopeResponse("`unsupported_media_type`: the body is not JSON"),
  },
  "429": {
    name: "RateLimited",
    response: envelopeResponse("`rate_limited`", {
      "Retry-After": { description: "seconds to wait", schema: { type: "integer" } },
    }),
  },
  "500": { name: "InternalError", response: envelopeResponse("`internal_error`, with no detail") },
  "503": {
    name: "Unavailable",
    response: envelopeResponse(
      "`service_unavailable` (the database cannot store now) or, for a live look-up, " +
        "`upstream_unavailable` (USCIS cannot be reached)",
    ),
  },
};

/** Where a unique e-mail or receipt can clash; nothing in a route's schema says so. */
const ConflictRoutes = new Set([
  "post /v1/users",
  "put /v1/users/{user_id}",
  "post /v1/users/{user_id}/cases",
  "post /v1/client/users",
  "put /v1/client/users/{user_id}",
  "post /v1/client/users/{user_id}/cases",
]);

/** The statuses an operation can answer with besides its own, from what it takes and checks. */
function errorStatuses(path: string, method: string, operation: Operation): string[] {
  const access = operation["x-access"];
  const jsonBody = operation.requestBody?.content?.["application/json"] !== undefined;
  const statuses = new Set<string>(["500"]);
  if (operation.parameters?.length || operation.requestBody) statuses.add("400");
  if (access) {
    statuses.add("401");
    statuses.add("429");
    if (access.length < Object.keys(SecurityOf).length) statuses.add("403");
  }
  if (operation.parameters?.some((parameter) => parameter.in === "path")) statuses.add("404");
  if (ConflictRoutes.has(`${method} ${path}`)) statuses.add("409");
  if (jsonBody) {
    statuses.add("413");
    statuses.add("415");
  }
  if (path.startsWith("/v1/")) statuses.add("503");
  return [...statuses];
}

/**
 * Security and error answers per operation, from the `access` the auth macro put in each
 * route's detail (`x-access`), so the document cannot drift from what the routes enforce.
 */
function completeOperations(document: OpenApiDocument): void {
  const shared: Record<string, unknown> = {};
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const access = operation["x-access"];
      if (access) operation.security = access.map((kind) => SecurityOf[kind]);
      operation.security ??= [];

      operation.responses ??= {};
      const responses = operation.responses;
      if (!Object.keys(responses).some((status) => status.startsWith("2"))) {
        responses[method === "get" ? "200" : "204"] = {
          description: method === "get" ? "OK" : "Done; no content",
        };
      }
      for (const status of errorStatuses(path, method, operation)) {
        const { name, response } = ErrorResponses[status]!;
        shared[name] = response;
        responses[status] ??= { $ref: `#/components/responses/${name}` };
      }
      delete operation["x-access"];
    }
  }
  document.components = { ...document.components, responses: shared };
  delete document.security;
}

const Page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>ImmigraFlow API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css" /></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: "/docs/json", dom_id: "#swagger-ui", validatorUrl: null });
</script>
</body></html>`;

/**
 * The OpenAPI document comes from the route schemas; the page that renders it is served from
 * files embedded in the executable, because self-hosted and on-prem installs may have no
 * internet and a CDN-hosted page would be blank there.
 */
export function docsRoutes(options: {
  version: string;
  routes: () => RouteInfo[];
  formPaths: string[];
}) {
  // The generator caches its document and hands out the same object: complete a copy, once.
  const completed = new WeakMap<object, OpenApiDocument>();
  return new Elysia({ name: "docs" })
    .onAfterHandle(({ path, response }) => {
      if (path !== SpecPath || !isObject(response)) return;
      let document = completed.get(response);
      if (!document) {
        document = structuredClone(response) as OpenApiDocument;
        completeRequestBodies(document, options.routes(), options.formPaths);
        nameRouteSchemas(document, options.routes());
        completeOperations(document);
        completed.set(response, document);
      }
      return document;
    })
    .use(
      openapi({
        path: "/docs",
        specPath: SpecPath,
        provider: null,
        exclude: { paths: ["/docs", "/docs/assets/:asset", "/metrics"] },
        documentation: {
          info: {
            title: "ImmigraFlow API",
            version: options.version,
            description:
              "Watches USCIS receipt numbers, keeps each case's status history and tells " +
              "people when it moves.",
          },
          components: {
            securitySchemes: {
              apiKey: { type: "apiKey", in: "header", name: "X-API-KEY" },
              apiSecret: { type: "apiKey", in: "header", name: "X-API-SECRET" },
              userToken: { type: "http", scheme: "bearer" },
            },
          },
        },
      }),
    )
    .get(
      "/docs",
      () => new Response(Page, { headers: { "content-type": "text/html; charset=utf-8" } }),
      {
        detail: { hide: true },
      },
    )
    .get(
      "/docs/assets/:asset",
      ({ params }) => {
        // Own keys only: "constructor" or "toString" would otherwise find Object.prototype's.
        const asset = Object.hasOwn(Assets, params.asset) ? Assets[params.asset] : undefined;
        if (!asset) throw notFound("asset");
        return new Response(Bun.file(asset.path), {
          headers: { "content-type": asset.type, "cache-control": "public, max-age=86400" },
        });
      },
      { detail: { hide: true } },
    );
}
