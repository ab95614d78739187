import { createSocket } from "node:dgram";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import {
  RadiusCode,
  RadiusTimeoutError,
  RadiusUdpClient,
  RadiusUdpServer,
  attributeValue,
  encodeRadiusPacket,
  radiusAttribute,
  verifyRadiusPacket,
} from "../../../protocols/radius/index.js";
import type { RadiusPacket } from "../../../protocols/radius/index.js";

const SECRET = "udp-secret";
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function startServer(handled: RadiusPacket[], drops: string[] = []): Promise<RadiusUdpServer> {
  const server = await RadiusUdpServer.listen({
    address: "127.0.0.1",
    port: 0,
    secretFor: () => SECRET,
    onDrop: (cause) => drops.push(cause),
    handler: (packet) => {
      handled.push(packet);
      if (packet.code === RadiusCode.AccountingRequest) return { code: RadiusCode.AccountingResponse, attributes: [] };
      const password = attributeValue(packet, "User-Password") as Buffer | undefined;
      return password?.toString() === "right"
        ? { code: RadiusCode.AccessAccept, attributes: [radiusAttribute("Reply-Message", "welcome")] }
        : { code: RadiusCode.AccessReject, attributes: [] };
    },
  });
  closers.push(() => server.close());
  return server;
}

describe("UDP drivers on loopback", () => {
  it("client and server exchange Access and Accounting over real sockets", async () => {
    const handled: RadiusPacket[] = [];
    const server = await startServer(handled);
    const client = await RadiusUdpClient.open({ secret: SECRET, bindAddress: "127.0.0.1" });
    closers.push(() => client.close());
    const to = server.address();
    const accept = await client.request(to, {
      code: RadiusCode.AccessRequest,
      attributes: [radiusAttribute("User-Name", "alice"), radiusAttribute("User-Password", "right")],
    });
    expect(accept.code).toBe(RadiusCode.AccessAccept);
    expect(attributeValue(accept, "Reply-Message")).toBe("welcome");
    const reject = await client.request(to, {
      code: RadiusCode.AccessRequest,
      attributes: [radiusAttribute("User-Name", "alice"), radiusAttribute("User-Password", "wrong")],
    });
    expect(reject.code).toBe(RadiusCode.AccessReject);
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        client.request(to, {
          code: RadiusCode.AccountingRequest,
          attributes: [radiusAttribute("Acct-Status-Type", "Start"), radiusAttribute("Acct-Session-Id", `call-${i}`)],
        }),
      ),
    );
    expect(answers.every((a) => a.code === RadiusCode.AccountingResponse)).toBe(true);
    expect(handled).toHaveLength(402);
    expect(new Set(handled.map((p) => attributeValue(p, "Acct-Session-Id"))).size).toBe(401);
  });

  it("a client with several source ports spreads requests over them, each with its own Identifier space", async () => {
    const handled: RadiusPacket[] = [];
    const sources = new Set<number>();
    const server = await RadiusUdpServer.listen({
      address: "127.0.0.1",
      port: 0,
      secretFor: (from) => {
        sources.add(from.port);
        return SECRET;
      },
      handler: (packet) => {
        handled.push(packet);
        return { code: RadiusCode.AccountingResponse, attributes: [] };
      },
    });
    closers.push(() => server.close());
    const client = await RadiusUdpClient.open({ secret: SECRET, bindAddress: "127.0.0.1", sourcePorts: 3 });
    closers.push(() => client.close());
    const answers = await Promise.all(
      Array.from({ length: 900 }, (_, i) =>
        client.request(server.address(), { code: RadiusCode.AccountingRequest, attributes: [radiusAttribute("Acct-Session-Id", `call-${i}`)] }),
      ),
    );
    expect(answers).toHaveLength(900);
    expect([...sources].sort()).toEqual([...client.localPorts()].sort());
    expect(new Set(handled.map((p) => attributeValue(p, "Acct-Session-Id"))).size).toBe(900);
  });

  it("the server answers a retransmitted datagram from its cache without handling it twice", async () => {
    const handled: RadiusPacket[] = [];
    const drops: string[] = [];
    const server = await startServer(handled, drops);
    const raw = createSocket("udp4");
    closers.push(() => new Promise((r) => raw.close(() => r())));
    await new Promise<void>((r) => raw.bind(0, "127.0.0.1", () => r()));
    const request = encodeRadiusPacket(
      { code: RadiusCode.AccountingRequest, identifier: 42, authenticator: Buffer.alloc(16), attributes: [radiusAttribute("Acct-Status-Type", "Stop")] },
      SECRET,
    );
    const { port } = server.address();
    const replies: Buffer[] = [];
    raw.on("message", (m) => replies.push(m));
    raw.send(request, port, "127.0.0.1");
    await once(raw, "message");
    raw.send(request, port, "127.0.0.1");
    raw.send(Buffer.from("junk"), port, "127.0.0.1");
    while (replies.length < 2) await once(raw, "message");
    expect(replies[1]!.equals(replies[0]!)).toBe(true);
    expect(verifyRadiusPacket(replies[0]!, SECRET, request.subarray(4, 20))).toBe("ok");
    expect(handled).toHaveLength(1);
    expect(drops).toContain("malformed:truncated");
  });

  it("a silent server ends in RadiusTimeoutError after the retransmissions", async () => {
    const silent = createSocket("udp4");
    let received = 0;
    const datagrams = new Set<string>();
    silent.on("message", (m) => {
      received++;
      datagrams.add(m.toString("hex"));
    });
    await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
    closers.push(() => new Promise((r) => silent.close(() => r())));
    const client = await RadiusUdpClient.open({ secret: SECRET, initialTimeoutMs: 20, maxTimeoutMs: 40, maxRetransmissions: 3, maxDurationMs: 5000 });
    closers.push(() => client.close());
    const err = await client
      .request({ address: "127.0.0.1", port: silent.address().port }, { code: RadiusCode.AccountingRequest, attributes: [radiusAttribute("Acct-Status-Type", "Start")] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RadiusTimeoutError);
    expect((err as RadiusTimeoutError).retransmissions).toBe(3);
    expect(received).toBe(4);
    expect(datagrams.size).toBe(1);
  });
});
