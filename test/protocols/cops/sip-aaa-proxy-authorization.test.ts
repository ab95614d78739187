// TLV 8 of the SIP AAA ClientSI: the INVITE's Proxy-Authorization, carried to the policy server as text.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CopsDecodeError } from "../../../protocols/cops/cops-decode-error.js";
import { SipAaaTlv, decodeSipAaaClientSi, encodeSipAaaClientSi } from "../../../protocols/cops/client-types/sip-aaa.js";

describe("SIP AAA ClientSI TLV 8 (Proxy-Authorization)", () => {
  it("has the documented bytes", () => {
    const si = encodeSipAaaClientSi({ callId: "c1", flows: [], proxyAuthorization: 'Digest username="a"' });
    expect(si.toString("hex")).toBe(
      "00010002" + "63310000" + "00080013" + Buffer.from('Digest username="a"').toString("hex") + "00",
    );
    expect(SipAaaTlv.ProxyAuthorization).toBe(8);
    expect(decodeSipAaaClientSi(si)).toEqual({ callId: "c1", flows: [], proxyAuthorization: 'Digest username="a"' });
  });

  it("round-trips any text, beside the other TLVs", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ minLength: 1, maxLength: 20 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (auth, callId, caller) => {
        const info = { callId, flows: [], proxyAuthorization: auth, ...(caller !== undefined ? { caller } : {}) };
        expect(decodeSipAaaClientSi(encodeSipAaaClientSi(info))).toEqual(info);
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses a TLV 8 that is not UTF-8 or overruns its object", () => {
    const bad = Buffer.from("00010001630000000008000261ff0000", "hex");
    expect(() => decodeSipAaaClientSi(bad)).toThrow(CopsDecodeError);
    const overrun = Buffer.from("000100016300000000080009616263", "hex");
    expect(() => decodeSipAaaClientSi(overrun)).toThrow(/runs past its object/);
  });
});
