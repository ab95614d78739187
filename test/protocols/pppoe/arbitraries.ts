// fast-check arbitraries of valid PPPoE frames (RFC 2516 §5 rules) and PPP frames for HDLC framing.
import fc from "fast-check";
import type { DiscoveryCodeName, MacAddress, PppoeDiscoveryPacket, PppoeFrame, PppoeTag } from "../../../protocols/pppoe/index.js";

const octet = fc.integer({ min: 0, max: 255 });
export const unicastMacArb: fc.Arbitrary<MacAddress> = fc
  .tuple(octet.map((o) => o & 0xfe), fc.array(octet, { minLength: 5, maxLength: 5 }))
  .map(([first, rest]) => [first, ...rest].map((o) => o.toString(16).padStart(2, "0")).join(":"));

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const text = fc.string({ unit: "grapheme", maxLength: 24 });
const sessionIdArb = fc.integer({ min: 1, max: 0xfffe });
const KNOWN_TAG_TYPES = new Set([0x0000, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0110, 0x0201, 0x0202, 0x0203]);

/** Any tag but End-Of-List (which ends the list) and the names the per-code rules count. */
const freeTagArb: fc.Arbitrary<PppoeTag> = fc.oneof(
  bytes(16).map((value): PppoeTag => ({ type: "host-uniq", value })),
  bytes(24).map((value): PppoeTag => ({ type: "ac-cookie", value })),
  fc.record({ vendorId: fc.integer({ min: 0, max: 0xffffff }), value: bytes(12) }).map((v): PppoeTag => ({ type: "vendor-specific", ...v })),
  bytes(12).map((value): PppoeTag => ({ type: "relay-session-id", value })),
  fc
    .record({ tagType: fc.integer({ min: 1, max: 0xffff }).filter((t) => !KNOWN_TAG_TYPES.has(t)), value: bytes(8) })
    .map((v): PppoeTag => ({ type: "unknown", ...v })),
);
const errorTagArb: fc.Arbitrary<PppoeTag> = fc.oneof(
  text.map((message): PppoeTag => ({ type: "service-name-error", message })),
  text.map((message): PppoeTag => ({ type: "ac-system-error", message })),
  text.map((message): PppoeTag => ({ type: "generic-error", message })),
);
const serviceNameArb = text.map((name): PppoeTag => ({ type: "service-name", name }));
const withEnd = (tags: fc.Arbitrary<PppoeTag[]>) =>
  fc.tuple(tags, fc.boolean()).map(([t, end]) => (end ? [...t, { type: "end-of-list" } as PppoeTag] : t));

function discovery(code: DiscoveryCodeName, sessionId: fc.Arbitrary<number>, tags: fc.Arbitrary<PppoeTag[]>): fc.Arbitrary<PppoeDiscoveryPacket> {
  return fc.record({ sessionId, tags: withEnd(tags) }).map((v) => ({ kind: "discovery", code, ...v }));
}
const free = fc.array(freeTagArb, { maxLength: 5 });

export const discoveryPacketArb: fc.Arbitrary<PppoeDiscoveryPacket> = fc.oneof(
  discovery("PADI", fc.constant(0), fc.tuple(serviceNameArb, free).map(([s, f]) => [s, ...f])),
  discovery(
    "PADO",
    fc.constant(0),
    fc.tuple(text, fc.array(serviceNameArb, { minLength: 1, maxLength: 3 }), free).map(([ac, s, f]) => [{ type: "ac-name", name: ac } as PppoeTag, ...s, ...f]),
  ),
  discovery("PADR", fc.constant(0), fc.tuple(free, serviceNameArb).map(([f, s]) => [...f, s])),
  discovery("PADS", sessionIdArb, fc.tuple(serviceNameArb, free).map(([s, f]) => [s, ...f])),
  discovery("PADS", fc.constant(0), fc.tuple(errorTagArb, free).map(([e, f]) => [e, ...f])),
  discovery("PADT", sessionIdArb, fc.array(fc.oneof(freeTagArb, errorTagArb), { maxLength: 3 })),
);

export const pppoeFrameArb: fc.Arbitrary<PppoeFrame> = fc.record({
  destination: unicastMacArb,
  source: unicastMacArb,
  packet: fc.oneof(
    discoveryPacketArb,
    fc.record({ sessionId: sessionIdArb, payload: bytes(1494) }).map((v) => ({ kind: "session" as const, ...v })),
  ),
}).map((f) => (f.packet.kind === "discovery" && f.packet.code === "PADI" ? { ...f, destination: "ff:ff:ff:ff:ff:ff" } : f));

/** A PPP frame as HDLC carries it: Address, Control, Protocol, Information. */
export const pppFrameArb = fc
  .tuple(fc.constantFrom(0xc021, 0x8021, 0xc023, 0xc223, 0x0021), bytes(300))
  .map(([protocol, info]) => Buffer.concat([Buffer.from([0xff, 0x03, protocol >> 8, protocol & 0xff]), info]));
