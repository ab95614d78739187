import { describe, expect, it } from "vitest";
import {
  DEFAULT_SIP_PARSE_LIMITS,
  isRequest,
  parseSipMessage,
  SipParseError,
  SipRequest,
  SipResponse,
} from "../../../../protocols/sip/index.js";

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join("\r\n"), "utf8");

const BASIC = [
  "OPTIONS sip:bob@example.com SIP/2.0",
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc",
  "Max-Forwards: 70",
  "To: <sip:bob@example.com>",
  "From: <sip:alice@example.com>;tag=1",
  "Call-ID: c1@192.0.2.1",
  "CSeq: 1 OPTIONS",
  "Content-Length: 0",
  "",
  "",
];

function error(f: () => unknown): SipParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw new Error(`expected SipParseError, got ${String(e)}`);
  }
  throw new Error("expected SipParseError, nothing thrown");
}

describe("parseSipMessage: start line (RFC 3261 §7.1, §7.2)", () => {
  it("parses a request line", () => {
    const m = parseSipMessage(crlf(BASIC));
    expect(m).toBeInstanceOf(SipRequest);
    const r = m as SipRequest;
    expect([r.method, r.uri, r.version]).toEqual(["OPTIONS", "sip:bob@example.com", "SIP/2.0"]);
    expect(r.headers).toHaveLength(7);
    expect(r.body.length).toBe(0);
  });

  it("parses a status line, keeping the reason phrase's spaces", () => {
    const m = parseSipMessage(
      crlf(["SIP/2.0 486 Busy  Here", "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1", "To: <sip:a@example.com>;tag=9", "From: <sip:b@example.com>;tag=8", "Call-ID: x", "CSeq: 2 INVITE", "", ""]),
    );
    expect(m).toBeInstanceOf(SipResponse);
    expect((m as SipResponse).status).toBe(486);
    expect((m as SipResponse).reason).toBe("Busy  Here");
  });

  it.each([
    ["INVITE sip:a@example.com", "bad-start-line"],
    ["INVITE  sip:a@example.com SIP/2.0", "bad-request-uri"],
    ["INVITE sip:a@example.com SIP/2", "bad-version"],
    ["INVITE sip:a@example.com HTTP/1.1", "bad-version"],
    ["INV(TE sip:a@example.com SIP/2.0", "bad-start-line"],
    [" INVITE sip:a@example.com SIP/2.0", "bad-method"],
    ["SIP/2.0 99 Too Low", "bad-status-code"],
    ["SIP/2.0 700 Too High", "bad-status-code"],
    ["SIP/2.0 20 OK", "bad-status-code"],
    ["SIP/2.0 200OK", "bad-start-line"],
  ])("rejects start line %j with %s", (line, code) => {
    const lines = [...BASIC];
    lines[0] = line;
    expect(error(() => parseSipMessage(crlf(lines))).code).toBe(code);
  });
});

describe("parseSipMessage: headers (RFC 3261 §7.3)", () => {
  it("unfolds continuation lines to one SP and trims values", () => {
    const lines = [...BASIC];
    lines.splice(7, 0, "Subject:   first part  ", " \t second part", "\tthird");
    const m = parseSipMessage(crlf(lines));
    expect(m.getHeader("subject")).toBe("first part second part third");
  });

  it("keeps names as written, matches case-insensitively and by compact form", () => {
    const m = parseSipMessage(
      crlf(["INVITE sip:b@example.com SIP/2.0", "v: SIP/2.0/TCP h.example.com;branch=z9hG4bKx", "MAX-FORWARDS: 5", "t: <sip:b@example.com>", "f: <sip:a@example.com>;tag=1", "i: cid", "cseq: 3 INVITE", "l: 0", "", ""]),
    );
    expect(m.headers.map((h) => h.name)).toEqual(["v", "MAX-FORWARDS", "t", "f", "i", "cseq", "l"]);
    expect(m.getHeader("Via")).toBe("SIP/2.0/TCP h.example.com;branch=z9hG4bKx");
    expect(m.getHeader("call-id")).toBe("cid");
    expect(m.getHeader("I")).toBe("cid");
    expect(m.maxForwards).toBe(5);
    expect(m.contentLength).toBe(0);
  });

  it("accepts bare LF line endings", () => {
    const m = parseSipMessage(Buffer.from(BASIC.join("\n")));
    expect(m.getHeader("cseq")).toBe("1 OPTIONS");
  });

  it("decodes non-ASCII header values as UTF-8", () => {
    const lines = [...BASIC];
    lines[4] = 'From: "Zoë Ünal" <sip:alice@example.com>;tag=1';
    const m = parseSipMessage(crlf(lines));
    expect(m.from.displayName).toBe("Zoë Ünal");
  });

  it.each([
    ["Bad Name: x", "bad-header-name"],
    ["NoColon", "bad-header-name"],
    [": empty name", "bad-header-name"],
    ["X-Bare: a\rb", "bad-line-ending"],
  ])("rejects header line %j with %s", (line, code) => {
    const lines = [...BASIC];
    lines.splice(7, 0, line);
    const e = error(() => parseSipMessage(crlf(lines)));
    expect(e.code).toBe(code);
    expect(e.offset).toBeGreaterThan(0);
  });

  it("rejects a continuation line before any header", () => {
    const lines = [...BASIC];
    lines.splice(1, 0, " folded");
    expect(error(() => parseSipMessage(crlf(lines))).code).toBe("bad-header-line");
  });

  it("requires To, From, CSeq, Call-ID and Via (RFC 3261 §8.1.1) and names the missing one", () => {
    for (const [idx, name] of [[1, "Via"], [3, "To"], [4, "From"], [5, "Call-ID"], [6, "CSeq"]] as const) {
      const lines = BASIC.filter((_l, i) => i !== idx);
      const e = error(() => parseSipMessage(crlf(lines)));
      expect(e.code).toBe("missing-header");
      expect(e.header).toBe(name);
    }
  });

  it("tolerates a missing Max-Forwards unless told not to", () => {
    const lines = BASIC.filter((_l, i) => i !== 2);
    expect(isRequest(parseSipMessage(crlf(lines)))).toBe(true);
    const e = error(() => parseSipMessage(crlf(lines), { tolerateMissingMaxForwards: false }));
    expect(e.header).toBe("Max-Forwards");
  });
});

describe("parseSipMessage: body framing (RFC 3261 §18.3, §20.14)", () => {
  const withBody = (cl: string | undefined, body: string): Buffer => {
    const lines = BASIC.slice(0, 7);
    if (cl !== undefined) lines.push(`Content-Length: ${cl}`);
    lines.push("Content-Type: text/plain", "", body);
    return crlf(lines);
  };

  it("counts Content-Length in bytes, not characters", () => {
    const m = parseSipMessage(withBody("6", "héllo"));
    expect(m.body.toString("utf8")).toBe("héllo");
  });

  it("ignores octets after Content-Length in a datagram (RFC 4475 §3.1.1.8)", () => {
    const m = parseSipMessage(withBody("3", "abcdef"));
    expect(m.body.toString()).toBe("abc");
  });

  it("takes the rest of the datagram when Content-Length is absent", () => {
    expect(parseSipMessage(withBody(undefined, "abcdef")).body.toString()).toBe("abcdef");
  });

  it.each([
    ["7", "body-too-short"],
    ["-1", "bad-content-length"],
    ["1 2", "bad-content-length"],
    ["", "bad-content-length"],
    ["99999999999", "bad-content-length"],
    ["70000", "message-too-large"],
  ])("rejects Content-Length %j with %s", (cl, code) => {
    expect(error(() => parseSipMessage(withBody(cl, "abcdef"))).code).toBe(code);
  });

  it("skips CRLFs before the start line (RFC 3261 §7.5)", () => {
    const m = parseSipMessage(Buffer.concat([Buffer.from("\r\n\r\n"), crlf(BASIC)]));
    expect(isRequest(m) && m.method).toBe("OPTIONS");
  });

  it.each([Buffer.alloc(0), Buffer.from("\r\n\r\n")])("rejects an empty datagram", (buf) => {
    expect(error(() => parseSipMessage(buf)).code).toBe("empty-message");
  });
});

describe("parseSipMessage: limits", () => {
  it("has proxy defaults", () => {
    expect(DEFAULT_SIP_PARSE_LIMITS).toEqual({ maxMessageBytes: 65536, maxHeaders: 256, maxLineBytes: 8192 });
  });

  it("refuses more headers than maxHeaders", () => {
    const lines = [...BASIC];
    for (let i = 0; i < 10; i++) lines.splice(7, 0, `X-H${i}: v`);
    expect(parseSipMessage(crlf(lines), { limits: { maxHeaders: 17 } }).headers).toHaveLength(17);
    expect(error(() => parseSipMessage(crlf(lines), { limits: { maxHeaders: 16 } })).code).toBe("too-many-headers");
  });

  it("refuses a header (folded lines included) longer than maxLineBytes", () => {
    const lines = [...BASIC];
    lines.splice(7, 0, `X-Long: ${"a".repeat(50)}`, ` ${"b".repeat(50)}`);
    expect(parseSipMessage(crlf(lines), { limits: { maxLineBytes: 120 } }).getHeader("x-long")?.length).toBe(101);
    const e = error(() => parseSipMessage(crlf(lines), { limits: { maxLineBytes: 100 } }));
    expect(e.code).toBe("line-too-long");
    expect(e.header).toBe("X-Long");
  });

  it("refuses a datagram larger than maxMessageBytes", () => {
    expect(error(() => parseSipMessage(crlf(BASIC), { limits: { maxMessageBytes: 100 } })).code).toBe("message-too-large");
  });
});
