// Typed OSP messages (ETSI TS 101 321 v4.1.1). Plain data; the codec maps them to and from XML.

/** Component names as TS 101 321 spells them (the model always uses these; see `spelling` for the wire). */
export type OspComponentKind =
  | "AuthorisationRequest"
  | "AuthorisationResponse"
  | "AuthorisationIndication"
  | "AuthorisationConfirmation"
  | "ReauthorisationRequest"
  | "ReauthorisationResponse"
  | "UsageIndication"
  | "UsageConfirmation"
  | "CapabilitiesIndication"
  | "CapabilitiesConfirmation"
  | "PricingIndication"
  | "PricingConfirmation";

/** Wire spelling of the Authorisation* names: "toolkit" = US spelling as the TransNexus toolkit sends, "etsi" = TS 101 321. */
export type OspSpelling = "toolkit" | "etsi";

/** `<SourceInfo type="e164">…`, `<DestinationAlternate type="transport">…`: a typed address. */
export interface OspTypedValue {
  type: string;
  value: string;
}

/** `<Status><Code>200</Code><Description>success</Description></Status>`. */
export interface OspStatus {
  code: number;
  description?: string;
  extensions?: OspExtensionElement[];
}

/** `<Service/>` or `<Service><ServiceType>voice</ServiceType></Service>`. */
export interface OspService {
  serviceType?: string;
  extensions?: OspExtensionElement[];
}

/** `<UsageDetail>`: Amount of Unit counted in Increment steps; in a Destination the Amount is the time limit. */
export interface OspUsageDetail {
  service?: OspService;
  amount: number;
  increment: number;
  unit: string;
  /** Call times the toolkit reports inside UsageDetail of a UsageIndication. */
  startTime?: number;
  endTime?: number;
  alertTime?: number;
  connectTime?: number;
  /** Post-dial delays as each side measured them (the toolkit writes `type="source"` and `type="destination"`). */
  postDialDelays?: OspPostDialDelay[];
  /** Which side released the call (source, destination, …). */
  releaseSource?: string;
  extensions?: OspExtensionElement[];
}

/** `<PostDialDelay type="source">1.0100</PostDialDelay>`: seconds, decimal (the toolkit writes "%.4f"). */
export interface OspPostDialDelay {
  type?: string;
  seconds: number;
}

/** `<TerminationCause type="q850"><TCCode>16</TCCode><Description>…</Description></TerminationCause>`. */
export interface OspTerminationCause {
  type?: string;
  code: number;
  description?: string;
  extensions?: OspExtensionElement[];
}

/** An element the codec does not model, kept so it re-encodes (only non-critical or toolkit-known ones survive decoding). */
export interface OspExtensionElement {
  name: string;
  attributes: Record<string, string>;
  text: string;
  children: OspExtensionElement[];
}

/** One route offered in an AuthorisationResponse. Times are milliseconds since the epoch, whole seconds. */
export interface OspDestination {
  validAfter?: number;
  validUntil?: number;
  usageDetail?: OspUsageDetail;
  transactionId?: string;
  callId?: Buffer;
  destinationInfo: OspTypedValue[];
  destinationSignalAddress?: string;
  tokens: Buffer[];
  destinationAlternates: OspTypedValue[];
  extensions?: OspExtensionElement[];
}

interface ComponentBase {
  componentId?: string;
  extensions?: OspExtensionElement[];
}

/** AuthorisationRequest: may this call go on, and where to (ETSI TS 101 321 §6.1). */
export interface OspAuthorisationRequest extends ComponentBase {
  kind: "AuthorisationRequest";
  timestamp?: number;
  callIds: Buffer[];
  sourceInfo: OspTypedValue[];
  /** `<DeviceInfo type="transport">`: the device the call came through (the toolkit sends it). */
  deviceInfo: OspTypedValue[];
  sourceAlternates: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  destinationAlternates: OspTypedValue[];
  service?: OspService;
  maximumDestinations?: number;
  customerId?: string;
  deviceId?: string;
}

/** AuthorisationResponse: status and destinations with tokens. */
export interface OspAuthorisationResponse extends ComponentBase {
  kind: "AuthorisationResponse";
  timestamp?: number;
  status: OspStatus;
  transactionId?: string;
  destinations: OspDestination[];
}

/** AuthorisationIndication: the destination tells the clearinghouse of a token it received. */
export interface OspAuthorisationIndication extends ComponentBase {
  kind: "AuthorisationIndication";
  timestamp?: number;
  role?: string;
  transactionId?: string;
  callId?: Buffer;
  sourceInfo: OspTypedValue[];
  /** `<DeviceInfo type="transport">`: the device the call came through (the toolkit sends it). */
  deviceInfo: OspTypedValue[];
  sourceAlternates: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  destinationAlternates: OspTypedValue[];
  tokens: Buffer[];
  validAfter?: number;
  validUntil?: number;
  customerId?: string;
  deviceId?: string;
}

/** AuthorisationConfirmation: the answer to an AuthorisationIndication. */
export interface OspAuthorisationConfirmation extends ComponentBase {
  kind: "AuthorisationConfirmation";
  timestamp?: number;
  status: OspStatus;
  validAfter?: number;
  validUntil?: number;
}

/** ReauthorisationRequest: more time for a call in progress. */
export interface OspReauthorisationRequest extends ComponentBase {
  kind: "ReauthorisationRequest";
  timestamp?: number;
  role?: string;
  transactionId?: string;
  callId?: Buffer;
  sourceInfo: OspTypedValue[];
  sourceAlternates: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  destinationAlternates: OspTypedValue[];
  tokens: Buffer[];
  usageDetail?: OspUsageDetail;
  customerId?: string;
  deviceId?: string;
}

/** ReauthorisationResponse: the answer to it. */
export interface OspReauthorisationResponse extends ComponentBase {
  kind: "ReauthorisationResponse";
  timestamp?: number;
  status: OspStatus;
  transactionId?: string;
  destinations: OspDestination[];
}

/** UsageIndication: a call's usage for the CDR. */
export interface OspUsageIndication extends ComponentBase {
  kind: "UsageIndication";
  timestamp?: number;
  role?: string;
  transactionId?: string;
  callId?: Buffer;
  sourceInfo: OspTypedValue[];
  /** `<DeviceInfo type="transport">`: the device the call came through (the toolkit sends it). */
  deviceInfo: OspTypedValue[];
  sourceAlternates: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  destinationAlternates: OspTypedValue[];
  destinationSignalAddress?: string;
  usageDetails: OspUsageDetail[];
  terminationCause?: OspTerminationCause;
  startTime?: number;
  endTime?: number;
  customerId?: string;
  deviceId?: string;
}

/** UsageConfirmation: the clearinghouse has stored it. */
export interface OspUsageConfirmation extends ComponentBase {
  kind: "UsageConfirmation";
  timestamp?: number;
  status: OspStatus;
}

/** CapabilitiesIndication: a device announces what it can take. */
export interface OspCapabilitiesIndication extends ComponentBase {
  kind: "CapabilitiesIndication";
  timestamp?: number;
  deviceInfo: OspTypedValue[];
  sourceInfo: OspTypedValue[];
  sourceAlternates: OspTypedValue[];
  almostOutOfResources?: boolean;
}

/** CapabilitiesConfirmation: the answer to it. */
export interface OspCapabilitiesConfirmation extends ComponentBase {
  kind: "CapabilitiesConfirmation";
  timestamp?: number;
  status: OspStatus;
}

/** PricingIndication: prices for destinations. */
export interface OspPricingIndication extends ComponentBase {
  kind: "PricingIndication";
  timestamp?: number;
  sourceInfo: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  currency?: string;
  amount?: number;
  increment?: number;
  unit?: string;
  service?: OspService;
  validAfter?: number;
  validUntil?: number;
}

/** PricingConfirmation: the answer to it. */
export interface OspPricingConfirmation extends ComponentBase {
  kind: "PricingConfirmation";
  timestamp?: number;
  status: OspStatus;
}

/** Any component of an OSP Message, by kind. */
export type OspComponent =
  | OspAuthorisationRequest
  | OspAuthorisationResponse
  | OspAuthorisationIndication
  | OspAuthorisationConfirmation
  | OspReauthorisationRequest
  | OspReauthorisationResponse
  | OspUsageIndication
  | OspUsageConfirmation
  | OspCapabilitiesIndication
  | OspCapabilitiesConfirmation
  | OspPricingIndication
  | OspPricingConfirmation;

/** `<Message messageId="…" random="…">` holding one or more components (TS 101 321 §5). */
export interface OspMessage {
  messageId: string;
  random?: string;
  components: OspComponent[];
}

/** The call a message is about: its first component's CallId (the first of an AuthorisationRequest's), as text. */
export function ospMessageCallId(m: OspMessage): string | undefined {
  const c = m.components[0];
  const id = c === undefined ? undefined : "callIds" in c ? c.callIds[0] : "callId" in c ? c.callId : undefined;
  return id?.toString("utf8");
}

/** TokenInfo: what a token authorises (TS 101 321 token contents). */
export interface OspTokenInfo {
  sourceInfo: OspTypedValue[];
  destinationInfo: OspTypedValue[];
  /** `<DestinationAlternate type="transport">`: the destination's signalling address (toolkit "look-ahead" info). */
  destinationAlternates?: OspTypedValue[];
  callId: Buffer;
  validAfter: number;
  validUntil: number;
  transactionId: string;
  usageDetail?: OspUsageDetail;
  extensions?: OspExtensionElement[];
}

/** Status codes used by this implementation (TS 101 321 status codes follow the HTTP classes). */
export const OSP_STATUS = {
  success: 200,
  badRequest: 400,
  unauthorised: 401,
  forbidden: 403,
  noRoute: 404,
  internalError: 500,
  unavailable: 503,
} as const;
