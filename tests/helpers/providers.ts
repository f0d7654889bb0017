import { createLogger, type Logger, memoryDestination } from "../../src/logger.ts";
import { createResendSender } from "../../src/notifications/email-sender.ts";
import { createTwilioSender } from "../../src/notifications/whatsapp-sender.ts";
import type { EmailSender, WhatsAppSender } from "../../src/outbox/types.ts";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";
import { startTwilioFake, type TwilioFake } from "../fakes/twilio-fake.ts";

export const ResendTestKey = "re_test_key";
export const TwilioTestToken = "tw-token";

export interface FakeProviders {
  resend: ResendFake;
  twilio: TwilioFake;
  /** The real Resend sender, paced far above what a test sends, talking to `resend`. */
  email: EmailSender;
  /** The real Twilio sender talking to `twilio`. */
  whatsapp: WhatsAppSender;
  /** The senders' logger, silent; for a worker built next to them. */
  logger: Logger;
  stop(): Promise<void>;
}

/** The Resend and Twilio fakes, and the real senders pointed at them with a silent logger. */
export function startFakeProviders(
  options: {
    accountSid?: string;
    emailFrom?: string;
    contentSids?: Parameters<typeof createTwilioSender>[0]["contentSids"];
  } = {},
): FakeProviders {
  const accountSid = options.accountSid ?? `AC${"ab".repeat(16)}`;
  const resend = startResendFake({ apiKey: ResendTestKey });
  const twilio = startTwilioFake({ accountSid, authToken: TwilioTestToken });
  const logger = createLogger({
    level: "silent",
    format: "json",
    destination: memoryDestination().stream,
  });
  return {
    resend,
    twilio,
    logger,
    email: createResendSender({
      apiKey: ResendTestKey,
      baseUrl: resend.url,
      from: options.emailFrom ?? "Acme <cases@acme.example>",
      ratePerSecond: 1000,
      logger,
    }),
    whatsapp: createTwilioSender({
      accountSid,
      authToken: TwilioTestToken,
      from: "+14155238886",
      contentSids: options.contentSids ?? {},
      apiBaseUrl: twilio.url,
      logger,
    }),
    async stop() {
      await Promise.all([resend.stop(), twilio.stop()]);
    },
  };
}
