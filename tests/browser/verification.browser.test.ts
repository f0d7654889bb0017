import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

/**
 * The verification page and the CORS preflight as a real browser meets them: Debian's
 * Chromium, headless, against the real app on a real socket, with the calling page served
 * from a second origin.
 */

const ChromiumPath = "/usr/bin/chromium";
// On a laptop without Chromium this file is skipped; in CI the browser is part of the job
// (.ci/run installs it), so a missing one must fail rather than pass silently.
const skip = !process.env.CI && !existsSync(ChromiumPath);

const ChromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// A 1x1 PNG: enough for the browser to decode the partner's logo.
const Logo = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA" +
    "WjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** A partner's web page that asks the API for a new verification e-mail from the browser. */
function partnerPage(apiOrigin: string, apiKey: string, email: string): string {
  const request = JSON.stringify({
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-KEY": apiKey },
    body: JSON.stringify({ email }),
  });
  return `<!doctype html><html><body><pre id="result">pending</pre><script>
const show = (text) => { document.getElementById("result").textContent = text; };
fetch(${JSON.stringify(`${apiOrigin}/v1/users/resend-verification`)}, ${request})
  .then(async (r) => show("answered " + r.status + " " + (await r.text()) + " " +
    r.headers.get("x-request-id")))
  .catch((error) => show("refused " + error.name));
</script></body></html>`;
}

describe.skipIf(skip)("in a real browser", () => {
  let t: TestApp;
  let acme: Credentials;
  let api: ReturnType<typeof Bun.serve>;
  let partnerSite: ReturnType<typeof Bun.serve>;
  let strangerSite: ReturnType<typeof Bun.serve>;
  let browser: BrowserContext;
  let profile: string;
  const logoRequests: Request[] = [];

  const site = (serve: (request: Request) => Response) =>
    Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: serve });
  const pageFor = () =>
    new Response(partnerPage(api.url.origin, acme.apiKey, "carla@example.com"), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });

  beforeAll(
    async () => {
      partnerSite = site((request) => {
        if (new URL(request.url).pathname !== "/logo.png") return pageFor();
        logoRequests.push(request);
        return new Response(Logo, { headers: { "content-type": "image/png" } });
      });
      strangerSite = site(pageFor);
      // The API's address goes into PUBLIC_BASE_URL, so the socket is opened before the app
      // exists and handed to it once built.
      let handle = (_request: Request): Response | Promise<Response> => new Response(null);
      api = site((request) => handle(request) as Response);
      t = testApp({
        env: {
          PUBLIC_BASE_URL: api.url.origin,
          CORS_ORIGINS: partnerSite.url.origin,
        },
      });
      handle = (request) => t.app.handle(request);
      acme = t.createPartner("Acme Immigration Law");
      t.database.sqlite.run("UPDATE clients SET logo_url = ?", [
        `${partnerSite.url.origin}/logo.png`,
      ]);

      profile = mkdtempSync(join(tmpdir(), "immigraflow-chromium-"));
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: ChromiumPath,
        headless: true,
        args: ChromiumArgs,
        locale: "es-ES",
      });
    },
    { timeout: 15_000 },
  );

  afterAll(async () => {
    await browser?.close();
    for (const server of [api, partnerSite, strangerSite]) server?.stop(true);
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function createUser(email: string, language: string): Promise<number> {
    const res = await t.call("POST", "/v1/users", {
      as: acme,
      body: { email, preferred_language: language },
    });
    expect(res.status).toBe(201);
    return res.json.id;
  }

  /** The link exactly as the e-mail carries it. */
  function linkFor(userId: number): string {
    const job = t.database.sqlite
      .query(
        "SELECT payload FROM outbox_jobs WHERE purpose = 'verification' AND user_id = ? " +
          "ORDER BY id DESC LIMIT 1",
      )
      .get(userId) as { payload: string };
    return /https?:\/\/\S+\/v1\/users\/verify-email\?token=ifv_[A-Za-z0-9]{43}/.exec(
      JSON.parse(job.payload).message.text,
    )![0];
  }

  test(
    "the link opens the page in the user's language, styled and with the logo",
    async () => {
      const pt = await createUser("ana@example.com", "pt");
      const es = await createUser("beto@example.com", "es");
      const page = await browser.newPage();

      const opened = await page.goto(linkFor(pt));
      expect(opened?.status()).toBe(200);
      expect(await page.textContent("h1")).toBe("Seu e-mail está confirmado");
      expect(await page.getAttribute("html", "lang")).toBe("pt-BR");
      // The style sheet is allowed by its hash and the logo by its origin: both took effect.
      expect(await page.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")).toBe(
        "22px",
      );
      await page.waitForFunction("document.querySelector('img').complete");
      expect(await page.evaluate("document.querySelector('img').naturalWidth")).toBe(1);
      expect(logoRequests.length).toBeGreaterThan(0);
      // The token is in the page's URL; fetching the logo must not hand it to the logo's host.
      for (const request of logoRequests) expect(request.headers.get("referer")).toBeNull();

      await page.goto(linkFor(es));
      expect(await page.textContent("h1")).toBe("Su correo electrónico está confirmado");
      await page.goto(linkFor(pt));
      expect(await page.textContent("h1")).toBe("Seu e-mail já estava confirmado");

      // A stranger's link names nobody; it speaks the browser's language (es-ES here).
      const invalid = await page.goto(`${api.url.origin}/v1/users/verify-email?token=nope`);
      expect(invalid?.status()).toBe(400);
      expect(await page.textContent("h1")).toBe("Este enlace no es válido o ha caducado");
      await page.close();
    },
    { timeout: 20_000 },
  );

  test(
    "a page on an allowed origin gets through the preflight; another origin is refused",
    async () => {
      await createUser("carla@example.com", "en");
      const page = await browser.newPage();
      const jobsBefore = countRows(t, "outbox_jobs");

      await page.goto(partnerSite.url.href);
      await page.waitForFunction("document.getElementById('result').textContent !== 'pending'");
      const allowed = await page.textContent("#result");

      expect(allowed).toMatch(/^answered 202 \{"accepted":true\} req_[0-9A-Z]{26}$/);
      expect(countRows(t, "outbox_jobs")).toBe(jobsBefore + 1);
      expect(t.logs.lines).toContainEqual(
        expect.objectContaining({ msg: "request", method: "OPTIONS", status: 204 }),
      );

      const postsBefore = resendPosts();
      await page.goto(strangerSite.url.href);
      await page.waitForFunction("document.getElementById('result').textContent !== 'pending'");
      const refused = await page.textContent("#result");

      expect(refused).toBe("refused TypeError");
      // The browser stopped at the preflight: the POST itself never reached the API.
      expect(resendPosts()).toBe(postsBefore);
      expect(countRows(t, "outbox_jobs")).toBe(jobsBefore + 1);
      await page.close();
    },
    { timeout: 20_000 },
  );

  const resendPosts = () =>
    t.logs.lines.filter(
      (line) => line.method === "POST" && line.route === "/v1/users/resend-verification",
    ).length;
});
