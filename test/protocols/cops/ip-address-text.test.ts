// The COPS address codec's IPv6 text check is its own (codecs import no socket module); node:net's isIPv6
// is its oracle here, for every text without a zone (which an address object cannot carry).
import { isIPv6 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isIpv6Text } from "../../../protocols/cops/objects/ip-address.js";

const hexGroup = fc.stringMatching(/^[0-9a-fA-F]{1,4}$/);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
/** Well-formed and nearly well-formed IPv6 texts: 0–9 groups, an optional `::` anywhere, an optional IPv4 tail. */
const candidate = fc
  .tuple(fc.array(hexGroup, { maxLength: 9 }), fc.option(fc.nat(9)), fc.option(ipv4), fc.boolean())
  .map(([groups, gapAt, tail, doubleGap]) => {
    const parts = [...groups];
    let text = parts.join(":");
    if (gapAt !== null) {
      const k = Math.min(gapAt, parts.length);
      text = `${parts.slice(0, k).join(":")}::${parts.slice(k).join(":")}`;
      if (doubleGap) text = text.replace(/:([0-9a-fA-F]+)$/, "::$1");
    }
    if (tail !== null) text = text.endsWith(":") || text === "" ? `${text}${tail}` : `${text}:${tail}`;
    return text;
  });

describe("isIpv6Text", () => {
  it("agrees with node:net isIPv6 on generated texts", () => {
    fc.assert(fc.property(candidate, (text) => {
          expect(isIpv6Text(text), text).toBe(isIPv6(text));
        }), { numRuns: 20_000 });
  });

  it("agrees on arbitrary short strings of address characters", () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-fA-Fg:.]{0,46}$/), (text) => {
          expect(isIpv6Text(text), text).toBe(isIPv6(text));
        }), { numRuns: 20_000 });
  });

  it("known texts", () => {
    for (const ok of ["::", "::1", "1::", "2001:db8::1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:192.0.2.1", "fe80::"]) expect(isIpv6Text(ok), ok).toBe(true);
    for (const bad of ["", ":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::ffff:192.0.2.256", "fe80::1%eth0", "1:2:3:4:5:6:7::8:9", "192.0.2.1"]) expect(isIpv6Text(bad), bad).toBe(false);
  });
});
