// Fuzzes a running proxy over real loopback sockets with mutated RFC 4475 messages and random bytes, over
// UDP and TCP; afterwards the process must still be up and answer a valid OPTIONS on both transports.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startProxyServer, type SipResponse } from "../../../../protocols/sip/index.js";
import { UdpPeer, eventually, optionsText, tcpClient } from "./loopback-fixtures.js";
import { randomBytes, seededRandom } from "../../../support/seeded-random.js";

const CORPUS_DIR = join(process.cwd(), "..", "shared", "corpora", "rfc4475");

function loadCorpus(): Buffer[] {
  const out: Buffer[] = [];
  for (const sub of ["valid", "invalid"]) {
    const dir = join(CORPUS_DIR, sub);
    for (const f of readdirSync(dir)) if (f.endsWith(".dat")) out.push(readFileSync(join(dir, f)));
  }
  return out;
}

function mutate(input: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(input);
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rand() * Math.max(1, b.length));
    switch (Math.floor(rand() * 6)) {
      case 0: // flip a byte
        if (b.length) b[pos] = Math.floor(rand() * 256);
        break;
      case 1: // delete a range
        b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + Math.floor(rand() * 40)))]);
        break;
      case 2: // duplicate a range
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + 1 + Math.floor(rand() * 80)), b.subarray(pos)]);
        break;
      case 3: // insert random bytes
        b = Buffer.concat([b.subarray(0, pos), randomBytes(rand, 1 + Math.floor(rand() * 16)), b.subarray(pos)]);
        break;
      case 4: // truncate
        b = b.subarray(0, pos);
        break;
      default: // swap a digit run for a huge number
        b = Buffer.from(b.toString("latin1").replace(/\d+/, String(Math.floor(rand() * 1e12))), "latin1");
    }
  }
  return b;
}

const loopbackOnly = (d: { host: string }) => d.host === "127.0.0.1" || d.host === "::1";

describe("listener fuzz over loopback sockets", () => {
  it("survives mutated corpus datagrams and streams, then answers OPTIONS over UDP and TCP", async () => {
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThan(40);
    const sink = new UdpPeer(); // next hop that never answers
    const sinkPort = await sink.bind();
    const server = await startProxyServer({
      listen: [
        { protocol: "udp", host: "127.0.0.1", port: 0 },
        { protocol: "tcp", host: "127.0.0.1", port: 0 },
      ],
      hook: (ctx) => (ctx.method === "OPTIONS" ? { action: "respond", status: 200 } : { action: "forward", targets: [{ nextHop: { protocol: "udp", host: "127.0.0.1", port: sinkPort } }] }),
      allowDestination: loopbackOnly,
    });
    const udpPort = server.addresses.find((a) => a.protocol === "udp")!.port;
    const tcpPort = server.addresses.find((a) => a.protocol === "tcp")!.port;
    const peer = new UdpPeer();
    const peerPort = await peer.bind();
    try {
      const rand = seededRandom(0x5eed);
      // UDP: 4000 datagrams, mostly mutated corpus, some pure noise; paced so the kernel buffer keeps up.
      for (let i = 0; i < 4000; i++) {
        const base = corpus[Math.floor(rand() * corpus.length)]!;
        const data = i % 10 === 0 ? randomBytes(rand, Math.floor(rand() * 600)) : mutate(base, rand);
        await peer.send(data.subarray(0, 60_000), udpPort);
        if (i % 50 === 49) {
          // Let the listener drain the socket so the kernel does not drop the rest unseen.
          const seen = () => server.transport.stats.received + server.transport.stats.malformedDatagrams;
          await eventually(() => seen() >= i - 60, 2000).catch(() => undefined);
        }
      }
      // TCP: 150 connections, each writing a few mutated messages in random-sized chunks.
      for (let c = 0; c < 150; c++) {
        const client = await tcpClient(tcpPort);
        const stream = Buffer.concat(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => mutate(corpus[Math.floor(rand() * corpus.length)]!, rand)));
        for (let off = 0; off < stream.length; ) {
          const len = 1 + Math.floor(rand() * 300);
          client.socket.write(stream.subarray(off, off + len));
          off += len;
        }
        client.socket.end();
        await Promise.race([client.closed, new Promise((r) => setTimeout(r, 50))]);
        client.socket.destroy();
      }
      const stats = server.transport.stats;
      expect(stats.received + stats.malformedDatagrams).toBeGreaterThan(0);
      // Most datagrams reached the parser (not lost in the socket buffer); many were refused as malformed.
      expect(stats.received + stats.malformedDatagrams).toBeGreaterThan(3000);
      expect(stats.malformedDatagrams).toBeGreaterThan(300);
      expect(stats.malformedStreams).toBeGreaterThan(20);
      // Still alive and serving: a valid OPTIONS over UDP and over TCP.
      peer.received.length = 0;
      await peer.send(optionsText({ port: peerPort, uriPort: udpPort }), udpPort);
      const r = (await peer.waitFor((m) => "status" in m && m.status === 200 && m.cseq.method === "OPTIONS")) as SipResponse;
      expect(r.status).toBe(200);
      const c = await tcpClient(tcpPort);
      c.socket.write(optionsText({ port: 1, transport: "TCP", uriPort: tcpPort }));
      await eventually(() => c.messages.some((m) => "status" in m && m.status === 200));
      c.socket.destroy();
    } finally {
      await server.close();
      await peer.close();
      await sink.close();
    }
  });
});
