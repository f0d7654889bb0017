import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * A partner chooses where we POST, so a webhook URL is a request our server makes on someone
 * else's behalf. Without this guard a partner could aim it at our loopback, the private
 * network behind us or a cloud metadata service and read the answers in the deliveries route.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** DNS look-up of every address of a host; tests pass their own to name hosts that exist. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => ({
    address: answer.address,
    family: answer.family === 6 ? 6 : 4,
  }));
};

export interface GuardOptions {
  /** WEBHOOK_ALLOW_PRIVATE: any address may be used (tests, on-premises receivers). */
  allowPrivate: boolean;
  /** WEBHOOK_ALLOW_HTTP: plain http is accepted besides https. */
  allowHttp: boolean;
  resolve?: Resolver;
}

export type GuardIssue = "format" | "scheme" | "userinfo" | "unresolvable" | "address";

export type VettedUrl =
  | {
      ok: true;
      url: URL;
      /** The host as written, without IPv6 brackets: the TLS server name and Host header. */
      hostname: string;
      /** Where to connect: one of the vetted addresses, so DNS cannot change it afterwards. */
      address: ResolvedAddress;
    }
  | { ok: false; issue: GuardIssue; reason: string };

export const MaxUrlLength = 2048;

/**
 * Parses and vets a webhook URL: scheme, no credentials, and every address the host resolves
 * to. One refused address refuses the URL, since a resolver may hand out any of them.
 */
export async function vetWebhookUrl(raw: string, options: GuardOptions): Promise<VettedUrl> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, issue: "format", reason: "is not an absolute URL" };
  }
  if (raw.length > MaxUrlLength) {
    return { ok: false, issue: "format", reason: `is longer than ${MaxUrlLength} characters` };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && options.allowHttp)) {
    const allowed = options.allowHttp ? "https or http" : "https";
    return { ok: false, issue: "scheme", reason: `must use ${allowed}` };
  }
  // Credentials in a URL end up in logs and in the Authorization header of a stranger's server.
  if (url.username !== "" || url.password !== "") {
    return { ok: false, issue: "userinfo", reason: "must not contain a user name or password" };
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (hostname === "") return { ok: false, issue: "format", reason: "has no host" };

  const literal = isIP(hostname) !== 0;
  // RFC 6761: these names are the machine itself, whatever a resolver might be talked into.
  if (!options.allowPrivate && /(^|\.)localhost\.?$/i.test(hostname)) {
    return { ok: false, issue: "address", reason: notPublic(hostname, false, "loopback") };
  }
  const addresses = await resolveHost(hostname, options.resolve ?? systemResolver);
  if (addresses === null || addresses.length === 0) {
    return { ok: false, issue: "unresolvable", reason: `host ${hostname} does not resolve` };
  }
  if (!options.allowPrivate) {
    for (const { address } of addresses) {
      const refused = refusedRange(address);
      if (refused) {
        return { ok: false, issue: "address", reason: notPublic(hostname, literal, refused) };
      }
    }
  }
  // IPv4 first: a host with both is far more often reachable over IPv4 from a server.
  const address = addresses.find((a) => a.family === 4) ?? addresses[0]!;
  return { ok: true, url, hostname, address };
}

/** A resolver that never answers must not hold a request, or the delivery queue, hostage. */
const ResolveTimeoutMs = 5_000;

/**
 * Names the kind of range, never the address a name resolved to: that would turn the API into
 * a way to read our internal DNS.
 */
function notPublic(hostname: string, literal: boolean, range: string): string {
  const subject = literal
    ? `address ${hostname} is not public`
    : `host ${hostname} resolves to an address that is not public`;
  return `${subject} (${range}), which is not allowed`;
}

async function resolveHost(hostname: string, resolve: Resolver) {
  const family = isIP(hostname);
  if (family !== 0) return [{ address: hostname, family: family as 4 | 6 }];
  let timer: Timer | undefined;
  const timeout = new Promise<null>((done) => {
    timer = setTimeout(() => done(null), ResolveTimeoutMs);
  });
  try {
    return await Promise.race([resolve(hostname), timeout]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

// ---- address ranges ---------------------------------------------------------------------------

interface Range {
  first: bigint;
  bits: number;
  label: string;
}

const V4Ranges: Range[] = [
  // Cloud metadata services come first so the refusal names them for what they are.
  v4("169.254.169.254/32", "metadata"),
  v4("169.254.170.2/32", "metadata"),
  v4("100.100.100.200/32", "metadata"),
  v4("192.0.0.192/32", "metadata"),
  v4("0.0.0.0/8", "unspecified"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "carrier-grade NAT"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link-local"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "reserved"),
  v4("192.0.2.0/24", "documentation"),
  v4("192.88.99.0/24", "reserved"),
  v4("192.168.0.0/16", "private"),
  v4("198.18.0.0/15", "benchmarking"),
  v4("198.51.100.0/24", "documentation"),
  v4("203.0.113.0/24", "documentation"),
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved or broadcast"),
];

/** Inside 2000::/3, the only block of IPv6 handed out as public unicast. */
const V6Ranges: Range[] = [
  v6("2001::/23", "reserved"),
  v6("2001:db8::/32", "documentation"),
  v6("3fff::/20", "documentation"),
];

const V6Metadata: Range[] = [v6("fd00:ec2::254/128", "metadata")];

const V6Outside: Range[] = [
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("fc00::/7", "private"),
  v6("fe80::/10", "link-local"),
  v6("fec0::/10", "site-local"),
  v6("ff00::/8", "multicast"),
];

/**
 * Why an address may not be used as a webhook target, or null when it is public. IPv6 forms
 * that carry an IPv4 address (mapped, NAT64, 6to4) are judged by the IPv4 address inside.
 */
export function refusedRange(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return matchV4(parseV4(address)!);
  if (family !== 6) return "not an IP address";
  const value = parseV6(address);
  if (value === null) return "not an IP address";

  const embedded = embeddedV4(value);
  if (embedded !== null) return matchV4(embedded);
  for (const range of [...V6Metadata, ...V6Outside]) {
    if (inRange(value, range, 128)) return range.label;
  }
  if (!inRange(value, { first: 0x2n << 124n, bits: 3, label: "" }, 128)) return "reserved";
  for (const range of V6Ranges) if (inRange(value, range, 128)) return range.label;
  return null;
}

function matchV4(value: bigint): string | null {
  for (const range of V4Ranges) if (inRange(value, range, 32)) return range.label;
  return null;
}

/** ::ffff:a.b.c.d, ::a.b.c.d (deprecated), 64:ff9b::a.b.c.d and 2002:aabb:ccdd::/48. */
function embeddedV4(value: bigint): bigint | null {
  const low32 = value & 0xffffffffn;
  if (value >> 32n === 0xffffn) return low32;
  if (value >> 32n === 0n && low32 > 1n) return low32;
  if (value >> 32n === 0x64ff9b0000000000000000n) return low32;
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn;
  return null;
}

function inRange(value: bigint, range: Range, width: number): boolean {
  const shift = BigInt(width - range.bits);
  return value >> shift === range.first >> shift;
}

function v4(cidr: string, label: string): Range {
  const [address, bits] = cidr.split("/");
  return { first: parseV4(address!)!, bits: Number(bits), label };
}

function v6(cidr: string, label: string): Range {
  const [address, bits] = cidr.split("/");
  return { first: parseV6(address!)!, bits: Number(bits), label };
}

/** Dotted-quad only: by this point the URL parser or the resolver has normalised the form. */
function parseV4(address: string): bigint | null {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseV6(address: string): bigint | null {
  let text = address.toLowerCase().replace(/^\[|\]$/g, "");
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted quad stands for the last two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4Value = parseV4(dotted[2]!);
    if (v4Value === null) return null;
    const high = (v4Value >> 16n).toString(16);
    const low = (v4Value & 0xffffn).toString(16);
    text = `${dotted[1]}${high}:${low}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  return value;
}
