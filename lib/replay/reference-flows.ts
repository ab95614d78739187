// The two flows of WO 01/35294 (FIG. 5 setup, FIG. 6 teardown) as data, the same steps as
// ../shared/reference/wo0135294-flows.yaml (a test keeps the two equal). Embedded so that an installed
// package can check ladders without the reference file.
import type { Protocol } from "../drivers/message-record.js";

export interface FlowStep {
  step: number;
  proto: Protocol;
  from: string;
  to: string;
  msg: string;
  /** Steps that must have happened before this one. */
  after: number[];
}

export type FlowName = "setup" | "teardown";

export const SETUP_FLOW: readonly FlowStep[] = [
  { step: 1, proto: "SIP", from: "UAC", to: "SIP1", msg: "INVITE", after: [] },
  { step: 2, proto: "COPS", from: "SIP1", to: "POL1", msg: "REQ AAA", after: [1] },
  { step: 3, proto: "OSP", from: "POL1", to: "CH", msg: "AuthorisationRequest", after: [2] },
  { step: 4, proto: "OSP", from: "CH", to: "POL1", msg: "AuthorisationResponse", after: [3] },
  { step: 5, proto: "COPS", from: "POL1", to: "SIP1", msg: "DEC AAA", after: [4] },
  { step: 6, proto: "SIP", from: "SIP1", to: "SIP2", msg: "INVITE", after: [5] },
  { step: 7, proto: "COPS", from: "SIP2", to: "POL2", msg: "REQ AAA", after: [6] },
  { step: 8, proto: "OSP", from: "POL2", to: "CH", msg: "AuthorisationRequest", after: [7] },
  { step: 9, proto: "OSP", from: "CH", to: "POL2", msg: "AuthorisationResponse", after: [8] },
  { step: 10, proto: "COPS", from: "POL2", to: "SIP2", msg: "DEC AAA", after: [9] },
  { step: 11, proto: "SIP", from: "SIP2", to: "UAS", msg: "INVITE", after: [10] },
  { step: 12, proto: "SIP", from: "UAS", to: "SIP2", msg: "180 Ringing", after: [11] },
  { step: 13, proto: "COPS", from: "SIP2", to: "POL2", msg: "REQ LDP", after: [12] },
  { step: 14, proto: "COPS", from: "POL2", to: "R2", msg: "DEC Install", after: [13] },
  { step: 15, proto: "COPS", from: "R2", to: "POL2", msg: "RPT Success", after: [14] },
  { step: 16, proto: "COPS", from: "POL2", to: "SIP2", msg: "DEC LDP", after: [15] },
  { step: 17, proto: "SIP", from: "SIP2", to: "SIP1", msg: "180 Ringing", after: [16] },
  { step: 18, proto: "COPS", from: "SIP1", to: "POL1", msg: "REQ LDP", after: [17] },
  { step: 19, proto: "COPS", from: "POL1", to: "R1", msg: "DEC Install", after: [18] },
  { step: 20, proto: "COPS", from: "R1", to: "POL1", msg: "RPT Success", after: [19] },
  { step: 21, proto: "COPS", from: "POL1", to: "SIP1", msg: "DEC LDP", after: [20] },
  { step: 22, proto: "SIP", from: "SIP1", to: "UAC", msg: "180 Ringing", after: [21] },
  { step: 23, proto: "SIP", from: "UAS", to: "SIP2", msg: "200 OK", after: [12] },
  { step: 24, proto: "SIP", from: "SIP2", to: "SIP1", msg: "200 OK", after: [23, 17] },
  { step: 25, proto: "SIP", from: "SIP1", to: "UAC", msg: "200 OK", after: [24, 22] },
  { step: 26, proto: "SIP", from: "UAC", to: "SIP1", msg: "ACK", after: [25] },
  { step: 27, proto: "SIP", from: "SIP1", to: "SIP2", msg: "ACK", after: [26] },
  { step: 28, proto: "SIP", from: "SIP2", to: "UAS", msg: "ACK", after: [27] },
];

export const TEARDOWN_FLOW: readonly FlowStep[] = [
  { step: 1, proto: "SIP", from: "UAC", to: "SIP1", msg: "BYE", after: [] },
  { step: 2, proto: "SIP", from: "SIP1", to: "SIP2", msg: "BYE", after: [1] },
  { step: 3, proto: "SIP", from: "SIP2", to: "UAS", msg: "BYE", after: [2] },
  { step: 4, proto: "COPS", from: "SIP1", to: "POL1", msg: "REQ noLDP", after: [1] },
  { step: 5, proto: "COPS", from: "POL1", to: "R1", msg: "DEC Remove", after: [4] },
  { step: 6, proto: "COPS", from: "R1", to: "POL1", msg: "RPT Success", after: [5] },
  { step: 7, proto: "COPS", from: "POL1", to: "SIP1", msg: "DEC noLDP", after: [6] },
  { step: 8, proto: "OSP", from: "POL1", to: "CH", msg: "UsageIndication", after: [6] },
  { step: 9, proto: "OSP", from: "CH", to: "POL1", msg: "UsageConfirmation", after: [8] },
  { step: 10, proto: "SIP", from: "UAS", to: "SIP2", msg: "200 OK", after: [3] },
  { step: 11, proto: "SIP", from: "SIP2", to: "SIP1", msg: "200 OK", after: [10] },
  { step: 12, proto: "SIP", from: "SIP1", to: "UAC", msg: "200 OK", after: [11] },
  { step: 13, proto: "COPS", from: "SIP2", to: "POL2", msg: "REQ noLDP", after: [3] },
  { step: 14, proto: "COPS", from: "POL2", to: "R2", msg: "DEC Remove", after: [13] },
  { step: 15, proto: "COPS", from: "R2", to: "POL2", msg: "RPT Success", after: [14] },
  { step: 16, proto: "COPS", from: "POL2", to: "SIP2", msg: "DEC noLDP", after: [15] },
  { step: 17, proto: "OSP", from: "POL2", to: "CH", msg: "UsageIndication", after: [15] },
  { step: 18, proto: "OSP", from: "CH", to: "POL2", msg: "UsageConfirmation", after: [17] },
];

export const REFERENCE_FLOWS: Readonly<Record<FlowName, readonly FlowStep[]>> = { setup: SETUP_FLOW, teardown: TEARDOWN_FLOW };
