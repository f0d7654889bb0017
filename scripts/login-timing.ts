#!/usr/bin/env bun
/**
 * `bun scripts/login-timing.ts [login-code|resend-verification] [users]`: times the flows that
 * must not tell a known address from an unknown one, over real HTTP on a database file with
 * the service's own settings (synchronous=FULL). Known and unknown addresses alternate in a
 * random order, one request at a time; for each it prints the latency of the answer itself
 * and of the request right after it, which a write done after the answer would hold up.
 * Compare the medians; on a shared machine single runs move by a few tenths of a millisecond.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { migrate, openDatabase } from "../src/db/connection.ts";
import { createLogger } from "../src/logger.ts";
import { createPartnersService } from "../src/partners/partners.service.ts";
import { createSource } from "../src/uscis/source.ts";

const flow = Bun.argv[2] === "resend-verification" ? "resend-verification" : "login-code";
const userCount = Number(Bun.argv[3] ?? 300);
const rounds = 4;

const folder = mkdtempSync(join(tmpdir(), "immigraflow-login-timing-"));
const databasePath = join(folder, "immigraflow.db");
const database = openDatabase(databasePath);
migrate(database);
const logger = createLogger({ level: "silent", format: "json" });
// Every address is asked `rounds` times, under the per-address limit; the per-key one is lifted.
const config = loadConfig({ DATABASE_PATH: databasePath, RATE_LIMIT_PER_MINUTE: "1000000" }, false);
const { source, quota } = createSource(config, { db: database.db, clock: systemClock, logger });
const app = createApp({ config, database, clock: systemClock, logger, source, quota });
app.listen({ port: 0, hostname: "127.0.0.1" });
const baseUrl = `http://127.0.0.1:${app.server?.port}`;

const partner = createPartnersService(database.db, systemClock).create({
  name: "Timing Partner",
  email: "ops@timing.example",
});
const headers = {
  "x-api-key": partner.apiKey,
  "x-api-secret": partner.apiSecret,
  "content-type": "application/json",
};

async function post(path: string, body: unknown, expected: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  const elapsed = performance.now() - started;
  if (response.status !== expected) throw new Error(`${path}: ${response.status}`);
  return elapsed;
}

for (let i = 0; i < userCount; i += 1) {
  await post("/v1/users", { email: `known${i}@timing.example` }, 201);
}

const path = flow === "login-code" ? "/v1/auth/login-code" : "/v1/users/resend-verification";
const samples = { known: [] as number[], unknown: [] as number[] };
const following = { known: [] as number[], unknown: [] as number[] };
let previous: "known" | "unknown" | null = null;
const cpuBefore = process.cpuUsage();
for (let round = 0; round < rounds; round += 1) {
  for (let i = 0; i < userCount; i += 1) {
    const order =
      Math.random() < 0.5 ? (["known", "unknown"] as const) : (["unknown", "known"] as const);
    for (const kind of order) {
      const elapsed = await post(path, { email: `${kind}${i}@timing.example` }, 202);
      samples[kind].push(elapsed);
      if (previous) following[previous].push(elapsed);
      previous = kind;
    }
  }
}
const cpu = process.cpuUsage(cpuBefore);

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(3);
};
const describe = (values: number[]) => {
  const [p25, median, p75] = [0.25, 0.5, 0.75].map((q) => quantile(values, q));
  return `median ${median} ms, p25 ${p25}, p75 ${p75}, n ${values.length}`;
};
const requests = samples.known.length + samples.unknown.length;
console.log(
  `POST ${path}, ${userCount} known and ${userCount} unknown addresses, ${rounds} rounds`,
);
console.log(`  answer, known address:          ${describe(samples.known)}`);
console.log(`  answer, unknown address:        ${describe(samples.unknown)}`);
console.log(`  next answer after a known one:  ${describe(following.known)}`);
console.log(`  next answer after an unknown:   ${describe(following.unknown)}`);
const cpuPerRequest = ((cpu.user + cpu.system) / requests).toFixed(0);
console.log(`  CPU (this process, client included): ${cpuPerRequest} µs a request`);

await app.stop(true);
database.close();
rmSync(folder, { recursive: true, force: true });
