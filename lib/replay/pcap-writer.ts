// Writes a record stream as a classic pcap file (Ethernet / IPv4 / UDP or TCP) so Wireshark and tshark dissect it:
// SIP on 5060 (UDP or TCP), COPS on TCP 3288 (RFC 2748 §2: the PEP connects to the PDP), OSP as HTTP/1.1 on
// TCP 5045 (the OSP toolkit's test port), RADIUS on UDP 1812 / 1813 (RFC 2865 §3, RFC 2866 §3).
// One address per role; nothing is sent anywhere, the packets only exist in the file.
import type { MessageRecord } from "../drivers/message-record.js";
import { REFERENCE_ROLE_ORDER } from "./roles.js";

export class PcapWriteError extends Error {
  constructor(
    readonly code: "datagram-too-large" | "too-many-roles",
    readonly recordIndex: number,
    message: string,
  ) {
    super(message);
    this.name = "PcapWriteError";
  }
}

export const WELL_KNOWN_PORTS = { sip: 5060, cops: 3288, osp: 5045, radiusAuth: 1812, radiusAcct: 1813 } as const;

export interface PcapOptions {
  /** Wall-clock time of t = 0 in ms since the epoch (default 2026-01-01T00:00:00Z, so a file is reproducible). */
  baseTimeMs?: number;
  /** "documentation": 192.0.2.x (RFC 5737, default); "loopback": 127.0.0.x. */
  addressing?: "documentation" | "loopback";
  /** Transport for SIP records that carry none (default "udp"). */
  sipTransport?: "udp" | "tcp";
  /** HTTP request path for wrapped OSP requests (default "/osp"). */
  ospPath?: string;
}

const TCP_MSS = 1460;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;

/** IPv4 address of each role: reference roles first (x.x.x.10 UAC ... x.x.x.18 UAS), others after. */
export function roleAddresses(roles: Iterable<string>, addressing: "documentation" | "loopback" = "documentation"): Map<string, string> {
  const prefix = addressing === "loopback" ? "127.0.0." : "192.0.2.";
  const first = addressing === "loopback" ? 1 : 10;
  const map = new Map<string, string>();
  REFERENCE_ROLE_ORDER.forEach((role, i) => map.set(role, `${prefix}${first + i}`));
  let next = first + REFERENCE_ROLE_ORDER.length;
  for (const role of roles) if (!map.has(role)) map.set(role, `${prefix}${next++}`);
  return map;
}

interface TcpConnection {
  client: string;
  server: string;
  clientPort: number;
  serverPort: number;
  /** Next sequence number each side sends. */
  nextSeq: Map<string, number>;
}

interface Flow {
  transport: "udp" | "tcp";
  srcPort: number;
  dstPort: number;
  connection?: TcpConnection;
  payload: Buffer;
}

export function writePcap(records: readonly MessageRecord[], options: PcapOptions = {}): Buffer {
  const writer = new PcapBuilder(options.baseTimeMs ?? Date.UTC(2026, 0, 1));
  const roles = new Set<string>();
  for (const r of records) roles.add(r.from).add(r.to);
  const addresses = roleAddresses(roles, options.addressing);
  if ([...addresses.values()].some((a) => Number(a.split(".")[3]) > 254)) throw new PcapWriteError("too-many-roles", -1, "more roles than addresses in the /24");
  const ip = (role: string): string => addresses.get(role) as string;
  const connections = new Map<string, TcpConnection>();
  const radiusClients = new Map<string, { client: string; port: number }>();
  let ephemeral = 40000;

  const connectionFor = (kind: string, a: string, b: string, server: string, serverPort: number): TcpConnection => {
    const key = `${kind}|${[a, b].sort().join("|")}`;
    let c = connections.get(key);
    if (!c) {
      const client = server === a ? b : a;
      c = { client, server, clientPort: ephemeral++, serverPort, nextSeq: new Map() };
      connections.set(key, c);
      // Deterministic initial sequence numbers (RFC 9293 §3.4.1 asks for unpredictable ones on a live stack).
      c.nextSeq.set(client, isn(key, 1));
      c.nextSeq.set(server, isn(key, 2));
      writer.handshake(c, ip);
    }
    return c;
  };

  records.forEach((r, index) => {
    writer.at(r.t);
    const flow = flowFor(r);
    if (flow.transport === "udp") {
      if (flow.payload.length > 65507) throw new PcapWriteError("datagram-too-large", index, `record ${index} (${r.proto} ${r.msg}): ${flow.payload.length} bytes do not fit a UDP datagram`);
      writer.udp(ip(r.from), ip(r.to), flow.srcPort, flow.dstPort, flow.payload);
    } else {
      writer.tcpData(flow.connection as TcpConnection, r.from, ip, flow.payload);
    }
  });
  for (const c of connections.values()) writer.close(c, ip);
  return writer.toBuffer();

  function flowFor(r: MessageRecord): Flow {
    switch (r.proto) {
      case "SIP": {
        const transport = r.transport?.kind === "tcp" ? "tcp" : r.transport?.kind === "udp" ? "udp" : (options.sipTransport ?? "udp");
        if (transport === "udp") return { transport, srcPort: WELL_KNOWN_PORTS.sip, dstPort: WELL_KNOWN_PORTS.sip, payload: r.bytes };
        const c = connectionFor("sip", r.from, r.to, serverOf("sip", r), WELL_KNOWN_PORTS.sip);
        return tcpFlow(c, r);
      }
      case "COPS": {
        // RFC 2748 §2.3: the PEP (proxy or router) opens the TCP connection to the PDP (policy server).
        const c = connectionFor("cops", r.from, r.to, serverOf("cops", r), WELL_KNOWN_PORTS.cops);
        return tcpFlow(c, r);
      }
      case "OSP": {
        const c = connectionFor("osp", r.from, r.to, serverOf("osp", r), WELL_KNOWN_PORTS.osp);
        const flow = tcpFlow(c, r);
        return { ...flow, payload: ospOverHttp(r.bytes, r.from === c.client, ip(c.server), options.ospPath ?? "/osp") };
      }
      case "RADIUS": {
        // RFC 2865 §3 / RFC 2866 §3: Access-* on 1812, Accounting-* on 1813.
        const code = r.bytes[0] ?? 1;
        const servicePort = code === 4 || code === 5 ? WELL_KNOWN_PORTS.radiusAcct : WELL_KNOWN_PORTS.radiusAuth;
        const isRequest = code === 1 || code === 4 || code === 12;
        const key = [r.from, r.to].sort().join("|");
        let peer = radiusClients.get(key);
        if (!peer) {
          peer = { client: isRequest ? r.from : r.to, port: ephemeral++ };
          radiusClients.set(key, peer);
        }
        return r.from === peer.client
          ? { transport: "udp", srcPort: peer.port, dstPort: servicePort, payload: r.bytes }
          : { transport: "udp", srcPort: servicePort, dstPort: peer.port, payload: r.bytes };
      }
      default:
        return { transport: "udp", srcPort: ephemeral, dstPort: ephemeral, payload: r.bytes };
    }
  }

  function tcpFlow(c: TcpConnection, r: MessageRecord): Flow {
    return r.from === c.client
      ? { transport: "tcp", srcPort: c.clientPort, dstPort: c.serverPort, connection: c, payload: r.bytes }
      : { transport: "tcp", srcPort: c.serverPort, dstPort: c.clientPort, connection: c, payload: r.bytes };
  }

  /** Which end listens: the policy server for COPS, the clearinghouse for OSP, else whoever got the first message. */
  function serverOf(kind: string, r: MessageRecord): string {
    const known = connections.get(`${kind}|${[r.from, r.to].sort().join("|")}`);
    if (known) return known.server;
    if (kind === "cops") {
      const pdp = [r.from, r.to].filter((role) => /^POL/i.test(role));
      if (pdp.length === 1) return pdp[0] as string;
    }
    if (kind === "osp" && (r.from === "CH" || r.to === "CH")) return "CH";
    return r.to;
  }
}

/** OSP bodies travel as HTTP/1.1 POST and its response (TS 101 321 transport); bytes already framed pass unchanged. */
export function ospOverHttp(bytes: Buffer, isRequest: boolean, host: string, path: string): Buffer {
  const head = bytes.subarray(0, 8).toString("latin1");
  if (/^(POST|GET|PUT) /.test(head) || head.startsWith("HTTP/1.")) return bytes;
  const type = bytes[0] === 0x3c /* < */ || head.startsWith("\ufeff") ? "text/xml; charset=utf-8" : "application/octet-stream";
  const start = isRequest ? `POST ${path} HTTP/1.1\r\nHost: ${host}:${WELL_KNOWN_PORTS.osp}\r\n` : "HTTP/1.1 200 OK\r\n";
  const headers = `${start}Content-Type: ${type}\r\nContent-Length: ${bytes.length}\r\nConnection: Keep-Alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(headers, "latin1"), bytes]);
}

function isn(key: string, salt: number): number {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

class PcapBuilder {
  private readonly chunks: Buffer[] = [];
  private lastMicros = -1;
  private nowMicros = 0;
  private ipId = 1;

  constructor(private readonly baseTimeMs: number) {
    // pcap global header: magic, version 2.4, thiszone, sigfigs, snaplen, LINKTYPE_ETHERNET.
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(262144, 16);
    header.writeUInt32LE(1, 20);
    this.chunks.push(header);
  }

  at(tMs: number): void {
    this.nowMicros = Math.round((this.baseTimeMs + tMs) * 1000);
  }

  udp(src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer): void {
    const udp = Buffer.alloc(8 + payload.length);
    udp.writeUInt16BE(srcPort, 0);
    udp.writeUInt16BE(dstPort, 2);
    udp.writeUInt16BE(udp.length, 4);
    payload.copy(udp, 8);
    // RFC 768: checksum over the pseudo header; a computed 0 is sent as all ones.
    const sum = transportChecksum(src, dst, IPPROTO_UDP, udp);
    udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
    this.ipv4(src, dst, IPPROTO_UDP, udp);
  }

  handshake(c: TcpConnection, ip: (role: string) => string): void {
    const clientIsn = c.nextSeq.get(c.client) as number;
    const serverIsn = c.nextSeq.get(c.server) as number;
    const mss = Buffer.from([2, 4, TCP_MSS >> 8, TCP_MSS & 0xff]);
    this.tcp(ip(c.client), ip(c.server), c.clientPort, c.serverPort, clientIsn, 0, TCP_SYN, Buffer.alloc(0), mss);
    this.tcp(ip(c.server), ip(c.client), c.serverPort, c.clientPort, serverIsn, (clientIsn + 1) >>> 0, TCP_SYN | TCP_ACK, Buffer.alloc(0), mss);
    this.tcp(ip(c.client), ip(c.server), c.clientPort, c.serverPort, (clientIsn + 1) >>> 0, (serverIsn + 1) >>> 0, TCP_ACK, Buffer.alloc(0));
    c.nextSeq.set(c.client, (clientIsn + 1) >>> 0);
    c.nextSeq.set(c.server, (serverIsn + 1) >>> 0);
  }

  tcpData(c: TcpConnection, sender: string, ip: (role: string) => string, payload: Buffer): void {
    const receiver = sender === c.client ? c.server : c.client;
    const [srcPort, dstPort] = sender === c.client ? [c.clientPort, c.serverPort] : [c.serverPort, c.clientPort];
    for (let offset = 0; offset < payload.length || offset === 0; offset += TCP_MSS) {
      const segment = payload.subarray(offset, offset + TCP_MSS);
      const seq = c.nextSeq.get(sender) as number;
      const last = offset + TCP_MSS >= payload.length;
      this.tcp(ip(sender), ip(receiver), srcPort, dstPort, seq, c.nextSeq.get(receiver) as number, TCP_ACK | (last ? TCP_PSH : 0), segment);
      c.nextSeq.set(sender, (seq + segment.length) >>> 0);
      if (payload.length === 0) break;
    }
  }

  /** Orderly release (RFC 9293 §3.6): FIN from the client, FIN from the server, last ACK. */
  close(c: TcpConnection, ip: (role: string) => string): void {
    const cs = c.nextSeq.get(c.client) as number;
    const ss = c.nextSeq.get(c.server) as number;
    this.tcp(ip(c.client), ip(c.server), c.clientPort, c.serverPort, cs, ss, TCP_FIN | TCP_ACK, Buffer.alloc(0));
    this.tcp(ip(c.server), ip(c.client), c.serverPort, c.clientPort, ss, (cs + 1) >>> 0, TCP_FIN | TCP_ACK, Buffer.alloc(0));
    this.tcp(ip(c.client), ip(c.server), c.clientPort, c.serverPort, (cs + 1) >>> 0, (ss + 1) >>> 0, TCP_ACK, Buffer.alloc(0));
  }

  private tcp(src: string, dst: string, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Buffer, options: Buffer = Buffer.alloc(0)): void {
    const headerLength = 20 + options.length;
    const segment = Buffer.alloc(headerLength + payload.length);
    segment.writeUInt16BE(srcPort, 0);
    segment.writeUInt16BE(dstPort, 2);
    segment.writeUInt32BE(seq >>> 0, 4);
    segment.writeUInt32BE(ack >>> 0, 8);
    segment[12] = (headerLength / 4) << 4;
    segment[13] = flags;
    segment.writeUInt16BE(65535, 14);
    options.copy(segment, 20);
    payload.copy(segment, headerLength);
    segment.writeUInt16BE(transportChecksum(src, dst, IPPROTO_TCP, segment), 16);
    this.ipv4(src, dst, IPPROTO_TCP, segment);
  }

  private ipv4(src: string, dst: string, protocol: number, payload: Buffer): void {
    // RFC 791 §3.1: version 4, IHL 5, DF set, TTL 64, header checksum.
    const header = Buffer.alloc(20);
    header[0] = 0x45;
    header.writeUInt16BE(20 + payload.length, 2);
    header.writeUInt16BE(this.ipId++ & 0xffff, 4);
    header.writeUInt16BE(0x4000, 6);
    header[8] = 64;
    header[9] = protocol;
    ipBytes(src).copy(header, 12);
    ipBytes(dst).copy(header, 16);
    header.writeUInt16BE(onesComplement(sum16(header, 0)), 10);
    const ethernet = Buffer.alloc(14);
    macFor(dst).copy(ethernet, 0);
    macFor(src).copy(ethernet, 6);
    ethernet.writeUInt16BE(ETHERTYPE_IPV4, 12);
    this.frame(Buffer.concat([ethernet, header, payload]));
  }

  private frame(bytes: Buffer): void {
    const micros = Math.max(this.nowMicros, this.lastMicros + 1);
    this.lastMicros = micros;
    const record = Buffer.alloc(16);
    record.writeUInt32LE(Math.floor(micros / 1e6), 0);
    record.writeUInt32LE(micros % 1e6, 4);
    record.writeUInt32LE(bytes.length, 8);
    record.writeUInt32LE(bytes.length, 12);
    this.chunks.push(record, bytes);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function ipBytes(address: string): Buffer {
  return Buffer.from(address.split(".").map((part) => Number(part)));
}

/** Locally administered MAC derived from the IPv4 address. */
function macFor(address: string): Buffer {
  return Buffer.concat([Buffer.from([0x02, 0x00]), ipBytes(address)]);
}

function sum16(bytes: Buffer, initial: number): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes.readUInt16BE(i);
  if (bytes.length % 2) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function onesComplement(sum: number): number {
  return ~sum & 0xffff;
}

/** RFC 793 §3.1 / RFC 768: checksum over the IPv4 pseudo header and the segment. */
function transportChecksum(src: string, dst: string, protocol: number, segment: Buffer): number {
  const pseudo = Buffer.alloc(12);
  ipBytes(src).copy(pseudo, 0);
  ipBytes(dst).copy(pseudo, 4);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(segment.length, 10);
  return onesComplement(sum16(segment, sum16(pseudo, 0)));
}
