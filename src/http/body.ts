import { ApiError } from "./errors.ts";

export const MaxBodyBytes = 64 * 1024;

/**
 * Reads a JSON body ourselves instead of letting the framework guess: API.md wants 415 for
 * anything that is not JSON, 413 past 64 KiB (checked while reading, so a huge body is never
 * held in memory) and 400 invalid_json for JSON that does not parse.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const body = await readBody(request, "invalid_json");
  if (!body) return undefined;
  if (body.mediaType !== "application/json" && !body.mediaType.endsWith("+json")) {
    throw new ApiError(
      "unsupported_media_type",
      "send the body as JSON with Content-Type: application/json",
    );
  }
  try {
    return JSON.parse(body.text);
  } catch {
    throw new ApiError("invalid_json", "the body is not valid JSON");
  }
}

/**
 * Reads an application/x-www-form-urlencoded body, for the few routes a provider posts forms to
 * (Twilio's callbacks). Field names and values are kept exactly: a signature covers them.
 */
export async function readFormBody(request: Request): Promise<Record<string, string> | undefined> {
  const body = await readBody(request, "validation_error");
  if (!body) return undefined;
  if (body.mediaType !== "application/x-www-form-urlencoded") {
    throw new ApiError(
      "unsupported_media_type",
      "send the body with Content-Type: application/x-www-form-urlencoded",
    );
  }
  return Object.fromEntries(new URLSearchParams(body.text));
}

/** The body as text with its media type; undefined when there is none. */
async function readBody(
  request: Request,
  notTextCode: "invalid_json" | "validation_error",
): Promise<{ text: string; mediaType: string } | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MaxBodyBytes) throw tooLarge();

  const text = await readCapped(request, notTextCode);
  if (text.trim() === "") return undefined;
  const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
  return { text, mediaType: contentType.split(";")[0]?.trim() ?? "" };
}

async function readCapped(
  request: Request,
  notTextCode: "invalid_json" | "validation_error",
): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MaxBodyBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new ApiError(notTextCode, "the body is not valid UTF-8");
  }
}

const tooLarge = () =>
  new ApiError("payload_too_large", `the body must be at most ${MaxBodyBytes / 1024} KiB`);
