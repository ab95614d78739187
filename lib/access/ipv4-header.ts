// The IPv4 header fields the access roles read (RFC 791 §3.1): version, addresses. Payloads are not parsed.

/** Destination address of an IPv4 datagram as dotted quad, or undefined when it is no IPv4 datagram. */
export function ipv4Destination(packet: Buffer): string | undefined {
  if (packet.length < 20 || (packet[0] ?? 0) >> 4 !== 4) return undefined;
  return `${packet[16]}.${packet[17]}.${packet[18]}.${packet[19]}`;
}

/** Source address, as ipv4Destination. */
export function ipv4Source(packet: Buffer): string | undefined {
  if (packet.length < 20 || (packet[0] ?? 0) >> 4 !== 4) return undefined;
  return `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
}

/** The datagram sent back: source and destination swapped (the header checksum is a sum, so it still holds). */
export function ipv4Reflect(packet: Buffer): Buffer | undefined {
  if (packet.length < 20 || (packet[0] ?? 0) >> 4 !== 4) return undefined;
  const out = Buffer.from(packet);
  packet.copy(out, 12, 16, 20);
  packet.copy(out, 16, 12, 16);
  return out;
}
