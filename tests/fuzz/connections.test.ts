/**
 * Hostile connections against the compiled executable on a real socket: oversized request
 * lines and headers, bodies and headers that trickle in, and thousands of connections that
 * open and then say nothing. Through all of it the service must keep answering everyone else
 * quickly, and never with a 5xx.
 *
 * The server is its own process, so its sockets and the test's do not share one file limit.
 * The issue asks for 10,000 idle connections; the test opens that many when the open-file
 * limit of this shell allows it (it inherits `ulimit -n`, which a running process cannot raise
 * for itself) and otherwise as many as the limit leaves room for, saying so in its output.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import fc from "fast-check";
import {
  copyBinaryTo,
  ensureBinary,
  type RunningServer,
  runBinary,
  startServer,
} from "../helpers/binary.ts";

const Seed = Number(process.env.FUZZ_SEED ?? 20260504);
const Runs = Number(process.env.FUZZ_RUNS ?? 200);

const WantedIdleConnections = 10_000;
/** Descriptors kept free for the runtime, the log pipes and the probes. */
const SpareDescriptors = 300;
/** What a probe may take while the server is under siege; it answers in milliseconds at rest. */
const ProbeBudgetMs = 2_000;

let work = "";
let server: RunningServer;
let partner: { api_key: string; api_secret: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "immigraflow-connections-"));
  const binary = copyBinaryTo(await ensureBinary(), work);
  const env = {
    DATABASE_PATH: join(work, "immigraflow.db"),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    // The probes are the traffic under test; the per-key limiter has tests of its own.
    RATE_LIMIT_PER_MINUTE: "1000000",
  };
  const created = await runBinary(
    binary,
    ["partner", "create", "--name", "Siege Partner", "--email", "ops@siege.example", "--json"],
    { env },
  );
  expect(created.code, created.stderr).toBe(0);
  partner = JSON.parse(created.stdout.trim().split("\n").at(-1) ?? "{}");
  // The listening line is an info line; everything else stays quiet under load.
  server = await startServer(binary, { env: { ...env, LOG_LEVEL: "info" } });
}, 180_000);

afterAll(async () => {
  await server?.process.stop(3_000);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A health check and an authenticated list, each within the budget; returns the slower one. */
async function probe(): Promise<number> {
  const started = performance.now();
  const [health, users] = await Promise.all([
    fetch(`${server.url}/health`, { signal: AbortSignal.timeout(ProbeBudgetMs) }),
    fetch(`${server.url}/v1/users`, {
      headers: { "x-api-key": partner.api_key, "x-api-secret": partner.api_secret },
      signal: AbortSignal.timeout(ProbeBudgetMs),
    }),
  ]);
  expect(health.status).toBe(200);
  expect(users.status).toBe(200);
  expect(((await users.json()) as { users: unknown[] }).users).toEqual([]);
  await health.text();
  return performance.now() - started;
}

interface Exchange {
  /** Everything the server sent before it closed or the wait ran out. */
  text: string;
  /** The status of the first response line, or null when none came. */
  status: number | null;
  closed: boolean;
}

/**
 * Writes `chunks` to a fresh connection, `gapMs` apart, then waits for the server to answer
 * (requests here say Connection: close) or for `waitMs` to pass.
 */
async function exchange(chunks: (string | Uint8Array)[], gapMs = 0, waitMs = 5_000) {
  let text = "";
  let closed = false;
  let wake = () => {};
  const ended = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.port,
    socket: {
      data(_socket, data) {
        text += new TextDecoder().decode(data);
        // A whole answer head is here; what follows it arrives in the same breath or not at all.
        if (text.includes("\r\n\r\n")) setTimeout(wake, 50);
      },
      close() {
        closed = true;
        wake();
      },
      error() {
        closed = true;
        wake();
      },
    },
  });
  for (const chunk of chunks) {
    if (closed) break;
    socket.write(chunk);
    if (gapMs > 0) await Bun.sleep(gapMs);
  }
  await Promise.race([ended, Bun.sleep(waitMs)]);
  if (!closed) socket.end();
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  return { text, status: status ? Number(status) : null, closed } satisfies Exchange;
}

const requestHead = (method: string, path: string, headers: string[] = []) =>
  [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...headers, "", ""].join(
    "\r\n",
  );

/** The descriptor limit this test process (and the server, its child) runs under. */
function openFileLimit(): number {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
  return soft === undefined || soft === "unlimited" ? WantedIdleConnections * 2 : Number(soft);
}

function residentMegabytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

const rawLine = fc.string({
  unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
  maxLength: 30,
});

/** Mostly what a server sees every day, sometimes what only an attacker sends. */
const usually = <T>(valid: T[], odd: T[]) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...odd) },
  );

/** Request heads a client library would never write: the server's own parser is under test. */
const malformedRequest = fc
  .record({
    method: usually(
      ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"],
      ["get", "G E T", "", "\u0000"],
    ),
    target: usually(
      [
        "/health",
        "/v1/users",
        "/v1/users/1/cases/FLOW0000001",
        "/v1/check",
        "/v1/client/cases?updated_since=2026-01-01T00:00:00Z",
        "/v1/users?limit=1#frag",
        "/v1/%ZZ",
        "/v1/users/%00",
        "/v1/users/%2e%2e/client",
      ],
      [
        "http://127.0.0.1/v1/users",
        "https://evil.example/v1/users",
        "*",
        "",
        "v1/users",
        "/\u00ff\u0080",
        "//",
      ],
    ),
    version: usually(["HTTP/1.1", "HTTP/1.0"], ["HTTP/2.0", "HTTP/1.1 junk", "", "HTTP/9"]),
    host: usually(["Host: 127.0.0.1"], ["", "Host:", "Host: a\r\nHost: b", "Host: \u00ff"]),
    framing: usually(
      ["", "Content-Length: 2\r\n\r\n{}", "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"],
      [
        "Content-Length: -1\r\n\r\n{}",
        "Content-Length: abc\r\n\r\n{}",
        "Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
        "Content-Length: 99999999999999999999\r\n\r\n{}",
        "Content-Length: 10\r\n\r\n{}",
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n" +
          "GET /health HTTP/1.1\r\n\r\n",
        "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "Content-Length: 2\r\n\r\n{}GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
      ],
    ),
    extra: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            "Content-Type: application/json",
            "Content-Type: text/plain",
            "Content-Type: application/x-www-form-urlencoded",
            "Accept: application/json",
            "Origin: https://evil.example",
            "X-Request-Id: ../../etc",
            "X-API-KEY: ifk_000000000000000000000000",
            "X-API-SECRET: ifs_x",
            "Authorization: Bearer ift_x",
            "Expect: 100-continue",
            "Upgrade: websocket\r\nConnection: Upgrade",
            "Accept-Encoding: gzip, br",
            "Cookie: a=b; c",
          ),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "NoColonHere",
            " Leading: space",
            "Trailing : space",
            "X-Fold: a\r\n  folded",
            "X-API-KEY: ifk_\u0000",
            "Authorization: Bearer \u00ff",
          ),
        },
        { weight: 1, arbitrary: rawLine.map((line) => `X-Raw: ${line.replace(/[\r\n]/g, "")}`) },
      ),
      { maxLength: 4 },
    ),
    close: fc.boolean(),
  })
  .map(({ method, target, version, host, framing, extra, close }) => {
    const lines = [`${method} ${target} ${version}`, host, ...extra];
    if (close) lines.push("Connection: close");
    const head = lines.filter((line) => line !== "").join("\r\n");
    return `${head}\r\n${framing || "\r\n"}`;
  });

describe("hostile connections against the running executable", () => {
  test("malformed HTTP is refused without a 5xx, a trace or an error in the log", async () => {
    const logsBefore = server.process.logs.length;
    await fc.assert(
      fc.asyncProperty(malformedRequest, async (request) => {
        const bytes = Uint8Array.from(request, (char) => char.charCodeAt(0) & 0xff);
        const answer = await exchange([bytes], 0, 300);
        const statuses = [...answer.text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) =>
          Number(m[1]),
        );
        if (process.env.FUZZ_STATS)
          console.log(
            "raw",
            statuses.join(",") || (answer.closed ? "closed" : "open"),
            /request_id/.test(answer.text) ? "app" : "parser",
            JSON.stringify(request).slice(0, 80),
          );
        // 505 is the HTTP parser's right answer to "HTTP/2.0" or "HTTP/9" in a request line.
        expect(statuses.filter((status) => status >= 500 && status !== 505)).toEqual([]);
        expect(answer.text).not.toMatch(/\n\s+at |node_modules|\/src\/|SQLITE/i);
      }),
      { seed: Seed, numRuns: Runs },
    );
    const errors = server.process.logs.slice(logsBefore).filter((line) => line.level === "error");
    expect(errors).toEqual([]);
    expect(await probe()).toBeLessThan(ProbeBudgetMs);
  }, 120_000);

  test("the route fuzzing's findings hold in the production build too", async () => {
    const asset = await fetch(`${server.url}/docs/assets/constructor`);
    expect(asset.status).toBe(404);
    await asset.text();
    for (const raw of [
      JSON.stringify({ email: { toString: "" } }),
      `${"[".repeat(20_000)}${"]".repeat(20_000)}`,
    ]) {
      const started = performance.now();
      const res = await fetch(`${server.url}/v1/users`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": partner.api_key,
          "x-api-secret": partner.api_secret,
        },
        body: raw,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(
        /^(validation_error|invalid_json)$/,
      );
      expect(performance.now() - started).toBeLessThan(500);
    }
  });

  test("oversized request lines and headers: a 4xx or a closed socket", async () => {
    const cases: [string, string][] = [
      ["a 64 KiB header", requestHead("GET", "/health", [`X-Big: ${"a".repeat(64 * 1024)}`])],
      [
        "a 1 MiB header block",
        requestHead(
          "GET",
          "/health",
          Array.from({ length: 256 }, (_, i) => `X-${i}: ${"b".repeat(4096)}`),
        ),
      ],
      [
        "5,000 small headers",
        requestHead(
          "GET",
          "/health",
          Array.from({ length: 5_000 }, (_, i) => `X-H${i}: v`),
        ),
      ],
      ["a 100 KiB request line", requestHead("GET", `/v1/users/${"9".repeat(100 * 1024)}`)],
      [
        "a 20 KiB API key",
        requestHead("GET", "/v1/users", [`X-API-KEY: ifk_${"k".repeat(20 * 1024)}`]),
      ],
      [
        "a 20 KiB bearer token",
        requestHead("GET", "/v1/users", [`Authorization: Bearer ${"t".repeat(20 * 1024)}`]),
      ],
    ];
    const answers: string[] = [];
    for (const [label, head] of cases) {
      const answer = await exchange([head]);
      answers.push(`${label}: ${answer.status ?? (answer.closed ? "closed" : "no answer")}`);
      // Refusing by closing the connection is acceptable; a 5xx or a hang is not.
      expect({ label, fiveHundred: (answer.status ?? 0) >= 500 }).toEqual({
        label,
        fiveHundred: false,
      });
      expect({ label, answeredOrClosed: answer.status !== null || answer.closed }).toEqual({
        label,
        answeredOrClosed: true,
      });
      expect(answer.text).not.toMatch(/\n\s+at |node_modules|\/src\//);
      expect(await probe()).toBeLessThan(ProbeBudgetMs);
    }
    console.log(`oversized heads answered: ${answers.join("; ")}`);
  }, 60_000);

  test("bodies and headers that trickle in do not hold up anyone else", async () => {
    const body = JSON.stringify({ receipt_number: "EAC9999103403" });
    const head = requestHead("POST", "/v1/check", [
      "Content-Type: application/json",
      `Content-Length: ${body.length}`,
      `X-API-KEY: ${partner.api_key}`,
      `X-API-SECRET: ${partner.api_secret}`,
    ]);
    // 40 slow bodies, a byte every 100 ms, and 40 slow header blocks, a line every 100 ms.
    const slowBodies = Array.from({ length: 40 }, () =>
      exchange([head, ...body.split("")], 100, 10_000),
    );
    const slowHeads = Array.from({ length: 40 }, () =>
      exchange(
        [
          ...requestHead("GET", "/health", ["X-Slow: 1", "X-Slower: 2"])
            .split(/(?<=\r\n)/)
            .flatMap((line) => line.split(/(?<=: )/)),
        ],
        100,
        10_000,
      ),
    );

    const latencies: number[] = [];
    const siegeEnds = Date.now() + 2_500;
    while (Date.now() < siegeEnds) latencies.push(await probe());
    expect(Math.max(...latencies)).toBeLessThan(ProbeBudgetMs);

    // The slow callers are served too, once their request is complete.
    for (const answer of await Promise.all(slowBodies)) {
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('"receipt_number":"EAC9999103403"');
    }
    for (const answer of await Promise.all(slowHeads)) expect(answer.status).toBe(200);
  }, 60_000);

  test("thousands of idle connections do not starve other callers", async () => {
    const limit = openFileLimit();
    const wanted = Math.min(WantedIdleConnections, limit - SpareDescriptors);
    if (wanted < WantedIdleConnections) {
      console.log(
        `ulimit -n is ${limit}: opening ${wanted} idle connections, not ${WantedIdleConnections}`,
      );
    }

    const sockets: Socket<{ open: boolean }>[] = [];
    let failed = 0;
    const handlers = {
      data() {},
      close(socket: Socket<{ open: boolean }>) {
        socket.data.open = false;
      },
      error(socket: Socket<{ open: boolean }>) {
        socket.data.open = false;
      },
    };
    const rssBefore = residentMegabytes(server.process.pid);
    const started = performance.now();
    try {
      // In batches, so the listen backlog is never the thing that is tested.
      for (let opened = 0; opened < wanted; opened += 500) {
        const batch = Array.from({ length: Math.min(500, wanted - opened) }, (_, i) =>
          Bun.connect({
            hostname: "127.0.0.1",
            port: server.port,
            data: { open: true },
            socket: handlers,
          }).then((socket) => {
            // Half say nothing at all; half start a request and never finish it.
            if ((opened + i) % 2 === 1) socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            return socket;
          }),
        );
        for (const result of await Promise.allSettled(batch)) {
          if (result.status === "fulfilled") sockets.push(result.value);
          else failed += 1;
        }
      }
      const openedMs = Math.round(performance.now() - started);

      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) latencies.push(await probe());
      const stillOpen = sockets.filter((socket) => socket.data.open).length;
      const rssAfter = residentMegabytes(server.process.pid);
      console.log(
        `${sockets.length} idle connections opened in ${openedMs} ms (${failed} refused), ` +
          `${stillOpen} still open after the probes; slowest probe ` +
          `${Math.round(Math.max(...latencies))} ms; server RSS ${Math.round(rssBefore)} -> ` +
          `${Math.round(rssAfter)} MiB`,
      );

      expect(failed).toBe(0);
      expect(stillOpen).toBeGreaterThanOrEqual(wanted * 0.95);
      expect(Math.max(...latencies)).toBeLessThan(ProbeBudgetMs);
      expect(rssAfter - rssBefore).toBeLessThan(512);
    } finally {
      for (const socket of sockets) socket.end();
    }
    // And once they are gone the server is its quick self again.
    await Bun.sleep(200);
    expect(await probe()).toBeLessThan(500);
  }, 90_000);
});
