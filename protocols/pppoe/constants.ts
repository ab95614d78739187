// RFC 2516 numbers: Ethertypes (§4), CODE values (§5), TAG_TYPEs (Appendix A).

/** The EtherTypes of PPPoE Discovery and Session frames (RFC 2516 §4). */
export const EtherType = {
  discovery: 0x8863,
  session: 0x8864,
} as const;

/** VER = 1, TYPE = 1 in one octet (RFC 2516 §4). */
export const PPPOE_VERSION_TYPE = 0x11;

/** PPPoE Discovery codes: PADI, PADO, PADR, PADS, PADT (RFC 2516 §5). */
export const PppoeCode = {
  session: 0x00,
  PADO: 0x07,
  PADI: 0x09,
  PADR: 0x19,
  PADS: 0x65,
  PADT: 0xa7,
} as const;
/** The name of a Discovery packet. */
export type DiscoveryCodeName = "PADI" | "PADO" | "PADR" | "PADS" | "PADT";

/** PPPoE tag types (RFC 2516 Appendix A). */
export const TagType = {
  endOfList: 0x0000,
  serviceName: 0x0101,
  acName: 0x0102,
  hostUniq: 0x0103,
  acCookie: 0x0104,
  vendorSpecific: 0x0105,
  relaySessionId: 0x0110,
  serviceNameError: 0x0201,
  acSystemError: 0x0202,
  genericError: 0x0203,
} as const;

/** The Ethernet broadcast address a PADI goes to. */
export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
export const ETHERNET_HEADER_BYTES = 14;
export const PPPOE_HEADER_BYTES = 6;
/** Ethernet payload limit: PPPoE header + payload within 1500 octets (RFC 2516 §7: MRU 1492). */
export const MAX_PPPOE_PAYLOAD = 1494;
/** A PADI, Ethernet header included, must not exceed 1484 octets (RFC 2516 §5.1). */
export const MAX_PADI_FRAME = 1484;
/** Shortest Ethernet frame without FCS: shorter frames are padded (IEEE 802.3). */
export const MIN_ETHERNET_FRAME = 60;
/** 0xFFFF is reserved (RFC 2516 §4); 0x0000 is the Discovery stage. */
export const MAX_SESSION_ID = 0xfffe;
