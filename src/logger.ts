import Redact from "@pinojs/redact";
import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  level: string;
  format: "json" | "pretty";
  /** Colours only make sense on a terminal. */
  colorize?: boolean;
  /** Where lines go; tests pass a collector. Defaults to stdout. */
  destination?: DestinationStream;
}

/** Keys censored one level down under any key: `{ body: { secret } }`, `{ err: { code } }`. */
export const SensitiveKeys = [
  "api_secret",
  "apiSecret",
  "secret",
  "token",
  "code",
  "password",
  "authorization",
];
/** And under `headers`, the partner's secret header too. */
export const SensitiveHeaders = ["authorization", "x-api-secret"];
const Censor = "[redacted]";

const redactNested = Redact({
  paths: SensitiveKeys,
  censor: Censor,
  serialize: (value: unknown) => value,
  strict: false,
});
const redactHeaders = Redact({
  paths: [...SensitiveKeys, ...SensitiveHeaders.map((name) => `["${name}"]`)],
  censor: Censor,
  serialize: (value: unknown) => value,
  strict: false,
});

/**
 * What pino's own `redact` option with the paths `*.<key>`, `headers.authorization` and
 * `headers["x-api-secret"]` censors, done by the same library, but only on the values that can
 * hold a key: pino ran its wildcard redactor on every value of every line, and that redactor
 * parses all its paths again on each call (about 8 us a request line, whose values are all
 * strings and numbers). Here a line without an object in it costs a loop over its keys.
 *
 * `err` is left to pino's serializer, which redacts the error after serialising it (as
 * pino did), so its enumerable fields (`code`) are censored too. pino's redaction also
 * covered objects interpolated into a message (`%j`); nothing here logs that way.
 */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  let redacted: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== "object" || value === null || key === "err") continue;
    redacted ??= { ...fields };
    redacted[key] = key === "headers" ? redactHeaders(value) : redactNested(value);
  }
  return redacted ?? fields;
}

/**
 * An error's `code` is censored like any other, except a library's or the system's own name for
 * what went wrong (SQLITE_BUSY, ECONNREFUSED): an operator needs that, and a sign-in code is
 * digits, never such a name.
 */
const ErrorCodeName = /^[A-Z][A-Z0-9_]{2,39}$/;

const serializeError = (error: unknown) => {
  const serialized = redactNested(pino.stdSerializers.err(error as Error));
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && ErrorCodeName.test(code) && typeof serialized === "object") {
    serialized.code = code;
  }
  return serialized;
};

/**
 * pino without a transport: transports run in worker threads that a compiled executable cannot
 * load, so pretty output is a plain synchronous stream instead.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    formatters: {
      level: (label: string) => ({ level: label }),
      log: redactLogFields,
    },
  };
  let logger: Logger;
  if (options.format === "pretty") {
    const stream = pretty({
      colorize: options.colorize === true && !options.destination,
      destination: options.destination ?? 1,
      sync: true,
      ignore: "pid,hostname",
      translateTime: "SYS:HH:MM:ss.l",
    });
    logger = pino(base, stream);
  } else {
    logger = pino(base, options.destination ?? pino.destination({ sync: true }));
  }
  // pino serialises a child's bindings once, without formatters.bindings (it swaps in its
  // own), so they are censored on the way in. Children inherit from this logger, so their
  // children come through here too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactLogFields(bindings), childOptions);
  } as Logger["child"];
  return logger;
}

/** Collects log lines in memory: for tests and for the CLI's quiet commands. */
export function memoryDestination() {
  const lines: Record<string, unknown>[] = [];
  const stream: DestinationStream = {
    write(chunk: string) {
      for (const line of chunk.split("\n")) {
        if (line.trim()) lines.push(JSON.parse(line));
      }
    },
  };
  return { stream, lines };
}

/** "ana@example.com" -> "a***@example.com": enough to tell addresses apart in a log. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

/** "+5511999990000" -> "+55*******0000". */
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return "***";
  return `${phone.slice(0, 3)}${"*".repeat(phone.length - 7)}${phone.slice(-4)}`;
}
