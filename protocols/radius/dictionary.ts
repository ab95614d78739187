// The attribute dictionary as data: RFC 2865 §5, RFC 2866 §5, RFC 2869 §5, RFC 3579 §3, RFC 5090 §4.

/**
 * Wire types (RFC 2865 §5, named as in RFC 8044): `text` is UTF-8, `string` is octets, `integer` and `date`
 * are 32-bit unsigned, `ipaddr` is 4 octets; `password` is User-Password hidden per RFC 2865 §5.2;
 * `vsa` is Vendor-Specific (§5.26); `octets` is used for attributes this dictionary does not know.
 */
export type RadiusValueType = "text" | "string" | "integer" | "date" | "ipaddr" | "password" | "vsa" | "octets";

/** One attribute of the dictionary: number, name and value type. */
export interface RadiusAttributeDefinition {
  code: number;
  name: string;
  type: RadiusValueType;
  /** Named values of an enumerated integer. */
  values?: Readonly<Record<string, number>>;
  /** Exact length of the value, when the RFC fixes it (Message-Authenticator: 16). */
  fixedLength?: number;
}

/** Acct-Status-Type values (RFC 2866 §5.1). */
export const AcctStatusType = {
  Start: 1,
  Stop: 2,
  "Interim-Update": 3,
  "Accounting-On": 7,
  "Accounting-Off": 8,
} as const;

/** Acct-Terminate-Cause values (RFC 2866 §5.10). */
export const AcctTerminateCause = {
  "User-Request": 1,
  "Lost-Carrier": 2,
  "Lost-Service": 3,
  "Idle-Timeout": 4,
  "Session-Timeout": 5,
  "Admin-Reset": 6,
  "Admin-Reboot": 7,
  "Port-Error": 8,
  "NAS-Error": 9,
  "NAS-Request": 10,
  "NAS-Reboot": 11,
  "Port-Unneeded": 12,
  "Port-Preempted": 13,
  "Port-Suspended": 14,
  "Service-Unavailable": 15,
  Callback: 16,
  "User-Error": 17,
  "Host-Request": 18,
} as const;

const serviceType = {
  Login: 1,
  Framed: 2,
  "Callback-Login": 3,
  "Callback-Framed": 4,
  Outbound: 5,
  Administrative: 6,
  "NAS-Prompt": 7,
  "Authenticate-Only": 8,
  "Callback-NAS-Prompt": 9,
  "Call-Check": 10,
  "Callback-Administrative": 11,
} as const;

const nasPortType = { Async: 0, Sync: 1, "ISDN-Sync": 2, Virtual: 5, Ethernet: 15, "Wireless-802.11": 19 } as const;

const acctAuthentic = { RADIUS: 1, Local: 2, Remote: 3 } as const;

const definitions: RadiusAttributeDefinition[] = [
  // RFC 2865 §5
  { code: 1, name: "User-Name", type: "text" },
  { code: 2, name: "User-Password", type: "password" },
  { code: 3, name: "CHAP-Password", type: "string" },
  { code: 4, name: "NAS-IP-Address", type: "ipaddr" },
  { code: 5, name: "NAS-Port", type: "integer" },
  { code: 6, name: "Service-Type", type: "integer", values: serviceType },
  { code: 7, name: "Framed-Protocol", type: "integer" },
  { code: 8, name: "Framed-IP-Address", type: "ipaddr" },
  { code: 9, name: "Framed-IP-Netmask", type: "ipaddr" },
  { code: 10, name: "Framed-Routing", type: "integer" },
  { code: 11, name: "Filter-Id", type: "text" },
  { code: 12, name: "Framed-MTU", type: "integer" },
  { code: 13, name: "Framed-Compression", type: "integer" },
  { code: 14, name: "Login-IP-Host", type: "ipaddr" },
  { code: 15, name: "Login-Service", type: "integer" },
  { code: 16, name: "Login-TCP-Port", type: "integer" },
  { code: 18, name: "Reply-Message", type: "text" },
  { code: 19, name: "Callback-Number", type: "text" },
  { code: 20, name: "Callback-Id", type: "text" },
  { code: 22, name: "Framed-Route", type: "text" },
  { code: 23, name: "Framed-IPX-Network", type: "integer" },
  { code: 24, name: "State", type: "string" },
  { code: 25, name: "Class", type: "string" },
  { code: 26, name: "Vendor-Specific", type: "vsa" },
  { code: 27, name: "Session-Timeout", type: "integer" },
  { code: 28, name: "Idle-Timeout", type: "integer" },
  { code: 29, name: "Termination-Action", type: "integer" },
  { code: 30, name: "Called-Station-Id", type: "text" },
  { code: 31, name: "Calling-Station-Id", type: "text" },
  { code: 32, name: "NAS-Identifier", type: "text" },
  { code: 33, name: "Proxy-State", type: "string" },
  { code: 34, name: "Login-LAT-Service", type: "text" },
  { code: 35, name: "Login-LAT-Node", type: "text" },
  { code: 36, name: "Login-LAT-Group", type: "string" },
  { code: 37, name: "Framed-AppleTalk-Link", type: "integer" },
  { code: 38, name: "Framed-AppleTalk-Network", type: "integer" },
  { code: 39, name: "Framed-AppleTalk-Zone", type: "text" },
  // RFC 2866 §5
  { code: 40, name: "Acct-Status-Type", type: "integer", values: AcctStatusType },
  { code: 41, name: "Acct-Delay-Time", type: "integer" },
  { code: 42, name: "Acct-Input-Octets", type: "integer" },
  { code: 43, name: "Acct-Output-Octets", type: "integer" },
  { code: 44, name: "Acct-Session-Id", type: "text" },
  { code: 45, name: "Acct-Authentic", type: "integer", values: acctAuthentic },
  { code: 46, name: "Acct-Session-Time", type: "integer" },
  { code: 47, name: "Acct-Input-Packets", type: "integer" },
  { code: 48, name: "Acct-Output-Packets", type: "integer" },
  { code: 49, name: "Acct-Terminate-Cause", type: "integer", values: AcctTerminateCause },
  { code: 50, name: "Acct-Multi-Session-Id", type: "text" },
  { code: 51, name: "Acct-Link-Count", type: "integer" },
  // RFC 2869 §5
  { code: 52, name: "Acct-Input-Gigawords", type: "integer" },
  { code: 53, name: "Acct-Output-Gigawords", type: "integer" },
  { code: 55, name: "Event-Timestamp", type: "date" },
  { code: 60, name: "CHAP-Challenge", type: "string" },
  { code: 61, name: "NAS-Port-Type", type: "integer", values: nasPortType },
  { code: 62, name: "Port-Limit", type: "integer" },
  { code: 63, name: "Login-LAT-Port", type: "text" },
  { code: 77, name: "Connect-Info", type: "text" },
  { code: 79, name: "EAP-Message", type: "string" },
  // RFC 3579 §3.2
  { code: 80, name: "Message-Authenticator", type: "string", fixedLength: 16 },
  { code: 85, name: "Acct-Interim-Interval", type: "integer" },
  { code: 87, name: "NAS-Port-Id", type: "text" },
  // RFC 5090 §4
  { code: 103, name: "Digest-Response", type: "text" },
  { code: 104, name: "Digest-Realm", type: "text" },
  { code: 105, name: "Digest-Nonce", type: "text" },
  { code: 106, name: "Digest-Response-Auth", type: "text" },
  { code: 107, name: "Digest-Nextnonce", type: "text" },
  { code: 108, name: "Digest-Method", type: "text" },
  { code: 109, name: "Digest-URI", type: "text" },
  { code: 110, name: "Digest-Qop", type: "text" },
  { code: 111, name: "Digest-Algorithm", type: "text" },
  { code: 112, name: "Digest-Entity-Body-Hash", type: "text" },
  { code: 113, name: "Digest-CNonce", type: "text" },
  { code: 114, name: "Digest-Nonce-Count", type: "text" },
  { code: 115, name: "Digest-Username", type: "text" },
  { code: 116, name: "Digest-Opaque", type: "text" },
  { code: 117, name: "Digest-Auth-Param", type: "text" },
  { code: 118, name: "Digest-AKA-Auts", type: "text" },
  { code: 119, name: "Digest-Domain", type: "text" },
  { code: 120, name: "Digest-Stale", type: "text" },
  { code: 121, name: "Digest-HA1", type: "text" },
  { code: 122, name: "SIP-AOR", type: "text" },
];

const byCode = new Map<number, RadiusAttributeDefinition>(definitions.map((d) => [d.code, d]));
const byName = new Map<string, RadiusAttributeDefinition>(definitions.map((d) => [d.name, d]));

/** The attributes the codec knows by name (RFC 2865, 2866, 2869, 5090). */
export const RADIUS_DICTIONARY: readonly RadiusAttributeDefinition[] = definitions;

/** Definition of an attribute type, or undefined for a type this dictionary does not know. */
export function attributeDefinition(code: number): RadiusAttributeDefinition | undefined {
  return byCode.get(code);
}

/** Attribute type code for a dictionary name; throws on a name that is not in the dictionary (a caller's bug). */
export function attributeCode(name: string): number {
  const d = byName.get(name);
  if (!d) throw new Error(`RADIUS dictionary has no attribute named ${name}`);
  return d.code;
}

/** Wire type the decoder uses for a type code: the dictionary's, else `octets`. */
export function attributeValueType(code: number): RadiusValueType {
  return byCode.get(code)?.type ?? "octets";
}

/** Name of an enumerated value (Acct-Status-Type 1 → "Start"), or undefined. */
export function attributeValueName(code: number, value: number): string | undefined {
  const values = byCode.get(code)?.values;
  if (!values) return undefined;
  for (const [name, v] of Object.entries(values)) if (v === value) return name;
  return undefined;
}
