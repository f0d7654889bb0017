import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import twilio from "twilio";
import { validateRequest } from "twilio/lib/webhooks/webhooks";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import {
  BaseUrlRequestClient,
  createLogWhatsAppSender,
  createTwilioSender,
  createWhatsAppSender,
  type TwilioSenderOptions,
} from "../../src/notifications/whatsapp-sender.ts";
import type { WhatsAppMessage } from "../../src/outbox/types.ts";
import { startTwilioFake, type TwilioFakeMode } from "../fakes/twilio-fake.ts";

const AccountSid = `AC${"a1".repeat(16)}`;
const AuthToken = "twilio-auth-token-for-tests-0001";
const From = "+14155238886";
const ContentSids = {
  en: `HX${"e".repeat(32)}`,
  es: `HX${"5".repeat(32)}`,
  pt: `HX${"b".repeat(32)}`,
};
const CallbackUrl = "https://immigraflow.example/v1/providers/twilio/status";
const Phone = "+5511987654321";

const fake = startTwilioFake({ accountSid: AccountSid, authToken: AuthToken, slowMs: 1500 });
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  fake.setClock(Date.now);
});

function sender(overrides: Partial<TwilioSenderOptions> = {}) {
  const logs = memoryDestination();
  const logger = createLogger({ level: "info", format: "json", destination: logs.stream });
  const whatsapp = createTwilioSender({
    accountSid: AccountSid,
    authToken: AuthToken,
    from: From,
    contentSids: ContentSids,
    apiBaseUrl: fake.url,
    statusCallbackUrl: CallbackUrl,
    logger,
    ...overrides,
  });
  return { whatsapp, logs };
}

function message(overrides: Partial<WhatsAppMessage> = {}): WhatsAppMessage {
  return {
    to: Phone,
    language: "en",
    variables: { "1": "Ana", "2": "IOE0912345678", "3": "Case Was Approved" },
    text: "Ana, your case IOE0912345678 moved: Case Was Approved",
    ...overrides,
  };
}

describe("template messages", () => {
  for (const language of ["en", "es", "pt"] as const) {
    test(`${language} uses its own Content SID with the variables as JSON`, async () => {
      const { whatsapp } = sender();

      const result = await whatsapp.send(message({ language }), "job_01TEMPLATE");

      expect(result).toEqual({ outcome: "sent", providerMessageId: fake.messages[0]!.sid });
      const sent = fake.messages[0]!;
      expect(sent.sid).toMatch(/^SM[0-9a-f]{32}$/);
      expect(sent.contentSid).toBe(ContentSids[language]);
      expect(sent.body).toBeNull();
      expect(JSON.parse(sent.contentVariables!)).toEqual(message().variables);
    });
  }

  test("addresses carry the whatsapp: prefix and the callback names the job", async () => {
    const { whatsapp } = sender({ from: `whatsapp:${From}` });

    await whatsapp.send(message(), "job_01ADDRESS");

    const sent = fake.messages[0]!;
    expect(sent.to).toBe(`whatsapp:${Phone}`);
    expect(sent.from).toBe(`whatsapp:${From}`);
    expect(sent.statusCallback).toBe(`${CallbackUrl}?job=job_01ADDRESS`);
  });

  test("an empty variable is sent as a dash, never as an empty string", async () => {
    const { whatsapp } = sender();

    await whatsapp.send(message({ variables: { "1": "", "2": "  ", "3": "ok" } }), "job_01EMPTY");

    const variables = JSON.parse(fake.messages[0]!.contentVariables!);
    expect(variables).toEqual({ "1": "-", "2": "-", "3": "ok" });
  });

  test("accents and tildes arrive intact", async () => {
    const { whatsapp } = sender();
    const variables = { "1": "João", "2": "ação concluída", "3": "España, señora" };

    await whatsapp.send(message({ language: "pt", variables }), "job_01UTF8");

    expect(JSON.parse(fake.messages[0]!.contentVariables!)).toEqual(variables);
  });

  test("no StatusCallback is asked for when no callback URL is configured", async () => {
    const { whatsapp } = sender({ statusCallbackUrl: undefined });

    await whatsapp.send(message(), "job_01NOCALLBACK");

    expect(fake.messages[0]!.statusCallback).toBeNull();
  });
});

describe("free text", () => {
  test("a language without a Content SID gets the text as Body (the sandbox case)", async () => {
    const { whatsapp } = sender({ contentSids: { en: ContentSids.en } });
    const text = "Seu caso mudou: ação necessária. ¿Qué pasa en España? 🇧🇷";

    const result = await whatsapp.send(message({ language: "pt", text }), "job_01TEXT");

    expect(result.outcome).toBe("sent");
    const sent = fake.messages[0]!;
    expect(sent.body).toBe(text);
    expect(sent.contentSid).toBeNull();
    expect(sent.contentVariables).toBeNull();
  });

  test("an empty Content SID counts as none", async () => {
    const { whatsapp } = sender({ contentSids: { en: "", es: "", pt: "" } });

    await whatsapp.send(message(), "job_01BLANKSID");

    expect(fake.messages[0]!.body).toBe(message().text);
  });
});

describe("error classes", () => {
  const cases: [TwilioFakeMode, "retry" | "failed", string, boolean?][] = [
    ["too_many_requests", "retry", "Twilio 20429"],
    ["sender_rate_limited", "retry", "Twilio 63018"],
    ["server_error", "retry", "Twilio 20500"],
    ["service_unavailable", "retry", "Twilio 20503"],
    ["connection_reset", "retry", "Twilio unreachable: ECONNRESET"],
    ["outside_window", "failed", "Twilio 63016"],
    ["opted_out", "failed", "Twilio 21610", true],
    ["invalid_number", "failed", "Twilio 21211"],
  ];
  for (const [mode, outcome, error, optedOut] of cases) {
    test(`${mode} -> ${outcome}`, async () => {
      const { whatsapp } = sender();
      fake.failNext(mode);

      const result = await whatsapp.send(message(), "job_01ERROR");

      expect(result.outcome).toBe(outcome);
      expect("error" in result && result.error).toStartWith(error);
      expect("optedOut" in result && result.optedOut === true).toBe(optedOut === true);
      expect(fake.messages).toHaveLength(0);
    });
  }

  test("63016 on free text says a template is needed", async () => {
    const { whatsapp } = sender({ contentSids: {} });
    fake.failNext("outside_window");

    const result = await whatsapp.send(message(), "job_01WINDOW");

    expect(result).toMatchObject({ outcome: "failed" });
    expect("error" in result && result.error).toContain("configure a template");
  });

  test("a refused auth token is permanent (20003)", async () => {
    const { whatsapp } = sender({ authToken: "not-the-token" });

    const result = await whatsapp.send(message(), "job_01AUTH");

    expect(result).toMatchObject({ outcome: "failed" });
    expect("error" in result && result.error).toStartWith("Twilio 20003");
  });

  test("a timeout is worth retrying", async () => {
    const { whatsapp } = sender({ timeoutMs: 200 });
    fake.failNext("slow");

    const result = await whatsapp.send(message(), "job_01SLOW");

    expect(result.outcome).toBe("retry");
  });

  test("nobody listening is worth retrying, and cannot have reached Twilio", async () => {
    const { whatsapp } = sender({ apiBaseUrl: "http://127.0.0.1:9" });

    const result = await whatsapp.send(message(), "job_01REFUSED");

    expect(result).toMatchObject({ outcome: "retry", mayHaveLanded: false });
    expect("error" in result && result.error).toStartWith("Twilio unreachable: ECONNREFUSED");
  });

  test("a timed-out message may have reached Twilio: the retry looks first", async () => {
    const { whatsapp } = sender({ timeoutMs: 200 });
    fake.failNext("slow");

    const result = await whatsapp.send(message(), "job_01TIMEOUT");

    expect(result).toMatchObject({ outcome: "retry", mayHaveLanded: true });
    expect("error" in result && result.error).toBe("Twilio unreachable: ETIMEDOUT");
  });

  test("a message whose kept-alive connection drops is sent once, not again", async () => {
    const { whatsapp } = sender();
    await whatsapp.send(message(), "job_01FIRST");
    fake.failNext("connection_reset");

    const result = await whatsapp.send(message(), "job_01DROPPED");

    expect(result).toMatchObject({ outcome: "retry", mayHaveLanded: true });
    expect(fake.requests.map((request) => request.method)).toEqual(["POST", "POST"]);
    expect(fake.messages).toHaveLength(1);
  });

  test("a number that is not E.164 fails without calling Twilio", async () => {
    const { whatsapp } = sender();

    const result = await whatsapp.send(message({ to: "011 5511987654321" }), "job_01E164");

    expect(result).toMatchObject({ outcome: "failed" });
    expect(fake.requests).toHaveLength(0);
  });

  test("a retry after a failure sends normally", async () => {
    const { whatsapp } = sender();
    fake.failNext("service_unavailable");

    const first = await whatsapp.send(message(), "job_01AGAIN");
    const second = await whatsapp.send(message(), "job_01AGAIN");

    expect([first.outcome, second.outcome]).toEqual(["retry", "sent"]);
    expect(fake.messages).toHaveLength(1);
  });
});

describe("logs", () => {
  test("one line per delivery with the number masked, never the token", async () => {
    const { whatsapp, logs } = sender();
    fake.failNext("invalid_number");

    await whatsapp.send(message(), "job_01LOG1");
    await whatsapp.send(message(), "job_01LOG2");

    const lines = logs.lines.filter((line) => line.msg === "whatsapp delivery");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ to: "+55*******4321", outcome: "failed", code: 21211 });
    expect(lines[1]).toMatchObject({ to: "+55*******4321", outcome: "sent" });
    const everything = JSON.stringify(logs.lines);
    expect(everything).not.toContain(Phone);
    expect(everything).not.toContain(Phone.slice(1));
    expect(everything).not.toContain(AuthToken);
  });

  test("Twilio's error text loses the full number it quotes", async () => {
    const { whatsapp } = sender();
    fake.failNext("invalid_number");

    const result = await whatsapp.send(message(), "job_01QUOTE");

    expect("error" in result && result.error).not.toContain(Phone);
    expect("error" in result && result.error).toContain("+55*******4321");
  });
});

describe("where requests go", () => {
  test("TWILIO_API_BASE_URL sends the SDK's request to the same path elsewhere", async () => {
    const { whatsapp } = sender();

    await whatsapp.send(message(), "job_01ROUTE");

    expect(fake.requests).toEqual([
      { method: "POST", path: `/2010-04-01/Accounts/${AccountSid}/Messages.json`, status: 201 },
    ]);
  });

  test("the rewrite keeps the query and puts a base path in front", async () => {
    const client = new BaseUrlRequestClient(`${fake.url}/twilio/`, { timeout: 2000 });
    const path = `/2010-04-01/Accounts/${AccountSid}/Messages.json?PageSize=2&To=whatsapp%3A%2B1`;

    await client.request({
      method: "get",
      uri: `https://api.twilio.com${path}`,
      username: AccountSid,
      password: AuthToken,
    });

    expect(fake.requests.at(-1)?.path).toBe(`/twilio${path}`);
  });
});

describe("choosing a sender", () => {
  test("without Twilio settings messages go to the log and count as skipped", async () => {
    const logs = memoryDestination();
    const logger = createLogger({ level: "info", format: "json", destination: logs.stream });
    const whatsapp = createWhatsAppSender(loadConfig({}, false), logger);

    const result = await whatsapp.send(message(), "job_01LOGONLY");

    expect(result).toEqual({ outcome: "skipped", reason: "no WhatsApp provider configured" });
    const line = logs.lines.find(
      (entry) => entry.msg === "whatsapp not sent: no provider configured",
    );
    expect(line).toMatchObject({ to: "+55*******4321", text: message().text });
    expect(JSON.stringify(logs.lines)).not.toContain(Phone);
  });

  test("the log sender never calls anybody", async () => {
    const logger = createLogger({ level: "silent", format: "json" });

    const result = await createLogWhatsAppSender(logger).send(message(), "job_01QUIET");

    expect(result.outcome).toBe("skipped");
    expect(fake.requests).toHaveLength(0);
  });

  test("with Twilio settings it sends through Twilio, callbacks to PUBLIC_BASE_URL", async () => {
    const logger = createLogger({ level: "silent", format: "json" });
    const config = loadConfig(
      {
        PUBLIC_BASE_URL: "https://cases.example.org/",
        TWILIO_ACCOUNT_SID: AccountSid,
        TWILIO_AUTH_TOKEN: AuthToken,
        TWILIO_WHATSAPP_FROM: From,
        TWILIO_CONTENT_SID_ES: ContentSids.es,
        TWILIO_API_BASE_URL: fake.url,
      },
      false,
    );

    const result = await createWhatsAppSender(config, logger).send(
      message({ language: "es" }),
      "job_01CONFIG",
    );

    expect(result.outcome).toBe("sent");
    expect(fake.messages[0]).toMatchObject({
      contentSid: ContentSids.es,
      statusCallback: "https://cases.example.org/v1/providers/twilio/status?job=job_01CONFIG",
    });
  });
});

describe("the fake over HTTP, for tests that run the binary in another process", () => {
  test("modes, messages and signed status callbacks can be driven from outside", async () => {
    const received: { url: string; signature: string | null; form: Record<string, string> }[] = [];
    const receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const form = Object.fromEntries(new URLSearchParams(await request.text()));
        received.push({
          url: request.url,
          signature: request.headers.get("x-twilio-signature"),
          form,
        });
        return new Response(null, { status: 204 });
      },
    });
    const callbackBase = `http://127.0.0.1:${receiver.port}/v1/providers/twilio/status`;
    const { whatsapp } = sender({ statusCallbackUrl: callbackBase });
    const control = (path: string, body?: object) =>
      fetch(`${fake.url}${path}`, {
        method: body ? "POST" : "GET",
        headers: { "content-type": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });

    try {
      await control("/__fake/mode", { mode: "opted_out", times: 1 });
      const refused = await whatsapp.send(message(), "job_01REMOTE");
      const accepted = await whatsapp.send(message(), "job_01REMOTE");
      const listed = (await (await control("/__fake/messages")).json()) as any;
      const sid = listed.messages[0].sid;
      const reported = await control("/__fake/status", {
        sid,
        status: "undelivered",
        error_code: "63016",
      });

      expect([refused.outcome, accepted.outcome]).toEqual(["failed", "sent"]);
      expect(listed.messages).toHaveLength(1);
      expect(await reported.json()).toEqual({ callback_status: 204 });
      const callback = received[0]!;
      expect(callback.url).toBe(`${callbackBase}?job=job_01REMOTE`);
      expect(callback.form).toMatchObject({
        MessageSid: sid,
        MessageStatus: "undelivered",
        ErrorCode: "63016",
      });
      expect(validateRequest(AuthToken, callback.signature!, callback.url, callback.form)).toBe(
        true,
      );
      expect(validateRequest("other-token", callback.signature!, callback.url, callback.form)).toBe(
        false,
      );
    } finally {
      await receiver.stop(true);
    }
  });

  test("a dropped connection is logged with status 0", async () => {
    const { whatsapp } = sender();
    fake.failNext("connection_reset");

    await whatsapp.send(message(), "job_01DROPPED");

    expect(fake.requests.map((request) => request.status)).toEqual([0]);
  });
});

describe("looking for a message whose answer was lost", () => {
  const freeText = { contentSids: {} };

  test("pages through Twilio's list and keeps this text to this number, oldest first", async () => {
    const { whatsapp } = sender({ ...freeText, lookupPageSize: 2 });
    const clock = manualClock(Date.now());
    fake.setClock(clock.now);
    const start = clock.now();
    const sids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const sent = await whatsapp.send(message(), `job_${i}`);
      if (sent.outcome === "sent") sids.push(sent.providerMessageId!);
      clock.advance(1_000);
    }
    await whatsapp.send(message({ text: "another text" }), "job_other");
    await whatsapp.send(message({ to: "+5511900000000" }), "job_elsewhere");
    fake.requests.length = 0;

    const found = await whatsapp.findSent(message(), { from: start, until: clock.now() });

    expect(found).toEqual({ outcome: "listed", sids });
    // Six of ours to this number at two a page; the later pages carry Twilio's PageToken.
    const lookups = fake.requests.map((r) => new URL(r.path, fake.url).searchParams);
    expect(lookups.map((q) => q.get("Page"))).toEqual([null, "1", "2"]);
    expect(lookups.slice(1).every((q) => q.get("PageToken")?.startsWith("PASM"))).toBe(true);
    expect(lookups.every((q) => q.get("To") === `whatsapp:${Phone}`)).toBe(true);
    // No date filter: a message Twilio still queues has no date_sent to filter on.
    expect(lookups.some((q) => [...q.keys()].some((key) => key.startsWith("DateSent")))).toBe(
      false,
    );
  });

  test("only messages created within the window, to the second Twilio keeps", async () => {
    const { whatsapp } = sender(freeText);
    const clock = manualClock(Date.UTC(2026, 5, 1, 10, 0, 0, 0));
    fake.setClock(clock.now);
    const at = async (ms: number) => {
      clock.set(Date.UTC(2026, 5, 1, 10, 0, 0, 0) + ms);
      const sent = await whatsapp.send(message(), "job");
      return sent.outcome === "sent" ? sent.providerMessageId! : "";
    };
    await at(-1_000);
    const sameSecond = await at(100);
    const inside = await at(30_000);
    await at(61_000);

    // From 10:00:00.600: Twilio shows the message of 10:00:00.100 as 10:00:00.
    const window = {
      from: Date.UTC(2026, 5, 1, 10, 0, 0, 600),
      until: Date.UTC(2026, 5, 1, 10, 1),
    };
    expect(await whatsapp.findSent(message(), window)).toEqual({
      outcome: "listed",
      sids: [sameSecond, inside],
    });
  });

  test("a template's body is Twilio's own, so any body to the number may be it", async () => {
    const { whatsapp } = sender();
    const sent = await whatsapp.send(message(), "job_template");
    const window = { from: Date.now() - 5_000, until: Date.now() + 5_000 };

    expect(await whatsapp.findSent(message({ text: "rendered differently" }), window)).toEqual({
      outcome: "listed",
      sids: [sent.outcome === "sent" ? sent.providerMessageId! : ""],
    });
  });

  for (const mode of ["server_error", "too_many_requests", "connection_reset"] as const) {
    test(`${mode} is no answer: retry, never "not there"`, async () => {
      const { whatsapp } = sender(freeText);
      fake.failNext(mode);
      const found = await whatsapp.findSent(message(), { from: 0, until: Date.now() });
      expect(found.outcome).toBe("retry");
      expect(fake.requests.map((r) => r.method)).toEqual(["GET"]);
    });
  }

  test("a refused token is no answer either", async () => {
    const { whatsapp } = sender({ ...freeText, authToken: "wrong" });
    const found = await whatsapp.findSent(message(), { from: 0, until: Date.now() });
    expect(found).toMatchObject({ outcome: "retry", error: expect.stringContaining("20003") });
  });

  test("a history longer than it reads is not guessed through", async () => {
    const { whatsapp } = sender({ ...freeText, lookupPageSize: 1 });
    for (let i = 0; i < 11; i += 1) await whatsapp.send(message(), `job_${i}`);
    fake.requests.length = 0;
    const found = await whatsapp.findSent(message(), { from: 0, until: Date.now() + 1_000 });
    expect(found).toMatchObject({ outcome: "retry", error: expect.stringContaining("pages") });
    expect(fake.requests).toHaveLength(10);
  });

  test("a number that is not E.164 was never sent, and Twilio is not asked", async () => {
    const { whatsapp } = sender(freeText);
    const found = await whatsapp.findSent(message({ to: "12345" }), { from: 0, until: 1 });
    expect(found).toEqual({ outcome: "listed", sids: [] });
    expect(fake.requests).toHaveLength(0);
  });

  test("the log sender has sent nothing anywhere", async () => {
    const logger = createLogger({ level: "silent", format: "json" });
    const found = await createLogWhatsAppSender(logger).findSent(message(), { from: 0, until: 1 });
    expect(found).toEqual({ outcome: "listed", sids: [] });
  });
});

describe("the fake's Messages list, through the SDK", () => {
  const client = () =>
    twilio(AccountSid, AuthToken, {
      httpClient: new BaseUrlRequestClient(fake.url, { timeout: 5_000 }) as never,
      edge: "",
      region: "",
      logLevel: "",
    });

  test("filters by To and DateSent, pages as Twilio does, newest first", async () => {
    const { whatsapp } = sender();
    const clock = manualClock(Date.UTC(2026, 5, 1, 23, 59, 58));
    fake.setClock(clock.now);
    for (let i = 0; i < 4; i += 1) {
      await whatsapp.send(message(), `job_${i}`);
      clock.advance(1_000);
    }
    await whatsapp.send(message({ to: "+5511900000000" }), "job_other");

    const all = await client().messages.list({ to: `whatsapp:${Phone}`, pageSize: 3 });
    expect(all.map((m) => m.sid)).toEqual(
      fake.messages
        .slice(0, 4)
        .map((m) => m.sid)
        .reverse(),
    );
    expect(all[0]).toMatchObject({
      direction: "outbound-api",
      status: "sent",
      to: `whatsapp:${Phone}`,
    });
    expect(all[0]!.dateSent).toEqual(new Date(Date.UTC(2026, 6 - 1, 2, 0, 0, 1)));

    const after = await client().messages.list({
      to: `whatsapp:${Phone}`,
      dateSentAfter: new Date(Date.UTC(2026, 5, 2, 0, 0, 0)),
    });
    expect(after).toHaveLength(2);
    const page = (await (
      await fetch(
        `${fake.url}/2010-04-01/Accounts/${AccountSid}/Messages.json` +
          "?DateSent=2026-06-01&PageSize=1",
        {
          headers: { authorization: `Basic ${btoa(`${AccountSid}:${AuthToken}`)}` },
        },
      )
    ).json()) as Record<string, unknown>;
    expect(page).toMatchObject({
      page: 0,
      page_size: 1,
      start: 0,
      end: 0,
      previous_page_uri: null,
    });
    expect(page.next_page_uri).toContain("PageToken=PA");
    expect(page.messages).toHaveLength(1);
  });
});
