// RTP payload types with static meaning (RFC 3551 §6, Tables 4 and 5): an offer may list them without a=rtpmap.

/** An RTP encoding: what a=rtpmap says, or RFC 3551's table for a static payload type. */
export interface RtpEncoding {
  /** Encoding name as RFC 3551 registers it (compare case-insensitively). */
  name: string;
  clockRate: number;
  /** Audio channels (a=rtpmap's encoding parameters); 1 when not given. */
  channels: number;
}

const STATIC: Record<number, RtpEncoding> = {
  0: { name: "PCMU", clockRate: 8000, channels: 1 },
  3: { name: "GSM", clockRate: 8000, channels: 1 },
  4: { name: "G723", clockRate: 8000, channels: 1 },
  5: { name: "DVI4", clockRate: 8000, channels: 1 },
  6: { name: "DVI4", clockRate: 16000, channels: 1 },
  7: { name: "LPC", clockRate: 8000, channels: 1 },
  8: { name: "PCMA", clockRate: 8000, channels: 1 },
  9: { name: "G722", clockRate: 8000, channels: 1 },
  10: { name: "L16", clockRate: 44100, channels: 2 },
  11: { name: "L16", clockRate: 44100, channels: 1 },
  12: { name: "QCELP", clockRate: 8000, channels: 1 },
  13: { name: "CN", clockRate: 8000, channels: 1 },
  14: { name: "MPA", clockRate: 90000, channels: 1 },
  15: { name: "G728", clockRate: 8000, channels: 1 },
  16: { name: "DVI4", clockRate: 11025, channels: 1 },
  17: { name: "DVI4", clockRate: 22050, channels: 1 },
  18: { name: "G729", clockRate: 8000, channels: 1 },
  25: { name: "CelB", clockRate: 90000, channels: 1 },
  26: { name: "JPEG", clockRate: 90000, channels: 1 },
  28: { name: "nv", clockRate: 90000, channels: 1 },
  31: { name: "H261", clockRate: 90000, channels: 1 },
  32: { name: "MPV", clockRate: 90000, channels: 1 },
  33: { name: "MP2T", clockRate: 90000, channels: 1 },
  34: { name: "H263", clockRate: 90000, channels: 1 },
};

/** The static encoding of payload type `pt` (RFC 3551 Tables 4 and 5), or undefined (dynamic or unassigned). */
export function staticPayload(pt: number): RtpEncoding | undefined {
  return STATIC[pt];
}
