import { toCheckResponse } from "../check/check.service.ts";
import { systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import { migrate, openDatabase } from "../db/connection.ts";
import { plainTextProblem } from "../http/schema.ts";
import type { Logger } from "../logger.ts";
import { createPartnersService } from "../partners/partners.service.ts";
import type { Quota } from "../uscis/quota.ts";
import { normalizeReceipt } from "../uscis/receipt.ts";
import { serveSimulator } from "../uscis/simulator-server.ts";
import { createSource } from "../uscis/source.ts";

/** Commands other than `serve`; each returns the process exit code. */

/**
 * A partner id as typed on the command line: plain decimal digits. Number() alone would take
 * "1e3", "0x10" or " 7", and acting on a partner nobody named is worse than refusing.
 */
export function parsePartnerId(
  action: string,
  raw: string | undefined,
): { id: number } | { error: string } {
  if (raw === undefined || raw === "") return { error: `partner ${action} needs an ID` };
  const id = /^[1-9][0-9]*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id)) return { error: `invalid ID: ${raw} (a partner ID is 1, 2, ...)` };
  return { id };
}

function withDatabase<T>(config: Config, run: (db: ReturnType<typeof openDatabase>) => T): T {
  const database = openDatabase(config.databasePath);
  try {
    migrate(database);
    return run(database);
  } finally {
    database.close();
  }
}

export function migrateCommand(config: Config): number {
  const database = openDatabase(config.databasePath);
  const applied = migrate(database);
  database.close();
  console.log(`migrations applied: ${applied} (database ${config.databasePath})`);
  return 0;
}

const PartnerNameLimits = { minLength: 1, maxLength: 200 };

export function partnerCreate(
  config: Config,
  options: { name?: string; email?: string; logo?: string; json?: boolean },
): number {
  if (!options.name || !options.email) {
    console.error("partner create needs --name and --email");
    return 2;
  }
  // The name goes into every e-mail's subject and sender line, so it follows the API's rule
  // for names: one line of plain text, counted and stored in NFC.
  const problem = plainTextProblem(options.name, PartnerNameLimits);
  if (problem) {
    console.error(
      `--name must be one line of plain text of 1 to ${PartnerNameLimits.maxLength} ` +
        "characters, without control characters, line breaks or direction overrides",
    );
    return 2;
  }
  const name = options.name.normalize("NFC");
  const created = withDatabase(config, ({ db }) =>
    createPartnersService(db, systemClock).create({
      name,
      email: options.email!,
      logoUrl: options.logo ?? null,
    }),
  );
  if (options.json) {
    console.log(
      JSON.stringify({
        id: created.client.id,
        api_key: created.apiKey,
        api_secret: created.apiSecret,
      }),
    );
  } else {
    console.log(`Partner ${created.client.id} created: ${created.client.name}`);
    console.log(`  API key:    ${created.apiKey}`);
    console.log(`  API secret: ${created.apiSecret}`);
    console.log("The secret is shown only now; store it somewhere safe.");
  }
  return 0;
}

export function partnerList(config: Config, options: { json?: boolean }): number {
  const partners = withDatabase(config, ({ db }) => createPartnersService(db, systemClock).list());
  const rows = partners.map((p) => ({
    id: p.id,
    name: p.name,
    contact_email: p.contactEmail,
    api_key: p.apiKey,
    status: p.disabledAt === null ? "active" : "disabled",
    created_at: new Date(p.createdAt).toISOString(),
  }));
  if (options.json) {
    console.log(JSON.stringify(rows));
  } else if (rows.length === 0) {
    console.log("No partners yet. Create one with: immigraflow partner create --name N --email E");
  } else {
    for (const row of rows) {
      console.log(`${row.id}\t${row.status}\t${row.api_key}\t${row.name} <${row.contact_email}>`);
    }
  }
  return 0;
}

export function partnerRotateSecret(config: Config, id: number, json: boolean): number {
  const rotated = withDatabase(config, ({ db }) =>
    createPartnersService(db, systemClock).rotateSecret(id),
  );
  if (json) {
    console.log(
      JSON.stringify({ id, api_key: rotated.client.apiKey, api_secret: rotated.apiSecret }),
    );
  } else {
    console.log(`New API secret for partner ${id}: ${rotated.apiSecret}`);
    console.log("The old secret stopped working just now.");
  }
  return 0;
}

export function partnerDisable(config: Config, id: number): number {
  withDatabase(config, ({ db }) => createPartnersService(db, systemClock).disable(id));
  console.log(
    `Partner ${id} is disabled: its credentials are refused, its users' tokens revoked and its ` +
      "cases not checked.",
  );
  return 0;
}

export function partnerEnable(config: Config, id: number): number {
  withDatabase(config, ({ db }) => createPartnersService(db, systemClock).enable(id));
  console.log(
    `Partner ${id} is enabled: its credentials work again and its cases are checked again. ` +
      "Its users sign in again for new tokens.",
  );
  return 0;
}

export async function checkCommand(config: Config, logger: Logger, input: string): Promise<number> {
  const normalized = normalizeReceipt(input);
  if (!normalized.ok) {
    console.error(normalized.message);
    return 2;
  }
  const database = openDatabase(config.databasePath);
  let quota: Quota | undefined;
  try {
    migrate(database);
    const created = createSource(config, { db: database.db, clock: systemClock, logger });
    quota = created.quota;
    const result = await created.source.fetch(normalized.receipt);
    if (result.kind !== "found") {
      console.error(
        `${normalized.receipt}: ${result.kind}${"reason" in result ? ` (${result.reason})` : ""}`,
      );
      return result.kind === "not_found" ? 1 : 3;
    }
    console.log(JSON.stringify(toCheckResponse(result.observation, Date.now(), false), null, 2));
    return 0;
  } finally {
    quota?.release();
    database.close();
  }
}

export function backupCommand(config: Config, target: string): number {
  const database = openDatabase(config.databasePath);
  try {
    // VACUUM INTO writes a consistent copy while the service keeps running on the original.
    database.sqlite.run("VACUUM INTO ?", [target]);
  } finally {
    database.close();
  }
  console.log(`backup written to ${target}`);
  return 0;
}

export async function simulateCommand(
  port: number,
  host: string,
  expected: { clientId?: string; clientSecret?: string } = {},
): Promise<void> {
  const server = serveSimulator({ port, hostname: host, clock: systemClock, ...expected });
  console.log(`USCIS simulator (Torch wire format) on ${server.url}`);
  const checked = [expected.clientId && "client id", expected.clientSecret && "client secret"];
  const named = checked.filter(Boolean).join(" and ");
  console.log(`  credentials: ${named ? `only the given ${named}` : "any client id and secret"}`);
  console.log(`  token:  POST ${server.url}oauth/accesstoken`);
  console.log(`  status: GET  ${server.url}case-status/EAC9999103403`);
  await new Promise(() => {});
}
