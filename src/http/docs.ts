import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };

const Assets: Record<string, { path: string; type: string }> = {
  "swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { path: swaggerBundle, type: "text/javascript; charset=utf-8" },
};

const Page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>ImmigraFlow API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css" /></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/docs/json", dom_id: "#swagger-ui" });</script>
</body></html>`;

/**
 * The OpenAPI document comes from the route schemas; the page that renders it is served from
 * files embedded in the executable, because self-hosted and on-prem installs may have no
 * internet and a CDN-hosted page would be blank there.
 */
export function docsRoutes(version: string) {
  return new Elysia({ name: "docs" })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: null,
        exclude: { paths: ["/docs", "/docs/assets/:asset", "/metrics"] },
        documentation: {
          info: {
            title: "ImmigraFlow API",
            version,
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
        const asset = Assets[params.asset];
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
