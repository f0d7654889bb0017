import { createHmac, randomBytes } from "node:crypto";

/**
 * Standard Webhooks signing (standardwebhooks.com), so partners can verify deliveries with any
 * of that project's libraries: the secret is `whsec_` + base64 of random bytes, and the key is
 * those bytes, not the text.
 */

const SecretPrefix = "whsec_";
const SecretBytes = 32;

export function newWebhookSecret(): string {
  return `${SecretPrefix}${randomBytes(SecretBytes).toString("base64")}`;
}

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(SecretPrefix.length), "base64");
}

/** base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`, body as the exact bytes sent. */
export function signPayload(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return createHmac("sha256", secretKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`, "utf8")
    .digest("base64");
}

/** The `webhook-signature` header: space-separated `v1,<signature>` entries; we send one. */
export function signatureHeader(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return `v1,${signPayload(secret, id, timestampSeconds, body)}`;
}
