// fast-check arbitraries of valid session descriptions (RFC 4566 §5) for the SDP codec's properties.
import fc from "fast-check";
import type { SdpAttribute, SdpBandwidth, SdpConnection, SdpMedia, SessionDescription } from "../../../protocols/sdp/index.js";

const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._+!*";
export const token = fc.string({ unit: fc.constantFrom(...tokenChars.split("")), minLength: 1, maxLength: 10 });
// Text: any characters but NUL, CR and LF (RFC 4566 §5), non-ASCII included.
const textChar = fc.oneof(fc.constantFrom(..."abc XYZ019:/=;-".split("")), fc.constantFrom("é", "ü", "中", "😀"));
export const text = fc.string({ unit: textChar, minLength: 1, maxLength: 16 });
const word = fc.string({ unit: fc.constantFrom(..."abcXYZ019:./-".split("")), minLength: 1, maxLength: 12 });
const digits = fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String);

const connection: fc.Arbitrary<SdpConnection> = fc.record({ netType: fc.constant("IN"), addrType: fc.constantFrom("IP4", "IP6"), address: word });
const bandwidth: fc.Arbitrary<SdpBandwidth> = fc.record({ type: fc.constantFrom("AS", "CT", "TIAS", "X-foo"), value: fc.nat({ max: 10_000_000 }) });
const attribute: fc.Arbitrary<SdpAttribute> = fc.oneof(
  fc.record({ name: token }),
  fc.record({ name: token, value: fc.oneof(fc.constant(""), text) }),
);

const rtpMedia: fc.Arbitrary<SdpMedia> = fc.record(
  {
    media: fc.constantFrom("audio", "video"),
    port: fc.integer({ min: 0, max: 65535 }),
    proto: fc.constantFrom("RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF"),
    formats: fc.uniqueArray(fc.integer({ min: 0, max: 127 }).map(String), { minLength: 1, maxLength: 8 }),
    information: text,
    connections: fc.array(connection, { maxLength: 2 }),
    bandwidths: fc.array(bandwidth, { maxLength: 2 }),
    key: text,
    attributes: fc.array(attribute, { maxLength: 5 }),
  },
  { requiredKeys: ["media", "port", "proto", "formats", "connections", "bandwidths", "attributes"] },
);
const otherMedia: fc.Arbitrary<SdpMedia> = fc.record(
  {
    media: fc.constantFrom("application", "image", "text"),
    port: fc.integer({ min: 0, max: 65535 }),
    portCount: fc.integer({ min: 1, max: 8 }),
    proto: fc.constantFrom("udptl", "UDP/BFCP", "TCP/MSRP"),
    formats: fc.array(word, { minLength: 1, maxLength: 3 }),
    connections: fc.array(connection, { maxLength: 1 }),
    bandwidths: fc.constant([]),
    attributes: fc.array(attribute, { maxLength: 2 }),
  },
  { requiredKeys: ["media", "port", "proto", "formats", "connections", "bandwidths", "attributes"] },
);

export const sessionArb: fc.Arbitrary<SessionDescription> = fc
  .record(
    {
      origin: fc.record({ username: word, sessionId: digits, sessionVersion: digits, netType: fc.constant("IN"), addrType: fc.constantFrom("IP4", "IP6"), address: word }),
      sessionName: text,
      information: text,
      uri: text,
      emails: fc.array(text, { maxLength: 2 }),
      phones: fc.array(text, { maxLength: 2 }),
      connection,
      bandwidths: fc.array(bandwidth, { maxLength: 2 }),
      timing: fc.array(
        fc.record({ start: digits, stop: digits, repeats: fc.array(fc.constantFrom("604800 3600 0 90000", "7d 1h 0 25h"), { maxLength: 2 }) }),
        { minLength: 1, maxLength: 2 },
      ),
      zone: fc.constantFrom("2882844526 -1h 2898848070 0"),
      key: fc.constantFrom("prompt", "clear:secret"),
      attributes: fc.array(attribute, { maxLength: 4 }),
      media: fc.array(fc.oneof(rtpMedia, otherMedia), { maxLength: 4 }),
    },
    { requiredKeys: ["origin", "sessionName", "emails", "phones", "connection", "bandwidths", "timing", "attributes", "media"] },
  );

/** An offer a phone might send: audio (and maybe video, T.38) with static and dynamic payload types, rtpmap or not. */
export const offerArb: fc.Arbitrary<SessionDescription> = fc
  .record({
    streams: fc.array(
      fc.record({
        media: fc.constantFrom("audio", "audio", "video", "image"),
        port: fc.oneof(fc.integer({ min: 1024, max: 65534 }), fc.constant(0)),
        formats: fc.uniqueArray(fc.constantFrom(0, 3, 4, 8, 9, 18, 31, 34, 96, 97, 98, 101, 110, 111), { minLength: 1, maxLength: 8 }),
        names: fc.array(fc.constantFrom("opus/48000/2", "telephone-event/8000", "speex/16000", "H264/90000", "PCMU/8000", "iLBC/8000"), { minLength: 8, maxLength: 8 }),
        rtpmap: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        direction: fc.constantFrom(undefined, "sendrecv", "sendonly", "recvonly", "inactive"),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ streams }) => ({
    origin: { username: "-", sessionId: "1", sessionVersion: "1", netType: "IN", addrType: "IP4", address: "127.0.0.1" },
    sessionName: "-",
    emails: [],
    phones: [],
    connection: { netType: "IN", addrType: "IP4", address: "127.0.0.1" },
    bandwidths: [],
    timing: [{ start: "0", stop: "0", repeats: [] }],
    attributes: [],
    media: streams.map((s): SdpMedia => {
      const image = s.media === "image";
      const attributes: SdpAttribute[] = image
        ? []
        : s.formats.flatMap((f, i) => (f >= 96 || s.rtpmap[i] ? [{ name: "rtpmap", value: `${f} ${f >= 96 ? s.names[i] : f === 0 ? "PCMU/8000" : f === 8 ? "PCMA/8000" : `X${f}/8000`}` }] : []));
      if (s.direction) attributes.push({ name: s.direction });
      return { media: s.media, port: s.port, proto: image ? "udptl" : "RTP/AVP", formats: image ? ["t38"] : s.formats.map(String), connections: [], bandwidths: [], attributes };
    }),
  }));
