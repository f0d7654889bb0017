import { t } from "elysia";
import { ApiError } from "./errors.ts";

/**
 * `limit` is read as a string with a pattern, like path ids: the framework's numeric coercion of
 * query integers loses its bounds in the compiled executable, which let limit=0 and limit=500
 * through there.
 */
export const LimitPattern = "^(?:[1-9][0-9]?|1[0-9]{2}|200)$";

export const PageQuery = {
  limit: t.Optional(
    t.String({ pattern: LimitPattern, description: "1 to 200, default 50", examples: ["50"] }),
  ),
  cursor: t.Optional(t.String({ maxLength: 200 })),
};

/** The page size a list query asked for; the schema has already checked its range. */
export function pageSize(limit: string | number | undefined): number {
  return limit === undefined ? 50 : Number(limit);
}

/** Cursors are the last id of the previous page, wrapped so callers treat them as opaque. */
export function encodeCursor(lastId: number): string {
  return Buffer.from(`v1:${lastId}`).toString("base64url");
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  const match = /^v1:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) {
    throw new ApiError("validation_error", "cursor is not one this service gave out", [
      { field: "cursor", issue: "invalid" },
    ]);
  }
  return Number(match[1]);
}

/** Fetch limit + 1 rows; the extra one only says whether another page exists. */
export function page<T extends { id: number }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
