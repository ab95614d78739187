import { describe, expect, it } from "vitest";
import { parseSipMessage, SipParseError, SipRequest, type SipUri } from "../../../../protocols/sip/index.js";

const REQ = [
  "INVITE sip:bob@example.com SIP/2.0",
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;received=192.0.2.99;rport=5062;maddr=239.255.255.1;ttl=16;x-ext=\"a b\";flag",
  "v: SIP/2.0/TCP [2001:db8::5];branch=z9hG4bK2, SIP/2.0/TLS proxy.example.com:5061;rport;branch=z9hG4bK3",
  "Max-Forwards: 69",
  "To: Bob <sip:bob@example.com>",
  'From: "Alice \\"A\\"" <sip:alice@example.com;transport=tcp>;tag=abc;x=1',
  "Call-ID: 9f8e@192.0.2.1",
  "CSeq: 42 INVITE",
  'Contact: "Al" <sip:alice@192.0.2.1>;expires=3600;q=0.7, <sip:alice@198.51.100.2>;q=1',
  "m: sip:alice@203.0.113.3;expires=60",
  "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
  "Record-Route: <sip:rr.example.com;lr>",
  "Require: 100rel",
  "Proxy-Require: sec-agree, foo",
  "k: timer, replaces",
  "Supported: path",
  "Allow: INVITE, ACK, BYE",
  "Expires: 120",
  "c: application/sdp; charset=utf-8",
  "l: 0",
  "",
  "",
].join("\r\n");

const parse = (text: string): SipRequest => parseSipMessage(Buffer.from(text)) as SipRequest;
const sip = (u: SipUri | string): SipUri => {
  if (typeof u === "string") throw new Error(u);
  return u;
};

describe("typed header accessors", () => {
  it("Via: every parameter, comma lists across lines (RFC 3261 §20.42, RFC 3581)", () => {
    const m = parse(REQ);
    const [a, b, c] = m.via;
    expect(m.via).toHaveLength(3);
    expect(a).toMatchObject({ protocol: "SIP/2.0/UDP", transport: "UDP", host: "192.0.2.1", port: 5060, branch: "z9hG4bK1", received: "192.0.2.99", rport: 5062, maddr: "239.255.255.1", ttl: 16 });
    expect(a!.params.get("x-ext")).toBe("a b");
    expect(a!.params.get("flag")).toBeNull();
    expect(b).toMatchObject({ transport: "TCP", host: "[2001:db8::5]", branch: "z9hG4bK2" });
    expect(b!.port).toBeUndefined();
    expect(c).toMatchObject({ transport: "TLS", host: "proxy.example.com", port: 5061, rport: true, branch: "z9hG4bK3" });
    expect(m.topVia).toBe(a);
  });

  it("From/To: display names, tags, params", () => {
    const m = parse(REQ);
    expect(m.from.displayName).toBe('Alice "A"');
    expect(m.from.tag).toBe("abc");
    expect(m.from.params.get("x")).toBe("1");
    expect(sip(m.from.uri).params.get("transport")).toBe("tcp");
    expect(m.to.displayName).toBe("Bob");
    expect(m.to.tag).toBeUndefined();
  });

  it("Contact: lists, compact form, expires and q; '*' (RFC 3261 §10.2.2)", () => {
    const m = parse(REQ);
    const c = m.contact;
    if (c === "*") throw new Error("unexpected *");
    expect(c.map((x) => [sip(x.uri).host, x.expires, x.q])).toEqual([
      ["192.0.2.1", 3600, 0.7],
      ["198.51.100.2", undefined, 1],
      ["203.0.113.3", 60, undefined],
    ]);
    expect(c[0]!.displayName).toBe("Al");
    const star = parse(REQ.replace(/^Contact: .*\r\n/m, "Contact: *\r\n").replace(/^m: .*\r\n/m, ""));
    expect(star.contact).toBe("*");
    const mixed = parse(REQ.replace(/^m: .*\r\n/m, "m: *\r\n"));
    expect(() => mixed.contact).toThrow(SipParseError);
    expect(() => parse(REQ.replace("q=0.7", "q=1.5")).contact).toThrow(SipParseError);
  });

  it("scalars and token lists", () => {
    const m = parse(REQ);
    expect(m.callId).toBe("9f8e@192.0.2.1");
    expect(m.cseq).toEqual({ seq: 42, method: "INVITE" });
    expect(m.maxForwards).toBe(69);
    expect(m.contentLength).toBe(0);
    expect(m.contentType).toBe("application/sdp");
    expect(m.contentTypeHeader?.params.get("charset")).toBe("utf-8");
    expect(m.route.map((r) => sip(r.uri).host)).toEqual(["p1.example.com", "p2.example.com"]);
    expect(m.recordRoute.map((r) => sip(r.uri).params.has("lr"))).toEqual([true]);
    expect(m.require).toEqual(["100rel"]);
    expect(m.proxyRequire).toEqual(["sec-agree", "foo"]);
    expect(m.supported).toEqual(["timer", "replaces", "path"]);
    expect(m.allow).toEqual(["INVITE", "ACK", "BYE"]);
    expect(m.expires).toBe(120);
    expect(m.requestUri.user).toBe("bob");
  });

  it("absent optional headers give undefined or []", () => {
    const m = parse(REQ.replace(/^(Max-Forwards|Route|Record-Route|Require|Proxy-Require|k|Supported|Allow|Expires|c|l|Contact|m):.*\r\n/gm, ""));
    expect([m.maxForwards, m.contentLength, m.contentType, m.expires]).toEqual([undefined, undefined, undefined, undefined]);
    expect([m.route, m.recordRoute, m.require, m.proxyRequire, m.supported, m.allow, m.contact]).toEqual([[], [], [], [], [], [], []]);
  });

  it("malformed values throw SipParseError naming the header", () => {
    const bad = (from: string, to: string, touch: (m: SipRequest) => unknown, header: string): void => {
      const m = parse(REQ.replace(from, to));
      let err: unknown;
      try {
        touch(m);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SipParseError);
      expect((err as SipParseError).header).toBe(header);
    };
    bad("CSeq: 42 INVITE", "CSeq: 42", (m) => m.cseq, "CSeq");
    bad("CSeq: 42 INVITE", "CSeq: 2147483648 INVITE", (m) => m.cseq, "CSeq");
    bad("Max-Forwards: 69", "Max-Forwards: 256", (m) => m.maxForwards, "Max-Forwards");
    bad("Call-ID: 9f8e@192.0.2.1", "Call-ID: a b", (m) => m.callId, "Call-ID");
    bad("ttl=16", "ttl=300", (m) => m.via, "Via");
    bad("SIP/2.0/UDP 192.0.2.1", "SIP/2.0 192.0.2.1", (m) => m.via, "Via");
    bad("Allow: INVITE, ACK, BYE", "Allow: INVITE,, BYE", (m) => m.allow, "Allow");
    bad("Route: <sip:p1.example.com;lr>", "Route: sip:p1.example.com", (m) => m.route, "Route");
    bad("Expires: 120", "Expires: soon", (m) => m.expires, "Expires");
    bad("c: application/sdp", "c: application", (m) => m.contentType, "Content-Type");
  });

  it("missing mandatory headers throw on access for built messages", () => {
    const m = new SipRequest("OPTIONS", "sip:a@example.com");
    expect(() => m.from).toThrow(expect.objectContaining({ code: "missing-header", header: "From" }));
    expect(() => m.topVia).toThrow(expect.objectContaining({ code: "missing-header", header: "Via" }));
    expect(m.via).toEqual([]);
  });
});

describe("header mutation", () => {
  it("setHeader replaces all of a name at the first position, compact forms included", () => {
    const m = parse(REQ);
    m.setHeader("Contact", "<sip:new@example.com>");
    expect(m.getHeaders("contact")).toEqual(["<sip:new@example.com>"]);
    expect(m.headers.findIndex((h) => h.name === "Contact")).toBe(7);
    m.setHeader("X-New", "1");
    expect(m.headers.at(-1)).toEqual({ name: "X-New", value: "1" });
  });

  it("addHeader top/bottom and removeFirstHeaderValue on a comma-combined Via", () => {
    const m = parse(REQ);
    m.addHeader("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKtop", "top");
    expect(m.topVia.host).toBe("proxy.example.com");
    m.removeFirstHeaderValue("via");
    expect(m.topVia.branch).toBe("z9hG4bK1");
    m.removeFirstHeaderValue("via");
    expect(m.via.map((v) => v.branch)).toEqual(["z9hG4bK2", "z9hG4bK3"]);
    m.removeFirstHeaderValue("via");
    expect(m.via.map((v) => v.branch)).toEqual(["z9hG4bK3"]);
    expect(m.getHeader("v")).toBe("SIP/2.0/TLS proxy.example.com:5061;rport;branch=z9hG4bK3");
    m.addHeader("Record-Route", "<sip:last.example.com;lr>");
    expect(m.recordRoute.map((r) => (r.uri as SipUri).host)).toEqual(["rr.example.com", "last.example.com"]);
    m.removeHeader("record-route");
    expect(m.recordRoute).toEqual([]);
  });

  it("typed caches follow direct edits of the headers array", () => {
    const m = parse(REQ);
    expect(m.cseq.seq).toBe(42);
    const idx = m.headers.findIndex((h) => h.name === "CSeq");
    m.headers[idx] = { name: "CSeq", value: "43 INVITE" };
    expect(m.cseq.seq).toBe(43);
    m.headers[idx]!.value = "44 INVITE";
    expect(m.cseq.seq).toBe(44);
    m.uri = "sip:carol@example.com";
    expect(m.requestUri.user).toBe("carol");
  });

  it("clone is deep", () => {
    const m = parse(REQ);
    const c = m.clone();
    c.headers[0]!.value = "changed";
    expect(m.headers[0]!.value).not.toBe("changed");
  });
});
