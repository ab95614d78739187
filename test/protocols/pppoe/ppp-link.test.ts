// The PPP link machine, client against server in memory: LCP, PAP or CHAP, IPCP, IPv4, Echo, Terminate, and
// what a lying peer gets.
import { describe, expect, it } from "vitest";
import {
  PppLink,
  PppProtocol,
  chapMd5Response,
  decodeControlPacket,
  decodePppFrame,
  encodeControlPacket,
  encodePppFrame,
} from "../../../protocols/pppoe/index.js";
import type { PppLinkAction, PppLinkEvent, PppLinkInput, PppServerOptions } from "../../../protocols/pppoe/index.js";

interface Side {
  link: PppLink;
  events: PppLinkEvent[];
  sent: Buffer[];
  timers: Set<string>;
}

function side(link: PppLink): Side {
  return { link, events: [], sent: [], timers: new Set() };
}

/** Delivers frames both ways until neither side sends; the server's authenticate events get `verdict`. */
function converse(a: Side, b: Side, verdict: (e: Extract<PppLinkEvent, { type: "authenticate" }>) => boolean, first: PppLinkInput[] = [{ type: "open" }]): void {
  const queue: { to: Side; input: PppLinkInput }[] = [...first.map((input) => ({ to: a, input })), ...first.map((input) => ({ to: b, input }))];
  for (let steps = 0; queue.length && steps < 1000; steps++) {
    const { to, input } = queue.shift()!;
    const other = to === a ? b : a;
    const apply = (actions: PppLinkAction[]): void => {
      for (const act of actions) {
        if (act.type === "send") {
          to.sent.push(act.frame);
          queue.push({ to: other, input: { type: "frame", bytes: act.frame } });
        } else if (act.type === "set-timer") to.timers.add(act.name);
        else if (act.type === "cancel-timer") to.timers.delete(act.name);
        else {
          to.events.push(act.event);
          if (act.event.type === "authenticate") queue.push({ to, input: { type: "auth-result", ok: verdict(act.event) } });
        }
      }
    };
    apply(to.link.handle(input));
  }
}

const serverOptions = (auth: PppServerOptions["auth"]): PppServerOptions => ({
  role: "server",
  auth,
  magic: 0x11223344,
  localAddress: "10.0.0.1",
  assignAddress: () => "10.0.0.2",
  challenge: () => Buffer.alloc(16, 0x5a),
  name: "isp",
});

describe("PppLink", () => {
  it("brings up LCP, PAP and IPCP; the client gets the server's address; IPv4 flows both ways", () => {
    const client = side(new PppLink({ role: "client", username: "alice", password: "wonderland", magic: 0x01020304 }));
    const server = side(new PppLink(serverOptions("pap")));
    const seen: string[] = [];
    converse(client, server, (e) => {
      seen.push(`${e.method}:${e.peerId}:${e.method === "pap" ? e.password.toString() : ""}`);
      return true;
    });
    expect(seen).toEqual(["pap:alice:wonderland"]);
    expect(client.link.phase).toBe("open");
    expect(server.link.phase).toBe("open");
    expect(client.link.localAddress).toBe("10.0.0.2");
    expect(client.link.remoteAddress).toBe("10.0.0.1");
    expect(server.link.remoteAddress).toBe("10.0.0.2");
    expect(client.events.map((e) => e.type)).toEqual(["lcp-up", "authenticated", "ipcp-up"]);
    const datagram = Buffer.from("4500001c000000004011000a0a0000020a000001", "hex");
    const frame = client.link.ipFrame(datagram)!;
    expect(server.link.handle({ type: "frame", bytes: frame })).toEqual([{ type: "emit", event: { type: "ip", packet: datagram } }]);
    // The client's first LCP Configure-Request asks for MRU 1492 and its Magic-Number.
    const first = decodePppFrame(client.sent[0]!);
    expect(first.protocol).toBe(PppProtocol.lcp);
    const cr = decodeControlPacket(first.information, "lcp");
    expect(cr.code === "configure-request" && cr.options.map((o) => [o.type, o.data.toString("hex")])).toEqual([
      [1, "05d4"],
      [5, "01020304"],
    ]);
  });

  it("CHAP MD5: the server checks the response against MD5(id, secret, challenge)", () => {
    const client = side(new PppLink({ role: "client", username: "bob", password: "s3cret", magic: 7 }));
    const server = side(new PppLink(serverOptions("chap")));
    const verdicts: boolean[] = [];
    converse(client, server, (e) => {
      const ok = e.method === "chap" && e.response.equals(chapMd5Response(e.identifier, "s3cret", e.challenge));
      verdicts.push(ok);
      return ok;
    });
    expect(verdicts).toEqual([true]);
    expect(client.link.phase).toBe("open");
    expect(server.link.authenticatedPeer).toBe("bob");
  });

  it("a refused password ends the link on both sides with a reason", () => {
    const client = side(new PppLink({ role: "client", username: "mallory", password: "guess", magic: 9 }));
    const server = side(new PppLink(serverOptions("pap")));
    converse(client, server, () => false);
    expect(client.link.phase).toBe("dead");
    expect(server.link.phase).toBe("dead");
    expect(client.events.at(-1)).toEqual({ type: "down", reason: "auth-refused: " });
    expect(server.events.at(-1)).toEqual({ type: "down", reason: "auth-refused" });
  });

  it("answers Echo-Request with its magic, Protocol-Rejects an unknown protocol, and ends on Terminate-Request", () => {
    const client = side(new PppLink({ role: "client", username: "alice", password: "pw", magic: 0xcafe }));
    const server = side(new PppLink(serverOptions("none")));
    converse(client, server, () => true);
    expect(client.link.phase).toBe("open");
    const echo = encodePppFrame({ protocol: PppProtocol.lcp, information: encodeControlPacket({ code: "echo-request", identifier: 42, magic: 1, data: Buffer.from("hi") }) });
    const reply = client.link.handle({ type: "frame", bytes: echo });
    expect(reply).toHaveLength(1);
    const r = reply[0]!.type === "send" ? decodeControlPacket(decodePppFrame(reply[0]!.frame).information, "lcp") : undefined;
    expect(r).toEqual({ code: "echo-reply", identifier: 42, magic: 0xcafe, data: Buffer.from("hi") });
    const unknown = client.link.handle({ type: "frame", bytes: Buffer.from("80570102", "hex") });
    const rej = unknown[0]?.type === "send" ? decodeControlPacket(decodePppFrame(unknown[0].frame).information, "lcp") : undefined;
    expect(rej?.code === "protocol-reject" && rej.protocol).toBe(0x8057);
    const term = encodePppFrame({ protocol: PppProtocol.lcp, information: encodeControlPacket({ code: "terminate-request", identifier: 3, data: Buffer.alloc(0) }) });
    const out = client.link.handle({ type: "frame", bytes: term });
    expect(out.some((a) => a.type === "emit" && a.event.type === "down")).toBe(true);
    expect(client.link.phase).toBe("dead");
  });

  it("drops lies (IP before IPCP, bad lengths, stale Acks) with a cause and stays usable", () => {
    const client = new PppLink({ role: "client", username: "a", password: "b", magic: 5 });
    client.handle({ type: "open" });
    const dropped = (bytes: Buffer): string[] => client.handle({ type: "frame", bytes }).flatMap((a) => (a.type === "emit" && a.event.type === "dropped" ? [a.event.cause] : []));
    expect(dropped(Buffer.from("0021450000", "hex"))).toEqual(["ppp-before-lcp"]);
    expect(dropped(Buffer.from("c021010100ff", "hex"))).toEqual(["lcp-bad-ppp-length"]);
    expect(dropped(Buffer.from("c0210201000801040101", "hex"))).toEqual(["lcp-stale-ack"]);
    expect(dropped(Buffer.from("c02101020007010300", "hex"))).toEqual(["lcp-bad-ppp-option"]);
    expect(dropped(Buffer.from("", "hex"))).toEqual(["ppp-truncated"]);
    expect(client.phase).toBe("establish");
  });

  it("retransmits its Configure-Request on the restart timer and gives up after Max-Configure", () => {
    const client = new PppLink({ role: "client", username: "a", password: "b", magic: 5, maxConfigure: 3 });
    const sends = (actions: PppLinkAction[]): number => actions.filter((a) => a.type === "send").length;
    expect(sends(client.handle({ type: "open" }))).toBe(1);
    expect(sends(client.handle({ type: "timer", name: "lcp" }))).toBe(1);
    expect(sends(client.handle({ type: "timer", name: "lcp" }))).toBe(1);
    const last = client.handle({ type: "timer", name: "lcp" });
    expect(last).toContainEqual({ type: "emit", event: { type: "down", reason: "lcp-no-answer" } });
    expect(client.phase).toBe("dead");
  });
});

describe("PppLink keepalive", () => {
  it("ends a link whose peer stops answering LCP Echo-Requests (RFC 1661 §5.8), and keeps one that answers", () => {
    const options = { ...serverOptions("none"), echoIntervalMs: 1000, echoFailures: 2 };
    const client = side(new PppLink({ role: "client", username: "a", password: "b", magic: 77 }));
    const server = side(new PppLink(options));
    converse(client, server, () => true);
    expect(server.timers.has("echo")).toBe(true);
    // The peer answers: the count of misses starts over each time.
    for (let i = 0; i < 5; i++) {
      const echo = server.link.handle({ type: "timer", name: "echo" }).find((a) => a.type === "send");
      const reply = client.link.handle({ type: "frame", bytes: echo!.type === "send" ? echo!.frame : Buffer.alloc(0) }).find((a) => a.type === "send");
      server.link.handle({ type: "frame", bytes: reply!.type === "send" ? reply!.frame : Buffer.alloc(0) });
    }
    expect(server.link.phase).toBe("open");
    // The peer goes silent: two unanswered echoes, then the link is closed.
    server.link.handle({ type: "timer", name: "echo" });
    server.link.handle({ type: "timer", name: "echo" });
    const out = server.link.handle({ type: "timer", name: "echo" });
    expect(out.some((a) => a.type === "send")).toBe(true); // Terminate-Request
    expect(server.link.phase).toBe("terminate");
    const last = [server.link.handle({ type: "timer", name: "lcp" }), server.link.handle({ type: "timer", name: "lcp" })].flat();
    expect(last).toContainEqual({ type: "emit", event: { type: "down", reason: "echo-timeout" } });
  });
});
