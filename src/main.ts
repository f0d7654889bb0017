#!/usr/bin/env bun
import { parseArgs } from "node:util";
import {
  backupCommand,
  checkCommand,
  migrateCommand,
  parsePartnerId,
  partnerCreate,
  partnerDisable,
  partnerEnable,
  partnerList,
  partnerRotateSecret,
  simulateCommand,
} from "./cli/commands.ts";
import { serve } from "./cli/serve.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { Version } from "./version.ts";

const Help: Record<string, string> = {
  main: `ImmigraFlow ${Version}: watches USCIS receipt numbers and tells people when cases move.

Usage: immigraflow [command] [options]

Commands:
  serve                      run the HTTP API and the checker (the default)
  migrate                    apply database migrations and exit
  partner create             create a partner and print its API key and secret once
  partner list               list partners
  partner rotate-secret ID   issue a new API secret (the old one stops working)
  partner disable ID         refuse a partner's credentials and stop checking its cases
  partner enable ID          undo disable: credentials work and cases are checked again
  check RECEIPT              look a receipt up now through the configured USCIS source
  simulate-uscis --port N    serve the USCIS simulator over HTTP in the Torch wire format
  backup FILE                write a consistent copy of the database to FILE
  version                    print the version

Settings come from environment variables (see README); --help works on every command.`,
  serve: `Usage: immigraflow serve

Runs the API on HOST:PORT with the scheduled checker, on DATABASE_PATH (created if missing).`,
  migrate: "Usage: immigraflow migrate\n\nApplies the embedded migrations to DATABASE_PATH.",
  partner: `Usage:
  immigraflow partner create --name NAME --email EMAIL [--logo URL] [--json]
  immigraflow partner list [--json]
  immigraflow partner rotate-secret ID [--json]
  immigraflow partner disable ID
  immigraflow partner enable ID

disable refuses the partner's key and secret, revokes its users' tokens and stops checking its
cases; enable undoes it (users sign in again for new tokens).
--json prints one line of JSON, e.g. {"id":1,"api_key":"ifk_...","api_secret":"ifs_..."}.`,
  check: `Usage: immigraflow check RECEIPT

Looks the receipt up now (simulator, sandbox or production per USCIS_MODE) and prints the
answer as JSON. Exit 1 when USCIS does not know it, 3 when USCIS cannot be reached.`,
  "simulate-uscis": `Usage: immigraflow simulate-uscis [--port N] [--host H]
                                   [--client-id ID] [--client-secret SECRET]

Serves the built-in simulator as a fake Torch API (POST /oauth/accesstoken, GET
/case-status/RECEIPT), so a sandbox integration can be tried without USCIS. Any client id and
secret are accepted unless --client-secret (and --client-id) say which: others then get
Torch's 401 invalid_client, to rehearse a credentials failure. Point another ImmigraFlow at it
with USCIS_MODE=sandbox, USCIS_CLIENT_ID, USCIS_CLIENT_SECRET and
USCIS_API_BASE_URL=http://HOST:N (the token URL follows).`,
  backup: `Usage: immigraflow backup FILE

Writes a consistent copy of DATABASE_PATH to FILE (SQLite VACUUM INTO); safe while serving.
FILE must not exist yet.`,
  version: "Usage: immigraflow version",
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
      json: { type: "boolean" },
      name: { type: "string" },
      email: { type: "string" },
      logo: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
    },
  });
  const [command = "serve", ...rest] = positionals;

  if (command === "help") return print(Help[rest[0] ?? "main"] ?? Help.main!);
  // Plain `immigraflow --help` is about the program, not about its default command.
  if (values.help) return print((positionals.length > 0 && Help[command]) || Help.main!);
  if (command === "version" || values.version) return print(Version);
  if (command === "simulate-uscis") {
    const port = Number(values.port ?? "4010");
    if (!Number.isInteger(port) || port < 0 || port > 65535) return fail("--port must be 0-65535");
    await simulateCommand(port, values.host ?? "127.0.0.1", {
      ...(values["client-id"] && { clientId: values["client-id"] }),
      ...(values["client-secret"] && { clientSecret: values["client-secret"] }),
    });
    return 0;
  }

  const config = loadConfig();
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    colorize: config.terminal,
  });

  switch (command) {
    case "serve":
      await serve(config, logger);
      return -1;
    case "migrate":
      return migrateCommand(config);
    case "partner":
      return partner(config, rest, values);
    case "check":
      if (!rest[0]) return fail("check needs a RECEIPT", Help.check);
      return checkCommand(config, logger, rest.join(" "));
    case "backup":
      if (!rest[0]) return fail("backup needs a FILE", Help.backup);
      return backupCommand(config, rest[0]);
    default:
      return fail(`unknown command "${command}"`, Help.main);
  }
}

function partner(
  config: Config,
  args: string[],
  values: { name?: string; email?: string; logo?: string; json?: boolean },
): number {
  const [action, rawId] = args;
  if (action === "create") return partnerCreate(config, values);
  if (action === "list") return partnerList(config, values);
  if (action === "rotate-secret" || action === "disable" || action === "enable") {
    const parsed = parsePartnerId(action, rawId);
    if ("error" in parsed) return fail(parsed.error);
    const { id } = parsed;
    if (action === "disable") return partnerDisable(config, id);
    if (action === "enable") return partnerEnable(config, id);
    return partnerRotateSecret(config, id, values.json === true);
  }
  return fail(`unknown partner action "${action ?? ""}"`, Help.partner);
}

function print(text: string): number {
  console.log(text);
  return 0;
}

function fail(message: string, help?: string): number {
  console.error(`error: ${message}`);
  if (help) console.error(`\n${help}`);
  return 2;
}

main(Bun.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`error: ${message}`);
    process.exit(1);
  },
);
