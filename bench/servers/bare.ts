/**
 * The ceiling: the least a Bun HTTP server can do per request on this machine. Run as its own
 * process, like the app server, so both are measured the same way.
 */
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: () => new Response("ok"),
});

process.stderr.write(`READY ${JSON.stringify({ port: server.port })}\n`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
