import type { Twilio } from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient";
import type { MessageInstance, MessagePage } from "twilio/lib/rest/api/v2010/account/message";
import type { Config } from "../config.ts";
import { type Logger, maskPhone } from "../logger.ts";
import type { Language } from "../messages/language.ts";
import type { DeliveryResult, Lookup, WhatsAppSender } from "../outbox/types.ts";
import { maskNumbersIn, TwilioStatusPath } from "./twilio-status.ts";

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** The WhatsApp sender, E.164 with or without the "whatsapp:" prefix. */
  from: string;
  /** Approved Content Template per language; a language without one gets free text. */
  contentSids: Partial<Record<Language, string>>;
  /** TWILIO_API_BASE_URL: the SDK's requests go here instead of https://api.twilio.com. */
  apiBaseUrl?: string;
  /** PUBLIC_BASE_URL + /v1/providers/twilio/status; no callbacks are asked for without it. */
  statusCallbackUrl?: string;
  logger: Logger;
  /** Per request. The outbox lease has to outlive a whole batch of these. */
  timeoutMs?: number;
  /** Messages per page when looking for a message whose answer was lost. */
  lookupPageSize?: number;
}

const DefaultTimeoutMs = 10_000;
/**
 * A look-up reads at most this many pages. One number hears from us a few times per case
 * update; a history longer than this is not worth guessing through, and the look-up retries.
 */
const MaxLookupPages = 10;
const E164 = /^\+[1-9][0-9]{6,14}$/;

/**
 * Twilio's error codes that decide what the outbox does next. Anything not named here follows
 * the HTTP status: 429 and 5xx are worth retrying, any other 4xx is not.
 * https://www.twilio.com/docs/api/errors
 */
const TooManyRequests = 20429;
const SenderRateLimited = 63018;
const OutsideWindow = 63016;
const OptedOut = 21610;
const AuthenticationFailed = 20003;

/**
 * The SDK takes longer to load than the rest of the service together (~150 ms, axios and every
 * REST resource), so it is loaded when the first message needs it, not at start-up.
 */
const loadSdk = () => import("twilio").then((module) => module.default);

/**
 * The SDK talks HTTP through a RequestClient; this one sends every request to another origin
 * (a fake, a proxy) with the path and query Twilio's API would have had. The SDK builds the
 * full https://api.twilio.com URL itself, so the origin is swapped at the last moment.
 *
 * A message's creation, one per WhatsApp job, goes out through fetch: the SDK's own client
 * (axios) cost about four times the CPU per message, and fetch keeps its connections alive
 * just the same. Fetch does not repeat a POST whose connection drops, so a request sent once
 * is sent once. Everything else (the look-ups after a crash) keeps the SDK's RequestClient,
 * made on the first of them: fetch quietly sends a GET again when a reused connection drops,
 * and a look-up must report that as no answer.
 */
export class BaseUrlRequestClient {
  readonly #base: URL | null;
  readonly #timeout: number;
  #client: Promise<RequestClient> | undefined;

  constructor(baseUrl: string | undefined, options: { timeout: number }) {
    this.#base = baseUrl ? new URL(baseUrl) : null;
    this.#timeout = options.timeout;
  }

  async request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const uri = this.#target(opts.uri);
    if (opts.method === "post") return this.#post(opts, uri);
    this.#client ??= loadSdk().then(
      (twilio) => new twilio.RequestClient({ timeout: this.#timeout, keepAlive: true }),
    );
    return (await this.#client).request({ ...opts, uri });
  }

  #target(uri: string): string {
    if (!this.#base) return uri;
    const original = new URL(uri);
    const prefix = this.#base.pathname.replace(/\/+$/, "");
    return `${this.#base.origin}${prefix}${original.pathname}${original.search}`;
  }

  /** What the SDK's RequestClient would send and hand back, without axios. */
  async #post<TData>(opts: RequestClient.RequestOptions<TData>, uri: string) {
    const url = new URL(uri);
    for (const [name, value] of formFields(opts.params)) url.searchParams.append(name, value);
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string>) };
    if (opts.username && opts.password) {
      headers.Authorization = `Basic ${btoa(`${opts.username}:${opts.password}`)}`;
    } else if (opts.authStrategy) {
      headers.Authorization = await opts.authStrategy.getAuthString();
    }
    const type = headers["Content-Type"];
    const body =
      opts.data === undefined
        ? undefined
        : type === "application/json"
          ? JSON.stringify(opts.data)
          : new URLSearchParams(formFields(opts.data)).toString();
    const timeout = opts.timeout || this.#timeout;
    const signal = AbortSignal.timeout(timeout);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body,
        signal,
        redirect: opts.allowRedirects ? "follow" : "manual",
      });
      return {
        statusCode: response.status,
        // The SDK parses the JSON itself, as it does an answer that is not JSON.
        body: (await response.text()) as TData,
        headers: Object.fromEntries(response.headers),
      };
    } catch (error) {
      // As axios reports it, so the sender tells a timeout from a refused connection.
      if (signal.aborted) {
        throw Object.assign(new Error(`no answer from Twilio in ${timeout} ms`), {
          code: "ETIMEDOUT",
        });
      }
      throw error;
    }
  }
}

/** Form fields as the SDK's client writes them: a list repeats its name, nothing is left out. */
function formFields(values: unknown): [string, string][] {
  if (values === null || typeof values !== "object") return [];
  const fields: [string, string][] = [];
  for (const [name, value] of Object.entries(values)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) fields.push([name, one === null ? "" : String(one)]);
    }
  }
  return fields;
}

/**
 * Sends WhatsApp messages through Twilio's Messages API. Business-initiated messages need an
 * approved template outside the 24-hour customer service window, so a configured Content SID
 * always wins; free text is for the sandbox, where no template is configured.
 */
export function createTwilioSender(options: TwilioSenderOptions): WhatsAppSender {
  const { logger } = options;
  const timeout = options.timeoutMs ?? DefaultTimeoutMs;
  const httpClient = new BaseUrlRequestClient(options.apiBaseUrl, { timeout });
  // One client for every message, made when the first one goes.
  let client: Promise<Twilio> | undefined;
  const twilioClient = () =>
    (client ??= loadSdk().then((twilio) =>
      twilio(options.accountSid, options.authToken, {
        // The SDK only ever calls request(), which this client has.
        httpClient: httpClient as unknown as RequestClient,
        // Empty rather than absent: absent, the SDK reads TWILIO_EDGE, TWILIO_REGION and
        // TWILIO_LOG_LEVEL from the environment, and config.ts is the only reader of it. Debug
        // logging would also print every request to stdout.
        edge: "",
        region: "",
        logLevel: "",
      }),
    ));
  const from = whatsappAddress(options.from);

  return {
    async send(message, idempotencyKey) {
      const to = message.to.replace(/^whatsapp:/, "");
      const contentSid = options.contentSids[message.language] || undefined;
      const template = contentSid !== undefined;
      const log = (result: DeliveryResult, code?: number) =>
        logger.info(
          {
            channel: "whatsapp",
            to: maskPhone(to),
            language: message.language,
            template,
            outcome: result.outcome,
            code,
            error: "error" in result ? result.error : undefined,
          },
          "whatsapp delivery",
        );

      if (!E164.test(to)) {
        const result: DeliveryResult = { outcome: "failed", error: "not an E.164 phone number" };
        log(result);
        return result;
      }

      try {
        const created = await (await twilioClient()).messages.create({
          to: whatsappAddress(to),
          from,
          ...(template
            ? { contentSid, contentVariables: JSON.stringify(filledVariables(message.variables)) }
            : { body: message.text }),
          ...(options.statusCallbackUrl
            ? { statusCallback: callbackUrl(options.statusCallbackUrl, idempotencyKey) }
            : {}),
        });
        const result: DeliveryResult = { outcome: "sent", providerMessageId: created.sid };
        log(result);
        return result;
      } catch (error) {
        const result = classifyTwilioError(error, template);
        log(result, twilioError(error)?.code);
        return result;
      }
    },

    async findSent(message, window) {
      const to = message.to.replace(/^whatsapp:/, "");
      // send never makes a request for such a number, so nothing can be found.
      if (!E164.test(to)) return { outcome: "listed", sids: [] };
      const address = whatsappAddress(to);
      const template = Boolean(options.contentSids[message.language]);
      // Twilio keeps date_created to the second, truncated.
      const earliest = Math.floor(window.from / 1000) * 1000;
      const ours = (found: MessageInstance) => {
        const created = found.dateCreated?.getTime() ?? Number.NaN;
        return (
          found.direction === "outbound-api" &&
          found.to === address &&
          found.from === from &&
          created >= earliest &&
          created <= window.until &&
          // A template's body is Twilio's rendering, which we cannot predict; free text we sent.
          (template || sameText(found.body, message.text))
        );
      };
      const log = (result: Lookup, code?: number) =>
        logger.info(
          {
            channel: "whatsapp",
            to: maskPhone(to),
            outcome: result.outcome,
            found: result.outcome === "listed" ? result.sids.length : undefined,
            code,
            error: result.outcome === "retry" ? result.error : undefined,
          },
          "whatsapp lookup",
        );

      try {
        // Filtered by number only: a message Twilio still has queued has no date_sent, so a
        // DateSent filter would hide exactly the message that may be ours.
        let page: Pick<MessagePage, "instances" | "nextPageUrl" | "nextPage"> = await (
          await twilioClient()
        ).messages.page({
          to: address,
          from,
          pageSize: options.lookupPageSize ?? 100,
        });
        const found = page.instances.filter(ours);
        for (let read = 1; page.nextPageUrl; read += 1) {
          if (read >= MaxLookupPages) {
            const result: Lookup = {
              outcome: "retry",
              error: `more than ${read} pages of messages to this number; not guessing`,
            };
            log(result);
            return result;
          }
          const next = await page.nextPage();
          if (!next) break;
          page = next;
          found.push(...page.instances.filter(ours));
        }
        found.sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime());
        const result: Lookup = { outcome: "listed", sids: found.map((m) => m.sid) };
        log(result);
        return result;
      } catch (error) {
        // Whatever went wrong, not knowing is not "not there": the outbox asks again later.
        const classified = classifyTwilioError(error, template);
        const result: Lookup = {
          outcome: "retry",
          error: "error" in classified ? classified.error : "Twilio lookup failed",
        };
        log(result, twilioError(error)?.code);
        return result;
      }
    },
  };
}

/** Twilio hands the body back as it was sent, give or take line endings and outer space. */
function sameText(body: string | null | undefined, text: string): boolean {
  const normal = (value: string) => value.replaceAll("\r\n", "\n").trim();
  return body !== null && body !== undefined && normal(body) === normal(text);
}

/** With no Twilio account configured, a local run shows in the log what would have gone out. */
export function createLogWhatsAppSender(logger: Logger): WhatsAppSender {
  return {
    async send(message) {
      logger.info(
        {
          channel: "whatsapp",
          to: maskPhone(message.to.replace(/^whatsapp:/, "")),
          language: message.language,
          text: message.text,
        },
        "whatsapp not sent: no provider configured",
      );
      return { outcome: "skipped", reason: "no WhatsApp provider configured" };
    },
    // Nothing ever left this process, so nothing can have arrived.
    async findSent() {
      return { outcome: "listed", sids: [] };
    },
  };
}

/** Twilio when its account, token and sender are set (config.ts checks they come together). */
export function createWhatsAppSender(config: Config, logger: Logger): WhatsAppSender {
  if (!config.twilioAccountSid || !config.twilioAuthToken || !config.twilioWhatsappFrom) {
    return createLogWhatsAppSender(logger);
  }
  return createTwilioSender({
    accountSid: config.twilioAccountSid,
    authToken: config.twilioAuthToken,
    from: config.twilioWhatsappFrom,
    contentSids: {
      en: config.twilioContentSidEn,
      es: config.twilioContentSidEs,
      pt: config.twilioContentSidPt,
    },
    apiBaseUrl: config.twilioApiBaseUrl || undefined,
    statusCallbackUrl: `${config.publicBaseUrl}${TwilioStatusPath}`,
    logger,
  });
}

const whatsappAddress = (number: string) =>
  number.startsWith("whatsapp:") ? number : `whatsapp:${number}`;

/** Twilio refuses a template whose variables are empty, so a blank becomes a dash. */
function filledVariables(variables: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([key, value]) => {
      const text = String(value ?? "").trim();
      return [key, text === "" ? "-" : text];
    }),
  );
}

/**
 * The job's idempotency key rides on the callback URL (it is signed with it), so a callback
 * still finds its job when the answer carrying the message SID was never recorded: the
 * process stopped mid-request, or a 5xx came back for a message Twilio had in fact accepted.
 */
function callbackUrl(base: string, idempotencyKey: string): string {
  const separator = base.includes("?") ? "&" : "?";
  return `${base}${separator}job=${encodeURIComponent(idempotencyKey)}`;
}

interface TwilioError {
  status: number;
  code?: number;
  message: string;
}

/** RestException and TwilioServiceException both carry the HTTP status and Twilio's code. */
function twilioError(error: unknown): TwilioError | null {
  if (!(error instanceof Error) || !("status" in error)) return null;
  const { status, code } = error as { status: unknown; code?: unknown };
  if (typeof status !== "number") return null;
  return { status, code: typeof code === "number" ? code : undefined, message: error.message };
}

/** Failures before a connection was made: the request cannot have reached Twilio. */
const NeverConnected = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ConnectionRefused"]);

function classifyTwilioError(error: unknown, template: boolean): DeliveryResult {
  const twilioFailure = twilioError(error);
  if (!twilioFailure) {
    // The SDK rejects with axios' error when no HTTP answer came back: reset, refused, timeout.
    const cause = (error as { code?: unknown })?.code;
    const reason = typeof cause === "string" ? cause : String((error as Error)?.message ?? error);
    const neverConnected = typeof cause === "string" && NeverConnected.has(cause);
    return {
      outcome: "retry",
      error: `Twilio unreachable: ${reason}`,
      mayHaveLanded: !neverConnected,
    };
  }

  const { status, code } = twilioFailure;
  const described = `Twilio ${code ?? status}: ${maskNumbersIn(twilioFailure.message)}`;
  if (code === OptedOut) return { outcome: "failed", error: described, optedOut: true };
  if (code === OutsideWindow) {
    const advice = template
      ? "the template was refused for a message outside the 24-hour window"
      : "outside the 24-hour window free text is not allowed; configure a template";
    return { outcome: "failed", error: `${described} (${advice})` };
  }
  if (code === TooManyRequests || code === SenderRateLimited || status === 429) {
    return { outcome: "retry", error: described };
  }
  // Twilio may have created the message before its error: the retry looks before it sends.
  if (status >= 500) return { outcome: "retry", error: described, mayHaveLanded: true };
  if (code === AuthenticationFailed || status === 401) {
    return { outcome: "failed", error: `${described} (check TWILIO_ACCOUNT_SID and the token)` };
  }
  return { outcome: "failed", error: described };
}
