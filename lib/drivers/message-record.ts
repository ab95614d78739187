// One record per message a driver moves: the single stream that ladders, HTML, pcap, traces and tests read.
/** The protocols a record can carry. */
export type Protocol = "SIP" | "COPS" | "OSP" | "RADIUS";

/** A role of the reference flows (UAC, SIP1, POL1, R1, CH, SIP2, POL2, R2, UAS) or any other node name. */
export type RoleName = string;

/** One message a driver moved: the record stream every ladder, pcap and check reads. */
export interface MessageRecord {
  /** Milliseconds since the start of the run (virtual time on the in-memory driver). */
  t: number;
  proto: Protocol;
  from: RoleName;
  to: RoleName;
  /** Label as in the reference flows: SIP method or "code reason", "REQ AAA", "DEC Install", OSP element name. */
  msg: string;
  callId: string;
  /** The encoded message exactly as sent (base64 in JSON lines). */
  bytes: Buffer;
  /** Transport facts for captures: addresses and ports the message went between (network driver fills real ones). */
  transport?: { kind: "udp" | "tcp" | "http"; src: string; srcPort: number; dst: string; dstPort: number };
}

/** JSON-lines form: `{t, proto, from, to, msg, callId, bytes}` with bytes in base64. */
export function recordToJsonLine(record: MessageRecord): string {
  const { bytes, ...rest } = record;
  return JSON.stringify({ ...rest, bytes: bytes.toString("base64") });
}

/** Reads one record written by `recordToJsonLine`. */
export function recordFromJsonLine(line: string): MessageRecord {
  const raw = JSON.parse(line) as Omit<MessageRecord, "bytes"> & { bytes: string };
  return { ...raw, bytes: Buffer.from(raw.bytes, "base64") };
}
