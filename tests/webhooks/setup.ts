import type { EmailSender } from "../../src/outbox/types.ts";
import type { CaseStatusSource } from "../../src/uscis/types.ts";
import type { WebhookSenderOptions } from "../../src/webhooks/webhook-sender.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../fakes/webhook-receiver.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";

/** The receiver listens on 127.0.0.1 over http, which only these settings allow. */
export const LocalReceiverEnv = { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_ALLOW_HTTP: "true" };

export interface WebhookFixture {
  t: TestApp;
  acme: Credentials;
  receiver: WebhookReceiver;
  /** Creates a webhook to the receiver through the API and hands the receiver its secret. */
  subscribe(
    body?: Record<string, unknown>,
    as?: Credentials,
  ): Promise<{ id: number; secret: string }>;
  /** Delivers everything due now, as many runs as it takes. */
  drain(): Promise<void>;
  webhookJobs(): JobRow[];
  close(): Promise<void>;
}

export interface JobRow {
  id: number;
  webhook_id: number;
  event_id: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  payload: string;
}

export function webhookFixture(
  options: {
    env?: Record<string, string>;
    webhookSender?: Partial<Omit<WebhookSenderOptions, "db" | "clock">>;
    source?: CaseStatusSource;
    email?: EmailSender;
  } = {},
): WebhookFixture {
  const t = testApp({
    env: { ...LocalReceiverEnv, ...options.env },
    webhookSender: options.webhookSender,
    source: options.source,
    email: options.email,
  });
  const acme = t.createPartner();
  const receiver = startWebhookReceiver({ now: () => t.clock.now() });

  async function subscribe(body: Record<string, unknown> = {}, as: Credentials = acme) {
    const res = await t.call("POST", "/v1/webhooks", { as, body: { url: receiver.url, ...body } });
    if (res.status !== 201) throw new Error(`webhook not created: ${res.status} ${res.text}`);
    receiver.setSecret(res.json.secret);
    return { id: res.json.id as number, secret: res.json.secret as string };
  }

  async function drain() {
    for (let run = 0; run < 20; run += 1) {
      const summary = await t.outbox.runOnce();
      if (summary.claimed === 0) return;
    }
  }

  const webhookJobs = () =>
    t.database.sqlite
      .query("SELECT * FROM outbox_jobs WHERE channel = 'webhook' ORDER BY id")
      .all() as JobRow[];

  return {
    t,
    acme,
    receiver,
    subscribe,
    drain,
    webhookJobs,
    close: () => receiver.stop(),
  };
}
