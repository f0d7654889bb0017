import { randomBytes, randomInt } from "node:crypto";
import { t } from "elysia";

const Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const Crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Uniform base62 characters from the CSPRNG (randomInt rejects the modulo bias). */
export function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += Base62[randomInt(62)];
  return out;
}

/** A sortable id: 10 characters of milliseconds, then 16 random, as in a ULID. */
export function sortableId(prefix: string, now = Date.now()): string {
  let time = "";
  let rest = now;
  for (let i = 0; i < 10; i++) {
    time = Crockford[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  const bytes = randomBytes(16);
  let random = "";
  for (const byte of bytes) random += Crockford[byte % 32];
  return `${prefix}${time}${random}`;
}

export const newRequestId = () => sortableId("req_");

const SaneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's own request id is echoed only when it is short and harmless in a log line. */
export function acceptRequestId(value: string | null): string {
  return value && SaneRequestId.test(value) ? value : newRequestId();
}

/**
 * Ids in paths are read as strings and checked against this pattern: numeric coercion would let
 * "1e3" through as 1000 and loses the field name when a bound fails.
 */
export const IdPattern = "^[1-9][0-9]{0,14}$";

export const IdParam = t.String({ pattern: IdPattern, description: "a positive integer id" });
