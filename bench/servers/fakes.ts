/**
 * The Resend and Twilio fakes from tests/fakes in a process of their own, so the outbox worker
 * under test does not share its event loop (or its heap: the fakes keep every message) with
 * the providers it talks to.
 */
import { startResendFake } from "../../tests/fakes/resend-fake.ts";
import { startTwilioFake } from "../../tests/fakes/twilio-fake.ts";

export const FakeCredentials = {
  resendApiKey: "re_bench_key",
  twilioAccountSid: `AC${"b".repeat(32)}`,
  twilioAuthToken: "bench-twilio-token",
};

if (import.meta.main) {
  const resend = startResendFake({ apiKey: FakeCredentials.resendApiKey });
  const twilio = startTwilioFake({
    accountSid: FakeCredentials.twilioAccountSid,
    authToken: FakeCredentials.twilioAuthToken,
  });
  process.stderr.write(
    `READY ${JSON.stringify({ port: 0, resend: resend.url, twilio: twilio.url })}\n`,
  );
  process.on("SIGTERM", async () => {
    await Promise.all([resend.stop(), twilio.stop()]);
    process.exit(0);
  });
}
