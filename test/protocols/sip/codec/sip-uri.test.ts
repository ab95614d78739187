import { describe, expect, it } from "vitest";
import { formatSipUri, parseSipUri, SipParseError } from "../../../../protocols/sip/index.js";

describe("parseSipUri (RFC 3261 §19.1, §25.1; RFC 3966)", () => {
  it("parses user, password, host, port, params and headers", () => {
    const u = parseSipUri("sips:alice:secret@example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent");
    expect(u).toEqual({
      scheme: "sips",
      user: "alice",
      password: "secret",
      host: "example.com",
      port: 5061,
      params: new Map([["transport", "tcp"], ["lr", null]]),
      headers: new Map([["subject", "project x"], ["priority", "urgent"]]),
    });
  });

  it("accepts IPv4 and IPv6 references, scheme case-insensitively", () => {
    expect(parseSipUri("SIP:192.0.2.4:5060").host).toBe("192.0.2.4");
    const v6 = parseSipUri("sip:bob@[2001:db8::10]:5070;maddr=[2001:db8::1]");
    expect(v6.scheme).toBe("sip");
    expect(v6.host).toBe("[2001:db8::10]");
    expect(v6.port).toBe(5070);
    expect(v6.params.get("maddr")).toBe("[2001:db8::1]");
    expect(parseSipUri("sip:[2001:db8::10]").port).toBeUndefined();
  });

  it("decodes %-escapes (UTF-8) in user and params, lower-cases param names", () => {
    const u = parseSipUri("sip:%C3%A9l%C3%A8ve@example.com;Foo=%41");
    expect(u.user).toBe("élève");
    expect(u.params.get("foo")).toBe("A");
  });

  it("parses tel URIs (RFC 3966)", () => {
    const u = parseSipUri("tel:+1-201-555-0123;phone-context=example.com");
    expect(u.scheme).toBe("tel");
    expect(u.user).toBe("+1-201-555-0123");
    expect(u.host).toBe("");
    expect(u.params.get("phone-context")).toBe("example.com");
    expect(formatSipUri(u)).toBe("tel:+1-201-555-0123;phone-context=example.com");
  });

  it.each([
    ["sip:", "bad-uri"],
    ["sip:@example.com", "bad-uri"],
    ["sip:user@exa mple.com", "bad-uri"],
    ["sip:user@example.com:99999", "bad-uri"],
    ["sip:user@example.com:", "bad-uri"],
    ["sip:us%2@example.com", "bad-uri"],
    ["sip:us%zz@example.com", "bad-uri"],
    ["sip:user@[2001:db8::1", "bad-uri"],
    ["sip:user@example.com;=x", "bad-uri"],
    ["sip:user@example.com?noequals", "bad-uri"],
    ["sip:user@-bad.example.com", "bad-uri"],
    ["tel:", "bad-uri"],
    ["tel:12 34", "bad-uri"],
    ["example.com", "bad-uri"],
    ["1sip:x", "bad-uri"],
    ["http://example.com/", "unsupported-uri-scheme"],
    ["urn:service:sos", "unsupported-uri-scheme"],
  ])("rejects %s with %s", (text, code) => {
    let err: unknown;
    try {
      parseSipUri(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).code).toBe(code);
  });

  it("formats with escaping where the grammar needs it and round-trips", () => {
    const u = parseSipUri("sip:I%20have%20spaces;x=1@example.net:5060;name=v%61lue%25%34%31?h=a%26b");
    expect(u.user).toBe("I have spaces;x=1");
    expect(u.params.get("name")).toBe("value%41");
    expect(u.headers.get("h")).toBe("a&b");
    const text = formatSipUri(u);
    expect(text).toBe("sip:I%20have%20spaces;x=1@example.net:5060;name=value%2541?h=a%26b");
    expect(parseSipUri(text)).toEqual(u);
  });
});
