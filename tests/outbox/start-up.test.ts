/**
 * Start-up has a budget (bench/startup.ts: /health within 500 ms), and evaluating the Twilio SDK
 * took a good part of it. The SDKs are loaded by the first message of their channel instead;
 * checking a status callback's signature needs only Twilio's small webhooks module.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");

/** Runs `body` in a fresh Bun, whose module cache has seen nothing else, and returns its JSON. */
async function inFreshProcess(body: string): Promise<Record<string, unknown>> {
  const child = Bun.spawn([process.execPath, "-e", body], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  expect(code, err).toBe(0);
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

const loaded = `
  const loaded = (part) => Object.keys(require.cache).some((path) => path.includes(part));
  const logger = createLogger({
    level: "silent", format: "json", destination: memoryDestination().stream,
  });
`;

describe("the providers' SDKs at start-up", () => {
  test("serve and a configured Twilio sender load Twilio's only when a message goes", async () => {
    const seen = await inFreshProcess(`
      const { startTwilioFake } = await import("./tests/fakes/twilio-fake.ts");
      const { loadConfig } = await import("./src/config.ts");
      const { createLogger, memoryDestination } = await import("./src/logger.ts");
      await import("./src/cli/serve.ts");
      const { createWhatsAppSender } = await import("./src/notifications/whatsapp-sender.ts");
      ${loaded}
      const accountSid = "AC" + "ef".repeat(16);
      const fake = startTwilioFake({ accountSid, authToken: "tw-token" });
      const config = loadConfig({
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: "tw-token",
        TWILIO_WHATSAPP_FROM: "+14155238886",
        TWILIO_API_BASE_URL: fake.url,
      }, false);
      const sender = createWhatsAppSender(config, logger);
      const before = loaded("twilio/lib/rest/");
      const message = { to: "+5511999990000", language: "en", variables: { "1": "x" }, text: "hi" };
      const result = await sender.send(message, "job_01STARTUP");
      const after = loaded("twilio/lib/rest/");
      console.log(JSON.stringify({ before, after, outcome: result.outcome }));
      await fake.stop();
    `);

    expect(seen).toEqual({ before: false, after: true, outcome: "sent" });
  });

  test("serve and a configured Resend sender load Resend's only when an e-mail goes", async () => {
    const seen = await inFreshProcess(`
      const { startResendFake } = await import("./tests/fakes/resend-fake.ts");
      const { loadConfig } = await import("./src/config.ts");
      const { createLogger, memoryDestination } = await import("./src/logger.ts");
      await import("./src/cli/serve.ts");
      const { createEmailSender } = await import("./src/notifications/email-sender.ts");
      ${loaded}
      const fake = startResendFake({ apiKey: "re_test_key" });
      const config = loadConfig({
        RESEND_API_KEY: "re_test_key",
        RESEND_BASE_URL: fake.url,
        EMAIL_FROM: "Acme <cases@acme.example>",
      }, false);
      const sender = createEmailSender(config, logger);
      const before = loaded("node_modules/resend/");
      const message = { to: "ana@example.com", subject: "Hi", html: "<p>hi</p>", text: "hi" };
      const result = await sender.send(message, "job_01STARTUP");
      const after = loaded("node_modules/resend/");
      console.log(JSON.stringify({ before, after, outcome: result.outcome }));
      await fake.stop();
    `);

    expect(seen).toEqual({ before: false, after: true, outcome: "sent" });
  });
});
