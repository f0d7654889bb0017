import { Elysia } from "elysia";
import { casesRoutes } from "./cases/cases.routes.ts";
import { createCasesService } from "./cases/cases.service.ts";
import { checkRoutes } from "./check/check.routes.ts";
import { createCheckService } from "./check/check.service.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { DatabaseHandle } from "./db/connection.ts";
import { authPlugin, partnerAuthenticator } from "./http/auth.ts";
import { docsRoutes } from "./http/docs.ts";
import { createMetrics, type Metrics } from "./http/metrics.ts";
import { httpPlumbing, routeMethodIndex } from "./http/plumbing.ts";
import type { Logger } from "./logger.ts";
import { TwilioStatusPath, twilioStatusRoutes } from "./notifications/twilio-status.routes.ts";
import { opsRoutes } from "./ops/ops.routes.ts";
import { newServiceStatus, type ServiceStatus } from "./ops/service-status.ts";
import type { CaseStatusSource } from "./uscis/types.ts";
import { usersRoutes } from "./users/users.routes.ts";
import { createUsersService } from "./users/users.service.ts";
import { Version } from "./version.ts";

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
  const auth = authPlugin(partnerAuthenticator(db));

  let methodIndex: ((path: string) => string[]) | null = null;
  const app = new Elysia({ normalize: false })
    .use(
      httpPlumbing({
        logger,
        metrics,
        allowedMethods: (path) => methodIndex!(path),
        formRoutes: [TwilioStatusPath],
      }),
    )
    .use(docsRoutes(Version))
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
    .use(usersRoutes(auth, users))
    .use(casesRoutes(auth, users, cases))
    .use(
      twilioStatusRoutes({
        db,
        authToken: config.twilioAuthToken,
        publicBaseUrl: config.publicBaseUrl,
        logger,
        clock,
      }),
    );
  methodIndex = routeMethodIndex(app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
