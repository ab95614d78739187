import { describe, expect, it } from "vitest";
import {
  buildRequest,
  buildResponse,
  generateBranch,
  generateTag,
  parseSipMessage,
  serializeSipMessage,
  SipRequest,
  SipResponse,
  validateRequestForUas,
} from "../../../../protocols/sip/index.js";

describe("serializeSipMessage (RFC 3261 §7)", () => {
  it("writes start line, headers in order, CRLF, body; Content-Length in bytes", () => {
    const m = new SipRequest("MESSAGE", "sip:bob@example.com", [
      { name: "v", value: "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1" },
      { name: "l", value: "999" },
      { name: "X-A", value: "1" },
    ], Buffer.from("héllo wörld", "utf8"));
    expect(serializeSipMessage(m).toString("utf8")).toBe(
      "MESSAGE sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nl: 13\r\nX-A: 1\r\n\r\nhéllo wörld",
    );
  });

  it("adds Content-Length when absent and drops duplicates", () => {
    const r = new SipResponse(200, "OK", [
      { name: "Content-Length", value: "5" },
      { name: "Content-Length", value: "7" },
    ]);
    expect(serializeSipMessage(r).toString()).toBe("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    const r2 = new SipResponse(180, "Ringing", [{ name: "To", value: "<sip:a@example.com>" }], Buffer.from("ab"));
    expect(serializeSipMessage(r2).toString()).toBe("SIP/2.0 180 Ringing\r\nTo: <sip:a@example.com>\r\nContent-Length: 2\r\n\r\nab");
  });

  it("is deterministic", () => {
    const m = buildRequest({ method: "OPTIONS", uri: "sip:a@example.com", from: "<sip:b@example.com>;tag=1", to: "<sip:a@example.com>", callId: "c", cseq: 1, via: "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx" });
    expect(serializeSipMessage(m).equals(serializeSipMessage(m.clone()))).toBe(true);
  });
});

describe("builders (RFC 3261 §8.1.1, §8.2.6)", () => {
  const invite = (): SipRequest =>
    buildRequest({
      method: "INVITE",
      uri: "sip:bob@example.com",
      from: `"Alice" <sip:alice@example.com>;tag=${generateTag()}`,
      to: "Bob <sip:bob@example.com>",
      callId: "a84b4c76e66710@192.0.2.10",
      cseq: 314159,
      via: { host: "192.0.2.10", port: 5060, transport: "udp", rport: true },
      contact: "<sip:alice@192.0.2.10>",
      body: "v=0\r\n",
      contentType: "application/sdp",
      extraHeaders: { Supported: "timer" },
    });

  it("buildRequest carries the §8.1.1 headers and parses back valid", () => {
    const r = invite();
    expect(r.headers.map((h) => h.name)).toEqual(["Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Supported", "Content-Type", "Content-Length"]);
    expect(r.topVia.branch).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(r.topVia).toMatchObject({ transport: "UDP", host: "192.0.2.10", port: 5060, rport: true });
    expect(r.maxForwards).toBe(70);
    expect(r.cseq).toEqual({ seq: 314159, method: "INVITE" });
    const back = parseSipMessage(serializeSipMessage(r)) as SipRequest;
    expect(validateRequestForUas(back)).toBeUndefined();
    expect(back.body.toString()).toBe("v=0\r\n");
  });

  it("buildResponse copies Via, From, To, Call-ID, CSeq and adds a To tag (§8.2.6.2)", () => {
    const req = invite();
    req.addHeader("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp", "top");
    req.addHeader("Record-Route", "<sip:proxy.example.com;lr>");
    const ok = buildResponse(req, 200, undefined, { toTag: "t1", contact: "<sip:bob@192.0.2.20>" });
    expect(ok.reason).toBe("OK");
    expect(ok.via.map((v) => v.host)).toEqual(["proxy.example.com", "192.0.2.10"]);
    expect(ok.to.tag).toBe("t1");
    expect(ok.from.tag).toBe(req.from.tag);
    expect([ok.callId, ok.cseq]).toEqual([req.callId, req.cseq]);
    expect(ok.recordRoute).toHaveLength(1);
    const trying = buildResponse(req, 100, undefined, { toTag: "t1" });
    expect(trying.to.tag).toBeUndefined();
    expect(trying.recordRoute).toEqual([]);
    const busy = buildResponse(req, 486, "Busy Here", { toTag: "t2" });
    expect(busy.to.tag).toBe("t2");
    expect(busy.recordRoute).toEqual([]);
    expect(busy.contentLength).toBe(0);
  });

  it("buildResponse keeps an existing To tag", () => {
    const req = invite();
    req.setHeader("To", "Bob <sip:bob@example.com>;tag=existing");
    expect(buildResponse(req, 200, "OK", { toTag: "new" }).to.tag).toBe("existing");
  });

  it("generateBranch and generateTag are unique with the magic cookie", () => {
    const branches = new Set(Array.from({ length: 1000 }, generateBranch));
    expect(branches.size).toBe(1000);
    for (const b of branches) expect(b.startsWith("z9hG4bK")).toBe(true);
    const tags = new Set(Array.from({ length: 1000 }, generateTag));
    expect(tags.size).toBe(1000);
    for (const t of tags) expect(t).toMatch(/^[A-Za-z0-9_-]{8,}$/);
  });
});
