// Minimal pcap writer for tests: Ethernet/IPv4/TCP frames with a three-way handshake and correct
// sequence/acknowledgement numbers per direction, so tshark dissects the COPS payload in order.

interface Endpoint {
  ip: string;
  port: number;
  mac: Buffer;
}

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split(".").map(Number));
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export class PcapWriter {
  private readonly records: Buffer[] = [];
  private timeUs = 1_700_000_000_000_000;

  private frame(src: Endpoint, dst: Endpoint, seq: number, ack: number, flags: number, payload: Buffer): void {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(src.port, 0);
    tcp.writeUInt16BE(dst.port, 2);
    tcp.writeUInt32BE(seq >>> 0, 4);
    tcp.writeUInt32BE(ack >>> 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp.writeUInt16BE(65535, 14);
    const pseudo = Buffer.concat([ipBytes(src.ip), ipBytes(dst.ip), Buffer.from([0, 6]), Buffer.from([(20 + payload.length) >> 8, (20 + payload.length) & 0xff]), tcp, payload]);
    tcp.writeUInt16BE(checksum(pseudo), 16);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + payload.length, 2);
    ip.writeUInt16BE(0x4000, 6); // don't fragment
    ip[8] = 64;
    ip[9] = 6;
    ipBytes(src.ip).copy(ip, 12);
    ipBytes(dst.ip).copy(ip, 16);
    ip.writeUInt16BE(checksum(ip), 10);
    const eth = Buffer.concat([dst.mac, src.mac, Buffer.from([0x08, 0x00])]);
    const packet = Buffer.concat([eth, ip, tcp, payload]);
    const rec = Buffer.alloc(16);
    this.timeUs += 1000;
    rec.writeUInt32LE(Math.floor(this.timeUs / 1e6), 0);
    rec.writeUInt32LE(this.timeUs % 1e6, 4);
    rec.writeUInt32LE(packet.length, 8);
    rec.writeUInt32LE(packet.length, 12);
    this.records.push(rec, packet);
  }

  /** Opens a TCP connection (SYN, SYN-ACK, ACK) and returns a sender for each direction. */
  connection(client: { ip: string; port: number }, server: { ip: string; port: number }): TcpFlow {
    const c: Endpoint = { ...client, mac: Buffer.from([2, 0, 0, 0, 0, Number(client.ip.split(".")[3])]) };
    const s: Endpoint = { ...server, mac: Buffer.from([2, 0, 0, 0, 1, Number(server.ip.split(".")[3])]) };
    let cSeq = 1000;
    let sSeq = 5000;
    this.frame(c, s, cSeq, 0, 0x02, Buffer.alloc(0));
    this.frame(s, c, sSeq, cSeq + 1, 0x12, Buffer.alloc(0));
    cSeq++;
    sSeq++;
    this.frame(c, s, cSeq, sSeq, 0x10, Buffer.alloc(0));
    return {
      fromClient: (payload: Buffer) => {
        this.frame(c, s, cSeq, sSeq, 0x18, payload);
        cSeq += payload.length;
      },
      fromServer: (payload: Buffer) => {
        this.frame(s, c, sSeq, cSeq, 0x18, payload);
        sSeq += payload.length;
      },
    };
  }

  toBuffer(): Buffer {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    return Buffer.concat([header, ...this.records]);
  }
}

export interface TcpFlow {
  fromClient(payload: Buffer): void;
  fromServer(payload: Buffer): void;
}
