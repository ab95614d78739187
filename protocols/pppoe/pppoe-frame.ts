// Model of PPPoE frames (RFC 2516): Ethernet II addresses, the Discovery packets with their tags, and
// Session packets carrying one PPP frame.
import type { DiscoveryCodeName } from "./constants.js";

/** Lowercase colon-separated MAC address, e.g. "02:00:00:00:00:01". */
export type MacAddress = string;

/** RFC 2516 Appendix A. Names and error texts are UTF-8, not NUL-terminated. */
export type PppoeTag =
  | { type: "end-of-list" }
  | { type: "service-name"; name: string }
  | { type: "ac-name"; name: string }
  | { type: "host-uniq"; value: Buffer }
  | { type: "ac-cookie"; value: Buffer }
  | { type: "vendor-specific"; vendorId: number; value: Buffer }
  | { type: "relay-session-id"; value: Buffer }
  | { type: "service-name-error"; message: string }
  | { type: "ac-system-error"; message: string }
  | { type: "generic-error"; message: string }
  /** Unknown TAG_TYPEs are kept and otherwise ignored (RFC 2516 Appendix A). */
  | { type: "unknown"; tagType: number; value: Buffer };

/** The name of a PPPoE tag. */
export type PppoeTagName = PppoeTag["type"];

/** A Discovery packet: code, session id and tags. */
export interface PppoeDiscoveryPacket {
  kind: "discovery";
  code: DiscoveryCodeName;
  sessionId: number;
  tags: PppoeTag[];
}

/** A Session packet: session id and the PPP frame. */
export interface PppoeSessionPacket {
  kind: "session";
  sessionId: number;
  /** One PPP frame: Protocol field then information (RFC 2516 §6). */
  payload: Buffer;
}

/** A Discovery or a Session packet. */
export type PppoePacket = PppoeDiscoveryPacket | PppoeSessionPacket;

/** An Ethernet frame carrying PPPoE: addresses and the packet. */
export interface PppoeFrame {
  destination: MacAddress;
  source: MacAddress;
  packet: PppoePacket;
}

/** The first tag of that type, narrowed. */
export function findTag<T extends PppoeTagName>(tags: readonly PppoeTag[], type: T): Extract<PppoeTag, { type: T }> | undefined {
  for (const tag of tags) if (tag.type === type) return tag as Extract<PppoeTag, { type: T }>;
  return undefined;
}

/** The first error tag (Service-Name-Error, AC-System-Error, Generic-Error), if any. */
export function findErrorTag(
  tags: readonly PppoeTag[],
): Extract<PppoeTag, { type: "service-name-error" | "ac-system-error" | "generic-error" }> | undefined {
  for (const tag of tags) {
    if (tag.type === "service-name-error" || tag.type === "ac-system-error" || tag.type === "generic-error") return tag;
  }
  return undefined;
}
