import { eq, getTableColumns, sql } from "drizzle-orm";
import { type DocumentDecoration, Elysia } from "elysia";
import type { Db } from "../db/connection.ts";
import { flatRows } from "../db/flat-rows.ts";
import { preparedPerDatabase } from "../db/prepared.ts";
import { clients, type users } from "../db/schema.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import { ApiError } from "./errors.ts";
import { requestState } from "./plumbing.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { secretMatches } from "./secrets.ts";

export type UserRow = typeof users.$inferSelect;

/** Who is calling, as established by the credentials on the request. */
export type Principal =
  | { kind: "partner"; client: ClientRow }
  | { kind: "publishable"; client: ClientRow }
  | { kind: "user"; client: ClientRow; user: UserRow };

export type AccessKind = Principal["kind"];

export interface Authenticator {
  /** Returns null when the request carries no credentials at all. */
  authenticate(request: Request): Principal | null;
}

const clientRows = flatRows(getTableColumns(clients));

/** Every partner request starts here, so it is the one query worth preparing in this module. */
const clientByApiKey = preparedPerDatabase((db) =>
  db
    .select(getTableColumns(clients))
    .from(clients)
    .where(eq(clients.apiKey, sql.placeholder("apiKey")))
    .prepare(),
);

function findClientByApiKey(db: Db, apiKey: string): ClientRow | undefined {
  const [values] = clientByApiKey(db).values({ apiKey });
  return values && clientRows.read(values);
}

const unauthorized = (message = "missing or invalid credentials") =>
  new ApiError("unauthorized", message);

export function partnerAuthenticator(
  db: Db,
  userTokens?: (token: string) => { client: ClientRow; user: UserRow } | null,
): Authenticator {
  return {
    authenticate(request) {
      const bearer = request.headers.get("authorization");
      if (bearer !== null) {
        const match = /^Bearer\s+(\S+)$/i.exec(bearer.trim());
        const session = match && userTokens ? userTokens(match[1]!) : null;
        if (!session) throw unauthorized("the bearer token is invalid or expired");
        return { kind: "user", ...session };
      }

      const apiKey = request.headers.get("x-api-key");
      const apiSecret = request.headers.get("x-api-secret");
      if (apiKey === null) {
        if (apiSecret !== null) throw unauthorized("X-API-SECRET needs X-API-KEY");
        return null;
      }
      const client = findClientByApiKey(db, apiKey.trim());
      if (!client || client.disabledAt !== null) {
        // Spend the same hashing work for unknown keys so timing does not tell keys apart.
        if (apiSecret !== null) secretMatches(apiSecret, "0".repeat(64));
        throw unauthorized();
      }
      if (apiSecret === null) return { kind: "publishable", client };
      if (!secretMatches(apiSecret.trim(), client.secretHash)) throw unauthorized();
      return { kind: "partner", client };
    },
  };
}

const principals = new WeakMap<Request, Principal>();

/**
 * One budget per credential. The publishable key is public, so its traffic has a budget of
 * its own: anyone could otherwise spend the partner's server-to-server budget from a browser.
 */
function rateLimitKey(principal: Principal): string {
  if (principal.kind === "user") return `user:${principal.user.id}`;
  return `${principal.kind}:${principal.client.id}`;
}

/**
 * `access: [...]` on a route checks credentials before the body is validated, so a caller
 * without credentials learns nothing about the route's schema.
 */
export function authPlugin(authenticator: Authenticator, limiter?: RateLimiter) {
  return new Elysia({ name: "auth" }).macro({
    access: (allowed: AccessKind[]) => ({
      // Read by the OpenAPI document, which turns it into the operation's security.
      detail: { "x-access": allowed } as DocumentDecoration,
      transform({ request }) {
        const principal = authenticator.authenticate(request);
        if (!principal) throw unauthorized();
        const state = requestState(request);
        state.clientId = principal.client.id;
        if (principal.kind === "user") state.userId = principal.user.id;
        limiter?.check(rateLimitKey(principal));
        if (!allowed.includes(principal.kind)) {
          throw new ApiError("forbidden", "these credentials do not open this route");
        }
        principals.set(request, principal);
      },
      resolve({ request }) {
        return { principal: principals.get(request)! };
      },
    }),
  });
}

export type AuthMacro = ReturnType<typeof authPlugin>;
