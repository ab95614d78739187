// What a media section says, read the way RFC 3264 and RFC 3551 read it: payload formats with their encodings
// (a=rtpmap, or the static table when there is none), direction, the address and port media goes to.
import type { SdpAttribute, SdpDirection, SdpMedia, SessionDescription } from "./model.js";
import { staticPayload, type RtpEncoding } from "./static-payloads.js";

/** One format of an m= line with its encoding and a=fmtp parameters. */
export interface SdpFormat {
  /** The m= line's format token (an RTP payload type for RTP profiles). */
  format: string;
  /** The encoding: a=rtpmap's, else RFC 3551's static one; undefined when neither says. */
  encoding: RtpEncoding | undefined;
  /** a=fmtp parameters of this format, when given. */
  fmtp: string | undefined;
}

const RTPMAP = /^(\d{1,3}) ([^/ ]+)\/(\d{1,10})(?:\/(\d{1,3}))?$/;
const FMTP = /^(\S+) (.*)$/;

/** True when the m= line's proto is an RTP profile (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, …). */
export function isRtpMedia(m: SdpMedia): boolean {
  return m.proto.startsWith("RTP/") || m.proto.includes("/RTP/");
}

/** The formats of a media section in m= line order, each with its encoding (RFC 4566 §6 rtpmap, RFC 3551 §6). */
export function mediaFormats(m: SdpMedia): SdpFormat[] {
  let maps: Map<string, RtpEncoding> | undefined;
  let fmtps: Map<string, string> | undefined;
  for (const a of m.attributes) {
    const v = a.value;
    if (v === undefined) continue;
    if (a.name === "rtpmap") {
      const x = RTPMAP.exec(v);
      if (x) (maps ??= new Map()).set(String(Number(x[1])), { name: x[2]!, clockRate: Number(x[3]), channels: x[4] === undefined ? 1 : Number(x[4]) });
    } else if (a.name === "fmtp") {
      const x = FMTP.exec(v);
      if (x) (fmtps ??= new Map()).set(x[1]!, x[2]!);
    }
  }
  const rtp = isRtpMedia(m);
  const out: SdpFormat[] = [];
  for (const format of m.formats) {
    out.push({ format, encoding: maps?.get(format) ?? (rtp ? staticPayload(Number(format)) : undefined), fmtp: fmtps?.get(format) });
  }
  return out;
}

const DIRECTIONS = new Set<string>(["sendrecv", "sendonly", "recvonly", "inactive"]);

function directionOf(attrs: readonly SdpAttribute[]): SdpDirection | undefined {
  for (const a of attrs) if (a.value === undefined && DIRECTIONS.has(a.name)) return a.name as SdpDirection;
  return undefined;
}

/** A stream's direction (RFC 3264 §5.1): its own attribute, else the session's, else sendrecv. */
export function mediaDirection(sd: SessionDescription, m: SdpMedia): SdpDirection {
  return directionOf(m.attributes) ?? directionOf(sd.attributes) ?? "sendrecv";
}

/** The direction an answerer gives a stream offered with `offered` (RFC 3264 §6.1), before its own wishes. */
export function answerDirection(offered: SdpDirection): SdpDirection {
  return offered === "sendonly" ? "recvonly" : offered === "recvonly" ? "sendonly" : offered;
}

/** The address a stream's media goes to (RFC 4566 §5.7: the section's c=, else the session's), without /ttl. */
export function mediaAddress(sd: SessionDescription, m: SdpMedia): string | undefined {
  const c = m.connections[0] ?? sd.connection;
  if (c === undefined) return undefined;
  const slash = c.address.indexOf("/");
  return slash < 0 ? c.address : c.address.substring(0, slash);
}

/** The b=AS of a stream in kbit/s (RFC 4566 §5.8): the section's, else the session's. */
export function mediaBandwidthKbps(sd: SessionDescription, m: SdpMedia): number | undefined {
  return (m.bandwidths.find((b) => b.type === "AS") ?? sd.bandwidths.find((b) => b.type === "AS"))?.value;
}
