// The OSP HTTP server under its connection limits: a slow head or body gets 408 at its deadline (not after
// node's minutes), a declared body over the bound gets 413 at once, garbage gets 400, and the caps hold.
import { createConnection, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ConnectionLimits } from "../../../protocols/net/connection-limits.js";
import { startOspHttpServer, type OspHttpServer } from "../../../protocols/osp/http-server.js";

const open: OspHttpServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function server(connectionLimits: Partial<ConnectionLimits>): Promise<{ port: number; drops: string[] }> {
  const drops: string[] = [];
  const s = await startOspHttpServer({
    url: "http://127.0.0.1:0/osp",
    handler: async (body) => Buffer.from(`echo ${body.length}`),
    connectionLimits,
    onDrop: (cause) => drops.push(cause),
  });
  open.push(s);
  return { port: Number(new URL(s.url).port), drops };
}

/** A raw connection: what it receives, and a promise of its closing. */
async function raw(port: number, localAddress = "127.0.0.1"): Promise<{ socket: Socket; text: () => string; closed: Promise<void>; isClosed: () => boolean }> {
  const socket = createConnection({ host: "127.0.0.1", port, localAddress });
  sockets.push(socket);
  let got = "";
  let done = false;
  socket.on("data", (d) => (got += d.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => ((done = true), r())));
  await new Promise<void>((r, j) => (socket.once("connect", () => r()), socket.once("error", j)));
  return { socket, text: () => got, closed, isClosed: () => done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEAD = "POST /osp HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n";

describe("OSP HTTP server limits", () => {
  it("answers a whole request, and keeps the connection for the next", async () => {
    const { port } = await server({ headerTimeoutMs: 500, bodyTimeoutMs: 500 });
    const c = await raw(port);
    c.socket.write(`${HEAD}Content-Length: 5\r\n\r\nhello`);
    await sleep(200);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*echo 5$/);
    expect(c.isClosed()).toBe(false);
  });

  it("a body that stops coming gets 408 by the body deadline", async () => {
    const { port, drops } = await server({ headerTimeoutMs: 300, bodyTimeoutMs: 300, idleTimeoutMs: 30_000 });
    const c = await raw(port);
    c.socket.write(`${HEAD}Content-Length: 100\r\n\r\nonly some`);
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 408/);
    expect(drops).toContain("body-timeout");
  });

  it("a head dripping a byte at a time gets 408 by the header deadline", async () => {
    const { port, drops } = await server({ headerTimeoutMs: 300, bodyTimeoutMs: 300, idleTimeoutMs: 30_000 });
    const c = await raw(port);
    let i = 0;
    const drip = setInterval(() => c.isClosed() || c.socket.write(HEAD[i++ % HEAD.length]!), 30);
    try {
      await c.closed;
    } finally {
      clearInterval(drip);
    }
    expect(c.text()).toMatch(/^HTTP\/1\.1 408/);
    expect(drops).toContain("header-timeout");
  });

  it("a declared body over the bound gets 413 before it is sent; garbage gets 400", async () => {
    const { port, drops } = await server({});
    const big = await raw(port);
    big.socket.write(`${HEAD}Content-Length: 100000000\r\n\r\n`);
    await big.closed;
    expect(big.text()).toMatch(/^HTTP\/1\.1 413/);
    const junk = await raw(port);
    junk.socket.write("\x16\x03\x01 not http at all\r\n\r\n");
    await junk.closed;
    expect(junk.text()).toMatch(/^HTTP\/1\.1 400/);
    expect(drops).toEqual(["body-too-large", "bad-request"]);
  });

  it("caps connections per source and closes idle ones", async () => {
    const { port, drops } = await server({ maxConnectionsPerSource: 2, idleTimeoutMs: 400 });
    const a = await Promise.all([raw(port), raw(port), raw(port)]);
    await sleep(100);
    expect(a.filter((c) => c.isClosed())).toHaveLength(1);
    const other = await raw(port, "127.0.0.2");
    await Promise.all([...a.map((c) => c.closed), other.closed]);
    expect(drops.filter((d) => d === "source-cap")).toHaveLength(1);
    expect(drops.filter((d) => d === "idle-timeout")).toHaveLength(3);
  });
});
