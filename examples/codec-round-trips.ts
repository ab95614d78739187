// One round trip per protocol codec: a message built, encoded, decoded and compared, then a damaged copy refused
// with the codec's own typed error naming what is wrong and where.
//   npx tsx examples/codec-round-trips.ts
import { isDeepStrictEqual } from "node:util";
import { parseSipMessage, serializeSipMessage } from "../protocols/sip/index.js";
import { ClientType, buildSipAaaRequest, decodeCopsMessage, encodeCopsMessage } from "../protocols/cops/index.js";
import { decodeOspMessage, encodeOspMessage, type OspMessage } from "../protocols/osp/index.js";
import { RadiusCode, attributeValue, decodeRadiusPacket, encodeRadiusPacket, radiusAttribute } from "../protocols/radius/index.js";
import { decodePppoeFrame, encodePppoeFrame, type PppoeFrame } from "../protocols/pppoe/index.js";

/** The refusal of `decode` as "Class code at offset N", or "accepted" (it should not be). */
function refusal(decode: () => unknown): string {
  try {
    decode();
    return "accepted";
  } catch (err) {
    const e = err as Error & { code?: string; offset?: number; path?: string };
    return `${e.name} ${e.code ?? "?"} at ${e.offset !== undefined ? `offset ${e.offset}` : `element ${e.path ?? "?"}`}`;
  }
}

// SIP (RFC 3261 §7): an INVITE, parsed, serialised and parsed again; then a request without its mandatory headers.
const invite = Buffer.from(
  "INVITE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9\r\nMax-Forwards: 70\r\n" +
    "From: <sip:alice@example.com>;tag=9fxced76sl\r\nTo: <sip:bob@example.net>\r\nCall-ID: 3848276298220188511@192.0.2.10\r\n" +
    "CSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10>\r\nContent-Length: 0\r\n\r\n",
);
const sip = parseSipMessage(invite);
const sipBytes = serializeSipMessage(sip);
console.log(`SIP: ${sipBytes.length} octets, same bytes again ${serializeSipMessage(parseSipMessage(sipBytes)).equals(sipBytes)}; ${refusal(() => parseSipMessage(Buffer.from("INVITE sip:bob@example.net SIP/2.0\r\nCSeq: one INVITE\r\n\r\n")))}`);

// COPS (RFC 2748 §3): a REQ AAA of the SIP AAA client type; then its length field made odd.
const req = buildSipAaaRequest("AAA", Buffer.from([0, 0, 0, 1]), { callId: "3848276298220188511@192.0.2.10", caller: "sip:alice@example.com", callee: "sip:bob@example.net", flows: [] });
const copsBytes = encodeCopsMessage(req);
const cops = decodeCopsMessage(copsBytes);
const damaged = Buffer.from(copsBytes);
damaged.writeUInt32BE(copsBytes.length + 2, 4);
console.log(`COPS: ${cops.op} client type 0x${cops.clientType.toString(16)} (${cops.clientType === ClientType.SipAaa ? "SIP AAA" : "?"}), ${copsBytes.length} octets, equal ${isDeepStrictEqual(cops, decodeCopsMessage(encodeCopsMessage(cops)))}; ${refusal(() => decodeCopsMessage(damaged))}`);

// OSP (ETSI TS 101 321): a UsageConfirmation; then a document that is not XML.
const confirmation: OspMessage = { messageId: "m1", components: [{ kind: "UsageConfirmation", componentId: "c1", status: { code: 200, description: "success" } }] };
const ospBytes = encodeOspMessage(confirmation);
const osp = decodeOspMessage(ospBytes);
console.log(`OSP: ${osp.components[0]?.kind}, ${ospBytes.length} octets, equal ${isDeepStrictEqual(osp, decodeOspMessage(encodeOspMessage(osp)))}; ${refusal(() => decodeOspMessage(Buffer.from("<Message messageId='m1'><Usage")))}`);

// RADIUS (RFC 2866): an Accounting-Request signed with the shared secret; then an attribute longer than the packet.
const secret = "testing123";
const accounting = encodeRadiusPacket(
  { code: RadiusCode.AccountingRequest, identifier: 7, authenticator: Buffer.alloc(16), attributes: [radiusAttribute("User-Name", "alice"), radiusAttribute("Acct-Status-Type", 1), radiusAttribute("Acct-Session-Id", "3848276298220188511")] },
  secret,
);
const radius = decodeRadiusPacket(accounting, secret);
const overlong = Buffer.from(accounting);
overlong[21] = 0xff;
console.log(`RADIUS: code ${radius.code} User-Name ${String(attributeValue(radius, "User-Name"))}, ${accounting.length} octets, same bytes again ${encodeRadiusPacket(radius, secret).equals(accounting)}; ${refusal(() => decodeRadiusPacket(overlong, secret))}`);

// PPPoE (RFC 2516 §5.1): a PADI broadcast for any service; then its LENGTH field past the frame's end.
const padi: PppoeFrame = { destination: "ff:ff:ff:ff:ff:ff", source: "02:00:00:00:00:01", packet: { kind: "discovery", code: "PADI", sessionId: 0, tags: [{ type: "service-name", name: "" }, { type: "host-uniq", value: Buffer.from([1, 2, 3, 4]) }] } };
const pppoeBytes = encodePppoeFrame(padi);
const pppoe = decodePppoeFrame(pppoeBytes);
const cut = Buffer.from(pppoeBytes);
cut.writeUInt16BE(0x400, 18);
console.log(`PPPoE: ${pppoe.packet.kind === "discovery" ? pppoe.packet.code : "session"} from ${pppoe.source}, ${pppoeBytes.length} octets, equal ${isDeepStrictEqual(pppoe, padi)}; ${refusal(() => decodePppoeFrame(cut))}`);
