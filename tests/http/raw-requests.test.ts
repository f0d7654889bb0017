import { afterAll, describe, expect, test } from "bun:test";
import { testApp } from "../helpers/app.ts";

const t = testApp();
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (request) => t.app.handle(request),
});
afterAll(() => server.stop(true));

/** Sends bytes as they are, so requests a client library would tidy up reach the service. */
async function raw(request: string): Promise<string> {
  let received = "";
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.port!,
    socket: {
      data(_socket, chunk) {
        received += new TextDecoder().decode(chunk);
      },
      close() {
        resolve(received);
      },
    },
  });
  socket.write(request);
  setTimeout(() => socket.end(), 500);
  return promise;
}

describe("requests no client library would send", () => {
  test("without a Host header: refused in the envelope, not a 500", async () => {
    for (const path of ["/health", "/v1/users", "/v1/providers/twilio/status"]) {
      const answer = await raw(`GET ${path} HTTP/1.0\r\n\r\n`);
      expect(answer.split("\r\n")[0], path).toBe("HTTP/1.1 400 Bad Request");
      const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      expect(body.error).toMatchObject({
        code: "validation_error",
        message: "the request needs a Host header",
      });
    }
    const posted = await raw(
      "POST /v1/providers/twilio/status HTTP/1.0\r\n" +
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1",
    );
    expect(Number(posted.split(" ")[1])).toBe(400);
    const hosted = await raw(
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    expect(hosted.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
  });
});
