/**
 * Property-based fuzzing of every route: arbitrary and near-valid bodies, queries, path
 * parameters, headers and credentials, checked against the rules in properties.ts. The seed is
 * fixed so a CI failure replays locally; FUZZ_SEED and FUZZ_RUNS change it for a deeper hunt:
 *
 *   FUZZ_SEED=7 FUZZ_RUNS=2000 bun test tests/fuzz
 *
 * FUZZ_STATS=1 prints each route's answers by status (are the generators getting past
 * validation?); FUZZ_STATS=messages also prints every 400's message.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { testApp } from "../helpers/app.ts";
import { checkOutcome, snapshot } from "./properties.ts";
import { RouteSpecs, requestFor } from "./routes.ts";
import { createWorld } from "./world.ts";

const Seed = Number(process.env.FUZZ_SEED ?? 20260504);
const Runs = Number(process.env.FUZZ_RUNS ?? 200);
/** Far above any honest request here (a few ms), far below what a client would wait. */
const SlowRequestMs = 2_000;

describe(`route fuzzing (seed ${Seed}, ${Runs} runs a route)`, () => {
  test("every route of the app has a generator, and every generator a route", () => {
    const routes = testApp().app.routes.map((route) => `${route.method} ${route.path}`);
    const missing = routes.filter((route) => !(route in RouteSpecs));
    const stale = Object.keys(RouteSpecs).filter((route) => !routes.includes(route));
    expect({ missing, stale }).toEqual({ missing: [], stale: [] });
  });

  for (const [route, spec] of Object.entries(RouteSpecs)) {
    test(route, { timeout: 60_000 }, async () => {
      const world = await createWorld();
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestFor(route, spec), async (request) => {
          await world.ensure();
          // A minute per run lets the per-address sign-in limits refill now and then.
          world.t.clock.advance(61_000);
          await world.prepare(request);
          const before = snapshot(world);
          const started = performance.now();
          const outcome = await world.send(request);
          const tookMs = performance.now() - started;
          checkOutcome(world, request, outcome, before, { ...spec.rules, access: spec.access });
          // One process serves everyone: no single request may hold it for long.
          expect(tookMs).toBeLessThan(SlowRequestMs);
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          if (process.env.FUZZ_STATS === "messages" && outcome.status === 400) {
            console.log("  400:", /"message":"([^"]{0,70})/.exec(outcome.text)?.[1]);
          }
        }),
        { seed: Seed, numRuns: Runs },
      );
      if (process.env.FUZZ_STATS) {
        console.log(route, JSON.stringify(Object.fromEntries([...statuses].sort())));
      }
      // Generators that never get past validation would fuzz nothing but the validator.
      const reached = [...statuses].filter(([status]) => status < 300).length;
      expect(reached, `no run of ${route} was answered 2xx`).toBeGreaterThan(0);
    });
  }
});
