import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SourceResult } from "../../src/uscis/types.ts";
import type { TorchFakeMode } from "../fakes/torch-fake.ts";
import { Approved, type TorchSetup, torchSetup } from "./torch-setup.ts";

let setup: TorchSetup;

function reasonOf(result: SourceResult): string {
  return "reason" in result ? result.reason : `no reason (${result.kind})`;
}
const receipt = Approved.receiptNumber;

afterEach(async () => {
  await setup?.close();
});

describe("Torch client: documented errors", () => {
  test("404 (unknown receipt) -> not_found", async () => {
    setup = torchSetup();
    expect(await setup.source.fetch("EAC1512345678")).toEqual({ kind: "not_found" });
  });

  test("404 for a receipt that exists (a protected person) -> not_found", async () => {
    setup = torchSetup();
    setup.fake.setMode("not_found", { receipt });
    expect(await setup.source.fetch(receipt)).toEqual({ kind: "not_found" });
  });

  test("422 -> invalid_receipt, logged as our bug", async () => {
    setup = torchSetup();
    setup.fake.setMode("invalid_receipt");
    const result = await setup.source.fetch(receipt);
    expect(result).toEqual({
      kind: "invalid_receipt",
      message:
        "The application receipt number is not formatted correctly, it should be 3 letters " +
        "followed by 10 digits.",
    });
    const line = setup.log.lines.find((entry) => entry.outcome === "invalid_receipt");
    expect(line).toMatchObject({ level: "error", receipt, event: "uscis.case_status" });
  });

  test("429 -> rate_limited", async () => {
    setup = torchSetup();
    setup.fake.setMode("spike_arrest");
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "rate_limited",
      reason: "USCIS 429: Spike Arrest Violation",
    });
  });

  test("503 -> unavailable", async () => {
    setup = torchSetup();
    setup.fake.setMode("service_unavailable");
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "USCIS 503: Service Unavailable",
    });
  });

  test("the sandbox's closed-hours 503 (padded, string code) -> unavailable", async () => {
    setup = torchSetup();
    setup.fake.setMode("sandbox_closed");
    const result = await setup.source.fetch(receipt);
    expect(result.kind).toBe("unavailable");
    expect(reasonOf(result)).toStartWith(
      "USCIS 503: The Case Status API Sandbox is unavailable at this time.",
    );
  });
});

describe("Torch client: answers that are not a case", () => {
  const unreadable: [string, TorchFakeMode, { status?: number }, string][] = [
    ["an HTML page with 200", "html", {}, "USCIS 200 with an HTML page instead of JSON"],
    ["an HTML page with 502", "html", { status: 502 }, "USCIS 502: HTML page"],
    ["invalid JSON with 200", "invalid_json", {}, "USCIS 200 with a body that is not JSON"],
    [
      "JSON without the required fields",
      "missing_fields",
      {},
      "USCIS 200 answer without receiptNumber or current_case_status_text_en",
    ],
    ["an errors array with 400", "errors_array", {}, "USCIS 400: Bad request"],
    [
      "an errors array with 200",
      "errors_array",
      { status: 200 },
      "USCIS 200 with an error: Bad request",
    ],
    ["an Apigee fault with 500", "fault", {}, "USCIS 500: Execution of ServiceCallout failed"],
    [
      "an Apigee fault with 200",
      "fault",
      { status: 200 },
      "USCIS 200 with an error: Execution of ServiceCallout failed",
    ],
    ["400", "bad_request", {}, "USCIS 400: Bad Request"],
    ["403", "forbidden", {}, "USCIS 403: Forbidden"],
    ["500", "server_error", {}, "USCIS 500: Internal Server Error"],
  ];

  test.each(unreadable)("%s -> unavailable", async (_name, mode, modeOptions, reason) => {
    setup = torchSetup();
    setup.fake.setMode(mode, modeOptions);
    expect(await setup.source.fetch(receipt)).toEqual({ kind: "unavailable", reason });
  });

  test("an HTML 404 is a broken route, not an unknown receipt", async () => {
    setup = torchSetup();
    setup.fake.setMode("html", { status: 404 });
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "USCIS 404: HTML page",
    });
  });

  test("an Apigee fault 404 (wrong base URL) is not an unknown receipt", async () => {
    setup = torchSetup({ apiBaseUrl: (url) => `${url}/wrong-prefix` });
    const result = await setup.source.fetch(receipt);
    expect(result.kind).toBe("unavailable");
    expect(reasonOf(result)).toContain("Unable to identify proxy");
  });

  test("no error ever reads as not_found or as a case", async () => {
    setup = torchSetup();
    const modes: TorchFakeMode[] = [
      "unauthorized",
      "spike_arrest",
      "service_unavailable",
      "sandbox_closed",
      "html",
      "invalid_json",
      "missing_fields",
      "errors_array",
      "fault",
      "bad_request",
      "forbidden",
      "server_error",
    ];
    for (const mode of modes) {
      setup.fake.setMode(mode);
      const result = await setup.source.fetch(receipt);
      expect([mode, result.kind]).not.toEqual([mode, "not_found"]);
      expect([mode, result.kind]).not.toEqual([mode, "found"]);
    }
  });
});

describe("Torch client: transport failures", () => {
  test("a slow answer times out -> unavailable", async () => {
    setup = torchSetup({ timeoutMs: 40 });
    setup.fake.setMode("slow", { delayMs: 2000 });
    const startedAt = performance.now();
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "timeout after 40 ms",
    });
    expect(performance.now() - startedAt).toBeLessThan(1000);
  });

  test("a slow answer inside the timeout is fine", async () => {
    setup = torchSetup({ timeoutMs: 2000 });
    setup.fake.setMode("slow", { delayMs: 5 });
    expect((await setup.source.fetch(receipt)).kind).toBe("found");
  });

  test("nothing listening -> unavailable", async () => {
    setup = torchSetup();
    await setup.source.fetch(receipt);
    await setup.fake.stop();
    const result = await setup.source.fetch(receipt);
    expect(result.kind).toBe("unavailable");
    expect(reasonOf(result)).toStartWith("network error");
  });

  test("an unreachable token endpoint -> unavailable, before any case call", async () => {
    setup = torchSetup();
    await setup.fake.stop();
    const result = await setup.source.fetch(receipt);
    expect(result.kind).toBe("unavailable");
    expect(reasonOf(result)).toStartWith("token request failed: network error");
    expect(setup.quota.used()).toBe(0);
  });
});

describe("Torch client: credentials and quota", () => {
  test("refused credentials -> unavailable 'credentials refused', no case call", async () => {
    setup = torchSetup();
    setup.fake.refuseCredentials();
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "credentials refused",
    });
    expect(setup.fake.requests.caseStatus).toBe(0);
    expect(setup.quota.used()).toBe(0);
  });

  test("a refused renewal after a 401 is 'credentials refused' too", async () => {
    setup = torchSetup();
    await setup.source.fetch(receipt);
    setup.fake.expireTokens();
    setup.fake.refuseCredentials();
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "credentials refused",
    });
  });

  test("credentials accepted again -> works again without a restart", async () => {
    setup = torchSetup();
    setup.fake.refuseCredentials();
    await setup.source.fetch(receipt);
    setup.fake.refuseCredentials(false);
    expect((await setup.source.fetch(receipt)).kind).toBe("found");
  });

  test("a spent quota answers rate_limited without calling USCIS", async () => {
    setup = torchSetup({ dailyLimit: 2 });
    await setup.source.fetch(receipt);
    await setup.source.fetch(receipt);
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "rate_limited",
      reason: "daily quota reached",
    });
    expect(setup.fake.requests.caseStatus).toBe(2);
  });

  test("the 401 retry counts against the quota like any call", async () => {
    setup = torchSetup({ dailyLimit: 1 });
    setup.fake.setMode("unauthorized", { times: 1 });
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "rate_limited",
      reason: "daily quota reached",
    });
    expect(setup.fake.requests.caseStatus).toBe(1);
  });

  test("the quota survives a restart", async () => {
    const folder = mkdtempSync(join(tmpdir(), "immigraflow-torch-"));
    const databasePath = join(folder, "service.db");
    try {
      setup = torchSetup({ dailyLimit: 2, databasePath });
      await setup.source.fetch(receipt);
      await setup.source.fetch(receipt);
      await setup.close();

      setup = torchSetup({ dailyLimit: 2, databasePath });
      expect(await setup.source.fetch(receipt)).toEqual({
        kind: "rate_limited",
        reason: "daily quota reached",
      });
      expect(setup.fake.requests.caseStatus).toBe(0);
    } finally {
      await setup.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("Torch client: pacing", () => {
  test("requests through the limiter pass a real spike arrest", async () => {
    // 40 ms apart against a 20 ms arrest: the margin absorbs the time between the limiter
    // letting a request go and its bytes reaching the fake on a busy test machine.
    setup = torchSetup({ perSecond: 25 });
    setup.fake.setSpikeArrest(50);
    const results = await Promise.all(Array.from({ length: 3 }, () => setup.source.fetch(receipt)));
    expect(results.map((result) => result.kind)).toEqual(["found", "found", "found"]);
  });

  test("without spacing, the same spike arrest refuses", async () => {
    setup = torchSetup({ perSecond: 1000 });
    setup.fake.setSpikeArrest(5);
    const results = await Promise.all(Array.from({ length: 3 }, () => setup.source.fetch(receipt)));
    expect(results.map((result) => result.kind)).toContain("rate_limited");
  });
});
