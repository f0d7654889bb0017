import { ApiError } from "./errors.ts";

export const MaxBodyBytes = 64 * 1024;

/**
 * No request body of this API nests past 3 levels. A deeper one is refused before anything
 * walks it: the framework's validation error pretty-prints the value it refused, which costs
 * the square of the depth, so 40 KB of "[" would hold the only thread for seconds.
 */
export const MaxJsonDepth = 32;

/**
 * Reads a JSON body ourselves instead of letting the framework guess: API.md wants 415 for
 * anything that is not JSON, 413 past 64 KiB (checked while reading, so a huge body is never
 * held in memory) and 400 invalid_json for JSON that does not parse.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const body = await readBody(request, "invalid_json");
  if (!body) return undefined;
  if (!isJsonMediaType(body.mediaType)) {
    throw new ApiError(
      "unsupported_media_type",
      "send the body as JSON with Content-Type: application/json",
    );
  }
  if (nestsDeeperThan(body.text, MaxJsonDepth)) {
    throw new ApiError("invalid_json", `the body nests deeper than ${MaxJsonDepth} levels`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.text);
  } catch {
    throw new ApiError("invalid_json", "the body is not valid JSON");
  }
  keepPrintable(parsed);
  return parsed;
}

const isJsonMediaType = (mediaType: string) =>
  mediaType === "application/json" || mediaType.endsWith("+json");

const mediaTypeOf = (request: Request) =>
  (request.headers.get("content-type") ?? "").toLowerCase().split(";")[0]?.trim() ?? "";

/** Whether the request's Content-Type says its body is JSON, whatever the body holds. */
export const declaresJson = (request: Request) => isJsonMediaType(mediaTypeOf(request));

const printable = { value: () => "[object Object]" };

/**
 * `{"toString": ""}` is valid JSON, but an object whose own toString or valueOf is not a
 * function cannot be turned into text, and the framework does just that to describe a value
 * that failed validation: the answer would be a 500. A Symbol.toPrimitive, which no JSON key
 * can name and the validator does not see, gives such objects their usual text back.
 */
function keepPrintable(value: unknown): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) keepPrintable(item);
    return;
  }
  if (Object.hasOwn(value, "toString") || Object.hasOwn(value, "valueOf")) {
    Object.defineProperty(value, Symbol.toPrimitive, printable);
  }
  for (const item of Object.values(value)) keepPrintable(item);
}

/** One pass over the text, counting brackets outside strings; malformed JSON is JSON.parse's. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) {
      depth++;
      if (depth > limit) return true;
    } else if (char === 0x5d || char === 0x7d) depth--;
  }
  return false;
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
  return { text, mediaType: mediaTypeOf(request) };
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
