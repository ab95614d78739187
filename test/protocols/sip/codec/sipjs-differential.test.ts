// Differential test against sip.js 0.21 (Parser.parseMessage): on the RFC 4475 valid messages and on
// generated messages both parsers must agree on method, Request-URI, status, Call-ID, CSeq, From/To tags,
// top Via branch and body bytes. Where they disagree, a test names the message and says which one
// follows RFC 3261.
import fc from "fast-check";
import { LoggerFactory } from "sip.js/lib/core/log/logger-factory.js";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import { describe, expect, it } from "vitest";
import { isRequest, parseSipMessage, serializeSipMessage, type SipMessage, type SipUri } from "../../../../protocols/sip/index.js";
import { messageArb } from "./arbitraries.js";
import { rfc4475, rfc4475Names } from "./corpus.js";

const loggerFactory = new LoggerFactory();
loggerFactory.builtinEnabled = false;
const logger = loggerFactory.getLogger("differential");

interface Fields {
  method?: string;
  ruriUser?: string;
  ruriHost?: string;
  ruriPort?: number;
  status?: number;
  callId: string;
  cseq: number;
  cseqMethod: string;
  fromTag?: string;
  toTag?: string;
  branch?: string;
  body: string;
}

function ours(m: SipMessage): Fields {
  const f: Fields = {
    callId: m.callId,
    cseq: m.cseq.seq,
    cseqMethod: m.cseq.method,
    fromTag: m.from.tag,
    toTag: m.to.tag,
    branch: m.topVia.branch,
    body: m.body.toString("utf8"),
  };
  if (isRequest(m)) {
    const u: SipUri = m.requestUri;
    f.method = m.method;
    // sip.js keeps "user:password" in its user field (see the named disagreement below).
    f.ruriUser = u.password === undefined ? u.user : `${u.user}:${u.password}`;
    f.ruriHost = u.host.toLowerCase(); // hosts compare case-insensitively (RFC 3261 §19.1.4)
    f.ruriPort = u.port;
  } else {
    f.status = m.status;
  }
  return f;
}

// sip.js's message classes are untyped here on purpose: only the fields below are read.
function sipjs(text: string): Fields | undefined {
  const m = Parser.parseMessage(text, logger) as any;
  if (m === undefined) return undefined;
  const f: Fields = {
    callId: m.callId,
    cseq: m.cseq,
    cseqMethod: m.method,
    fromTag: m.fromTag,
    toTag: m.toTag,
    branch: m.via?.branch,
    body: m.body ?? "",
  };
  if (m.statusCode === undefined) {
    f.method = m.method;
    f.ruriUser = m.ruri?.user;
    f.ruriHost = m.ruri?.host?.toLowerCase();
    f.ruriPort = m.ruri?.port;
  } else {
    f.status = m.statusCode;
  }
  return f;
}

function both(buf: Buffer): { ours: Fields; sipjs: Fields | undefined } {
  return { ours: ours(parseSipMessage(buf)), sipjs: sipjs(buf.toString("utf8")) };
}

describe("differential: ours vs sip.js 0.21", () => {
  const agreeing = rfc4475Names("valid").filter((n) => n !== "intmeth");

  it.each(agreeing)("RFC 4475 valid message %s: same fields", (name) => {
    const r = both(rfc4475(name));
    expect(r.sipjs).toBeDefined();
    expect(r.ours).toEqual(r.sipjs);
  });

  // Reason phrases limited to RFC 3261's Reason-Phrase characters, From/To with sip/sips URIs, text bodies:
  // the part of the grammar both parsers claim to support.
  const REASON_OK = /[^A-Za-z0-9 \t\-_.!~*'()&=+$,;?/:@\u0080-\uffff]/g;
  // sip.js rejects a URI parameter whose name merely starts with "lr" (named disagreement below).
  // sip.js reads "lr" with a value as lr-param "=" token, rejecting a pvalue with characters a token lacks (named below).
  const lrPrefixed = (u: SipUri) =>
    [...u.params.entries()].some(([k, v]) => (k !== "lr" && k.toLowerCase().startsWith("lr")) || (k.toLowerCase() === "lr" && typeof v === "string" && /[[\]/:&$()]/.test(v)));
  const commonArb = messageArb
    .filter((g) => typeof g.from.uri !== "string" && g.from.uri.scheme !== "tel" && typeof g.to.uri !== "string" && g.to.uri.scheme !== "tel")
    .filter((g) => typeof g.from.uri !== "string" && !lrPrefixed(g.from.uri) && typeof g.to.uri !== "string" && !lrPrefixed(g.to.uri))
    .filter((g) => g.requestUri === undefined || !lrPrefixed(g.requestUri))
    .map((g) => {
      const m = g.message;
      if (!isRequest(m)) m.reason = m.reason.replace(REASON_OK, "") || "OK";
      m.body = Buffer.from(m.body.toString("base64"));
      return g;
    });

  it("generated messages: sip.js parses every one and agrees field by field", () => {
    fc.assert(
      fc.property(commonArb, (g) => {
        const r = both(serializeSipMessage(g.message));
        expect(r.sipjs).toBeDefined();
        expect(r.ours).toEqual(r.sipjs);
      }),
      { numRuns: 200 },
    );
  });
});

describe("differential: named disagreements", () => {
  it("intmeth (RFC 4475 §3.1.1.2): sip.js puts the password into the user; ours splits userinfo as RFC 3261 §25.1 says", () => {
    const buf = rfc4475("intmeth");
    const m = parseSipMessage(buf);
    if (!isRequest(m)) throw new Error("request expected");
    const theirs = Parser.parseMessage(buf.toString("utf8"), logger) as any;
    // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@": the first ':' ends the user.
    expect(m.requestUri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(m.requestUri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(theirs.ruri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    // everything else agrees
    const r = both(buf);
    expect({ ...r.ours, ruriUser: undefined }).toEqual({ ...r.sipjs, ruriUser: undefined });
  });

  it("URI parameter named like 'lra': sip.js rejects the message; ours parses it as an other-param (RFC 3261 §19.1.1, §25.1)", () => {
    // other-param = pname [ "=" pvalue ]: a name that begins with "lr" is still just a pname.
    const text =
      "OPTIONS sip:gw@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
      "To: <sip:example.com;lra>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: lra1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    expect(Parser.parseMessage(text, logger)).toBeUndefined();
    const to = parseSipMessage(Buffer.from(text)).to.uri as SipUri;
    expect([...to.params.entries()]).toEqual([["lra", null]]);
  });

  it("'lr' with a value a token cannot hold: sip.js rejects the message; ours parses it as an other-param (RFC 3261 §19.1.1, §25.1)", () => {
    // other-param = pname [ "=" pvalue ], and pvalue = 1*paramchar takes param-unreserved ("[", "]", "/", ":", "&",
    // "$") and "(" / ")"; sip.js reads "lr" as lr-param with an optional token value, which has none of them.
    for (const value of ["a[b", "x:y", "(z)"]) {
      const text =
        "OPTIONS sip:gw@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
        `To: <sip:example.com;lr=${value}>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: lrv1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      expect(Parser.parseMessage(text, logger)).toBeUndefined();
      const to = parseSipMessage(Buffer.from(text)).to.uri as SipUri;
      expect([...to.params.entries()]).toEqual([["lr", value]]);
    }
  });

  it("tel URI in To: sip.js rejects the message; ours parses it, as RFC 3261 §20.39/§25.1 allow an absoluteURI there", () => {
    const text =
      "OPTIONS sip:gw@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
      "To: <tel:+1-201-555-0123>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: tel1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    expect(Parser.parseMessage(text, logger)).toBeUndefined();
    const m = parseSipMessage(Buffer.from(text));
    const to = m.to.uri as SipUri;
    expect([to.scheme, to.user]).toEqual(["tel", "+1-201-555-0123"]);
  });

  it("reason phrase with '`' or a bare '%': sip.js rejects it, following RFC 3261 §25.1 strictly; ours accepts it", () => {
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB): '`' and a
    // '%' not followed by two hex digits are outside it. sip.js follows the grammar; ours keeps the text
    // because the phrase is only for humans (RFC 3261 §7.2) and a proxy must relay responses it cannot fix.
    for (const reason of ["Not `Found`", "50% done"]) {
      const text =
        `SIP/2.0 404 ${reason}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:b@example.com>;tag=2\r\n` +
        "From: <sip:a@example.com>;tag=1\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
      expect(Parser.parseMessage(text, logger)).toBeUndefined();
      const m = parseSipMessage(Buffer.from(text));
      expect(!isRequest(m) && m.reason).toBe(reason);
    }
  });
});
