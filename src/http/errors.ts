/** The closed set of error codes API.md allows, with the HTTP status each one travels with. */
export const ErrorStatus = {
  invalid_json: 400,
  validation_error: 400,
  invalid_receipt_number: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  upstream_unavailable: 503,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

export interface ErrorDetail {
  field?: string;
  issue: string;
  [extra: string]: unknown;
}

/** An error the caller is meant to see, in the envelope, with its status. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = ErrorStatus[code];
  }
}

export const notFound = (what = "resource") => new ApiError("not_found", `${what} not found`);

export function envelope(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetail[],
) {
  return {
    error: { code, message, ...(details?.length ? { details } : {}), request_id: requestId },
  };
}
