// Loopback peers for transport tests: a raw UDP endpoint, a raw TCP endpoint, messages as text.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { parseSipMessage, SipStreamParser, type SipMessage } from "../../../../protocols/sip/index.js";

let seq = 0;
export function optionsText(opts: { port: number; transport?: string; sentBy?: string; rport?: boolean; uriPort: number; body?: string }): string {
  seq++;
  const body = opts.body ?? "";
  return [
    `OPTIONS sip:ping@127.0.0.1:${opts.uriPort} SIP/2.0`,
    `Via: SIP/2.0/${opts.transport ?? "UDP"} ${opts.sentBy ?? `127.0.0.1:${opts.port}`};branch=z9hG4bKt${seq}x${Date.now()}${opts.rport ? ";rport" : ""}`,
    `Max-Forwards: 70`,
    `From: <sip:tester@example.com>;tag=f${seq}`,
    `To: <sip:ping@example.com>`,
    `Call-ID: opt-${seq}-${Date.now()}@example.com`,
    `CSeq: 1 OPTIONS`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    ``,
    body,
  ].join("\r\n");
}

export class UdpPeer {
  readonly socket: UdpSocket = createSocket("udp4");
  readonly received: SipMessage[] = [];
  private waiters: (() => void)[] = [];
  async bind(port = 0): Promise<number> {
    this.socket.on("message", (d) => {
      try {
        this.received.push(parseSipMessage(d));
      } catch {
        // not SIP
      }
      for (const w of this.waiters.splice(0)) w();
    });
    await new Promise<void>((r) => this.socket.bind(port, "127.0.0.1", () => r()));
    return this.socket.address().port;
  }
  send(text: string | Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(typeof text === "string" ? Buffer.from(text) : text, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
  }
  async waitFor(pred: (m: SipMessage) => boolean, ms = 5000): Promise<SipMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error("timed out waiting for a SIP message");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/** A TCP SIP endpoint that records what it receives on any connection. */
export class TcpPeer {
  readonly server: Server;
  readonly received: SipMessage[] = [];
  connections = 0;
  readonly sockets: Socket[] = [];
  constructor() {
    this.server = createServer((s) => {
      this.connections++;
      this.sockets.push(s);
      const parser = new SipStreamParser();
      s.on("data", (d) => {
        try {
          this.received.push(...parser.push(d));
        } catch {
          s.destroy();
        }
      });
      s.on("error", () => undefined);
    });
  }
  async listen(port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen(port, "127.0.0.1", () => r()));
    const a = this.server.address();
    return typeof a === "object" && a ? a.port : 0;
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Opens a client TCP connection; resolves with the socket and a promise of its closing. */
export async function tcpClient(port: number): Promise<{ socket: Socket; closed: Promise<void>; messages: SipMessage[] }> {
  const socket = createConnection({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const messages: SipMessage[] = [];
  const parser = new SipStreamParser();
  socket.on("data", (d) => {
    try {
      messages.push(...parser.push(d));
    } catch {
      // ignore
    }
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  return { socket, closed, messages };
}

export async function eventually(pred: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
