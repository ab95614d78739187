// The session description model of RFC 4566 §5: every line kept, in order, so a parsed description writes back
// the same lines.

/** c= (RFC 4566 §5.7): the address keeps any /ttl and /count suffix as written. */
export interface SdpConnection {
  netType: string;
  addrType: string;
  address: string;
}

/** b= (RFC 4566 §5.8), e.g. AS:64 in kilobits per second. */
export interface SdpBandwidth {
  type: string;
  value: number;
}

/** a= (RFC 4566 §5.13): a property attribute has no value; `value` "" is "a=name:" as written. */
export interface SdpAttribute {
  name: string;
  value?: string;
}

/** t= and its r= lines (RFC 4566 §5.9, §5.10), as the decimal text written. */
export interface SdpTiming {
  start: string;
  stop: string;
  repeats: string[];
}

/** o= (RFC 4566 §5.2). Session id and version are decimal text (they may exceed 2^53). */
export interface SdpOrigin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** One m= section (RFC 4566 §5.14) and its i=, c=, b=, k=, a= lines. */
export interface SdpMedia {
  media: string;
  port: number;
  /** The "/<number of ports>" of the m= line, when written. */
  portCount?: number;
  proto: string;
  /** At least one; RTP payload type numbers (0-127) for RTP profiles. */
  formats: string[];
  information?: string;
  connections: SdpConnection[];
  bandwidths: SdpBandwidth[];
  key?: string;
  attributes: SdpAttribute[];
}

/** A session description (RFC 4566 §5): session-level lines, then its media sections in order. */
export interface SessionDescription {
  origin: SdpOrigin;
  sessionName: string;
  information?: string;
  uri?: string;
  emails: string[];
  phones: string[];
  connection?: SdpConnection;
  bandwidths: SdpBandwidth[];
  /** At least one t= (RFC 4566 §5: one or more time descriptions). */
  timing: SdpTiming[];
  zone?: string;
  key?: string;
  attributes: SdpAttribute[];
  media: SdpMedia[];
}

/** A stream's direction attribute (RFC 3264 §5.1, §6.1). */
export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";
