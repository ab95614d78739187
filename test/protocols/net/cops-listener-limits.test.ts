// The COPS PDP listener under its connection limits: a header or a message that stops half-way is closed at
// its deadline, an idle connection at the idle timeout, connections past the per-source cap at once; a PEP
// that speaks whole messages stays connected.
import { createConnection, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ClientType, CopsPdpConnection, encodeCopsMessage, listenCopsPdp } from "../../../protocols/cops/index.js";
import type { ConnectionLimits, ConnectionRefusal } from "../../../protocols/net/connection-limits.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pdp(connectionLimits: Partial<ConnectionLimits>): Promise<{ port: number; refused: ConnectionRefusal[] }> {
  const refused: ConnectionRefusal[] = [];
  const server = await listenCopsPdp(
    { port: 0, connectionLimits, onRefuse: (cause) => refused.push(cause), createMachine: () => new CopsPdpConnection({ clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30 }) },
    () => undefined,
  );
  cleanups.push(() => server.close());
  return { port: server.port, refused };
}

async function raw(port: number, localAddress = "127.0.0.1"): Promise<{ socket: Socket; closed: Promise<void>; isClosed: () => boolean }> {
  const socket = createConnection({ host: "127.0.0.1", port, localAddress });
  cleanups.push(() => void socket.destroy());
  let done = false;
  socket.on("error", () => undefined);
  socket.on("data", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => ((done = true), r())));
  await new Promise<void>((r, j) => (socket.once("connect", () => r()), socket.once("error", j)));
  return { socket, closed, isClosed: () => done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("COPS listener limits", () => {
  it("closes a connection whose common header stops half-way at the header deadline", async () => {
    const { port, refused } = await pdp({ headerTimeoutMs: 300, idleTimeoutMs: 30_000 });
    const c = await raw(port);
    c.socket.write(encodeCopsMessage({ op: "KA", clientType: 0 }).subarray(0, 5));
    await c.closed;
    expect(refused).toEqual(["header-timeout"]);
  });

  it("closes a connection whose message body stops half-way at the body deadline", async () => {
    const { port, refused } = await pdp({ bodyTimeoutMs: 300, idleTimeoutMs: 30_000 });
    const c = await raw(port);
    const opn = encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    c.socket.write(opn.subarray(0, opn.length - 4));
    await c.closed;
    expect(refused).toEqual(["body-timeout"]);
  });

  it("keeps a PEP that sends whole messages, closes idle ones, and caps connections per source", async () => {
    const { port, refused } = await pdp({ headerTimeoutMs: 200, bodyTimeoutMs: 200, idleTimeoutMs: 500, maxConnectionsPerSource: 2 });
    const pep = await raw(port);
    pep.socket.write(encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" }));
    const idle = await raw(port);
    const third = await raw(port);
    await third.closed;
    expect(refused).toEqual(["source-cap"]);
    const ka = encodeCopsMessage({ op: "KA", clientType: 0 });
    for (let i = 0; i < 6; i++) {
      pep.socket.write(ka);
      await sleep(150);
    }
    expect(pep.isClosed()).toBe(false); // 900 ms of whole messages: past the idle timeout, never idle
    await idle.closed;
    expect(refused).toEqual(["source-cap", "idle-timeout"]);
  });
});
