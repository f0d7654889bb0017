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

/**
 * pino without a transport: transports run in worker threads that a compiled executable cannot
 * load, so pretty output is a plain synchronous stream instead.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: {
      paths: [
        "*.api_secret",
        "*.apiSecret",
        "*.secret",
        "*.token",
        "*.code",
        "*.password",
        "*.authorization",
        "headers.authorization",
        'headers["x-api-secret"]',
      ],
      censor: "[redacted]",
    },
  };
  if (options.format === "pretty") {
    const stream = pretty({
      colorize: options.colorize === true && !options.destination,
      destination: options.destination ?? 1,
      sync: true,
      ignore: "pid,hostname",
      translateTime: "SYS:HH:MM:ss.l",
    });
    return pino(base, stream);
  }
  return pino(base, options.destination ?? pino.destination({ sync: true }));
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
