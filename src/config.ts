import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Cron } from "croner";

/**
 * Every setting the service reads, parsed once. This is the only module that reads the
 * environment; everything else receives a Config.
 */

export type UscisMode = "simulator" | "sandbox" | "production";

const ModeDefaults: Record<
  UscisMode,
  { apiBaseUrl: string; tokenUrl: string; ratePerSecond: number; dailyQuota: number }
> = {
  simulator: { apiBaseUrl: "", tokenUrl: "", ratePerSecond: 50, dailyQuota: 1_000_000 },
  sandbox: {
    apiBaseUrl: "https://api-int.uscis.gov",
    tokenUrl: "https://api-int.uscis.gov/oauth/accesstoken",
    ratePerSecond: 5,
    dailyQuota: 1_000,
  },
  production: {
    apiBaseUrl: "https://api.uscis.gov",
    tokenUrl: "https://api.uscis.gov/oauth/accesstoken",
    ratePerSecond: 10,
    dailyQuota: 10_000,
  },
};

const LogLevel = T.Union(
  ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => T.Literal(l)),
);

const Settings = T.Object({
  port: T.Integer({ minimum: 0, maximum: 65535 }),
  host: T.String({ minLength: 1 }),
  databasePath: T.String({ minLength: 1 }),
  publicBaseUrl: T.String({ minLength: 1 }),
  logLevel: LogLevel,
  logFormat: T.Union([T.Literal("json"), T.Literal("pretty")]),
  uscisMode: T.Union([T.Literal("simulator"), T.Literal("sandbox"), T.Literal("production")]),
  uscisClientId: T.String(),
  uscisClientSecret: T.String(),
  uscisApiBaseUrl: T.String(),
  uscisTokenUrl: T.String(),
  uscisRatePerSecond: T.Number({ exclusiveMinimum: 0, maximum: 1000 }),
  uscisDailyQuota: T.Integer({ minimum: 1 }),
  checkIntervalMinutes: T.Integer({ minimum: 1 }),
  checkerCron: T.String({ minLength: 1 }),
  corsOrigins: T.Array(T.String()),
  shutdownTimeoutSeconds: T.Integer({ minimum: 1, maximum: 600 }),
  resendApiKey: T.String(),
  resendBaseUrl: T.String(),
  emailFrom: T.String(),
  emailReplyTo: T.String(),
  emailRatePerSecond: T.Number({ exclusiveMinimum: 0, maximum: 1000 }),
  twilioAccountSid: T.String(),
  twilioAuthToken: T.String(),
  twilioWhatsappFrom: T.String(),
  twilioContentSidEn: T.String(),
  twilioContentSidEs: T.String(),
  twilioContentSidPt: T.String(),
  twilioApiBaseUrl: T.String(),
  userTokenTtlDays: T.Number({ exclusiveMinimum: 0, maximum: 3650 }),
  rateLimitPerMinute: T.Integer({ minimum: 1 }),
  webhookAllowPrivate: T.Boolean(),
  webhookAllowHttp: T.Boolean(),
  trustForwardedFor: T.Boolean(),
});

export type Config = Static<typeof Settings> & {
  /** Whether stdout is a terminal (pretty, coloured logs by default). */
  terminal: boolean;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** Environment variable for each setting, in the order README's table lists them. */
const Variables: Record<keyof Static<typeof Settings>, string> = {
  port: "PORT",
  host: "HOST",
  databasePath: "DATABASE_PATH",
  publicBaseUrl: "PUBLIC_BASE_URL",
  logLevel: "LOG_LEVEL",
  logFormat: "LOG_FORMAT",
  uscisMode: "USCIS_MODE",
  uscisClientId: "USCIS_CLIENT_ID",
  uscisClientSecret: "USCIS_CLIENT_SECRET",
  uscisApiBaseUrl: "USCIS_API_BASE_URL",
  uscisTokenUrl: "USCIS_TOKEN_URL",
  uscisRatePerSecond: "USCIS_RATE_PER_SECOND",
  uscisDailyQuota: "USCIS_DAILY_QUOTA",
  checkIntervalMinutes: "CHECK_INTERVAL_MINUTES",
  checkerCron: "CHECKER_CRON",
  corsOrigins: "CORS_ORIGINS",
  shutdownTimeoutSeconds: "SHUTDOWN_TIMEOUT_SECONDS",
  resendApiKey: "RESEND_API_KEY",
  resendBaseUrl: "RESEND_BASE_URL",
  emailFrom: "EMAIL_FROM",
  emailReplyTo: "EMAIL_REPLY_TO",
  emailRatePerSecond: "EMAIL_RATE_PER_SECOND",
  twilioAccountSid: "TWILIO_ACCOUNT_SID",
  twilioAuthToken: "TWILIO_AUTH_TOKEN",
  twilioWhatsappFrom: "TWILIO_WHATSAPP_FROM",
  twilioContentSidEn: "TWILIO_CONTENT_SID_EN",
  twilioContentSidEs: "TWILIO_CONTENT_SID_ES",
  twilioContentSidPt: "TWILIO_CONTENT_SID_PT",
  twilioApiBaseUrl: "TWILIO_API_BASE_URL",
  userTokenTtlDays: "USER_TOKEN_TTL_DAYS",
  rateLimitPerMinute: "RATE_LIMIT_PER_MINUTE",
  webhookAllowPrivate: "WEBHOOK_ALLOW_PRIVATE",
  webhookAllowHttp: "WEBHOOK_ALLOW_HTTP",
  trustForwardedFor: "TRUST_FORWARDED_FOR",
};

/**
 * What every on/off setting accepts, in any letter case; README's settings section lists the
 * same words. Anything else stops start-up rather than quietly meaning "off".
 */
export const FlagWords: Readonly<Record<"on" | "off", readonly string[]>> = {
  on: ["true", "1", "yes"],
  off: ["false", "0", "no"],
};

/** The variables that are on/off switches, from the settings' own types. */
export const FlagVariables: string[] = Object.entries(Settings.properties)
  .filter(([, schema]) => schema.type === "boolean")
  .map(([key]) => Variables[key as keyof typeof Variables]);

type Env = Record<string, string | undefined>;

/** Reads every variable into its setting; a value that is not even a number or flag is noted. */
function readSettings(env: Env, terminal: boolean, problems: string[]) {
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const number = (name: string, fallback: number) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    // Decimal only: Number() would also take "0x10" or "1e3" and start on a port nobody meant.
    const value = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) problems.push(`${name}: "${raw}" is not a number`);
    return value;
  };

  const flag = (name: string) => {
    const raw = read(name);
    const word = raw?.toLowerCase();
    if (word === undefined || FlagWords.off.includes(word)) return false;
    if (FlagWords.on.includes(word)) return true;
    const words = [...FlagWords.on, ...FlagWords.off].join(", ");
    problems.push(`${name}: "${raw}" is not a switch; use one of ${words}`);
    return false;
  };

  const rawMode = read("USCIS_MODE") ?? "simulator";
  const mode = (rawMode in ModeDefaults ? rawMode : "simulator") as UscisMode;
  if (!(rawMode in ModeDefaults)) {
    problems.push(`USCIS_MODE: "${rawMode}" must be simulator, sandbox or production`);
  }
  const defaults = ModeDefaults[mode];
  const port = number("PORT", 3000);
  const host = read("HOST") ?? "0.0.0.0";
  const apiBaseUrl = read("USCIS_API_BASE_URL")?.replace(/\/+$/, "");

  return {
    port,
    host,
    databasePath: read("DATABASE_PATH") ?? "./data/immigraflow.db",
    publicBaseUrl: (read("PUBLIC_BASE_URL") ?? `http://localhost:${port}`).replace(/\/+$/, ""),
    logLevel: read("LOG_LEVEL") ?? "info",
    logFormat: read("LOG_FORMAT") ?? (terminal ? "pretty" : "json"),
    uscisMode: mode,
    uscisClientId: read("USCIS_CLIENT_ID") ?? "",
    uscisClientSecret: read("USCIS_CLIENT_SECRET") ?? "",
    uscisApiBaseUrl: apiBaseUrl ?? defaults.apiBaseUrl,
    // A base URL of one's own (a staging proxy, simulate-uscis) means its own token endpoint
    // too: the mode's token URL would send the credentials to USCIS instead.
    uscisTokenUrl:
      read("USCIS_TOKEN_URL") ??
      (apiBaseUrl && mode !== "simulator" ? `${apiBaseUrl}/oauth/accesstoken` : defaults.tokenUrl),
    uscisRatePerSecond: number("USCIS_RATE_PER_SECOND", defaults.ratePerSecond),
    uscisDailyQuota: number("USCIS_DAILY_QUOTA", defaults.dailyQuota),
    checkIntervalMinutes: number("CHECK_INTERVAL_MINUTES", 360),
    checkerCron: read("CHECKER_CRON") ?? "* * * * *",
    corsOrigins: (read("CORS_ORIGINS") ?? "")
      .split(",")
      .map((origin) => origin.trim().replace(/\/+$/, ""))
      .filter(Boolean),
    shutdownTimeoutSeconds: number("SHUTDOWN_TIMEOUT_SECONDS", 10),
    resendApiKey: read("RESEND_API_KEY") ?? "",
    // The resend SDK reads RESEND_BASE_URL itself; reading it here too keeps it validated and
    // lets tests hand the SDK a fake's address without touching the process environment.
    resendBaseUrl: (read("RESEND_BASE_URL") ?? "https://api.resend.com").replace(/\/+$/, ""),
    emailFrom: read("EMAIL_FROM") ?? "ImmigraFlow <notifications@immigraflow.invalid>",
    emailReplyTo: read("EMAIL_REPLY_TO") ?? "",
    emailRatePerSecond: number("EMAIL_RATE_PER_SECOND", 2),
    twilioAccountSid: read("TWILIO_ACCOUNT_SID") ?? "",
    twilioAuthToken: read("TWILIO_AUTH_TOKEN") ?? "",
    twilioWhatsappFrom: read("TWILIO_WHATSAPP_FROM") ?? "",
    twilioContentSidEn: read("TWILIO_CONTENT_SID_EN") ?? "",
    twilioContentSidEs: read("TWILIO_CONTENT_SID_ES") ?? "",
    twilioContentSidPt: read("TWILIO_CONTENT_SID_PT") ?? "",
    twilioApiBaseUrl: (read("TWILIO_API_BASE_URL") ?? "").replace(/\/+$/, ""),
    userTokenTtlDays: number("USER_TOKEN_TTL_DAYS", 30),
    rateLimitPerMinute: number("RATE_LIMIT_PER_MINUTE", 600),
    webhookAllowPrivate: flag("WEBHOOK_ALLOW_PRIVATE"),
    webhookAllowHttp: flag("WEBHOOK_ALLOW_HTTP"),
    trustForwardedFor: flag("TRUST_FORWARDED_FOR"),
  };
}

/** The settings as read, before validation: what the checks below look at. */
type ReadSettings = ReturnType<typeof readSettings>;

/** Settings whose value, when set, is a URL: where the service sends requests, or its own. */
const UrlSettings = [
  "publicBaseUrl",
  "uscisApiBaseUrl",
  "uscisTokenUrl",
  "resendBaseUrl",
  "twilioApiBaseUrl",
] as const;

const ContentSidSettings = [
  "twilioContentSidEn",
  "twilioContentSidEs",
  "twilioContentSidPt",
] as const;

export function loadConfig(env: Env = Bun.env, terminal = process.stdout.isTTY === true): Config {
  const problems: string[] = [];
  const candidate = readSettings(env, terminal, problems);

  for (const error of Value.Errors(Settings, candidate)) {
    const key = error.path.split("/")[1] as keyof typeof Variables | undefined;
    const name = key ? Variables[key] : error.path;
    if (!problems.some((p) => p.startsWith(`${name}:`))) {
      problems.push(`${name}: ${describeError(error)} (got ${JSON.stringify(error.value)})`);
    }
  }
  for (const key of UrlSettings) {
    const url = candidate[key];
    if (url && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(url)) {
      problems.push(`${Variables[key]}: "${url}" must be an http or https URL`);
    }
  }
  problems.push(...crossChecks(candidate));
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...(candidate as Static<typeof Settings>), terminal };
}

/** TypeBox says "Expected union value" for a choice of words; the words are what helps. */
function describeError(error: { message: string; schema: object }) {
  const members = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  const choices = members?.map((member) => member.const);
  if (choices?.every((choice) => typeof choice === "string")) {
    return `must be one of ${choices.join(", ")}`;
  }
  return error.message;
}

/**
 * Start-up notes about settings that work but are probably not what was meant; serve logs them
 * as warnings. Not errors: tests and benches run on PORT=0 and never follow an e-mail link.
 */
export function configWarnings(config: Pick<Config, "port" | "publicBaseUrl">): string[] {
  const warnings: string[] = [];
  if (config.port === 0 && config.publicBaseUrl === "http://localhost:0") {
    warnings.push(
      "PUBLIC_BASE_URL: not set with PORT=0, so links in e-mails point at http://localhost:0; " +
        "set PUBLIC_BASE_URL to the address people reach the service at",
    );
  }
  return warnings;
}

function crossChecks(c: ReadSettings): string[] {
  const problems: string[] = [];
  if (c.uscisMode !== "simulator") {
    if (!c.uscisClientId) problems.push(`USCIS_CLIENT_ID: required when USCIS_MODE=${c.uscisMode}`);
    if (!c.uscisClientSecret) {
      problems.push(`USCIS_CLIENT_SECRET: required when USCIS_MODE=${c.uscisMode}`);
    }
  }
  const fields = c.checkerCron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    problems.push(`CHECKER_CRON: "${c.checkerCron}" must have five fields, or six with seconds`);
  } else {
    try {
      new Cron(c.checkerCron, { paused: true }).stop();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      problems.push(`CHECKER_CRON: "${c.checkerCron}" is not a cron pattern (${reason})`);
    }
  }
  for (const origin of c.corsOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^\s/]+$/.test(origin)) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an origin such as https://app.example`);
    }
  }
  if (c.corsOrigins.includes("*") && c.uscisMode === "production") {
    problems.push("CORS_ORIGINS: * is for development only, not with USCIS_MODE=production");
  }
  problems.push(...providerChecks(c));
  return problems;
}

const Address = '[^\\s@<>"(),;:]+@[^\\s@<>"(),;:]+\\.[^\\s@<>"(),;:.]+';
const SenderPattern = new RegExp(`^(?:${Address}|[^<>]*<${Address}>)$`);

/** The two forms Resend takes for a sender: `cases@acme.example` or `Acme <cases@acme.example>`. */
function isSender(value: string): boolean {
  return SenderPattern.test(value);
}

function providerChecks(c: ReadSettings): string[] {
  const problems: string[] = [];
  // Checked without a Resend key too: adding the key later should not be when a typo shows.
  if (!isSender(c.emailFrom)) {
    problems.push(
      `EMAIL_FROM: "${c.emailFrom}" must be an address or Name <address>, ` +
        "e.g. Acme <cases@acme.example>",
    );
  }
  if (c.emailReplyTo && !isSender(c.emailReplyTo)) {
    problems.push(
      `EMAIL_REPLY_TO: "${c.emailReplyTo}" must be an address or Name <address>, ` +
        "e.g. help@acme.example",
    );
  }
  const twilio = [c.twilioAccountSid, c.twilioAuthToken, c.twilioWhatsappFrom];
  if (twilio.some(Boolean) && !twilio.every(Boolean)) {
    problems.push(
      "TWILIO_ACCOUNT_SID: WhatsApp needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and " +
        "TWILIO_WHATSAPP_FROM together",
    );
  }
  if (c.twilioAccountSid && !/^AC[0-9a-fA-F]{32}$/.test(c.twilioAccountSid)) {
    problems.push("TWILIO_ACCOUNT_SID: must look like AC followed by 32 hex characters");
  }
  if (c.twilioWhatsappFrom && !/^(whatsapp:)?\+[1-9][0-9]{6,14}$/.test(c.twilioWhatsappFrom)) {
    problems.push("TWILIO_WHATSAPP_FROM: must be an E.164 number such as +14155238886");
  }
  for (const key of ContentSidSettings) {
    if (c[key] && !/^HX[0-9a-fA-F]{32}$/.test(c[key])) {
      problems.push(`${Variables[key]}: must look like HX followed by 32 hex characters`);
    }
  }
  return problems;
}
