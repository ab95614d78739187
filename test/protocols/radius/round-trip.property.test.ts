import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RadiusCode, decodeRadiusPacket, encodeRadiusPacket, isResponseCode, verifyRadiusPacket } from "../../../protocols/radius/index.js";
import { packetArb } from "./arbitraries.js";

const secret = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a));
const MA = { type: 80, kind: "string" as const, value: Buffer.alloc(16) };

describe("RADIUS codec properties", () => {
  it("decode(encode(p)) gives p's code, identifier and attributes, and the authenticators verify", () => {
    fc.assert(
      fc.property(packetArb, secret, fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (p, s, reqAuth, withMa) => {
        const requestAuthenticator = Buffer.from(reqAuth);
        const packet = withMa ? { ...p, attributes: [...p.attributes, MA] } : p;
        const wire = encodeRadiusPacket(packet, s, requestAuthenticator);
        const back = decodeRadiusPacket(wire, s);
        expect(back.code).toBe(p.code);
        expect(back.identifier).toBe(p.identifier);
        expect(back.attributes.slice(0, p.attributes.length)).toEqual(p.attributes);
        if (p.code === RadiusCode.AccessRequest || p.code === RadiusCode.StatusServer) expect(back.authenticator).toEqual(p.authenticator);
        const verdict = verifyRadiusPacket(wire, s, isResponseCode(p.code) ? requestAuthenticator : undefined);
        const eap = p.attributes.some((a) => a.type === 79);
        const needsMa = p.code === RadiusCode.StatusServer || (eap && (p.code === RadiusCode.AccessRequest || p.code === RadiusCode.AccessChallenge));
        expect(verdict).toBe(!withMa && needsMa ? "missing-message-authenticator" : "ok");
        // re-encoding what was decoded gives the same bytes
        expect(encodeRadiusPacket(back, s, requestAuthenticator).equals(wire)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("any flipped bit of a packet with a Message-Authenticator fails verification or decoding", () => {
    fc.assert(
      fc.property(packetArb, secret, fc.nat(), fc.nat(7), (p, s, at, bit) => {
        const requestAuthenticator = Buffer.alloc(16, 5);
        const wire = encodeRadiusPacket({ ...p, attributes: [...p.attributes, MA] }, s, requestAuthenticator);
        const flipped = Buffer.from(wire);
        const i = at % wire.length;
        flipped[i] = (flipped[i] ?? 0) ^ (1 << bit);
        let verdict: string;
        try {
          decodeRadiusPacket(flipped, s);
          // flipping the Message-Authenticator's type octet removes it: only requiring one catches that
          verdict = verifyRadiusPacket(flipped, s, isResponseCode(p.code) ? requestAuthenticator : undefined, { requireMessageAuthenticator: true });
        } catch {
          verdict = "undecodable";
        }
        expect(verdict).not.toBe("ok");
      }),
      { numRuns: 2000 },
    );
  });
});
