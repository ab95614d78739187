// One message of every kind the project emits, built with the client-type builders (fuzz seeds, tshark pcap).
import {
  ReportType,
  buildConfigRequest,
  buildInstallDecision,
  buildNullDecision,
  buildProvisioningReport,
  buildRemoveDecision,
  buildSipAaaDecision,
  buildSipAaaRequest,
  type CopsMessage,
  type SipAaaRequestInfo,
} from "../../../protocols/cops/index.js";

export const CALL_HANDLE = Buffer.from([0x00, 0x00, 0x00, 0x07]);
export const ROUTER_HANDLE = Buffer.from([0x00, 0x00, 0x01, 0x00]);

export const aaaInfo: SipAaaRequestInfo = {
  callId: "a84b4c76e66710@pc33.example.com",
  caller: "sip:alice@example.com",
  callee: "sip:bob@example.com",
  flows: [
    { protocol: 17, family: 4, srcAddress: "192.0.2.10", srcPort: 49170, dstAddress: "192.0.2.20", dstPort: 3456, codec: "PCMU/8000", bandwidthBps: 64000 },
    { protocol: 17, family: 6, srcAddress: "2001:db8::10", srcPort: 49172, dstAddress: "2001:db8::20", dstPort: 3458, codec: "telephone-event/8000", bandwidthBps: 800 },
  ],
  requestedClass: "EF",
  ospToken: Buffer.from("<TokenInfo>example</TokenInfo>"),
};

export const flow = {
  instanceId: 7,
  family: 4 as const,
  protocol: 17,
  srcAddress: "192.0.2.10",
  srcPort: 49170,
  dstAddress: "192.0.2.20",
  dstPort: 3456,
  dscp: 46,
};

export function sampleClientTypeMessages(): CopsMessage[] {
  return [
    buildSipAaaRequest("AAA", CALL_HANDLE, aaaInfo),
    buildSipAaaDecision("AAA", CALL_HANDLE, true, { token: Buffer.from("token"), timeLimitSeconds: 3600, dscp: 46 }),
    buildSipAaaDecision("AAA", CALL_HANDLE, false, { reason: { code: 403, text: "caller not authorised" } }),
    buildSipAaaRequest("LDP", CALL_HANDLE, aaaInfo),
    buildSipAaaDecision("LDP", CALL_HANDLE, true, { dscp: 46 }),
    buildSipAaaRequest("noLDP", CALL_HANDLE, { callId: aaaInfo.callId, flows: [] }),
    buildSipAaaRequest("noLDP", CALL_HANDLE, { ...aaaInfo, connectedMs: 61_500 }), // as the flow's proxies send it
    buildSipAaaDecision("noLDP", CALL_HANDLE, true),
    buildConfigRequest(ROUTER_HANDLE, [{ instanceId: 1, roles: "edge", maxFlows: 4096 }]),
    buildNullDecision(ROUTER_HANDLE),
    buildInstallDecision(ROUTER_HANDLE, [flow, { ...flow, instanceId: 8, family: 6, srcAddress: "2001:db8::10", dstAddress: "2001:db8::20" }]),
    buildProvisioningReport(ROUTER_HANDLE, ReportType.Success, { solicited: true }),
    buildRemoveDecision(ROUTER_HANDLE, [7, 8]),
    buildProvisioningReport(ROUTER_HANDLE, ReportType.Success, { solicited: true, usage: [{ instanceId: 7, packets: 1500n, octets: 258000n }] }),
    buildProvisioningReport(ROUTER_HANDLE, ReportType.Accounting, { usage: [{ instanceId: 7, packets: 2n ** 40n, octets: 2n ** 63n + 5n }] }),
    buildProvisioningReport(ROUTER_HANDLE, ReportType.Failure, {
      solicited: true,
      failure: { global: { code: 9, subCode: 0 }, instances: [{ prid: "1.3.6.1.4.1.32473.1.1.1.7", code: 3, subCode: 8 }] },
    }),
  ];
}
