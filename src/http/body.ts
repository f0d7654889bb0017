import { ApiError } from "./errors.ts";

export const MaxBodyBytes = 64 * 1024;

/**
 * Reads a JSON body ourselves instead of letting the framework guess: API.md wants 415 for
 * anything that is not JSON, 413 past 64 KiB (checked while reading, so a huge body is never
 * held in memory) and 400 invalid_json for JSON that does not parse.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MaxBodyBytes) throw tooLarge();

  const text = await readCapped(request);
  if (text.trim() === "") return undefined;

  const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
  const mediaType = contentType.split(";")[0]?.trim() ?? "";
  if (mediaType !== "application/json" && !mediaType.endsWith("+json")) {
    throw new ApiError(
      "unsupported_media_type",
      "send the body as JSON with Content-Type: application/json",
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json", "the body is not valid JSON");
  }
}

async function readCapped(request: Request): Promise<string> {
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
    throw new ApiError("invalid_json", "the body is not valid UTF-8");
  }
}

const tooLarge = () =>
  new ApiError("payload_too_large", `the body must be at most ${MaxBodyBytes / 1024} KiB`);
