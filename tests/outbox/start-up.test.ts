/**
 * Start-up has a budget (bench/startup.ts: /health within 500 ms), and evaluating the Twilio SDK
 * took about a third of it. The SDK is loaded by the first WhatsApp message instead; checking a
 * status callback's signature needs only its small webhooks module.
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

describe("the Twilio SDK at start-up", () => {
  test("serve and a configured Twilio sender load it only when the first message goes", async () => {
    const seen = await inFreshProcess(`
      const { startTwilioFake } = await import("./tests/fakes/twilio-fake.ts");
      const { loadConfig } = await import("./src/config.ts");
      const { createLogger, memoryDestination } = await import("./src/logger.ts");
      await import("./src/cli/serve.ts");
      const { createWhatsAppSender } = await import("./src/notifications/whatsapp-sender.ts");
      const accountSid = "AC" + "ef".repeat(16);
      const fake = startTwilioFake({ accountSid, authToken: "tw-token" });
      const config = loadConfig({
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: "tw-token",
        TWILIO_WHATSAPP_FROM: "+14155238886",
        TWILIO_API_BASE_URL: fake.url,
      }, false);
      const logger = createLogger({
        level: "silent", format: "json", destination: memoryDestination().stream,
      });
      const sender = createWhatsAppSender(config, logger);
      const sdk = () => Object.keys(require.cache).some((path) => path.includes("twilio/lib/rest/"));
      const before = sdk();
      const message = { to: "+5511999990000", language: "en", variables: { "1": "x" }, text: "hi" };
      const result = await sender.send(message, "job_01STARTUP");
      console.log(JSON.stringify({ before, after: sdk(), outcome: result.outcome }));
      await fake.stop();
    `);

    expect(seen).toEqual({ before: false, after: true, outcome: "sent" });
  });
});
