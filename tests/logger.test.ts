import { describe, expect, test } from "bun:test";
import pino from "pino";
import { createLogger, memoryDestination, SensitiveHeaders, SensitiveKeys } from "../src/logger.ts";

const Secret = "s3cr3t-value";

/** pino's own `redact` option, as the logger was configured before it redacted by itself. */
function pinoRedacting() {
  const { stream, lines } = memoryDestination();
  const logger = pino(
    {
      level: "info",
      base: undefined,
      timestamp: false,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: {
        paths: [
          ...SensitiveKeys.map((key) => `*.${key}`),
          "headers.authorization",
          'headers["x-api-secret"]',
        ],
        censor: "[redacted]",
      },
    },
    stream,
  );
  return { logger, lines };
}

function ours() {
  const { stream, lines } = memoryDestination();
  return { logger: createLogger({ level: "info", format: "json", destination: stream }), lines };
}

const withCode = (message: string) => Object.assign(new Error(message), { code: Secret });

/** Every shape of line the service logs, and the sensitive keys in each place they can be. */
const cases: [string, () => unknown[]][] = [
  ["a request line", () => [{ request_id: "req_1", status: 200, client_id: 1 }, "request"]],
  [
    "each key under any key",
    () => [{ body: Object.fromEntries(SensitiveKeys.map((k) => [k, Secret])) }],
  ],
  ["headers", () => [{ headers: Object.fromEntries(SensitiveHeaders.map((k) => [k, Secret])) }]],
  ["an error's code", () => [{ err: withCode("boom"), path: "/x" }, "unhandled error"]],
  ["an error as the object", () => [withCode("bare")]],
  ["an error under another key", () => [{ error: withCode("other") }]],
  ["an object among others", () => [{ tokens: { token: Secret, kept: 1 }, list: [1, 2] }]],
];

describe("the log's redaction", () => {
  for (const [name, args] of cases) {
    test(`${name}: censored as pino's redact option censored it, and no secret left`, () => {
      const reference = pinoRedacting();
      const mine = ours();
      const logged = args();
      (reference.logger.info as (...a: unknown[]) => void)(...logged);
      (mine.logger.info as (...a: unknown[]) => void)(...logged);
      const [line] = mine.lines;
      const { time, ...rest } = line!;
      expect(typeof time).toBe("string");
      expect(rest).toEqual(reference.lines[0]!);
      expect(JSON.stringify(line)).not.toContain(Secret);
    });
  }

  test("every sensitive key is censored, nested under any key and in headers", () => {
    const mine = ours();
    const all = Object.fromEntries(SensitiveKeys.map((key) => [key, Secret]));
    const headers = Object.fromEntries(SensitiveHeaders.map((key) => [key, Secret]));
    mine.logger.info({ body: all, query: all, headers: { ...headers, "x-api-key": "ifk_1" } });
    const [line] = mine.lines as Record<string, Record<string, unknown>>[];
    for (const key of SensitiveKeys) {
      expect(line!.body![key]).toBe("[redacted]");
      expect(line!.query![key]).toBe("[redacted]");
    }
    for (const key of SensitiveHeaders) expect(line!.headers![key]).toBe("[redacted]");
    expect(line!.headers!["x-api-key"]).toBe("ifk_1");
    expect(SensitiveKeys).toEqual(
      expect.arrayContaining(["api_secret", "apiSecret", "secret", "token", "code", "password"]),
    );
  });

  test("a child's bindings are censored, and the object logged is left as it was", () => {
    const mine = ours();
    const session = { token: Secret, user_id: 7 };
    mine.logger.child({ session }).child({ again: session }).info({ body: session }, "hello");
    expect(JSON.stringify(mine.lines)).not.toContain(Secret);
    expect(mine.lines[0]).toMatchObject({
      session: { token: "[redacted]", user_id: 7 },
      again: { token: "[redacted]" },
      body: { token: "[redacted]" },
    });
    expect(session.token).toBe(Secret);
  });

  test("an error keeps its library's code name; any other code is censored", () => {
    const mine = ours();
    const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
    const digits = Object.assign(new Error("bad code"), { code: "123456" });
    mine.logger.error({ err: busy }, "busy");
    mine.logger.error({ err: digits }, "digits");
    expect(mine.lines.map((line) => (line.err as { code: string }).code)).toEqual([
      "SQLITE_BUSY",
      "[redacted]",
    ]);
  });
});
