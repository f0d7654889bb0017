import { afterEach, describe, expect, test } from "bun:test";
import { Approved, type TorchSetup, torchSetup } from "./torch-setup.ts";

const receipt = Approved.receiptNumber;
const Second = 1000;
const Minute = 60 * Second;

let setup: TorchSetup;

afterEach(async () => {
  await setup?.close();
});

/** Fetches once and says whether the call reached USCIS, and what came of it. */
async function attempt() {
  const before = setup.fake.requests.caseStatus;
  const result = await setup.source.fetch(receipt);
  return { reached: setup.fake.requests.caseStatus > before, kind: result.kind };
}

describe("Torch client: cool-down after 429", () => {
  test("waits a minute, then twice as long after each 429 in a row, counting nothing", async () => {
    setup = torchSetup();
    setup.fake.setMode("spike_arrest");
    expect(await attempt()).toEqual({ reached: true, kind: "rate_limited" });
    expect(setup.quota.used()).toBe(1);

    // Refused here, without a call and without spending the quota.
    expect(await attempt()).toEqual({ reached: false, kind: "rate_limited" });
    setup.clock.advance(59 * Second);
    expect(await attempt()).toEqual({ reached: false, kind: "rate_limited" });
    expect(setup.quota.used()).toBe(1);

    setup.clock.advance(1 * Second);
    expect(await attempt()).toEqual({ reached: true, kind: "rate_limited" });
    setup.clock.advance(2 * Minute - Second);
    expect(await attempt()).toEqual({ reached: false, kind: "rate_limited" });
    setup.clock.advance(Second);
    expect(await attempt()).toEqual({ reached: true, kind: "rate_limited" });

    // USCIS answers again: the next 429 starts from a minute.
    setup.fake.clearModes();
    setup.clock.advance(4 * Minute);
    expect(await attempt()).toEqual({ reached: true, kind: "found" });
    expect(await attempt()).toEqual({ reached: true, kind: "found" });
    setup.fake.setMode("spike_arrest", { times: 1 });
    expect(await attempt()).toEqual({ reached: true, kind: "rate_limited" });
    setup.clock.advance(Minute);
    expect(await attempt()).toEqual({ reached: true, kind: "found" });
    expect(setup.quota.used()).toBe(7);
  });

  test("never waits longer than half an hour without a Retry-After", async () => {
    setup = torchSetup();
    setup.fake.setMode("spike_arrest");
    const reachedAt: number[] = [];
    // Four hours of ticks a minute apart: waits of 1, 2, 4, 8 and 16 minutes, then 30 each.
    for (let minute = 0; minute < 240; minute += 1) {
      if ((await attempt()).reached) reachedAt.push(minute);
      setup.clock.advance(Minute);
    }
    expect(reachedAt).toEqual([0, 1, 3, 7, 15, 31, 61, 91, 121, 151, 181, 211]);
    const waits = setup.log.lines
      .filter((line) => line.event === "uscis.cool_down")
      .map((line) => line.wait_ms);
    expect(Math.max(...(waits as number[]))).toBe(30 * Minute);
  });

  test("honours Retry-After", async () => {
    setup = torchSetup();
    setup.fake.setMode("spike_arrest", { times: 1, retryAfterSeconds: 300 });
    expect(await attempt()).toEqual({ reached: true, kind: "rate_limited" });
    setup.clock.advance(299 * Second);
    expect(await attempt()).toEqual({ reached: false, kind: "rate_limited" });
    setup.clock.advance(Second);
    expect(await attempt()).toEqual({ reached: true, kind: "found" });
  });

  test("the reason says why nothing was sent", async () => {
    setup = torchSetup();
    setup.fake.setMode("spike_arrest");
    await attempt();
    const result = await setup.source.fetch(receipt);
    expect(result).toEqual({
      kind: "rate_limited",
      reason: `cooling down after USCIS 429 until ${new Date(
        setup.clock.now() + Minute,
      ).toISOString()}`,
    });
  });
});
