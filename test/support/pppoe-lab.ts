// PPPoE interop plumbing: network namespaces and veth pairs the test creates, pcap files of whole frames,
// tshark's reading of them, the PPPoE commands run inside a namespace, and an end user's line (TCP, HDLC-framed
// PPP driven by the PppLink client machine).
import { execFile, execFileSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { HdlcDeframer, PppLink, PppProtocol, decodeControlPacket, decodePapPacket, decodePppFrame, decodePppoeFrame, encodeHdlcFrame } from "../../protocols/pppoe/index.js";
import type { PppLinkAction, PppLinkEvent } from "../../protocols/pppoe/index.js";
import { startProcess, type RunningProcess } from "./cli-process.js";

export const run = promisify(execFile);

/** A veth pair: `near` in this namespace, `far` in `netns` (or here too when undefined), both up, no IPv6. */
export async function vethPair(near: string, far: string, netns?: string): Promise<void> {
  await run("ip", ["link", "add", near, "type", "veth", "peer", "name", far, ...(netns ? ["netns", netns] : [])]);
  await run("sysctl", ["-qw", `net.ipv6.conf.${near}.disable_ipv6=1`]);
  if (netns) await run("ip", ["netns", "exec", netns, "sysctl", "-qw", `net.ipv6.conf.${far}.disable_ipv6=1`]);
  else await run("sysctl", ["-qw", `net.ipv6.conf.${far}.disable_ipv6=1`]);
  await run("ip", ["link", "set", near, "up"]);
  await run("ip", [...(netns ? ["-n", netns] : []), "link", "set", far, "up"]);
}

export function macOf(ifname: string, netns?: string): string {
  if (!netns) return readFileSync(`/sys/class/net/${ifname}/address`, "utf8").trim();
  return execFileSync("ip", ["netns", "exec", netns, "cat", `/sys/class/net/${ifname}/address`], { encoding: "utf8" }).trim();
}

/** pcap (LINKTYPE_ETHERNET) of whole frames, in order. */
export function pcapOf(frames: Buffer[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const records = frames.flatMap((frame, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return [rec, frame];
  });
  return Buffer.concat([header, ...records]);
}

/** The frames of a classic pcap file (either byte order, microsecond or nanosecond). */
export function framesOfPcap(file: string): Buffer[] {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const frames: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const len = u32(off + 8);
    frames.push(buf.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return frames;
}

/** tshark's fields of every frame (first occurrence each), "" where absent. */
export function tsharkFields(pcap: string, fields: string[], filter?: string): string[][] {
  const out = execFileSync("tshark", ["-r", pcap, ...(filter ? ["-Y", filter] : []), "-T", "fields", "-E", "separator=|", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f])], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  return out.trim() === "" ? [] : out.trim().split("\n").map((line) => line.split("|"));
}

/** Frames tshark flags as malformed or with an expert error. */
export function flaggedFrames(pcap: string): string {
  return execFileSync("tshark", ["-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).trim();
}

/** `callgate COMMAND` from the sources, run inside `netns`. */
export function spawnCliInNetns(netns: string, command: string, args: string[]): RunningProcess {
  const script = `import('./lib/cli/commands/${command}.ts').then((m) => m.run(process.argv.slice(1))).then((c) => { process.exitCode = c; });`;
  return startProcess("ip", ["netns", "exec", netns, process.execPath, "--import", "tsx", "-e", script, "--", ...args], `callgate ${command} in ${netns}`);
}

/** The JSON object a command printed on its "ready" line. */
export function readyLine(proc: RunningProcess): Record<string, unknown> {
  const line = proc.stdout().split("\n").find((l) => l.startsWith('{"ready":true'));
  if (!line) throw new Error(`no ready line in:\n${proc.output()}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Drives a PppLink over a byte stream with HDLC-like framing; timers on setTimeout. */
export class HdlcPppEndpoint {
  readonly events: PppLinkEvent[] = [];
  readonly received: Buffer[] = [];
  private readonly deframer = new HdlcDeframer();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(
    readonly link: PppLink,
    private readonly write: (bytes: Buffer) => void,
  ) {}

  start(): void {
    this.apply(this.link.handle({ type: "open" }));
  }

  /** Bytes from the line, in any chunking. */
  push(chunk: Buffer): void {
    for (const r of this.deframer.push(chunk)) if (r.type === "frame") this.apply(this.link.handle({ type: "frame", bytes: r.frame }));
  }

  apply(actions: PppLinkAction[]): void {
    for (const a of actions) {
      if (a.type === "send") this.write(encodeHdlcFrame(Buffer.concat([Buffer.from([0xff, 0x03]), a.frame])));
      else if (a.type === "set-timer") {
        clearTimeout(this.timers.get(a.name));
        this.timers.set(
          a.name,
          setTimeout(() => this.apply(this.link.handle({ type: "timer", name: a.name })), a.delayMs),
        );
      } else if (a.type === "cancel-timer") clearTimeout(this.timers.get(a.name));
      else {
        this.events.push(a.event);
        if (a.event.type === "ip") this.received.push(a.event.packet);
      }
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves when `test` holds (checked after every action batch); rejects after `ms`. */
  until(test: () => boolean, ms: number, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; events ${JSON.stringify(this.events.map((e) => e.type))}`)), ms);
      this.waiters.push({
        test,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  sendIp(packet: Buffer): void {
    const frame = this.link.ipFrame(packet);
    if (!frame) throw new Error("IPCP is not open");
    this.apply([{ type: "send", frame }]);
  }

  stopTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
  }
}

/** An end user's line to a concentrator: one TCP connection, PPP client inside. */
export class LineClient extends HdlcPppEndpoint {
  closed = false;
  private constructor(
    link: PppLink,
    readonly socket: Socket,
  ) {
    super(link, (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    socket.on("data", (chunk: Buffer) => this.push(chunk));
    socket.on("error", () => undefined);
    socket.once("close", () => {
      this.closed = true;
      this.stopTimers();
      this.apply([]);
    });
  }

  static async dial(host: string, port: number, username: string, password: string, magic: number): Promise<LineClient> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    const client = new LineClient(new PppLink({ role: "client", username, password, magic, restartMs: 2000, maxConfigure: 20 }), socket);
    client.start();
    return client;
  }

  hangUp(): void {
    this.socket.destroy();
  }
}

/** An IPv4/UDP datagram (checksums zero: nobody checks them on this path) carrying `payload`. */
export function udpDatagram(src: string, dst: string, payload: Buffer): Buffer {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split(".").map(Number)).copy(p, 12);
  Buffer.from(dst.split(".").map(Number)).copy(p, 16);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(7, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  // IPv4 header checksum (RFC 791 §3.1), so tshark finds the datagram well formed.
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
  return p;
}

/** The tshark fields `ourPppoeFields` gives for each frame, in this order. */
export const TSHARK_PPPOE_FIELDS = [
  "pppoe.code",
  "pppoe.session_id",
  "pppoed.tags.ac_name",
  "ppp.protocol",
  "ppp.code",
  "ppp.identifier",
  "pap.code",
  "pap.peer_id",
  "lcp.opt.mru",
  "ipcp.opt.ip_address",
  "ip.src",
  "ip.dst",
];

/** Each frame as our decoders read it, in tshark's notation for TSHARK_PPPOE_FIELDS ("" where absent). */
export function ourPppoeFields(frames: Buffer[]): string[][] {
  const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, "0")}`;
  return frames.map((bytes) => {
    const p = decodePppoeFrame(bytes).packet;
    const row = [hex(p.kind === "session" ? 0 : { PADI: 9, PADO: 7, PADR: 0x19, PADS: 0x65, PADT: 0xa7 }[p.code], 2), hex(p.sessionId, 4), "", "", "", "", "", "", "", "", "", ""];
    if (p.kind === "discovery") {
      const ac = p.tags.find((t) => t.type === "ac-name");
      row[2] = ac?.type === "ac-name" ? ac.name : "";
      return row;
    }
    const ppp = decodePppFrame(p.payload);
    row[3] = hex(ppp.protocol, 4);
    if (ppp.protocol === PppProtocol.lcp || ppp.protocol === PppProtocol.ipcp) {
      const c = decodeControlPacket(ppp.information, ppp.protocol === PppProtocol.lcp ? "lcp" : "ipcp");
      row[4] = String(ppp.information[0]);
      row[5] = String(c.identifier);
      if (c.code === "configure-request" || c.code === "configure-ack" || c.code === "configure-nak") {
        const mru = c.options.find((o) => o.type === 1);
        if (ppp.protocol === PppProtocol.lcp && mru) row[8] = String(mru.data.readUInt16BE(0));
        const ip = c.options.find((o) => o.type === 3);
        if (ppp.protocol === PppProtocol.ipcp && ip) row[9] = [...ip.data].join(".");
      }
    } else if (ppp.protocol === PppProtocol.pap) {
      const pap = decodePapPacket(ppp.information);
      row[6] = String(ppp.information[0]);
      if (pap.code === "authenticate-request") row[7] = pap.peerId.toString();
    } else if (ppp.protocol === PppProtocol.ipv4) {
      row[10] = [...ppp.information.subarray(12, 16)].join(".");
      row[11] = [...ppp.information.subarray(16, 20)].join(".");
    }
    return row;
  });
}
