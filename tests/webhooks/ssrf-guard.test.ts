import { describe, expect, test } from "bun:test";
import { refusedRange, vetWebhookUrl } from "../../src/webhooks/ssrf-guard.ts";

describe("which addresses are refused", () => {
  const cases: [string, string | null][] = [
    ["8.8.8.8", null],
    ["93.184.215.14", null],
    ["172.15.255.255", null],
    ["172.32.0.0", null],
    ["100.63.255.255", null],
    ["100.128.0.0", null],
    ["127.0.0.1", "loopback"],
    ["127.255.255.255", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.255.255.255", "private"],
    ["172.16.0.0", "private"],
    ["192.168.255.255", "private"],
    ["169.254.0.1", "link-local"],
    ["169.254.169.254", "metadata"],
    ["169.254.170.2", "metadata"],
    ["100.100.100.200", "metadata"],
    ["192.0.0.192", "metadata"],
    ["100.64.0.0", "carrier-grade NAT"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "reserved or broadcast"],
    ["198.51.100.7", "documentation"],
    ["203.0.113.7", "documentation"],
    ["2a00:1450:4001:81d::200e", null],
    ["2606:4700:4700::1111", null],
    ["2606:4700:4700:0:0:0:0:1111", null],
    ["::1", "loopback"],
    ["0000:0000:0000:0000:0000:0000:0000:0001", "loopback"],
    ["::", "unspecified"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::FFFF:A9FE:A9FE", "metadata"],
    ["::ffff:8.8.8.8", null],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::8.8.8.8", null],
    ["64:ff9b:1::1", "reserved"],
    ["2002:c0a8:0101::1", "private"],
    ["2002:0808:0808::1", null],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"],
    ["2001:db8:85a3::8a2e:370:7334", "documentation"],
    ["3fff::1", "documentation"],
    ["fd00:ec2::254", "metadata"],
    ["fd00:ec2::253", "private"],
    ["fc00::", "private"],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "site-local"],
    ["ff02::1", "multicast"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"],
    ["1fff:ffff::1", "reserved"],
    ["not-an-ip", "not an IP address"],
    ["1.2.3", "not an IP address"],
  ];

  test.each(cases)("%s → %p", (address, expected) => {
    expect(refusedRange(address)).toBe(expected);
  });
});

describe("vetting a URL", () => {
  const strict = { allowPrivate: false, allowHttp: false };
  const resolveTo =
    (...addresses: string[]) =>
    async () =>
      addresses.map((address) => ({ address, family: (address.includes(":") ? 6 : 4) as 4 | 6 }));

  test("a public name passes, and the IPv4 address is the one connected to", async () => {
    const vetted = await vetWebhookUrl("https://hooks.partner.example/in", {
      ...strict,
      resolve: resolveTo("2606:4700::1", "93.184.215.14"),
    });
    expect(vetted).toMatchObject({
      ok: true,
      hostname: "hooks.partner.example",
      address: { address: "93.184.215.14", family: 4 },
    });
  });

  test("any refused address among the answers refuses the URL", async () => {
    const vetted = await vetWebhookUrl("https://hooks.partner.example/in", {
      ...strict,
      resolve: resolveTo("93.184.215.14", "10.0.0.7"),
    });
    expect(vetted).toEqual({
      ok: false,
      issue: "address",
      reason:
        "host hooks.partner.example resolves to an address that is not public (private), " +
        "which is not allowed",
    });
    // Never the address itself: the API must not become a window on our internal DNS.
    expect(JSON.stringify(vetted)).not.toContain("10.0.0.7");
  });

  test("a resolver failure or an empty answer is 'unresolvable'", async () => {
    const failing = await vetWebhookUrl("https://a.example/", {
      ...strict,
      resolve: async () => {
        throw new Error("SERVFAIL");
      },
    });
    expect(failing).toMatchObject({ ok: false, issue: "unresolvable" });
    const empty = await vetWebhookUrl("https://a.example/", { ...strict, resolve: resolveTo() });
    expect(empty).toMatchObject({ ok: false, issue: "unresolvable" });
  });

  test("allow-private lifts the address checks only", async () => {
    const relaxed = { allowPrivate: true, allowHttp: false, resolve: resolveTo("127.0.0.1") };
    expect(await vetWebhookUrl("https://intranet.example/", relaxed)).toMatchObject({ ok: true });
    expect(await vetWebhookUrl("https://localhost/", relaxed)).toMatchObject({ ok: true });
    expect(await vetWebhookUrl("http://intranet.example/", relaxed)).toMatchObject({
      ok: false,
      issue: "scheme",
    });
    expect(await vetWebhookUrl("https://u:p@intranet.example/", relaxed)).toMatchObject({
      ok: false,
      issue: "userinfo",
    });
  });

  test("*.localhost names are loopback without asking DNS", async () => {
    let asked = false;
    const resolve = async () => {
      asked = true;
      return [{ address: "93.184.215.14", family: 4 as const }];
    };
    for (const url of ["https://localhost/", "https://api.localhost./", "https://X.LocalHost/"]) {
      expect(await vetWebhookUrl(url, { ...strict, resolve })).toMatchObject({
        ok: false,
        issue: "address",
      });
    }
    expect(asked).toBe(false);
  });

  test.each([
    ["", "format"],
    ["/relative/path", "format"],
    ["javascript:alert(1)", "scheme"],
    ["file:///etc/passwd", "scheme"],
    ["ws://93.184.215.14/", "scheme"],
    [`https://93.184.215.14/${"a".repeat(2048)}`, "format"],
    ["http://[fe80::1%25eth0]/", "format"],
  ])("%p is refused as %s", async (url, issue) => {
    expect(await vetWebhookUrl(url, strict)).toMatchObject({ ok: false, issue });
  });
});
