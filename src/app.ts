import { Elysia } from "elysia";
import { authRoutes } from "./auth/auth.routes.ts";
import { createAuthService } from "./auth/auth.service.ts";
import { casesRoutes } from "./cases/cases.routes.ts";
import { createCasesService } from "./cases/cases.service.ts";
import { checkRoutes } from "./check/check.routes.ts";
import { createCheckService } from "./check/check.service.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { DatabaseHandle } from "./db/connection.ts";
import { authPlugin, partnerAuthenticator } from "./http/auth.ts";
import { corsPlugin, PreflightPath } from "./http/cors.ts";
import { docsRoutes } from "./http/docs.ts";
import { createMetrics, type Metrics } from "./http/metrics.ts";
import {
  httpPlumbing,
  type RouteMethodIndex,
  routeMethodIndex,
  shadowedRouteGuard,
} from "./http/plumbing.ts";
import { createEmailFlowLimits, createRateLimiter } from "./http/rate-limit.ts";
import type { Logger } from "./logger.ts";
import { TwilioStatusPath, twilioStatusRoutes } from "./notifications/twilio-status.routes.ts";
import { opsRoutes } from "./ops/ops.routes.ts";
import { newServiceStatus, type ServiceStatus } from "./ops/service-status.ts";
import { clientRoutes } from "./partners/client.routes.ts";
import { createClientService } from "./partners/client.service.ts";
import type { CaseStatusSource } from "./uscis/types.ts";
import { usersRoutes } from "./users/users.routes.ts";
import { createUsersService } from "./users/users.service.ts";
import { verificationRoutes } from "./users/verification.routes.ts";
import { createVerificationService } from "./users/verification.service.ts";
import { Version } from "./version.ts";
import { webhooksRoutes } from "./webhooks/webhooks.routes.ts";
import { createWebhooksService } from "./webhooks/webhooks.service.ts";

export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  source: CaseStatusSource;
  quota: { remaining(): number; used(): number };
  metrics?: Metrics;
  status?: ServiceStatus;
}

/**
 * The whole HTTP surface, built from what it is given. It starts no timer and opens nothing,
 * so tests build the real app around their own database, clock and fakes.
 */
export function createApp(deps: AppDeps) {
  const { config, database, clock, logger } = deps;
  const db = database.db;
  const metrics = deps.metrics ?? createMetrics();
  const status = deps.status ?? newServiceStatus(clock.now());

  const users = createUsersService({ db, clock, publicBaseUrl: config.publicBaseUrl });
  const cases = createCasesService({ db, clock });
  const checks = createCheckService({ db, clock, source: deps.source });
  const signIn = createAuthService({
    db,
    clock,
    logger,
    userTokenTtlDays: config.userTokenTtlDays,
  });
  const keyLimits = createRateLimiter({
    clock,
    limit: config.rateLimitPerMinute,
    windowMs: 60_000,
  });
  const emailFlowLimits = createEmailFlowLimits({
    clock,
    trustForwardedFor: config.trustForwardedFor,
  });
  const auth = authPlugin(partnerAuthenticator(db, signIn.sessionFor), keyLimits);

  let methodIndex: RouteMethodIndex | null = null;
  let routes: { method: string; path: string; hooks: { body?: unknown } }[] = [];
  const app = new Elysia({ normalize: false })
    .use(
      httpPlumbing({
        logger,
        metrics,
        allowedMethods: (path) => methodIndex!(path),
        formRoutes: [TwilioStatusPath],
      }),
    )
    .use(corsPlugin({ origins: config.corsOrigins, allowedMethods: (path) => methodIndex!(path) }))
    .use(shadowedRouteGuard(() => methodIndex!))
    .use(docsRoutes({ version: Version, routes: () => routes, formPaths: [TwilioStatusPath] }))
    .use(
      opsRoutes({
        database,
        clock,
        metrics,
        status,
        quota: deps.quota,
        uscisMode: config.uscisMode,
        checkIntervalMinutes: config.checkIntervalMinutes,
        version: Version,
      }),
    )
    .use(checkRoutes(auth, checks))
    .use(
      verificationRoutes(
        auth,
        createVerificationService({ db, clock, logger, users }),
        emailFlowLimits,
      ),
    )
    .use(usersRoutes(auth, users))
    .use(casesRoutes(auth, users, cases))
    .use(authRoutes(auth, signIn, emailFlowLimits))
    .use(clientRoutes(auth, createClientService({ db, clock, users, cases })))
    .use(
      webhooksRoutes(
        auth,
        createWebhooksService({
          db,
          clock,
          guard: { allowPrivate: config.webhookAllowPrivate, allowHttp: config.webhookAllowHttp },
        }),
      ),
    )
    .use(
      twilioStatusRoutes({
        db,
        authToken: config.twilioAuthToken,
        publicBaseUrl: config.publicBaseUrl,
        logger,
        clock,
      }),
    );
  // The preflight route answers OPTIONS on every /v1 path; counted, it would turn a GET on an
  // unknown path into 405 instead of 404.
  methodIndex = routeMethodIndex(app.routes.filter((route) => route.path !== PreflightPath));
  routes = app.routes;
  return app;
}

export type App = ReturnType<typeof createApp>;
