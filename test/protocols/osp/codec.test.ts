import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  OspDecodeError,
  createOspToken,
  decodeOspMessage,
  decodeTokenInfo,
  encodeOspMessage,
  encodeTokenInfo,
  ospMessageCallId,
  type OspMessage,
} from "../../../protocols/osp/index.js";
import { thrownBy } from "../../support/thrown.js";

const goldenDir = join(process.cwd(), "test/protocols/osp/golden");
const goldenFiles = readdirSync(goldenDir).filter((f) => f.endsWith(".xml") && f !== "token-info.xml");

function golden(name: string): string {
  return readFileSync(join(goldenDir, name), "utf8").trim();
}

function decodeError(input: string): OspDecodeError {
  return thrownBy(OspDecodeError, () => decodeOspMessage(input));
}

describe("OSP golden messages (TS 101 321 examples, toolkit element tables)", () => {
  it("has a golden message for every component kind", () => {
    const kinds = new Set(goldenFiles.flatMap((f) => decodeOspMessage(golden(f)).components.map((c) => c.kind)));
    expect([...kinds].sort()).toEqual(
      [
        "AuthorisationConfirmation", "AuthorisationIndication", "AuthorisationRequest", "AuthorisationResponse",
        "CapabilitiesConfirmation", "CapabilitiesIndication", "PricingConfirmation", "PricingIndication",
        "ReauthorisationRequest", "ReauthorisationResponse", "UsageConfirmation", "UsageIndication",
      ].sort(),
    );
  });

  for (const file of goldenFiles) {
    it(`${file} parses and re-encodes byte for byte`, () => {
      const text = golden(file);
      const spelling = file.includes("-etsi") ? "etsi" : "toolkit";
      const message = decodeOspMessage(Buffer.from(text));
      expect(encodeOspMessage(message, { spelling }).toString("utf8")).toBe(text);
    });
  }

  it("decodes the toolkit AuthorizationRequest into typed fields", () => {
    const m = decodeOspMessage(golden("authorization-request.xml"));
    expect(m.messageId).toBe("1014985553");
    expect(m.random).toBe("26447");
    const c = m.components[0]!;
    expect(c.kind).toBe("AuthorisationRequest");
    if (c.kind !== "AuthorisationRequest") return;
    expect(c.timestamp).toBe(Date.UTC(2002, 1, 28, 20, 45, 53));
    expect(c.callIds[0]!.toString()).toBe("1234567890");
    expect(c.sourceInfo).toEqual([{ type: "e164", value: "14045266060" }]);
    expect(c.destinationInfo).toEqual([{ type: "e164", value: "14043342535" }]);
    expect(c.sourceAlternates).toEqual([{ type: "transport", value: "[192.0.2.10]" }]);
    expect(c.maximumDestinations).toBe(5);
    expect(c.customerId).toBe("1000");
    expect(c.deviceId).toBe("1");
  });

  it("decodes an AuthorizationResponse destination with token and time limit, keeping toolkit extensions", () => {
    const m = decodeOspMessage(golden("authorization-response.xml"));
    const c = m.components[0]!;
    if (c.kind !== "AuthorisationResponse") throw new Error(c.kind);
    expect(c.status).toEqual({ code: 200, description: "success" });
    const d = c.destinations[0]!;
    expect(d.destinationSignalAddress).toBe("[192.0.2.20]:5060");
    expect(d.usageDetail?.amount).toBe(14400);
    expect(d.extensions?.map((e) => [e.name, e.text])).toEqual([["DestinationProtocol", "sip"], ["OSPVersion", "2.1.1"]]);
    const info = decodeTokenInfo(d.tokens[0]!);
    expect(info.transactionId).toBe("3082125458423808001");
    expect(info.callId.toString()).toBe("1234567890");
    expect(encodeTokenInfo(info).toString()).toBe(golden("token-info.xml"));
  });

  it("reads a batch of UsageIndications in one Message", () => {
    const m = decodeOspMessage(golden("usage-indication-batch.xml"));
    expect(m.components.map((c) => c.componentId)).toEqual(["301", "302"]);
  });
});

describe("the call an OSP message is about", () => {
  it("is its first component's CallId: an AuthorisationRequest's first, a UsageIndication's own; none without one", () => {
    expect(ospMessageCallId(decodeOspMessage(golden("authorization-request.xml")))).toBe("1234567890");
    expect(ospMessageCallId(decodeOspMessage(golden("usage-indication.xml")))).toBe("1234567890");
    expect(ospMessageCallId(decodeOspMessage(golden("capabilities-indication.xml")))).toBeUndefined();
    expect(ospMessageCallId({ messageId: "1", components: [] })).toBeUndefined();
  });
});

describe("OSP spellings", () => {
  it("accepts both spellings and writes the toolkit's by default, ETSI's on request", () => {
    const etsi = golden("authorisation-request-etsi.xml");
    const us = etsi.replace(/AuthorisationRequest/g, "AuthorizationRequest");
    expect(decodeOspMessage(us)).toEqual(decodeOspMessage(etsi));
    const m = decodeOspMessage(etsi);
    expect(encodeOspMessage(m).toString()).toBe(us);
    expect(encodeOspMessage(m, { spelling: "etsi" }).toString()).toBe(etsi);
  });

  it("spells every Authorisation* component both ways", () => {
    const pairs: [string, string][] = [
      ["authorization-response.xml", "AuthorisationResponse"],
      ["authorization-indication.xml", "AuthorisationIndication"],
      ["authorization-confirmation.xml", "AuthorisationConfirmation"],
      ["reauthorization-request.xml", "ReauthorisationRequest"],
      ["reauthorization-response.xml", "ReauthorisationResponse"],
    ];
    for (const [file, etsiName] of pairs) {
      const m = decodeOspMessage(golden(file));
      expect(m.components[0]!.kind).toBe(etsiName);
      const out = encodeOspMessage(m, { spelling: "etsi" }).toString();
      expect(out).toContain(`<${etsiName} `);
      expect(decodeOspMessage(out)).toEqual(m);
    }
  });
});

describe("OSP critical attribute (TS 101 321)", () => {
  const base = golden("usage-confirmation.xml");
  it("refuses an unknown element that is not marked critical=\"false\"", () => {
    const err = decodeError(base.replace("<Status>", "<Frobnicate>1</Frobnicate><Status>"));
    expect(err.code).toBe("unknown-critical-element");
    expect(err.path).toBe("Message/UsageConfirmation/Frobnicate");
    expect(err.ospStatusCode).toBe(400);
    const err2 = decodeError(base.replace("<Status>", '<Frobnicate critical="true">1</Frobnicate><Status>'));
    expect(err2.code).toBe("unknown-critical-element");
  });

  it("keeps an unknown element marked critical=\"false\" and writes it back", () => {
    const text = base.replace("</Status>", '</Status><Frobnicate critical="false" x="1">y</Frobnicate>');
    const m = decodeOspMessage(text);
    const c = m.components[0]!;
    expect(c.extensions).toEqual([{ name: "Frobnicate", attributes: { critical: "false", x: "1" }, text: "y", children: [] }]);
    expect(encodeOspMessage(m).toString()).toBe(text);
  });

  it("tolerates toolkit elements without a critical attribute where they are not modelled", () => {
    const text = base.replace("</Status>", "</Status><DestinationProtocol>sip</DestinationProtocol>");
    expect(decodeOspMessage(text).components[0]!.extensions?.[0]?.name).toBe("DestinationProtocol");
  });

  it("writes CustomerId and DeviceId with critical=\"false\" as the toolkit does", () => {
    const out = encodeOspMessage(decodeOspMessage(golden("authorization-request.xml"))).toString();
    expect(out).toContain('<CustomerId critical="false">1000</CustomerId>');
    expect(out).toContain('<DeviceId critical="false">1</DeviceId>');
  });
});

describe("OSP decode errors carry code, path and reason", () => {
  const cases: [string, string, string, string][] = [
    ["not XML", "garbage", "not-xml", ""],
    ["wrong root", "<Foo/>", "bad-root", "Foo"],
    ["no messageId", "<Message><UsageConfirmation><Status><Code>200</Code></Status></UsageConfirmation></Message>", "missing-attribute", "Message@messageId"],
    ["empty message", '<Message messageId="1"></Message>', "no-component", "Message"],
    ["missing Status", '<Message messageId="1"><UsageConfirmation/></Message>', "missing-element", "Message/UsageConfirmation/Status"],
    ["bad code", '<Message messageId="1"><UsageConfirmation><Status><Code>2x</Code></Status></UsageConfirmation></Message>', "bad-value", "Message/UsageConfirmation/Status/Code"],
    ["bad time", '<Message messageId="1"><UsageConfirmation><Timestamp>2002-13-01T00:00:00Z</Timestamp><Status><Code>200</Code></Status></UsageConfirmation></Message>', "bad-value", "Message/UsageConfirmation/Timestamp"],
    ["bad base64", '<Message messageId="1"><UsageIndication><CallId encoding="base64">@@@</CallId></UsageIndication></Message>', "bad-value", "Message/UsageIndication/CallId"],
    ["duplicate", '<Message messageId="1"><UsageConfirmation><Status><Code>200</Code></Status><Status><Code>200</Code></Status></UsageConfirmation></Message>', "duplicate-element", "Message/UsageConfirmation/Status"],
    ["missing type", '<Message messageId="1"><UsageIndication><SourceInfo>1</SourceInfo></UsageIndication></Message>', "missing-attribute", "Message/UsageIndication/SourceInfo"],
    ["text in struct", '<Message messageId="1"><UsageConfirmation>hello<Status><Code>200</Code></Status></UsageConfirmation></Message>', "unexpected-text", "Message/UsageConfirmation"],
    ["child in value", '<Message messageId="1"><UsageConfirmation><Status><Code><X/></Code></Status></UsageConfirmation></Message>', "unexpected-children", "Message/UsageConfirmation/Status/Code"],
    ["stray ampersand", '<Message messageId="1"><UsageIndication><Role>a & b</Role></UsageIndication></Message>', "not-xml", ""],
  ];
  for (const [title, input, code, path] of cases) {
    it(title, () => {
      const err = decodeError(input);
      expect(err.code).toBe(code);
      expect(err.path).toBe(path);
      expect(err.reason.length).toBeGreaterThan(0);
      expect(err.message).toContain(code);
    });
  }

  it("decodes character references and escapes on the way out", () => {
    const m = decodeOspMessage('<Message messageId="a&amp;b"><UsageIndication><Role>x&lt;&#65;&#x42;</Role></UsageIndication></Message>');
    expect(m.messageId).toBe("a&b");
    const c = m.components[0]!;
    expect(c.kind === "UsageIndication" && c.role).toBe("x<AB");
    const again = decodeOspMessage(encodeOspMessage(m));
    expect(again).toEqual(m);
  });

  it("reads time zones and fractions in timestamps", () => {
    const m = decodeOspMessage('<Message messageId="1"><UsageConfirmation><Timestamp>2002-02-28T22:45:53.250+02:00</Timestamp><Status><Code>200</Code></Status></UsageConfirmation></Message>');
    const c = m.components[0]!;
    expect(c.kind === "UsageConfirmation" && c.timestamp).toBe(Date.UTC(2002, 1, 28, 20, 45, 53, 250));
  });
});

describe("base64 content (RFC 4648 §4)", () => {
  const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
  it("accepts exactly what the base64 alphabet with padding allows, white space aside", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(..."AQgw+/=-_@ \u00e9\n."), { maxLength: 16 }), (chars) => {
        const content = chars.join("");
        const compact = content.replace(/\s+/g, "");
        const valid = compact.length % 4 === 0 && BASE64.test(compact);
        const xml = `<Message messageId="1"><UsageIndication><CallId encoding="base64">${content}</CallId></UsageIndication></Message>`;
        let decoded: Buffer | undefined;
        try {
          const c = decodeOspMessage(xml).components[0]!;
          decoded = c.kind === "UsageIndication" ? c.callId : undefined;
        } catch (err) {
          if (!(err instanceof OspDecodeError)) throw err;
        }
        expect(decoded !== undefined, content).toBe(valid);
        if (decoded) expect(decoded.toString("base64")).toBe(Buffer.from(compact, "base64").toString("base64"));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("unsigned tokens", () => {
  it("an unsigned token is the TokenInfo document itself", () => {
    const info = decodeTokenInfo(golden("token-info.xml"));
    const token = createOspToken(info);
    expect(token.toString()).toBe(golden("token-info.xml"));
    const m: OspMessage = decodeOspMessage(golden("authorization-response.xml"));
    const c = m.components[0]!;
    expect(c.kind === "AuthorisationResponse" && c.destinations[0]!.tokens[0]!.toString()).toBe(golden("token-info.xml"));
  });
});

describe("OSP body encoding", () => {
  const message: OspMessage = {
    messageId: "1",
    components: [{ kind: "PricingIndication", sourceInfo: [], destinationInfo: [] }],
  } as unknown as OspMessage;

  it("a literal U+FFFD in a text value is valid UTF-8 and decodes (found by the CI seed)", () => {
    const withReplacementChar = { ...message, components: [{ kind: "ReauthorisationRequest", sourceInfo: [], sourceAlternates: [], destinationInfo: [], destinationAlternates: [], tokens: [], deviceId: "\uFFFD" }] } as unknown as OspMessage;
    const bytes = encodeOspMessage(withReplacementChar);
    const back = decodeOspMessage(bytes);
    expect((back.components[0] as { deviceId?: string }).deviceId).toBe("\uFFFD");
  });

  it("bytes that are not UTF-8 are refused with not-xml", () => {
    const valid = encodeOspMessage({ ...message, components: [{ kind: "ReauthorisationRequest", sourceInfo: [], sourceAlternates: [], destinationInfo: [], destinationAlternates: [], tokens: [], deviceId: "\uFFFD" }] } as unknown as OspMessage);
    const at = valid.indexOf(Buffer.from([0xef, 0xbf, 0xbd]));
    expect(at).toBeGreaterThan(0);
    const bytes = Buffer.from(valid);
    bytes.fill(0xff, at, at + 3);
    let caught: unknown;
    try {
      decodeOspMessage(bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OspDecodeError);
    expect((caught as OspDecodeError).code).toBe("not-xml");
    expect((caught as OspDecodeError).reason).toBe(`body is not valid UTF-8 (byte ${at})`);
    expect((caught as OspDecodeError).offset).toBe(at);
  });
});
