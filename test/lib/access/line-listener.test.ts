// The line listener against hostile lines on loopback: a line that lies (bad FCS, a frame past the limit), one
// that stops mid-frame, one that floods the listener with connections, one that never reads.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HdlcDeframer, encodeHdlcFrame } from "../../../protocols/pppoe/index.js";
import { LineListener } from "../../../lib/access/line-listener.js";

const listeners: LineListener[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const l of listeners.splice(0)) await l.stop();
});

interface Seen {
  frames: { line: number; frame: Buffer }[];
  drops: string[];
  refused: string[];
  opened: number[];
  closed: number[];
}

async function listen(options: Partial<Parameters<typeof LineListener.listen>[0]> = {}): Promise<{ listener: LineListener; seen: Seen }> {
  const seen: Seen = { frames: [], drops: [], refused: [], opened: [], closed: [] };
  const listener = await LineListener.listen({
    host: "127.0.0.1",
    port: 0,
    maxFrameBytes: 64,
    limits: { maxConnections: 3, maxConnectionsPerSource: 0, idleTimeoutMs: 0, headerTimeoutMs: 300, bodyTimeoutMs: 0 },
    onOpen: (line) => seen.opened.push(line),
    onFrame: (line, frame) => seen.frames.push({ line, frame }),
    onClose: (line) => seen.closed.push(line),
    onDrop: (cause) => seen.drops.push(cause),
    onRefuse: (cause) => seen.refused.push(cause),
    ...options,
  });
  listeners.push(listener);
  return { listener, seen };
}

async function dial(listener: LineListener): Promise<Socket> {
  const s = connect(listener.address.port, "127.0.0.1");
  sockets.push(s);
  s.on("error", () => undefined);
  await new Promise((r) => s.once("connect", r));
  return s;
}

const until = async (test: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("LineListener", () => {
  it("delivers well-framed PPP in any chunking and drops lies with a cause: bad FCS, a frame past maxFrameBytes", async () => {
    const { listener, seen } = await listen();
    const s = await dial(listener);
    const good = encodeHdlcFrame(Buffer.from("ff03c021010100080104", "hex"));
    const bad = Buffer.from(good);
    bad[bad.length - 2] ^= 0x01;
    const huge = encodeHdlcFrame(Buffer.alloc(200, 0x41));
    const stream = Buffer.concat([good, bad, huge, good]);
    for (let i = 0; i < stream.length; i += 3) s.write(stream.subarray(i, i + 3));
    await until(() => seen.frames.length === 2);
    expect(seen.frames.map((f) => f.frame.toString("hex"))).toEqual(["ff03c021010100080104", "ff03c021010100080104"]);
    expect(seen.drops).toEqual(["line-bad-fcs", "line-frame-too-large"]);
  });

  it("a line that stops mid-frame is closed after the frame deadline", async () => {
    const { listener, seen } = await listen();
    const s = await dial(listener);
    s.write(Buffer.from([0x7e, 0xff, 0x7d, 0x23, 0xc0]));
    await until(() => seen.closed.length === 1, 3000);
    expect(seen.refused).toEqual(["header-timeout"]);
  });

  it("lines past maxConnections are refused at once", async () => {
    const { listener, seen } = await listen();
    for (let i = 0; i < 5; i++) await dial(listener);
    await until(() => seen.refused.length === 2);
    expect(seen.refused).toEqual(["connection-cap", "connection-cap"]);
    expect(seen.opened).toHaveLength(3);
  });

  it("frames toward a line that does not read are dropped past maxQueuedBytes, not buffered without bound", async () => {
    const { listener, seen } = await listen({ maxQueuedBytes: 64 * 1024 });
    const s = await dial(listener);
    s.pause();
    await until(() => seen.opened.length === 1);
    const line = seen.opened[0]!;
    for (let i = 0; i < 20_000; i++) listener.send(line, Buffer.alloc(1000, 0x21));
    expect(seen.drops.filter((d) => d === "line-backpressure").length).toBeGreaterThan(15_000);
    // What was queued still arrives framed correctly once the line reads.
    const deframer = new HdlcDeframer({ maxFrameBytes: 2000 });
    let frames = 0;
    s.on("data", (c: Buffer) => {
      for (const r of deframer.push(c)) if (r.type === "frame") frames++;
    });
    s.resume();
    await until(() => frames >= 60, 10_000);
  });
});
