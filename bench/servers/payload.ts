/**
 * The payload-matched ceiling: a bare Bun.serve answering every request with the bytes of the
 * file in BENCH_BODY_FILE (the case read's own answer) as JSON. Held against the app, it tells
 * how much of the gap to the "ok" ceiling is moving the body itself rather than our code.
 */
import { readFileSync } from "node:fs";

const path = Bun.env.BENCH_BODY_FILE;
if (!path) throw new Error("BENCH_BODY_FILE must name the body to answer with");
const body = readFileSync(path);
const headers = { "content-type": "application/json; charset=utf-8" };

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: () => new Response(body, { headers }),
});

process.stderr.write(`READY ${JSON.stringify({ port: server.port, bytes: body.length })}\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
