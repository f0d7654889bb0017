import type { Clock } from "../clock.ts";
import { createSimulatorSource } from "./simulator.ts";
import { TorchErrorBodies, toTorchBody } from "./torch-wire.ts";

/**
 * The simulator behind the Torch wire format (`simulate-uscis`), so a sandbox integration can be
 * tried end to end without USCIS: point USCIS_MODE=sandbox, USCIS_API_BASE_URL and
 * USCIS_TOKEN_URL at it. It answers as Torch does: client-credentials tokens that live 30
 * minutes, 401 without a valid bearer token, 404 and 422 with the documented bodies.
 */

export interface SimulatorServerOptions {
  port: number;
  hostname?: string;
  clock: Clock;
  /**
   * With a secret, only that secret gets a token (and only this id, when one is given too), so
   * a credentials failure can be rehearsed; without one any client does.
   */
  clientId?: string;
  clientSecret?: string;
  checkIntervalMinutes?: number;
}

export interface SimulatorServer {
  /** The server's root with a trailing slash, e.g. "http://127.0.0.1:4010/". */
  url: string;
  /** USCIS_API_BASE_URL: the root without the trailing slash. */
  apiBaseUrl: string;
  /** USCIS_TOKEN_URL. */
  tokenUrl: string;
  port: number;
  stop(): Promise<void>;
}

const TokenLifetimeSeconds = 1799;
// Expired tokens are dropped when the map grows past this, so a long run stays small.
const MaxTokens = 10_000;

export function serveSimulator(options: SimulatorServerOptions): SimulatorServer {
  const simulator = createSimulatorSource({
    clock: options.clock,
    ...(options.checkIntervalMinutes !== undefined && {
      checkIntervalMinutes: options.checkIntervalMinutes,
    }),
  });
  const tokens = new Map<string, number>();

  function issueToken(form: URLSearchParams): Response {
    const clientId = form.get("client_id") ?? "";
    const accepted =
      form.get("grant_type") === "client_credentials" &&
      clientId !== "" &&
      (!options.clientId || clientId === options.clientId) &&
      (!options.clientSecret || form.get("client_secret") === options.clientSecret);
    if (!accepted) return json(401, { ErrorCode: "invalid_client", Error: "ClientId is Invalid" });

    if (tokens.size >= MaxTokens) forgetExpiredTokens();
    const accessToken = crypto.randomUUID().replaceAll("-", "");
    const issuedAt = options.clock.now();
    tokens.set(accessToken, issuedAt + TokenLifetimeSeconds * 1000);
    return json(200, {
      token_type: "BearerToken",
      issued_at: String(issuedAt),
      client_id: clientId,
      access_token: accessToken,
      expires_in: String(TokenLifetimeSeconds),
      status: "approved",
      api_product_list: "[case-status-simulator]",
    });
  }

  function forgetExpiredTokens() {
    const now = options.clock.now();
    for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token);
  }

  function caseStatus(request: Request, receipt: string): Response {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const expiresAt = bearer ? tokens.get(bearer) : undefined;
    if (expiresAt === undefined || options.clock.now() >= expiresAt) {
      return json(401, TorchErrorBodies[401]);
    }
    const result = simulator.answer(receipt);
    switch (result.kind) {
      case "found":
        return json(200, toTorchBody(result.observation));
      case "invalid_receipt":
        return json(422, TorchErrorBodies[422]);
      default:
        return json(404, TorchErrorBodies[404]);
    }
  }

  const server = Bun.serve({
    port: options.port,
    ...(options.hostname !== undefined && { hostname: options.hostname }),
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === "/oauth/accesstoken" && request.method === "POST") {
        return issueToken(new URLSearchParams(await request.text()));
      }
      const match = /^\/case-status\/([^/]+)$/.exec(pathname);
      if (match?.[1] && request.method === "GET") {
        return caseStatus(request, safeDecode(match[1]));
      }
      return json(404, { fault: { faultstring: `No resource for ${request.method} ${pathname}` } });
    },
  });

  const url = server.url.href;
  return {
    url,
    apiBaseUrl: url.replace(/\/+$/, ""),
    tokenUrl: `${url}oauth/accesstoken`,
    port: server.port ?? options.port,
    stop: () => server.stop(true),
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}
