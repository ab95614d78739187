// The one-pass decoders (per-call messages, FlowMark/FlowUsage sub-objects) must give exactly what the generic
// object-list + grammar decoders give (RFC 2748 §3, RFC 3084 §4), and hand anything unusual to them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CommandCode,
  Prc,
  ReportType,
  buildInstallDecision,
  buildProvisioningReport,
  decodeCopsHeader,
  decodeCopsMessage,
  decodeCopsObjects,
  encodeBerOid,
  encodeBerValue,
  encodeCopsMessage,
  parseProvisioningDecision,
  parseProvisioningReport,
  type CopsDecisionMessage,
  type CopsMessage,
  type CopsReportMessage,
  type FlowMark,
} from "../../../protocols/cops/index.js";
import { objectsToMessage } from "../../../protocols/cops/message-grammar.js";
import { anyMessageArb } from "./arbitraries.js";
import { ROUTER_HANDLE } from "./samples.js";

/** The generic path: every object decoded, then the §3 grammar of the op. */
function genericDecode(bytes: Buffer): CopsMessage {
  const h = decodeCopsHeader(bytes);
  return objectsToMessage(h.op, h.clientType, h.solicited, decodeCopsObjects(bytes, 8, h.length), h.length);
}

const mark = (instanceId: number, srcPort: number): FlowMark => ({
  instanceId,
  family: 4,
  protocol: 17,
  srcAddress: "192.0.2.10",
  srcPort,
  dstAddress: "192.0.2.20",
  dstPort: 30000,
  dscp: 46,
});

describe("one-pass decoding agrees with the generic decoder", () => {
  it("every message type (fast-check): same model, same property order", () => {
    fc.assert(
      fc.property(anyMessageArb, (msg) => {
        const bytes = encodeCopsMessage(msg);
        const direct = decodeCopsMessage(bytes);
        const generic = genericDecode(bytes);
        expect(direct).toStrictEqual(generic);
        expect(Object.keys(direct)).toEqual(Object.keys(generic));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it("decoded octet fields are views into the message, not copies", () => {
    const bytes = encodeCopsMessage(buildInstallDecision(ROUTER_HANDLE, [mark(1, 20000)]));
    const dec = decodeCopsMessage(bytes) as CopsDecisionMessage;
    expect(dec.handle.buffer).toBe(bytes.buffer);
    expect(dec.decisions[0]?.named?.buffer).toBe(bytes.buffer);
  });
});

describe("COPS-PR FlowMark and FlowUsage read in place", () => {
  it("an Install with a long-form BER length (X.690 §8.1.3.5 allows it) goes the generic way, same result", () => {
    // RFC 3084 §4: Length (16) · S-Num · S-Type 1 (BER) · contents, padded to 32 bits.
    const sub = (sNum: number, content: Buffer): Buffer => {
      const b = Buffer.alloc((4 + content.length + 3) & ~3);
      b.writeUInt16BE(4 + content.length, 0);
      b[2] = sNum;
      b[3] = 1;
      content.copy(b, 4);
      return b;
    };
    const m = mark(7, 20000);
    const epd = Buffer.concat([
      encodeBerValue({ type: "unsigned32", value: 7 }),
      encodeBerValue({ type: "integer", value: 1 }),
      encodeBerValue({ type: "octets", value: Buffer.from([192, 0, 2, 10]) }),
      encodeBerValue({ type: "octets", value: Buffer.from([192, 0, 2, 20]) }),
      encodeBerValue({ type: "unsigned32", value: 17 }),
      encodeBerValue({ type: "unsigned32", value: 20000 }),
      encodeBerValue({ type: "unsigned32", value: 30000 }),
      Buffer.from([0x02, 0x81, 0x01, 0x2e]), // DSCP 46 with its length in the long form (short would be 02 01 2e)
    ]);
    const named = Buffer.concat([sub(1, encodeBerOid(`${Prc.FlowMark}.7`)), sub(3, epd)]);
    const msg: CopsDecisionMessage = {
      op: "DEC",
      clientType: 2,
      handle: ROUTER_HANDLE,
      decisions: [{ context: { rType: 8, mType: 0 }, command: CommandCode.Install, flags: 0, named }],
    };
    expect(parseProvisioningDecision(decodeCopsMessage(encodeCopsMessage(msg))).install).toEqual([m]);
    // The same classifier written minimally reads the same.
    const minimal = decodeCopsMessage(encodeCopsMessage(buildInstallDecision(ROUTER_HANDLE, [m])));
    expect(parseProvisioningDecision(minimal).install).toEqual([m]);
  });

  it("a usage report round-trips through the in-place reader, and a large counter through BigInt", () => {
    const usage = [
      { instanceId: 3, packets: 1500n, octets: 300000n },
      { instanceId: 4, packets: 2n ** 60n, octets: 2n ** 64n - 1n },
    ];
    const rpt = decodeCopsMessage(encodeCopsMessage(buildProvisioningReport(ROUTER_HANDLE, ReportType.Success, { usage }))) as CopsReportMessage;
    expect(parseProvisioningReport(rpt).usage).toEqual(usage);
  });
});
