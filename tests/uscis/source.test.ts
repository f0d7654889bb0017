import { afterEach, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { simulateCase } from "../../src/uscis/simulator.ts";
import { createSource } from "../../src/uscis/source.ts";
import { startTorchFake, type TorchFake } from "../fakes/torch-fake.ts";
import { Approved } from "./torch-setup.ts";

let database: DatabaseHandle;
let fake: TorchFake | undefined;

afterEach(async () => {
  database?.close();
  await fake?.stop();
  fake = undefined;
});

function deps() {
  database = openDatabase(":memory:");
  migrate(database);
  const log = memoryDestination();
  const logger = createLogger({ level: "silent", format: "json", destination: log.stream });
  return { db: database.db, clock: manualClock(), logger };
}

describe("createSource", () => {
  test("simulator mode: the simulator, counted under 'simulator'", async () => {
    const config = loadConfig({ USCIS_DAILY_QUOTA: "2", CHECK_INTERVAL_MINUTES: "1" }, false);
    const dependencies = deps();
    const { source, quota } = createSource(config, dependencies);
    expect(source.name).toBe("simulator");
    expect(quota.source).toBe("simulator");

    const result = await source.fetch("IOE0912345678");
    expect(result).toEqual(simulateCase("IOE0912345678", dependencies.clock.now(), 2 * 60_000));
    await source.fetch("IOE0912345678");
    expect(await source.fetch("IOE0912345678")).toEqual({
      kind: "rate_limited",
      reason: "daily quota reached",
    });
    expect(quota.used()).toBe(2);
    expect(quota.remaining()).toBe(0);
  });

  test("sandbox mode: the Torch client, on the configured URLs and credentials", async () => {
    fake = startTorchFake({ clientId: "id-1", clientSecret: "secret-1" });
    fake.setCase(Approved.receiptNumber, Approved);
    const config = loadConfig(
      {
        USCIS_MODE: "sandbox",
        USCIS_API_BASE_URL: fake.url,
        USCIS_TOKEN_URL: fake.tokenUrl,
        USCIS_CLIENT_ID: "id-1",
        USCIS_CLIENT_SECRET: "secret-1",
      },
      false,
    );
    const { source, quota } = createSource(config, deps());
    expect(source.name).toBe("torch");
    expect(quota.dailyLimit).toBe(1000);
    expect(await source.fetch(Approved.receiptNumber)).toEqual({
      kind: "found",
      observation: Approved,
    });
    expect(quota.used()).toBe(1);
    expect(fake.requests.caseStatus).toBe(1);
  });
});
