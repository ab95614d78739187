// Element names: both spellings of the Authorisation* components, and the toolkit's element table.
import type { OspComponentKind, OspSpelling } from "./model.js";

const US_SPELLING: Partial<Record<OspComponentKind, string>> = {
  AuthorisationRequest: "AuthorizationRequest",
  AuthorisationResponse: "AuthorizationResponse",
  AuthorisationIndication: "AuthorizationIndication",
  AuthorisationConfirmation: "AuthorizationConfirmation",
  ReauthorisationRequest: "ReauthorizationRequest",
  ReauthorisationResponse: "ReauthorizationResponse",
};

/** Every component kind, in the standard's spelling. */
export const COMPONENT_KINDS: readonly OspComponentKind[] = [
  "AuthorisationRequest",
  "AuthorisationResponse",
  "AuthorisationIndication",
  "AuthorisationConfirmation",
  "ReauthorisationRequest",
  "ReauthorisationResponse",
  "UsageIndication",
  "UsageConfirmation",
  "CapabilitiesIndication",
  "CapabilitiesConfirmation",
  "PricingIndication",
  "PricingConfirmation",
];

/** The element name for a component kind in the chosen spelling. */
export function componentElementName(kind: OspComponentKind, spelling: OspSpelling): string {
  return spelling === "toolkit" ? (US_SPELLING[kind] ?? kind) : kind;
}

const KIND_BY_NAME = new Map<string, OspComponentKind>();
for (const kind of COMPONENT_KINDS) {
  KIND_BY_NAME.set(kind, kind);
  const us = US_SPELLING[kind];
  if (us) KIND_BY_NAME.set(us, kind);
}

/** Either spelling → component kind; undefined for anything else. */
export function componentKindOf(elementName: string): OspComponentKind | undefined {
  return KIND_BY_NAME.get(elementName);
}

/**
 * Element names of the TransNexus OSP Toolkit's table (ospmsgelem.c) and its later additions. A receiver
 * that meets one of these where it does not model it keeps it as an extension instead of treating an
 * element without `critical="false"` as a critical unknown (the toolkit sends many such elements bare).
 */
export const TOOLKIT_ELEMENT_NAMES: ReadonlySet<string> = new Set([
  "AlmostOutOfResources", "AlertTime", "Amount", "Audit", "AuditMaxMessages", "AuditState", "AuditTimeLimit",
  "AuditURL", "AuthorityURL", "CallId", "Code", "Codec", "ConnectTime", "Currency", "CustomerId", "CustomInfo",
  "Delay", "DelayLimit", "DelayPreference", "Description", "Destination", "DestinationAlternate", "DestinationInfo",
  "OSPVersion", "DestinationProtocol", "DestinationSignalAddress", "DeviceId", "DeviceInfo", "DiversionDeviceInfo",
  "DiversionSourceInfo", "EndPoint", "EndTime", "Fraction", "Group", "GroupId", "ICPIF", "Increment", "Jitter",
  "LossReceived", "LossSent", "Lost", "MaximumDestinations", "Maximum", "Mean", "Metrics", "Minimum", "MOSCQ",
  "MOSLQ", "OneWayDelay", "Packets", "PostDialDelay", "ReleaseSource", "Resources", "RFactor", "Role",
  "RoundTripDelay", "Samples", "Service", "ServiceType", "SessionId", "SourceAlternate", "SourceInfo",
  "SourceSignalAddress", "StartTime", "Statistics", "Status", "TCCode", "TerminationCause", "Timestamp", "Token",
  "TokenInfo", "TotalOctets", "TotalPackets", "TransactionId", "Unit", "UsageDetail", "ValidAfter", "ValidUntil",
  "Variance", "Protocol", "SourceRealm", "DestinationRealm", "ApplicationId", "UserAgent", "NetworkId",
  "CallingPartyInfo", "CalledPartyInfo", "TransferId", "TransferStatus", "RoleInfo", "ProviderPDD",
]);
