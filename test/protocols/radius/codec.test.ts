import { describe, expect, it } from "vitest";
import {
  RadiusCode,
  RadiusDecodeError,
  RadiusEncodeError,
  attributeValue,
  attributeValueName,
  decodeRadiusPacket,
  encodeRadiusPacket,
  hideUserPassword,
  radiusAttribute,
  revealUserPassword,
  vendorSpecific,
  vendorSubAttributes,
  verifyRadiusPacket,
} from "../../../protocols/radius/index.js";

// RFC 2865 §7.1: User nemo, password arctangent, secret xyzzy5461.
const SECRET = "xyzzy5461";
const RFC_REQUEST = Buffer.from(
  "010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003",
  "hex",
);
const RFC_ACCEPT = Buffer.from("0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103", "hex");

function decodeError(buf: Buffer): RadiusDecodeError {
  try {
    decodeRadiusPacket(buf, SECRET);
  } catch (err) {
    if (err instanceof RadiusDecodeError) return err;
    throw err;
  }
  throw new Error(`decoded ${buf.toString("hex")}`);
}

describe("RFC 2865 §7.1 example", () => {
  it("decodes the Access-Request and reveals the password", () => {
    const p = decodeRadiusPacket(RFC_REQUEST, SECRET);
    expect(p.code).toBe(RadiusCode.AccessRequest);
    expect(p.identifier).toBe(0);
    expect(attributeValue(p, "User-Name")).toBe("nemo");
    expect((attributeValue(p, "User-Password") as Buffer).toString()).toBe("arctangent");
    expect(attributeValue(p, "NAS-IP-Address")).toBe("192.168.1.16");
    expect(attributeValue(p, "NAS-Port")).toBe(3);
  });

  it("re-encodes the Access-Request byte for byte", () => {
    expect(encodeRadiusPacket(decodeRadiusPacket(RFC_REQUEST, SECRET), SECRET).toString("hex")).toBe(RFC_REQUEST.toString("hex"));
  });

  it("the Access-Accept's Response Authenticator checks against the request's, and our encoder reproduces it", () => {
    const requestAuthenticator = RFC_REQUEST.subarray(4, 20);
    expect(verifyRadiusPacket(RFC_ACCEPT, SECRET, requestAuthenticator)).toBe("ok");
    expect(verifyRadiusPacket(RFC_ACCEPT, "wrong", requestAuthenticator)).toBe("bad-authenticator");
    const accept = decodeRadiusPacket(RFC_ACCEPT, SECRET);
    expect(attributeValueName(6, attributeValue(accept, "Service-Type") as number)).toBe("Login");
    expect(encodeRadiusPacket(accept, SECRET, requestAuthenticator).equals(RFC_ACCEPT)).toBe(true);
  });
});

describe("User-Password (RFC 2865 §5.2)", () => {
  const auth = Buffer.from("00112233445566778899aabbccddeeff", "hex");
  it.each([0, 1, 15, 16, 17, 100, 128])("hides and reveals %i octets", (n) => {
    const clear = Buffer.alloc(n, 0x61);
    const hidden = hideUserPassword(clear, "s3cret", auth);
    expect(hidden.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
    expect(hidden.subarray(0, n).equals(clear)).toBe(n === 0);
    expect(revealUserPassword(hidden, "s3cret", auth).equals(clear)).toBe(true);
  });
  it("refuses more than 128 octets", () => {
    expect(() => hideUserPassword(Buffer.alloc(129, 1), "s", auth)).toThrow(RadiusEncodeError);
  });
  it("refuses a hidden value that is not 16·n", () => {
    const bad = Buffer.from(RFC_REQUEST);
    // shorten the User-Password attribute (at 26) to 15 octets of value and fix both lengths
    const shorter = Buffer.concat([bad.subarray(0, 27), Buffer.from([17]), bad.subarray(28, 43), bad.subarray(44)]);
    shorter.writeUInt16BE(shorter.length, 2);
    const e = decodeError(shorter);
    expect(e.code).toBe("bad-password");
    expect(e.offset).toBe(26);
    expect(e.attributeType).toBe(2);
  });
});

describe("Accounting-Request (RFC 2866 §3, §5) and RFC 2869 attributes", () => {
  const request = {
    code: RadiusCode.AccountingRequest,
    identifier: 7,
    authenticator: Buffer.alloc(16),
    attributes: [
      radiusAttribute("Acct-Status-Type", "Stop"),
      radiusAttribute("Acct-Session-Id", "call-1;caller"),
      radiusAttribute("Acct-Session-Time", 61),
      radiusAttribute("Acct-Input-Octets", 1234),
      radiusAttribute("Acct-Output-Gigawords", 2),
      radiusAttribute("Event-Timestamp", 1_800_000_000),
      radiusAttribute("Acct-Terminate-Cause", "User-Request"),
      radiusAttribute("Acct-Interim-Interval", 60),
    ],
  };
  it("computes the Request Authenticator, which a wrong secret or a flipped bit fails", () => {
    const wire = encodeRadiusPacket(request, "acct");
    expect(verifyRadiusPacket(wire, "acct")).toBe("ok");
    expect(verifyRadiusPacket(wire, "other")).toBe("bad-authenticator");
    const flipped = Buffer.from(wire);
    flipped[wire.length - 1] ^= 1;
    expect(verifyRadiusPacket(flipped, "acct")).toBe("bad-authenticator");
    const back = decodeRadiusPacket(wire, "acct");
    expect(back.attributes).toEqual(request.attributes);
    expect(attributeValueName(40, attributeValue(back, 40) as number)).toBe("Stop");
  });
  it("its response is checked against its authenticator", () => {
    const wire = encodeRadiusPacket(request, "acct");
    const response = encodeRadiusPacket(
      { code: RadiusCode.AccountingResponse, identifier: 7, authenticator: Buffer.alloc(16), attributes: [] },
      "acct",
      wire.subarray(4, 20),
    );
    expect(verifyRadiusPacket(response, "acct", wire.subarray(4, 20))).toBe("ok");
    expect(verifyRadiusPacket(response, "acct", Buffer.alloc(16))).toBe("bad-authenticator");
    expect(verifyRadiusPacket(response, "acct")).toBe("no-request-authenticator");
  });
});

describe("Message-Authenticator (RFC 3579 §3.2)", () => {
  const ma = { type: 80, kind: "string" as const, value: Buffer.alloc(16) };
  const auth = Buffer.from("0f403f9473978057bd83d5cb98f4227a", "hex");
  it.each([RadiusCode.AccessRequest, RadiusCode.AccountingRequest, RadiusCode.StatusServer])("is filled in and checked for code %i", (code) => {
    const wire = encodeRadiusPacket({ code, identifier: 1, authenticator: auth, attributes: [radiusAttribute("User-Name", "a"), ma] }, SECRET);
    expect(verifyRadiusPacket(wire, SECRET)).toBe("ok");
    const tampered = Buffer.from(wire);
    tampered[22] = 0x62; // User-Name "a" → "b"
    expect(verifyRadiusPacket(tampered, SECRET)).toBe(code === RadiusCode.AccountingRequest ? "bad-authenticator" : "bad-message-authenticator");
  });
  it("is checked in a response, after the Response Authenticator", () => {
    const wire = encodeRadiusPacket({ code: RadiusCode.AccessReject, identifier: 1, authenticator: auth, attributes: [ma] }, SECRET, auth);
    expect(verifyRadiusPacket(wire, SECRET, auth)).toBe("ok");
  });
  it("is required with EAP-Message and in Status-Server", () => {
    const eap = encodeRadiusPacket(
      { code: RadiusCode.AccessRequest, identifier: 1, authenticator: auth, attributes: [{ type: 79, kind: "string", value: Buffer.from([2, 0, 0, 5, 1]) }] },
      SECRET,
    );
    expect(verifyRadiusPacket(eap, SECRET)).toBe("missing-message-authenticator");
    const status = encodeRadiusPacket({ code: RadiusCode.StatusServer, identifier: 1, authenticator: auth, attributes: [] }, SECRET);
    expect(verifyRadiusPacket(status, SECRET)).toBe("missing-message-authenticator");
  });
  it("can be required, as FreeRADIUS's require_message_authenticator does (CVE-2024-3596)", () => {
    expect(verifyRadiusPacket(RFC_REQUEST, SECRET)).toBe("ok");
    expect(verifyRadiusPacket(RFC_REQUEST, SECRET, undefined, { requireMessageAuthenticator: true })).toBe("missing-message-authenticator");
    expect(verifyRadiusPacket(RFC_ACCEPT, SECRET, RFC_REQUEST.subarray(4, 20), { requireMessageAuthenticator: true })).toBe(
      "missing-message-authenticator",
    );
    const signed = encodeRadiusPacket({ ...decodeRadiusPacket(RFC_REQUEST, SECRET), attributes: [ma] }, SECRET);
    expect(verifyRadiusPacket(signed, SECRET, undefined, { requireMessageAuthenticator: true })).toBe("ok");
    const acct = encodeRadiusPacket({ code: RadiusCode.AccountingRequest, identifier: 1, authenticator: auth, attributes: [] }, SECRET);
    expect(verifyRadiusPacket(acct, SECRET, undefined, { requireMessageAuthenticator: true })).toBe("ok");
  });
  it("must be 16 octets", () => {
    const wire = Buffer.from("0c0100160f403f9473978057bd83d5cb98f4227a5002", "hex");
    expect(decodeError(wire)).toMatchObject({ code: "empty-attribute", offset: 20 });
    const short = Buffer.from("0c0100170f403f9473978057bd83d5cb98f4227a500301", "hex");
    expect(decodeError(short)).toMatchObject({ code: "bad-attribute-length", offset: 20, attributeType: 80 });
  });
});

describe("Vendor-Specific (RFC 2865 §5.26) and RFC 5090 SIP Digest attributes", () => {
  it("round-trips vendor sub-attributes and Digest attributes", () => {
    const p = {
      code: RadiusCode.AccessRequest,
      identifier: 3,
      authenticator: Buffer.alloc(16, 9),
      attributes: [
        vendorSpecific(9, [{ vendorType: 1, value: Buffer.from("h323-call-origin=answer") }]),
        radiusAttribute("Digest-Realm", "example.com"),
        radiusAttribute("Digest-Method", "INVITE"),
        radiusAttribute("Digest-URI", "sip:bob@example.com"),
        radiusAttribute("SIP-AOR", "sip:alice@example.com"),
      ],
    };
    const back = decodeRadiusPacket(encodeRadiusPacket(p, "s"), "s");
    expect(back.attributes).toEqual(p.attributes);
    const vsa = back.attributes[0];
    if (vsa?.kind !== "vsa") throw new Error("no vsa");
    expect(vsa.vendorId).toBe(9);
    expect(vendorSubAttributes(vsa)[0]?.value.toString()).toBe("h323-call-origin=answer");
  });
  it("refuses a Vendor-Specific too short for its Vendor-Id, and a bad sub-attribute", () => {
    const wire = Buffer.concat([Buffer.from("0101001a", "hex"), Buffer.alloc(16), Buffer.from("1a0600000009", "hex")]);
    expect(decodeError(wire)).toMatchObject({ code: "bad-vendor-specific", offset: 20, attributeType: 26 });
    expect(() => vendorSubAttributes({ data: Buffer.from([1, 9, 0]) })).toThrow(RadiusDecodeError);
  });
});

describe("never trusts lengths (RFC 2865 §3, §5)", () => {
  const header = (code: number, length: number): Buffer => {
    const b = Buffer.alloc(20);
    b[0] = code;
    b.writeUInt16BE(length, 2);
    return b;
  };
  it.each([
    ["short datagram", Buffer.alloc(19), "truncated", 19],
    ["unknown code", header(99, 20), "bad-code", 0],
    ["Length below 20", header(1, 19), "bad-length", 2],
    ["Length above 4096", header(1, 4097), "bad-length", 2],
    ["Length past the datagram", header(1, 30), "truncated", 20],
    ["attribute Length 1", Buffer.concat([header(4, 22), Buffer.from([1, 1])]), "bad-attribute-length", 21],
    ["attribute overrun", Buffer.concat([header(4, 23), Buffer.from([1, 9, 0x61])]), "bad-attribute-length", 21],
    ["lone type octet", Buffer.concat([header(4, 21), Buffer.from([1])]), "bad-attribute-length", 20],
    ["integer of 3 octets", Buffer.concat([header(4, 25), Buffer.from([5, 5, 0, 0, 1])]), "bad-attribute-length", 20],
    ["text not UTF-8", Buffer.concat([header(4, 23), Buffer.from([1, 3, 0xff])]), "bad-text", 20],
    ["empty text", Buffer.concat([header(4, 22), Buffer.from([1, 2])]), "empty-attribute", 20],
  ] as const)("%s", (_name, buf, code, offset) => {
    expect(decodeError(buf)).toMatchObject({ code, offset });
  });
  it("ignores octets past Length as padding", () => {
    const padded = Buffer.concat([RFC_REQUEST, Buffer.from("deadbeef", "hex")]);
    expect(decodeRadiusPacket(padded, SECRET)).toEqual(decodeRadiusPacket(RFC_REQUEST, SECRET));
    expect(verifyRadiusPacket(Buffer.concat([RFC_ACCEPT, Buffer.alloc(3)]), SECRET, RFC_REQUEST.subarray(4, 20))).toBe("ok");
  });
  it("the encoder refuses what the decoder would refuse", () => {
    const base = { code: RadiusCode.AccountingRequest, identifier: 1, authenticator: Buffer.alloc(16) };
    expect(() => encodeRadiusPacket({ ...base, attributes: [{ type: 40, kind: "text", value: "Start" }] }, "s")).toThrow(RadiusEncodeError);
    expect(() => encodeRadiusPacket({ ...base, attributes: [radiusAttribute("Class", Buffer.alloc(254))] }, "s")).toThrow(RadiusEncodeError);
    expect(() => encodeRadiusPacket({ ...base, attributes: [radiusAttribute("NAS-IP-Address", "1.2.3")] }, "s")).toThrow(RadiusEncodeError);
    expect(() => encodeRadiusPacket({ ...base, attributes: Array.from({ length: 17 }, () => radiusAttribute("Class", Buffer.alloc(253))) }, "s")).toThrow(
      /exceeds 4096/,
    );
    expect(() => encodeRadiusPacket({ ...base, code: RadiusCode.AccessAccept, attributes: [] }, "s")).toThrow(/Request Authenticator/);
  });
});
