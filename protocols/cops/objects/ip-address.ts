// IPv4 / IPv6 address text <-> bytes, for the address-carrying objects (RFC 2748 §2.2.3, §2.2.13).
/** IP version of an address-carrying object: 4 or 6 (its C-Type, RFC 2748 §2.2.3). */
export type IpFamily = 4 | 6;

/**
 * Dotted-quad IPv4 text as an unsigned 32-bit number, or -1 when it is not one (the same texts node:net
 * isIPv4 accepts: four decimal octets 0–255 without leading zeros).
 */
export function parseIpv4(address: string): number {
  const n = address.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 0x30);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/**
 * Whether the text is an IPv6 address (RFC 4291 §2.2): eight groups of 1–4 hex digits, one `::` standing for
 * one or more zero groups, and optionally a dotted-quad IPv4 tail in place of the last two groups. No zone
 * (`%eth0`): an address object carries 16 octets and nothing else. A codec needs no socket library for this.
 */
export function isIpv6Text(address: string): boolean {
  if (address.length < 2 || address.length > 45) return false;
  const gap = address.indexOf("::");
  if (gap >= 0 && address.indexOf("::", gap + 1) >= 0) return false;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = gap >= 0 ? groupsOf(address.slice(0, gap)) : groupsOf(address);
  const tail = gap >= 0 ? groupsOf(address.slice(gap + 2)) : [];
  const all = [...head, ...tail];
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes(".")) {
    if (parseIpv4(last) < 0) return false;
    all.pop();
    count += 1; // the IPv4 tail is two groups
  }
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return gap >= 0 ? count <= 7 : count === 8;
}

export function ipFamilyOf(address: string): IpFamily | undefined {
  if (parseIpv4(address) >= 0) return 4;
  if (isIpv6Text(address)) return 6;
  return undefined;
}

export function writeIpv4(address: string, buf: Buffer, offset: number): void {
  const v = parseIpv4(address);
  if (v < 0) throw new RangeError(`not an IPv4 address: ${address}`);
  buf[offset] = v >>> 24;
  buf[offset + 1] = (v >>> 16) & 0xff;
  buf[offset + 2] = (v >>> 8) & 0xff;
  buf[offset + 3] = v & 0xff;
}

export function readIpv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function writeIpv6(address: string, buf: Buffer, offset: number): void {
  if (!isIpv6Text(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  let text = address;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    // Embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex words.
    const p = tail.split(".").map(Number);
    const hi = (((p[0] ?? 0) << 8) | (p[1] ?? 0)).toString(16);
    const lo = (((p[2] ?? 0) << 8) | (p[3] ?? 0)).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  const gap = text.indexOf("::");
  let words: number[];
  if (gap < 0) words = parse(text);
  else {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    words = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(words[i] ?? 0, offset + i * 2);
}

/** Canonical text (RFC 5952: lower case, longest zero run compressed). */
export function readIpv6(buf: Buffer, offset: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(offset + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function addressLength(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

export function writeIp(family: IpFamily, address: string, buf: Buffer, offset: number): void {
  if (family === 4) writeIpv4(address, buf, offset);
  else writeIpv6(address, buf, offset);
}

export function readIp(family: IpFamily, buf: Buffer, offset: number): string {
  return family === 4 ? readIpv4(buf, offset) : readIpv6(buf, offset);
}
