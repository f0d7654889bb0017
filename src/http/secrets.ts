import { createHash, timingSafeEqual } from "node:crypto";
import { randomBase62 } from "./ids.ts";

/**
 * Keys, secrets and tokens are long random strings, so one SHA-256 is enough to keep them
 * unreadable at rest; a slow password hash would only add latency to every request.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function secretMatches(secret: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(expectedHash, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export const newApiKey = () => `ifk_${randomBase62(24)}`;
export const newApiSecret = () => `ifs_${randomBase62(40)}`;
export const newUserToken = () => `ift_${randomBase62(43)}`;
export const newEmailToken = () => `ifv_${randomBase62(43)}`;
