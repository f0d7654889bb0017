import type { Clock } from "../clock.ts";
import type { Principal } from "./auth.ts";
import { ApiError } from "./errors.ts";

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request against `key`; a refused request is not counted. */
  take(key: string): RateDecision;
  /** `take`, throwing 429 `rate_limited` with `Retry-After` when the key is over its limit. */
  check(key: string): void;
}

interface Window {
  startedAt: number;
  count: number;
}

/**
 * Fixed windows that start at a key's first request, kept in memory. The service is one
 * process, so memory is the whole truth; a restart forgives everyone, which errs on the side
 * of the caller. Windows are per key rather than aligned to the clock so that every caller's
 * budget does not refill at the same instant.
 */
export function createRateLimiter(options: {
  clock: Clock;
  limit: number;
  windowMs: number;
  /** Past this many live keys the oldest windows are dropped, so a flood cannot fill memory. */
  maxKeys?: number;
}): RateLimiter {
  const { clock, limit, windowMs } = options;
  const maxKeys = options.maxKeys ?? 100_000;
  const windows = new Map<string, Window>();
  let sweptAt = clock.now();

  function makeRoom(now: number): void {
    if (now - sweptAt >= windowMs) {
      sweptAt = now;
      for (const [key, window] of windows) {
        if (window.startedAt + windowMs <= now) windows.delete(key);
      }
    }
    // Map order is insertion order and a key is re-inserted when its window restarts, so the
    // first key is the oldest window.
    while (windows.size >= maxKeys) {
      const oldest = windows.keys().next();
      if (oldest.done) break;
      windows.delete(oldest.value);
    }
  }

  function take(key: string): RateDecision {
    const now = clock.now();
    const current = windows.get(key);
    if (!current || current.startedAt + windowMs <= now) {
      windows.delete(key);
      makeRoom(now);
      windows.set(key, { startedAt: now, count: 1 });
      return { allowed: true };
    }
    if (current.count >= limit) {
      const waitMs = current.startedAt + windowMs - now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    current.count += 1;
    return { allowed: true };
  }

  return {
    take,
    check(key) {
      const decision = take(key);
      if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds);
    },
  };
}

export function rateLimited(retryAfterSeconds: number): ApiError {
  return new ApiError(
    "rate_limited",
    `too many requests; try again in ${retryAfterSeconds} seconds`,
    undefined,
    { "retry-after": String(retryAfterSeconds) },
  );
}

/** What Elysia hands a handler as `server`: absent under `app.handle`, as in tests. */
interface RequestServer {
  requestIP(request: Request): { address: string } | null;
}

/**
 * The address a request came from. X-Forwarded-For is anyone's to write, so it is read only
 * when the operator says a proxy in front sets it; without a socket (`app.handle` in tests)
 * every request shares one key.
 */
export function callerAddress(
  request: Request,
  server: RequestServer | null | undefined,
  trustForwardedFor = false,
): string {
  if (trustForwardedFor) {
    const firstHop = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    if (firstHop) return firstHop;
  }
  return server?.requestIP(request)?.address ?? "local";
}

/** Flows that send an e-mail or test a secret typed by a person, limited per address. */
export type AddressFlow = "login-code" | "verify" | "resend-verification";

const TenMinutesMs = 10 * 60 * 1000;

/**
 * Per e-mail address: a mailbox gets at most 5 codes or verification e-mails in 10 minutes.
 * Verify allows 10, so a person who spent a code's 5 tries can still use the next code.
 * Per caller address: 30 of each flow in 10 minutes, which stops one browser's machine from
 * walking a list of addresses while leaving room for a family or an office behind one address.
 */
export const AddressLimits: Record<AddressFlow, { perEmail: number; perCaller: number }> = {
  "login-code": { perEmail: 5, perCaller: 30 },
  verify: { perEmail: 10, perCaller: 30 },
  "resend-verification": { perEmail: 5, perCaller: 30 },
};

export interface AddressCheck {
  principal: Principal;
  email: string;
  request: Request;
  server: RequestServer | null | undefined;
}

export type EmailFlowLimits = ReturnType<typeof createEmailFlowLimits>;

/**
 * The limits on the public flows keyed by an e-mail address. They are checked before the
 * address is looked up, so a known and an unknown address hit the same limit at the same
 * count and get the same 429.
 */
export function createEmailFlowLimits(options: { clock: Clock; trustForwardedFor?: boolean }) {
  const limiters = new Map<string, RateLimiter>();
  for (const [flow, limits] of Object.entries(AddressLimits)) {
    const make = (limit: number) =>
      createRateLimiter({ clock: options.clock, limit, windowMs: TenMinutesMs });
    limiters.set(`${flow}:email`, make(limits.perEmail));
    limiters.set(`${flow}:caller`, make(limits.perCaller));
  }

  return {
    /** Throws 429 `rate_limited` with `Retry-After` when either limit is spent. */
    check(flow: AddressFlow, input: AddressCheck): void {
      // A partner's own server signs its users in from one address; its budget is its key's.
      if (input.principal.kind !== "partner") {
        const caller = callerAddress(input.request, input.server, options.trustForwardedFor);
        limiters.get(`${flow}:caller`)!.check(caller);
      }
      // Per partner: one partner's public key cannot lock a person out of another partner.
      const email = input.email.trim().toLowerCase();
      limiters.get(`${flow}:email`)!.check(`${input.principal.client.id}:${email}`);
    },
  };
}
