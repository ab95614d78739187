import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CopsDecodeError,
  Prc,
  ReportType,
  buildConfigRequest,
  buildInstallDecision,
  buildProvisioningReport,
  buildRemoveDecision,
  buildSipAaaDecision,
  decodeBerValue,
  decodeCopsMessage,
  decodePrSubObjects,
  decodeSipAaaClientSi,
  encodeAaaRequest,
  encodeBerOid,
  encodeBerValue,
  encodeCopsMessage,
  encodePrSubObjects,
  encodeSipAaaClientSi,
  labelCopsMessage,
  parseConfigRequest,
  parseProvisioningDecision,
  parseProvisioningReport,
  parseSipAaaDecision,
  parseSipAaaRequest,
  type BerValue,
  type SipAaaRequestInfo,
  withConnectedMs,
} from "../../../protocols/cops/index.js";
import { thrownBy } from "../../support/thrown.js";
import { CALL_HANDLE, ROUTER_HANDLE, aaaInfo, flow, sampleClientTypeMessages } from "./samples.js";

describe("client type 0x8cb1 (SIP proxy ↔ policy server)", () => {
  it("REQ AAA has the byte layout docs/protocols/cops.md gives", () => {
    const bytes = encodeAaaRequest(Buffer.from([0, 0, 0, 7]), {
      callId: "c1",
      flows: [{ protocol: 17, family: 4, srcAddress: "192.0.2.10", srcPort: 49170, dstAddress: "192.0.2.20", dstPort: 3456, codec: "PCMU", bandwidthBps: 64000 }],
      requestedClass: "EF",
    });
    expect(bytes.toString("hex")).toBe(
      [
        "10018cb1", "00000048", // header: REQ, client type 0x8cb1, 72 octets
        "00080101", "00000007", // Handle
        "00080201", "00010001", // Context: R-Type 0x01 admission control, M-Type 1 = AAA
        "00300901", // ClientSI Signaled, 48 octets
        "00010002", "63310000", // TLV 1 Call-ID "c1" + padding
        "00040018", "11040000", "c012" + "0d80", "0000fa00", "c000020a", "c0000214", "50434d55", // TLV 4 media flow
        "00050002", "45460000", // TLV 5 requested class "EF"
      ].join(""),
    );
    expect(labelCopsMessage(bytes)).toBe("REQ AAA");
  });

  it("REQ and DEC of each purpose parse back to what was built", () => {
    for (const purpose of ["AAA", "LDP", "noLDP"] as const) {
      const dec = buildSipAaaDecision(purpose, CALL_HANDLE, purpose !== "noLDP", { token: Buffer.from([1, 2, 3]), timeLimitSeconds: 7200, dscp: 46, reason: { code: 0, text: "ok" } });
      const parsed = parseSipAaaDecision(decodeCopsMessage(encodeCopsMessage(dec)));
      expect(parsed).toEqual({ purpose, handle: CALL_HANDLE, allowed: purpose !== "noLDP", info: { token: Buffer.from([1, 2, 3]), timeLimitSeconds: 7200, dscp: 46, reason: { code: 0, text: "ok" } } });
      expect(labelCopsMessage(dec)).toBe(`DEC ${purpose}`);
    }
    const req = parseSipAaaRequest(decodeCopsMessage(encodeAaaRequest(CALL_HANDLE, aaaInfo)));
    expect(req).toEqual({ purpose: "AAA", handle: CALL_HANDLE, info: aaaInfo });
  });

  it("a refusal carries its reason", () => {
    const dec = buildSipAaaDecision("AAA", CALL_HANDLE, false, { reason: { code: 403, text: "caller not authorised" } });
    expect(parseSipAaaDecision(dec)).toMatchObject({ allowed: false, info: { reason: { code: 403, text: "caller not authorised" } } });
  });

  it("a ClientSI without Call-ID is Error 5 (mandatory client-specific info missing)", () => {
    const err = (() => {
      try {
        decodeSipAaaClientSi(Buffer.from("0002000161000000", "hex"));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CopsDecodeError);
    expect((err as CopsDecodeError).copsErrorCode).toEqual({ code: 5, subCode: 0 });
  });

  it("ClientSI round trip (fast-check)", () => {
    const ip4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
    const flowArb = fc.record({
      protocol: fc.nat(255),
      family: fc.constant(4 as const),
      srcAddress: ip4,
      srcPort: fc.nat(65535),
      dstAddress: ip4,
      dstPort: fc.nat(65535),
      codec: fc.string({ maxLength: 20 }),
      bandwidthBps: fc.nat(),
    });
    const infoArb: fc.Arbitrary<SipAaaRequestInfo> = fc.record(
      {
        callId: fc.string({ maxLength: 60 }),
        caller: fc.string({ maxLength: 40 }),
        callee: fc.string({ maxLength: 40 }),
        flows: fc.array(flowArb, { maxLength: 4 }),
        requestedClass: fc.constantFrom("EF", "AF41", "BE"),
        ospToken: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        connectedMs: fc.maxSafeNat(),
      },
      { requiredKeys: ["callId", "flows"] },
    );
    fc.assert(
      fc.property(infoArb, (info) => {
        expect(decodeSipAaaClientSi(encodeSipAaaClientSi(info))).toEqual(info);
        // REQ noLDP: the LDP request's ClientSI with the connected time appended reads back as both.
        const { connectedMs: _, ...ldp } = info;
        expect(decodeSipAaaClientSi(withConnectedMs(encodeSipAaaClientSi(ldp), 61_500))).toEqual({ ...ldp, connectedMs: 61_500 });
      }),
      { numRuns: 300 },
    );
  });

  it("REQ noLDP's connected time: TLV 7, 8 octets of milliseconds; anything else is a typed error at its offset", () => {
    const si = withConnectedMs(encodeSipAaaClientSi({ callId: "c1", flows: [] }), 3_600_123);
    expect(si.toString("hex")).toBe("0001000263310000" + "00070008" + "000000000036eefb");
    expect(decodeSipAaaClientSi(si).connectedMs).toBe(3_600_123);
    const short = Buffer.from("0001000263310000" + "00070004" + "0036eefb", "hex");
    const e1 = thrownBy(CopsDecodeError, () => decodeSipAaaClientSi(short));
    expect([e1.code, e1.offset]).toEqual(["bad-client-si", 8]);
    const huge = Buffer.from("0001000263310000" + "00070008" + "0020000000000000", "hex");
    expect(thrownBy(CopsDecodeError, () => decodeSipAaaClientSi(huge)).message).toContain("2^53-1");
    expect(() => withConnectedMs(Buffer.alloc(0), -1)).toThrow(RangeError);
  });
});

describe("BER for COPS-PR (X.690 subset)", () => {
  it("encodes OIDs as X.690 says", () => {
    expect(encodeBerOid("1.3.6.1.4.1.32473.1.1.1.7").toString("hex")).toBe("060c2b06010401" + "81fd59" + "01010107");
    expect(encodeBerOid("2.999.3").toString("hex")).toBe("0603883703");
  });
  it("encodes integers minimally in two's complement", () => {
    const enc = (v: BerValue) => encodeBerValue(v).toString("hex");
    expect(enc({ type: "integer", value: 0 })).toBe("020100");
    expect(enc({ type: "integer", value: 127 })).toBe("02017f");
    expect(enc({ type: "integer", value: 128 })).toBe("02020080");
    expect(enc({ type: "integer", value: -1 })).toBe("0201ff");
    expect(enc({ type: "integer", value: -129 })).toBe("0202ff7f");
    expect(enc({ type: "unsigned32", value: 0xffffffff })).toBe("420500ffffffff");
    expect(enc({ type: "unsigned64", value: 2n ** 64n - 1n })).toBe("4b0900ffffffffffffffff");
    expect(enc({ type: "ip-address", value: "192.0.2.1" })).toBe("4004c0000201");
    expect(enc({ type: "null" })).toBe("0500");
    expect(enc({ type: "octets", value: Buffer.alloc(200) }).slice(0, 6)).toBe("0481c8");
  });
  it("round-trips every value type (fast-check)", () => {
    const valueArb: fc.Arbitrary<BerValue> = fc.oneof(
      fc.constant({ type: "null" as const }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: "integer" as const, value })),
      fc.uint8Array({ maxLength: 300 }).map((a) => ({ type: "octets" as const, value: Buffer.from(a) })),
      fc.array(fc.nat(), { minLength: 1, maxLength: 10 }).map((arcs) => ({ type: "oid" as const, value: ["1", "3", ...arcs.map(String)].join(".") })),
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => ({ type: "ip-address" as const, value: p.join(".") })),
      fc.nat({ max: 0xffffffff }).map((value) => ({ type: "unsigned32" as const, value })),
      fc.nat({ max: 0xffffffff }).map((value) => ({ type: "timeticks" as const, value })),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: "integer64" as const, value })),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: "unsigned64" as const, value })),
    );
    fc.assert(
      fc.property(valueArb, (v) => {
        const bytes = encodeBerValue(v);
        expect(decodeBerValue(bytes, 0, bytes.length)).toEqual({ value: v, next: bytes.length });
      }),
      { numRuns: 500 },
    );
  });
  it("rejects indefinite lengths and lengths past their container", () => {
    expect(() => decodeBerValue(Buffer.from("0480", "hex"), 0, 2)).toThrow(CopsDecodeError);
    expect(() => decodeBerValue(Buffer.from("0405abcd", "hex"), 0, 4)).toThrow(/runs past/);
  });
});

describe("COPS-PR sub-objects and the DiffServ client type (RFC 3084)", () => {
  it("frames sub-objects with Length · S-Num · S-Type and 32-bit padding", () => {
    const bytes = encodePrSubObjects([{ kind: "prid", oid: "1.3.6.1" }, { kind: "gperr", code: 9, subCode: 0 }]);
    expect(bytes.toString("hex")).toBe("0009" + "0101" + "06032b0601" + "000000" + "0008" + "0401" + "00090000");
    expect(decodePrSubObjects(bytes)).toEqual([{ kind: "prid", oid: "1.3.6.1" }, { kind: "gperr", code: 9, subCode: 0 }]);
  });
  it("every sub-object kind round-trips", () => {
    const subs = [
      { kind: "prid" as const, oid: `${Prc.FlowMark}.7` },
      { kind: "pprid" as const, oid: Prc.FlowMark },
      { kind: "epd" as const, values: [{ type: "integer" as const, value: 5 }, { type: "octets" as const, value: Buffer.from("x") }] },
      { kind: "gperr" as const, code: 1, subCode: 2 },
      { kind: "cperr" as const, code: 3, subCode: 4 },
      { kind: "error-prid" as const, oid: `${Prc.FlowMark}.9` },
    ];
    expect(decodePrSubObjects(encodePrSubObjects(subs))).toEqual(subs);
  });
  it("configuration REQ, DEC Install/Remove and the reports parse back", () => {
    const req = decodeCopsMessage(encodeCopsMessage(buildConfigRequest(ROUTER_HANDLE, [{ instanceId: 1, roles: "edge", maxFlows: 4096 }])));
    expect(labelCopsMessage(req)).toBe("REQ Config");
    expect(parseConfigRequest(req)).toEqual([{ instanceId: 1, roles: "edge", maxFlows: 4096 }]);
    const v6 = { ...flow, instanceId: 8, family: 6 as const, srcAddress: "2001:db8::10", dstAddress: "2001:db8::20" };
    const install = decodeCopsMessage(encodeCopsMessage(buildInstallDecision(ROUTER_HANDLE, [flow, v6])));
    expect(labelCopsMessage(install)).toBe("DEC Install");
    expect(install.solicited).toBe(false);
    expect(parseProvisioningDecision(install)).toEqual({ command: 1, install: [flow, v6], remove: [] });
    const remove = decodeCopsMessage(encodeCopsMessage(buildRemoveDecision(ROUTER_HANDLE, [7, 8])));
    expect(labelCopsMessage(remove)).toBe("DEC Remove");
    expect(parseProvisioningDecision(remove)).toEqual({ command: 2, install: [], remove: [7, 8] });
    const usage = [{ instanceId: 7, packets: 1500n, octets: 258000n }];
    const rpt = decodeCopsMessage(encodeCopsMessage(buildProvisioningReport(ROUTER_HANDLE, ReportType.Success, { usage })));
    expect(labelCopsMessage(rpt)).toBe("RPT Success");
    expect(parseProvisioningReport(rpt)).toEqual({ reportType: 1, usage });
    const acct = buildProvisioningReport(ROUTER_HANDLE, ReportType.Accounting, { usage });
    expect(acct.solicited).toBe(false);
    expect(labelCopsMessage(acct)).toBe("RPT Accounting");
    const failure = { global: { code: 9, subCode: 0 }, instances: [{ prid: `${Prc.FlowMark}.7`, code: 3, subCode: 8 }] };
    const failed = decodeCopsMessage(encodeCopsMessage(buildProvisioningReport(ROUTER_HANDLE, ReportType.Failure, { failure })));
    expect(labelCopsMessage(failed)).toBe("RPT Failure");
    expect(parseProvisioningReport(failed)).toEqual({ reportType: 2, usage: [], failure });
  });
  it("a Remove decision holding an EPD is rejected", () => {
    const bad = buildRemoveDecision(ROUTER_HANDLE, [7]);
    const d = bad.decisions[0];
    if (d) d.named = encodePrSubObjects([{ kind: "epd", values: [] }]);
    expect(() => parseProvisioningDecision(bad)).toThrow(CopsDecodeError);
  });
  it("all sample messages of both client types round-trip byte for byte", () => {
    for (const m of sampleClientTypeMessages()) {
      const bytes = encodeCopsMessage(m);
      expect(encodeCopsMessage(decodeCopsMessage(bytes)).equals(bytes)).toBe(true);
    }
  });
});
