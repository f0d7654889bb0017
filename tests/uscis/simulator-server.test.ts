import { afterEach, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createSpacingLimiter } from "../../src/pacing/spacing-limiter.ts";
import { createQuota } from "../../src/uscis/quota.ts";
import { simulateCase } from "../../src/uscis/simulator.ts";
import { type SimulatorServer, serveSimulator } from "../../src/uscis/simulator-server.ts";
import { createTorchSource } from "../../src/uscis/torch-client.ts";

const Start = Date.UTC(2026, 4, 4, 12, 0, 0);
let server: SimulatorServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

function clientFor(running: SimulatorServer, clock = manualClock(Start), secret = "secret") {
  const database = openDatabase(":memory:");
  migrate(database);
  const log = memoryDestination();
  return createTorchSource({
    apiBaseUrl: running.apiBaseUrl,
    tokenUrl: running.tokenUrl,
    clientId: "demo",
    clientSecret: secret,
    limiter: createSpacingLimiter({ perSecond: 1000 }),
    quota: createQuota({ db: database.db, source: "torch", dailyLimit: 100, clock }),
    clock,
    logger: createLogger({ level: "silent", format: "json", destination: log.stream }),
  });
}

describe("simulator server (Torch wire format)", () => {
  test("the Torch client round-trips the simulator's observation", async () => {
    const clock = manualClock(Start);
    server = serveSimulator({ port: 0, hostname: "127.0.0.1", clock, checkIntervalMinutes: 1 });
    const client = clientFor(server, clock);

    for (const receipt of ["EAC9999103403", "IOE0912345678", "MSC2390123456"]) {
      const expected = simulateCase(receipt, Start, 2 * 60_000);
      expect(await client.fetch(receipt)).toEqual(expected);
    }
    clock.advance(45 * 60_000);
    expect(await client.fetch("MSC2390123456")).toEqual(
      simulateCase("MSC2390123456", Start + 45 * 60_000, 2 * 60_000),
    );
  });

  test("unknown and malformed receipts answer 404 and 422 through the client", async () => {
    server = serveSimulator({ port: 0, hostname: "127.0.0.1", clock: manualClock(Start) });
    const client = clientFor(server);
    expect(await client.fetch("EAC1512340000")).toEqual({ kind: "not_found" });
    expect((await client.fetch("EAC15123O5678")).kind).toBe("invalid_receipt");
  });

  test("without a bearer token: 401 with the documented body", async () => {
    server = serveSimulator({ port: 0, hostname: "127.0.0.1", clock: manualClock(Start) });
    const response = await fetch(`${server.apiBaseUrl}/case-status/EAC9999103403`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ code: 401, message: "Invalid Access Token" });
    const forged = await fetch(`${server.apiBaseUrl}/case-status/EAC9999103403`, {
      headers: { Authorization: "Bearer made-up" },
    });
    expect(forged.status).toBe(401);
  });

  test("a token expires after its 1799 seconds", async () => {
    const clock = manualClock(Start);
    server = serveSimulator({ port: 0, hostname: "127.0.0.1", clock });
    const tokenResponse = await fetch(server.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&client_id=demo&client_secret=x",
    });
    const token = (await tokenResponse.json()) as { access_token: string; expires_in: string };
    expect(token.expires_in).toBe("1799");
    const ask = () =>
      fetch(`${server?.apiBaseUrl}/case-status/EAC9999103403`, {
        headers: { Authorization: `Bearer ${token.access_token}`, Accept: "application/json" },
      });
    expect((await ask()).status).toBe(200);
    clock.advance(1799 * 1000);
    expect((await ask()).status).toBe(401);
  });

  test("with credentials configured, others are refused", async () => {
    server = serveSimulator({
      port: 0,
      hostname: "127.0.0.1",
      clock: manualClock(Start),
      clientId: "demo",
      clientSecret: "right",
    });
    expect(await clientFor(server, manualClock(Start), "wrong").fetch("EAC9999103403")).toEqual({
      kind: "unavailable",
      reason: "credentials refused",
    });
    expect((await clientFor(server, manualClock(Start), "right").fetch("EAC9999103403")).kind).toBe(
      "found",
    );
  });

  test("404 body as documented; url ends with a slash for the CLI's banner", async () => {
    server = serveSimulator({ port: 0, hostname: "127.0.0.1", clock: manualClock(Start) });
    expect(server.url).toEndWith("/");
    expect(server.tokenUrl).toBe(`${server.url}oauth/accesstoken`);
    const token = await fetch(server.tokenUrl, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: "d" }),
    }).then((response) => response.json() as Promise<{ access_token: string }>);
    const response = await fetch(`${server.apiBaseUrl}/case-status/EAC1512340000`, {
      headers: { Authorization: `Bearer ${token.access_token}` },
    });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { code: number; message: string };
    expect(body.code).toBe(404);
    expect(body.message).toStartWith("Case Status Online does not recognize the receipt number");
  });
});
