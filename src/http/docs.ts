import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };

const Assets: Record<string, { path: string; type: string }> = {
  "swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { path: swaggerBundle, type: "text/javascript; charset=utf-8" },
};

const SpecPath = "/docs/json";

interface RouteInfo {
  method: string;
  path: string;
  hooks: { body?: unknown };
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>;
}

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
    const path = route.path.replace(/\/+$/, "").replace(/:([A-Za-z_]+)/g, "{$1}");
    const operation = document.paths?.[path]?.[route.method.toLowerCase()];
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
  return new Elysia({ name: "docs" })
    .onAfterHandle(({ path, response }) => {
      if (path !== SpecPath) return;
      return completeRequestBodies(
        response as OpenApiDocument,
        options.routes(),
        options.formPaths,
      );
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
          security: [{ apiKey: [], apiSecret: [] }, { userToken: [] }],
        },
      }),
    )
    .get("/docs", () => new Response(Page, { headers: { "content-type": "text/html" } }), {
      detail: { hide: true },
    })
    .get(
      "/docs/assets/:asset",
      ({ params, set }) => {
        // Own keys only: "constructor" or "toString" would otherwise find Object.prototype's.
        const asset = Object.hasOwn(Assets, params.asset) ? Assets[params.asset] : undefined;
        if (!asset) {
          set.status = 404;
          return "not found";
        }
        return new Response(Bun.file(asset.path), {
          headers: { "content-type": asset.type, "cache-control": "public, max-age=86400" },
        });
      },
      { detail: { hide: true } },
    );
}
