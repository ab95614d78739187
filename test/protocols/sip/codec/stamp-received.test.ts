import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSipMessage, parseViaValue, serializeSipMessage, type SipRequest } from "../../../../protocols/sip/index.js";

const invite = (via: string): SipRequest =>
  parseSipMessage(
    Buffer.from(
      `INVITE sip:bob@example.com SIP/2.0\r\nVia: ${via}\r\nVia: SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bKbelow\r\n` +
        "Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    ),
  ) as SipRequest;

/** The stamped message as a receiver of its bytes would read it. */
const reread = (req: SipRequest): SipRequest => parseSipMessage(serializeSipMessage(req)) as SipRequest;

describe("SipRequest.stampReceived (RFC 3261 §18.2.1, RFC 3581 §4)", () => {
  it("fills a bare rport and adds received, keeping the other parameters as written", () => {
    const req = invite("SIP/2.0/UDP client.example.com:5062;rport;branch=z9hG4bKa1");
    expect(req.topVia.rport).toBe(true);
    expect(req.stampReceived({ host: "192.0.2.1", port: 40000 })).toBe(true);
    expect(req.getHeaders("Via")[0]).toBe("SIP/2.0/UDP client.example.com:5062;rport=40000;branch=z9hG4bKa1;received=192.0.2.1");
    expect(req.topVia).toMatchObject({ host: "client.example.com", port: 5062, rport: 40000, received: "192.0.2.1", branch: "z9hG4bKa1" });
    expect(req.via).toHaveLength(2);
  });

  it("changes nothing when the sent-by host is the source and no rport was asked", () => {
    const req = invite("SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKa2");
    expect(req.stampReceived({ host: "2001:DB8::1", port: 5062 })).toBe(false);
    expect(req.getHeaders("Via")[0]).toBe("SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKa2");
  });

  it("replaces a stale received and touches only the first via-parm of a comma list", () => {
    const req = invite("SIP/2.0/TCP a.example.com;received=198.51.100.7;branch=z9hG4bKa3 , SIP/2.0/UDP b.example.com;branch=z9hG4bKb3");
    req.stampReceived({ host: "203.0.113.5", port: 5099 });
    const [first, second] = req.via;
    expect(first).toMatchObject({ host: "a.example.com", received: "203.0.113.5", branch: "z9hG4bKa3" });
    expect(second).toMatchObject({ host: "b.example.com", branch: "z9hG4bKb3" });
    expect(second!.received).toBeUndefined();
  });

  it("keeps the parsed top Via equal to what a parse of the stamped text gives", () => {
    const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((h) => `[${h}]`));
    fc.assert(
      fc.property(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), fc.boolean(), fc.option(fc.ipV4(), { nil: undefined }), fc.ipV4(), fc.integer({ min: 1, max: 65535 }),
        (sentBy, port, rport, stale, srcHost, srcPort) => {
          const via = `SIP/2.0/UDP ${sentBy}${port === undefined ? "" : `:${port}`}${rport ? ";rport" : ""}${stale === undefined ? "" : `;received=${stale}`};branch=z9hG4bKp`;
          const req = invite(via);
          req.stampReceived({ host: srcHost, port: srcPort });
          const parsedAgain = parseViaValue(req.getHeaders("Via")[0]!)[0]!;
          expect(req.topVia).toEqual(parsedAgain);
          expect(reread(req).topVia).toEqual(parsedAgain);
          expect(req.via[0]).toEqual(parsedAgain);
        }),
      { numRuns: 500 },
    );
  });
});
