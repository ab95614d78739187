// Builders for the messages a policy server and a clearinghouse exchange most (patent steps AuthReq/AuthRsp,
// UsageInd/UsageCnf). Times are milliseconds since the epoch; they are sent in whole seconds.
import type {
  OspAuthorisationRequest,
  OspAuthorisationResponse,
  OspComponent,
  OspDestination,
  OspMessage,
  OspStatus,
  OspUsageIndication,
} from "./model.js";

/** Milliseconds as whole seconds, as OSP durations are sent. */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** A Message element around components, with its messageId and random. */
export function ospMessage(messageId: string, components: OspComponent[], random?: string): OspMessage {
  const m: OspMessage = { messageId, components };
  if (random !== undefined) m.random = random;
  return m;
}

/** The fields of an AuthorisationRequest. */
export interface AuthorisationRequestInput {
  messageId: string;
  nowMs: number;
  callId: Buffer;
  callingNumber: string;
  calledNumber: string;
  /** Signalling address of the source device, e.g. "[192.0.2.10]:5060". */
  sourceAddress?: string;
  /** Signalling address of the device the call arrived through, if any. */
  destinationAddress?: string;
  maximumDestinations?: number;
}

/** An AuthorisationRequest message (ETSI TS 101 321 §6.1). */
export function authorisationRequest(input: AuthorisationRequestInput): OspMessage {
  const req: OspAuthorisationRequest = {
    kind: "AuthorisationRequest",
    componentId: input.messageId,
    timestamp: wholeSeconds(input.nowMs),
    callIds: [input.callId],
    sourceInfo: [{ type: "e164", value: input.callingNumber }],
    deviceInfo: [],
    sourceAlternates: input.sourceAddress ? [{ type: "transport", value: input.sourceAddress }] : [],
    destinationInfo: [{ type: "e164", value: input.calledNumber }],
    destinationAlternates: input.destinationAddress ? [{ type: "transport", value: input.destinationAddress }] : [],
    service: {},
    maximumDestinations: input.maximumDestinations ?? 1,
  };
  return ospMessage(input.messageId, [req]);
}

/** The fields of a UsageIndication. */
export interface UsageIndicationInput {
  messageId: string;
  nowMs: number;
  transactionId: string;
  callId: Buffer;
  role: "source" | "destination" | "other";
  callingNumber: string;
  calledNumber: string;
  sourceAddress?: string;
  destinationAddress?: string;
  /** Call duration in seconds. */
  durationSeconds: number;
  startTimeMs?: number;
  endTimeMs?: number;
  /** Q.850 cause (16 = normal clearing). */
  terminationCause?: number;
}

/** A UsageIndication: one call's duration for the CDR. */
export function usageIndication(input: UsageIndicationInput): OspMessage {
  const ind: OspUsageIndication = {
    kind: "UsageIndication",
    componentId: input.messageId,
    timestamp: wholeSeconds(input.nowMs),
    role: input.role,
    transactionId: input.transactionId,
    callId: input.callId,
    sourceInfo: [{ type: "e164", value: input.callingNumber }],
    deviceInfo: [],
    sourceAlternates: input.sourceAddress ? [{ type: "transport", value: input.sourceAddress }] : [],
    destinationInfo: [{ type: "e164", value: input.calledNumber }],
    destinationAlternates: input.destinationAddress ? [{ type: "transport", value: input.destinationAddress }] : [],
    usageDetails: [{ service: {}, amount: input.durationSeconds, increment: 1, unit: "s" }],
  };
  if (input.terminationCause !== undefined) ind.terminationCause = { type: "q850", code: input.terminationCause };
  if (input.startTimeMs !== undefined) ind.startTime = wholeSeconds(input.startTimeMs);
  if (input.endTimeMs !== undefined) ind.endTime = wholeSeconds(input.endTimeMs);
  return ospMessage(input.messageId, [ind]);
}

/** An AuthorisationResponse: status, and per destination its token and limits. */
export function authorisationResponse(
  componentId: string | undefined,
  nowMs: number,
  status: OspStatus,
  transactionId: string | undefined,
  destinations: OspDestination[],
): OspAuthorisationResponse {
  const rsp: OspAuthorisationResponse = { kind: "AuthorisationResponse", timestamp: wholeSeconds(nowMs), status, destinations };
  if (componentId !== undefined) rsp.componentId = componentId;
  if (transactionId !== undefined) rsp.transactionId = transactionId;
  return rsp;
}
