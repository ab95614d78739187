// RFC 4475 (SIP torture test messages): one test per message, encoding what the RFC says of it.
// Either the parser rejects it with SipParseError, or it parses and the test states the response a
// UAS/proxy must give (via validateRequestForUas / validateRequestForProxy / validateResponseForProxy).
import { describe, expect, it } from "vitest";
import {
  isRequest,
  parseSipMessage,
  SipParseError,
  SipRequest,
  SipResponse,
  SipStreamParser,
  validateRequestForProxy,
  validateRequestForUas,
  validateResponseForProxy,
  type SipMessage,
  type SipUri,
} from "../../../../protocols/sip/index.js";
import { rfc4475, rfc4475Names } from "./corpus.js";

function req(name: string): SipRequest {
  const m = parseSipMessage(rfc4475(name));
  if (!isRequest(m)) throw new Error(`${name} is not a request`);
  return m;
}

function res(name: string): SipResponse {
  const m: SipMessage = parseSipMessage(rfc4475(name));
  if (isRequest(m)) throw new Error(`${name} is not a response`);
  return m;
}

function rejects(name: string, code: SipParseError["code"]): SipParseError {
  let caught: unknown;
  try {
    parseSipMessage(rfc4475(name));
  } catch (e) {
    caught = e;
  }
  expect(caught, `${name} must be rejected`).toBeInstanceOf(SipParseError);
  const err = caught as SipParseError;
  expect(err.code).toBe(code);
  return err;
}

function sipUri(u: SipUri | string): SipUri {
  if (typeof u === "string") throw new Error(`expected a SIP URI, got ${u}`);
  return u;
}

const covered = new Set<string>();
function torture(name: string, section: string, body: () => void): void {
  covered.add(name);
  it(`${name} (RFC 4475 §${section})`, body);
}

describe("RFC 4475 §3.1.1 valid messages", () => {
  torture("wsinv", "3.1.1.1 short tortuous INVITE", () => {
    const m = req("wsinv");
    expect(m.method).toBe("INVITE");
    expect(m.uri).toBe("sip:vivekg@chair-dnrc.example.com;unknownparam");
    expect(m.requestUri.params.get("unknownparam")).toBeNull();
    expect(m.to.tag).toBe("1918181833n");
    expect(sipUri(m.to.uri).user).toBe("vivekg");
    expect(m.from.displayName).toBe('J Rosenberg \\"');
    expect(m.from.tag).toBe("98asjd8");
    expect(m.maxForwards).toBe(68);
    expect(m.callId).toBe("wsinv.ndaksdj@192.0.2.1");
    expect(m.cseq).toEqual({ seq: 9, method: "INVITE" });
    expect(m.via.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ["UDP", "192.0.2.2", "390skdjuw"],
      ["TCP", "spindle.example.com", "z9hG4bK9ikj8"],
      ["UDP", "192.168.255.111", "z9hG4bK30239"],
    ]);
    expect(m.getHeader("NewFangledHeader")).toBe("newfangled value continued newfangled value");
    expect(m.getHeader("UnknownHeaderWithUnusualValue")).toBe(";;,,;;,;");
    expect(m.getHeader("subject")).toBe("");
    expect(m.route).toHaveLength(1);
    expect(sipUri(m.route[0]!.uri).params.has("lr")).toBe(true);
    expect(m.contentType).toBe("application/sdp");
    expect(m.body.length).toBe(150);
    expect(validateRequestForProxy(m)).toBeUndefined();
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("intmeth", "3.1.1.2 wide range of valid characters", () => {
    const m = req("intmeth");
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const ruri = m.requestUri;
    expect(ruri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(ruri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(ruri.host).toBe("example.com");
    expect(m.topVia.branch).toBe("z9hG4bK-.!%66*_+`'~");
    expect(m.to.displayName).toBe("BEL:\x07 NUL:\x00 DEL:\x7f");
    expect(m.from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(m.from.tag).toBe("_token~1'+`*%!-.");
    expect(m.from.params.get("fromparam''~+*_!.-%")).toBe("\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439");
    expect(m.callId).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    expect(m.cseq).toEqual({ seq: 139122385, method: m.method });
    expect(m.maxForwards).toBe(255);
    expect(m.getHeader("extensionHeader-!.%*+_`'~")).toBe("\ufeff\u5927\u505c\u96fb");
    // A proxy forwards unknown methods; a UAS that does not implement it answers 501 (RFC 3261 §21.5.2).
    expect(validateRequestForProxy(m)).toBeUndefined();
    expect(validateRequestForUas(m)?.status).toBe(501);
  });

  torture("esc01", "3.1.1.3 valid use of the % escaping mechanism", () => {
    const m = req("esc01");
    expect(m.requestUri.user).toBe("sips:user@example.com");
    expect(m.requestUri.host).toBe("example.net");
    expect(sipUri(m.to.uri).user).toBe("user");
    expect(sipUri(m.from.uri).user).toBe("I have spaces");
    const contact = m.contact;
    expect(contact).not.toBe("*");
    const c = sipUri((contact as Exclude<typeof contact, "*">)[0]!.uri);
    expect(c.user).toBe("caller");
    expect(c.params.get("lr")).toBeNull();
    expect(c.params.get("name")).toBe("value%41");
    expect(m.contentType).toBe("application/sdp");
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("escnull", "3.1.1.4 escaped nulls in URIs", () => {
    const m = req("escnull");
    expect(sipUri(m.to.uri).user).toBe("null-\x00-null");
    const contacts = m.contact;
    expect(contacts !== "*" && contacts.map((c) => sipUri(c.uri).user)).toEqual(["\x00", "\x00\x00"]);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("esc02", "3.1.1.5 use of % when it is not an escape", () => {
    const m = req("esc02");
    expect(m.method).toBe("RE%47IST%45R"); // a token: not REGISTER
    expect(m.cseq.method).toBe("RE%47IST%45R");
    expect(m.to.displayName).toBe("%Z%45");
    expect(m.topVia.branch).toBe("z9hG4bK209%fzsnel234");
    // "C%6Fntact" is an extension header name, not Contact.
    expect(m.getHeaders("contact")).toEqual(["<sip:alias1@host1.example.com>", "<sip:alias3@host3.example.com>"]);
    expect(m.getHeader("C%6Fntact")).toBe("<sip:alias2@host2.example.com>");
    expect(validateRequestForProxy(m)).toBeUndefined();
    expect(validateRequestForUas(m)?.status).toBe(501);
  });

  torture("lwsdisp", "3.1.1.6 no LWS between display name and <", () => {
    const m = req("lwsdisp");
    expect(m.from.displayName).toBe("caller");
    expect(sipUri(m.from.uri).user).toBe("caller");
    expect(m.from.tag).toBe("323");
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("longreq", "3.1.1.7 long values in header fields", () => {
    const m = req("longreq");
    expect(m.to.displayName).toMatch(/^I have a user name of (extreme){10} proportion$/);
    expect(sipUri(m.to.uri).port).toBe(6000);
    expect(m.from.tag?.length).toBeGreaterThan(150);
    expect(m.via.length).toBeGreaterThanOrEqual(30);
    expect(m.body.length).toBe(m.contentLength);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("dblreq", "3.1.1.8 extra trailing octets in a UDP datagram", () => {
    const m = req("dblreq");
    expect(m.method).toBe("REGISTER");
    expect(m.callId).toBe("dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    expect(m.body.length).toBe(0); // the trailing INVITE is ignored
    expect(validateRequestForUas(m)).toBeUndefined();
    // On a stream the octets after the REGISTER are the next message: here a malformed one.
    const stream = new SipStreamParser();
    expect(() => stream.push(rfc4475("dblreq"))).toThrow(SipParseError);
  });

  torture("semiuri", "3.1.1.9 semicolon-separated parameters in URI user part", () => {
    const m = req("semiuri");
    expect(m.requestUri.user).toBe("user;par=u@example.net");
    expect(m.requestUri.host).toBe("example.com");
    expect(m.requestUri.params.size).toBe(0);
    expect(m.getHeader("accept")).toBe(
      "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag",
    );
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("transports", "3.1.1.10 varied and unknown transport types", () => {
    const m = req("transports");
    expect(m.via.map((v) => v.transport)).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    expect(m.callId).toBe("transports.kijh4akdnaqjkwendsasfdj");
    expect(validateRequestForProxy(m)).toBeUndefined();
  });

  torture("mpart01", "3.1.1.11 multipart MIME message", () => {
    const m = req("mpart01");
    expect(m.contentTypeHeader?.mediaType).toBe("multipart/mixed");
    expect(m.contentTypeHeader?.params.get("boundary")).toBe("7a9cbec02ceef655");
    expect(m.body.length).toBe(553);
    expect(m.topVia.rport).toBe(true);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("unreason", "3.1.1.12 unusual reason phrase", () => {
    const m = res("unreason");
    expect(m.status).toBe(200);
    expect(m.reason).toBe(
      "= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435",
    );
    expect(m.body.length).toBe(154);
    expect(validateResponseForProxy(m)).toBeUndefined();
  });

  torture("noreason", "3.1.1.13 empty reason phrase", () => {
    const m = res("noreason");
    expect(m.status).toBe(100);
    expect(m.reason).toBe("");
    expect(m.to.tag).toBe("902jndnke3");
    expect(validateResponseForProxy(m)).toBeUndefined();
  });
});

describe("RFC 4475 §3.1.2 invalid messages", () => {
  torture("badinv01", "3.1.2.1 extraneous header field separators: 400", () => {
    const m = req("badinv01");
    expect(() => m.via).toThrow(SipParseError);
    expect(() => m.contact).toThrow(SipParseError);
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("clerr", "3.1.2.2 Content-Length larger than message", () => {
    const e = rejects("clerr", "body-too-short");
    expect(e.header).toBe("Content-Length");
  });

  torture("ncl", "3.1.2.3 negative Content-Length", () => {
    expect(rejects("ncl", "bad-content-length").header).toBe("Content-Length");
  });

  torture("scalar02", "3.1.2.4 request scalar fields with overlarge values: 400", () => {
    const m = req("scalar02");
    expect(() => m.cseq).toThrow(SipParseError);
    expect(() => m.maxForwards).toThrow(SipParseError);
    // Overlarge expiry values are treated as the largest delta-seconds, not as errors.
    expect(m.expires).toBe(0xffffffff);
    const contacts = m.contact;
    expect(contacts !== "*" && contacts[0]!.expires).toBe(0xffffffff);
    const v = validateRequestForUas(m);
    expect(v?.status).toBe(400);
    expect(v?.detail).toContain("CSeq");
  });

  torture("scalarlg", "3.1.2.5 response scalar fields with overlarge values: discarded", () => {
    const m = res("scalarlg");
    expect(m.status).toBe(503);
    expect(() => m.cseq).toThrow(SipParseError);
    expect(validateResponseForProxy(m)?.action).toBe("discard");
  });

  torture("quotbal", "3.1.2.6 unterminated quoted string in display name: 400", () => {
    const m = req("quotbal");
    expect(() => m.to).toThrow(SipParseError);
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("ltgtruri", "3.1.2.7 <> enclosing Request-URI", () => {
    expect(rejects("ltgtruri", "bad-request-uri").offset).toBe(7);
  });

  torture("lwsruri", "3.1.2.8 malformed SIP Request-URI (embedded LWS)", () => {
    rejects("lwsruri", "bad-request-uri");
  });

  torture("lwsstart", "3.1.2.9 multiple SP separating Request-Line elements", () => {
    rejects("lwsstart", "bad-request-uri");
  });

  torture("trws", "3.1.2.10 SP characters at end of Request-Line", () => {
    rejects("trws", "bad-start-line");
  });

  torture("escruri", "3.1.2.11 escaped headers in SIP Request-URI: 400", () => {
    const m = req("escruri");
    expect(m.requestUri.headers.get("Route")).toBe("<sip:example.com>");
    expect(validateRequestForUas(m)?.status).toBe(400);
    expect(validateRequestForProxy(m)?.status).toBe(400);
  });

  torture("baddate", "3.1.2.12 invalid time zone in Date header field: 400", () => {
    const m = req("baddate");
    expect(m.getHeader("date")).toBe("Fri, 01 Jan 2010 16:00:00 EST");
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("regbadct", "3.1.2.13 failure to enclose name-addr URI in <>: 400", () => {
    const m = req("regbadct");
    expect(() => m.contact).toThrow(SipParseError);
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("badaspec", "3.1.2.14 spaces within addr-spec: 400", () => {
    const m = req("badaspec");
    expect(() => m.to).toThrow(SipParseError);
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("baddn", "3.1.2.15 non-token characters in display name: 400", () => {
    const m = req("baddn");
    expect(() => m.from).toThrow(SipParseError);
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("badvers", "3.1.2.16 unknown protocol version: 505", () => {
    const m = req("badvers");
    expect(m.version).toBe("SIP/7.0");
    expect(validateRequestForUas(m)?.status).toBe(505);
    expect(validateRequestForProxy(m)?.status).toBe(505);
  });

  torture("mismatch01", "3.1.2.17 start line and CSeq method mismatch: 400", () => {
    const m = req("mismatch01");
    expect(m.method).toBe("OPTIONS");
    expect(m.cseq.method).toBe("INVITE");
    expect(validateRequestForUas(m)?.status).toBe(400);
  });

  torture("mismatch02", "3.1.2.18 unknown method with CSeq method mismatch: 501 (400 acceptable)", () => {
    const m = req("mismatch02");
    expect(m.method).toBe("NEWMETHOD");
    expect(validateRequestForUas(m)?.status).toBe(501);
    expect(validateRequestForProxy(m)?.status).toBe(400);
  });

  torture("bigcode", "3.1.2.19 overlarge response code", () => {
    expect(rejects("bigcode", "bad-status-code").offset).toBe(8);
  });
});

describe("RFC 4475 §3.2 transaction layer semantics", () => {
  torture("badbranch", "3.2.1 missing transaction identifier: 400", () => {
    const m = req("badbranch");
    expect(m.topVia.branch).toBe("z9hG4bK");
    expect(validateRequestForUas(m)?.status).toBe(400);
  });
});

describe("RFC 4475 §3.3 application-layer semantics", () => {
  torture("insuf", "3.3.1 missing required header fields", () => {
    const e = rejects("insuf", "missing-header");
    expect(["To", "From", "Call-ID"]).toContain(e.header);
  });

  torture("unkscm", "3.3.2 Request-URI with unknown scheme: 416", () => {
    const m = req("unkscm");
    expect(validateRequestForUas(m)?.status).toBe(416);
    expect(validateRequestForProxy(m)?.status).toBe(416);
  });

  torture("novelsc", "3.3.3 Request-URI with known but atypical scheme: 416", () => {
    const m = req("novelsc");
    expect(m.uri).toBe("soap.beep://192.0.2.103:3002");
    expect(validateRequestForUas(m)?.status).toBe(416);
  });

  torture("unksm2", "3.3.4 unknown URI schemes in header fields", () => {
    const m = req("unksm2");
    expect(m.to.uri).toBe("isbn:2983792873");
    expect(m.from.uri).toBe("http://www.example.com");
    expect(m.from.tag).toBe("3234233");
    const contacts = m.contact;
    expect(contacts !== "*" && contacts[0]!.uri).toBe("name:John_Smith");
    // Parses; a proxy forwards it; a registrar cannot bind a non-SIP address-of-record (RFC 3261 §10.2).
    expect(validateRequestForProxy(m)).toBeUndefined();
    expect(validateRequestForUas(m)?.status).toBe(416);
  });

  torture("bext01", "3.3.5 Proxy-Require and Require: 420 with Unsupported", () => {
    const m = req("bext01");
    const uas = validateRequestForUas(m);
    expect(uas?.status).toBe(420);
    expect(uas?.headers).toEqual([{ name: "Unsupported", value: "nothingSupportsThis, nothingSupportsThisEither" }]);
    const proxy = validateRequestForProxy(m);
    expect(proxy?.status).toBe(420);
    expect(proxy?.headers).toEqual([{ name: "Unsupported", value: "noProxiesSupportThis, norDoAnyProxiesSupportThis" }]);
  });

  torture("invut", "3.3.6 unknown Content-Type: 415 with Accept", () => {
    const m = req("invut");
    const v = validateRequestForUas(m);
    expect(v?.status).toBe(415);
    expect(v?.headers?.[0]?.name).toBe("Accept");
    expect(validateRequestForProxy(m)).toBeUndefined();
  });

  torture("regaut01", "3.3.7 unknown authorization scheme: 401", () => {
    const m = req("regaut01");
    expect(m.getHeader("authorization")).toBe("NoOneKnowsThisScheme opaque-data=here");
    expect(m.contentLength).toBe(0);
    expect(validateRequestForUas(m, { authSchemes: ["Digest"] })?.status).toBe(401);
  });

  torture("multi01", "3.3.8 multiple values in single value required fields: 400", () => {
    const m = req("multi01");
    expect(m.getHeaders("cseq")).toHaveLength(2);
    expect(validateRequestForUas(m)?.status).toBe(400);
    expect(validateRequestForProxy(m)?.status).toBe(400);
  });

  torture("mcl01", "3.3.9 multiple Content-Length values", () => {
    expect(rejects("mcl01", "bad-content-length").header).toBe("Content-Length");
  });

  torture("bcast", "3.3.10 200 OK with broadcast Via: not forwarded", () => {
    const m = res("bcast");
    expect(m.via[1]?.host).toBe("255.255.255.255");
    expect(validateResponseForProxy(m)?.action).toBe("discard");
  });

  torture("zeromf", "3.3.11 Max-Forwards of zero: proxy 483, UAS processes", () => {
    const m = req("zeromf");
    expect(m.maxForwards).toBe(0);
    expect(validateRequestForProxy(m)?.status).toBe(483);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("cparam01", "3.3.12 REGISTER with a contact header parameter: accepted", () => {
    const m = req("cparam01");
    const contacts = m.contact;
    if (contacts === "*") throw new Error("unexpected *");
    expect(contacts[0]!.params.has("unknownparam")).toBe(true);
    expect(sipUri(contacts[0]!.uri).params.has("unknownparam")).toBe(false);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("cparam02", "3.3.13 REGISTER with a url-parameter: accepted", () => {
    const m = req("cparam02");
    const contacts = m.contact;
    if (contacts === "*") throw new Error("unexpected *");
    expect(contacts[0]!.params.has("unknownparam")).toBe(false);
    expect(sipUri(contacts[0]!.uri).params.has("unknownparam")).toBe(true);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("regescrt", "3.3.14 REGISTER with a URL escaped header: accepted", () => {
    const m = req("regescrt");
    const contacts = m.contact;
    if (contacts === "*") throw new Error("unexpected *");
    expect(sipUri(contacts[0]!.uri).headers.get("Route")).toBe("<sip:sip.example.com>");
    expect(m.contentLength).toBe(0);
    expect(validateRequestForUas(m)).toBeUndefined();
  });

  torture("sdp01", "3.3.15 unacceptable Accept offering: 406", () => {
    const m = req("sdp01");
    const v = validateRequestForUas(m);
    expect(v?.status).toBe(406);
    expect(v?.headers).toEqual([{ name: "Accept", value: "application/sdp" }]);
  });
});

describe("RFC 4475 §3.4 backward compatibility", () => {
  torture("inv2543", "3.4.1 INVITE with RFC 2543 syntax: accepted", () => {
    const m = req("inv2543");
    expect(m.topVia.branch).toBeUndefined();
    expect(m.from.tag).toBeUndefined();
    expect(m.maxForwards).toBeUndefined();
    expect(m.contentLength).toBeUndefined();
    expect(m.body.length).toBeGreaterThan(0);
    expect(validateRequestForUas(m)).toBeUndefined();
    expect(validateRequestForProxy(m)).toBeUndefined();
    // Enforcing RFC 3261 §8.1.1 strictly rejects it for want of Max-Forwards.
    expect(() => parseSipMessage(rfc4475("inv2543"), { tolerateMissingMaxForwards: false })).toThrow(SipParseError);
  });
});

describe("RFC 4475 coverage", () => {
  it("has a test for each of the 49 corpus files", () => {
    const all = [...rfc4475Names("valid"), ...rfc4475Names("invalid")];
    expect(all).toHaveLength(49);
    expect(all.filter((n) => !covered.has(n))).toEqual([]);
  });
});
