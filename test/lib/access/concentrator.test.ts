// The access concentrator against our PPPoE server role in memory (frames handed across directly, timers
// fired by hand): both modes of the seed, the session table's lifecycle, limits and lying peers.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PppLink, PppProtocol, chapMd5Response, decodePppFrame, decodePppoeFrame, encodePppoeFrame } from "../../../protocols/pppoe/index.js";
import type { PppLinkAction, PppLinkEvent } from "../../../protocols/pppoe/index.js";
import { AddressPool } from "../../../lib/access/address-pool.js";
import { AccessConcentrator } from "../../../lib/access/concentrator.js";
import type { ConcentratorAction, ConcentratorEvent, ConcentratorOptions } from "../../../lib/access/concentrator.js";
import { PppoeServerRole } from "../../../lib/access/pppoe-server-role.js";
import type { PppoeServerRoleAction, PppoeServerRoleEvent } from "../../../lib/access/pppoe-server-role.js";

const AC_MAC = "02:00:00:00:0a:01";
const SERVER_MAC = "02:00:00:00:0b:01";
const USERS = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`user${i}`, `pw${i}`]));

interface EndUser {
  link: PppLink;
  events: PppLinkEvent[];
  received: Buffer[];
  closed: boolean;
}

/** A concentrator, a server and end users on lines, everything delivered in order until quiet. */
class Lab {
  readonly server: PppoeServerRole;
  readonly ac: AccessConcentrator;
  readonly users = new Map<number, EndUser>();
  readonly acEvents: ConcentratorEvent[] = [];
  readonly serverEvents: PppoeServerRoleEvent[] = [];
  readonly wire: Buffer[] = [];
  private readonly queue: (() => void)[] = [];
  /** Line → authentication verdict for shared mode (default: the users table). */
  lineVerdict = (e: Extract<ConcentratorEvent, { type: "authenticate" }>): boolean => e.method === "pap" && USERS[e.peerId] === e.password.toString();

  constructor(mode: ConcentratorOptions["mode"], extra: Partial<ConcentratorOptions> = {}, serverAuth: "pap" | "chap" = "pap") {
    this.server = new PppoeServerRole({
      mac: SERVER_MAC,
      acName: "isp-ac",
      cookieSecret: randomBytes(16),
      auth: serverAuth,
      users: { ...USERS, shared: "sharedpw" },
      localAddress: "100.64.0.1",
      pool: new AddressPool("100.64.0.2", "100.64.15.254"),
      randomBytes,
    });
    this.ac = new AccessConcentrator({
      mode,
      mac: AC_MAC,
      maxLines: 1000,
      maxSessions: 1000,
      randomBytes,
      ...(mode === "shared-session"
        ? { shared: { username: "shared", password: "sharedpw", localAddress: "10.1.0.1", pool: new AddressPool("10.1.0.2", "10.1.3.254"), lineAuth: "pap" } }
        : {}),
      ...extra,
    });
  }

  private runServer(actions: PppoeServerRoleAction[]): void {
    for (const a of actions) {
      if (a.type === "send") {
        this.wire.push(a.bytes);
        this.queue.push(() => this.runAc(this.ac.handle({ type: "frame", bytes: a.bytes }, 0)));
      } else if (a.type === "emit") this.serverEvents.push(a.event);
    }
  }

  runAc(actions: ConcentratorAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          this.wire.push(a.bytes);
          this.queue.push(() => this.runServer(this.server.handle({ type: "frame", bytes: a.bytes }, 0)));
          break;
        case "line-send": {
          const user = this.users.get(a.line);
          if (user && !user.closed) this.queue.push(() => this.runUser(a.line, user.link.handle({ type: "frame", bytes: a.frame })));
          break;
        }
        case "line-close": {
          const user = this.users.get(a.line);
          if (user) user.closed = true;
          break;
        }
        case "emit":
          this.acEvents.push(a.event);
          if (a.event.type === "authenticate") {
            const e = a.event;
            this.queue.push(() => this.runAc(this.ac.handle({ type: "auth-result", line: e.line, ok: this.lineVerdict(e) }, 0)));
          }
          break;
        default:
          break;
      }
    }
  }

  runUser(line: number, actions: PppLinkAction[]): void {
    const user = this.users.get(line)!;
    for (const a of actions) {
      if (a.type === "send") {
        // On the line the frame carries Address/Control (RFC 1662 §3.1).
        const onLine = Buffer.concat([Buffer.from([0xff, 0x03]), a.frame]);
        this.queue.push(() => this.runAc(this.ac.handle({ type: "line-frame", line, frame: onLine }, 0)));
      } else if (a.type === "emit") {
        user.events.push(a.event);
        if (a.event.type === "ip") user.received.push(a.event.packet);
      }
    }
  }

  dial(line: number, username = `user${line % 200}`, password = `pw${line % 200}`): EndUser {
    const user: EndUser = { link: new PppLink({ role: "client", username, password, magic: line + 1 }), events: [], received: [], closed: false };
    this.users.set(line, user);
    this.runAc(this.ac.handle({ type: "line-open", line }, 0));
    this.runUser(line, user.link.handle({ type: "open" }));
    return user;
  }

  settle(): void {
    for (let n = 0; this.queue.length && n < 5_000_000; n++) this.queue.shift()!();
  }
}

function datagram(src: string, dst: string, tag: number): Buffer {
  const p = Buffer.alloc(28);
  p[0] = 0x45;
  p.writeUInt16BE(28, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split(".").map(Number)).copy(p, 12);
  Buffer.from(dst.split(".").map(Number)).copy(p, 16);
  p.writeUInt32BE(tag, 24);
  return p;
}

describe("AccessConcentrator, session per line", () => {
  it("300 lines: a session each, none crossed, datagrams echoed byte for byte, hang-ups PADT and clean both tables", () => {
    const lab = new Lab("session-per-line");
    const N = 300;
    for (let i = 0; i < N; i++) lab.dial(i);
    lab.settle();
    const table = lab.ac.sessionTable();
    expect(table).toHaveLength(N);
    expect(new Set(table.map((t) => t.sessionId)).size).toBe(N);
    expect(lab.server.links()).toHaveLength(N);
    for (let i = 0; i < N; i++) {
      const user = lab.users.get(i)!;
      expect(user.link.phase).toBe("open");
      const sent = datagram(user.link.localAddress!, "100.64.0.1", i);
      lab.runUser(i, [{ type: "send", frame: user.link.ipFrame(sent)! }]);
    }
    lab.settle();
    // Each line got exactly its own datagram back, reflected: the relay crossed no sessions.
    for (let i = 0; i < N; i++) {
      const user = lab.users.get(i)!;
      expect(user.received).toEqual([datagram("100.64.0.1", user.link.localAddress!, i)]);
    }
    // The server saw each user on the session the concentrator opened for that line.
    const byLine = new Map(table.map((t) => [t.line, t.sessionId]));
    const serverUsers = new Map(lab.server.links().map((l) => [l.sessionId, l.user]));
    for (let i = 0; i < N; i++) expect(serverUsers.get(byLine.get(i)!)).toBe(`user${i % 200}`);

    for (let i = 0; i < N / 2; i++) lab.runAc(lab.ac.handle({ type: "line-closed", line: i }, 0));
    lab.settle();
    expect(lab.ac.sessionCount).toBe(N / 2);
    expect(lab.server.sessionCount).toBe(N / 2);
    const down = lab.acEvents.filter((e) => e.type === "session-down");
    expect(down).toHaveLength(N / 2);
    expect(down.every((e) => e.type === "session-down" && e.by === "line" && e.octetsIn > 0 && e.octetsOut > 0 && e.user.startsWith("user"))).toBe(true);
  });

  it("the user of a relayed PAP is reported once the server accepts it, before the line's first IPCP frame; a refused one is not", () => {
    const lab = new Lab("session-per-line");
    lab.dial(7, "user7", "pw7");
    lab.dial(8, "user8", "wrong");
    lab.settle();
    const ofLine = (line: number): string[] => lab.acEvents.flatMap((e) => ("line" in e && e.line === line ? [e.type === "session-user" ? `session-user:${e.user}` : e.type] : []));
    expect(ofLine(7)).toEqual(["session-up", "session-user:user7"]);
    expect(ofLine(8)).toEqual(["session-up", "session-down"]);
    expect(lab.acEvents).toContainEqual(expect.objectContaining({ type: "session-down", line: 8, user: "user8" }));
  });

  it("a PADT from the server closes the line and removes its row", () => {
    const lab = new Lab("session-per-line");
    lab.dial(1);
    lab.dial(2);
    lab.settle();
    const row = lab.ac.sessionTable().find((t) => t.line === 1)!;
    lab.runServer(lab.server.handle({ type: "terminate", sessionId: row.sessionId, reason: "admin" }, 0));
    lab.settle();
    expect(lab.users.get(1)!.closed).toBe(true);
    expect(lab.users.get(2)!.closed).toBe(false);
    expect(lab.ac.sessionTable().map((t) => t.line)).toEqual([2]);
    expect(lab.acEvents).toContainEqual(expect.objectContaining({ type: "session-down", line: 1, by: "server" }));
  });

  it("limits: a line past max-sessions is closed and counted; frames before the session are bounded", () => {
    const lab = new Lab("session-per-line", { maxSessions: 2, maxPendingFrames: 2 });
    for (let i = 0; i < 3; i++) lab.dial(i);
    lab.settle();
    expect(lab.ac.sessionCount).toBe(2);
    expect(lab.acEvents).toContainEqual({ type: "refused", line: 2, reason: "max-sessions" });
    expect(lab.users.get(2)!.closed).toBe(true);
    // A line that floods before its session exists: 2 frames kept, the rest dropped with a cause.
    const flood = new Lab("session-per-line", { maxPendingFrames: 2 });
    flood.runAc(flood.ac.handle({ type: "line-open", line: 9 }, 0));
    const out = [0, 1, 2, 3].flatMap(() => flood.ac.handle({ type: "line-frame", line: 9, frame: Buffer.from("ff03c021010100040000", "hex") }, 0));
    expect(out.filter((a) => a.type === "emit" && a.event.type === "dropped").map((a) => a.type === "emit" && a.event.type === "dropped" && a.event.cause)).toEqual(["line-pending-full", "line-pending-full"]);
  });

  it("a lying server: session frames for unknown sessions, frames from another MAC and garbage are dropped with causes", () => {
    const lab = new Lab("session-per-line");
    lab.dial(1);
    lab.settle();
    const row = lab.ac.sessionTable()[0]!;
    const causes = (bytes: Buffer): string[] => lab.ac.handle({ type: "frame", bytes }, 0).flatMap((a) => (a.type === "emit" && a.event.type === "dropped" ? [a.event.cause] : []));
    const forged = (source: string, sessionId: number) => encodePppoeFrame({ destination: AC_MAC, source, packet: { kind: "session", sessionId, payload: Buffer.from("c021", "hex") } });
    expect(causes(forged(SERVER_MAC, row.sessionId + 100))).toEqual(["unknown-session"]);
    expect(causes(forged("02:00:00:00:0c:01", row.sessionId))).toEqual(["unknown-session"]);
    expect(causes(Buffer.from("0011"))).toEqual(["truncated"]);
    expect(lab.ac.sessionTable()).toEqual([row]);
  });
});

describe("AccessConcentrator, one shared session", () => {
  it("200 lines over one session: addresses assigned, datagrams demultiplexed by destination", () => {
    const lab = new Lab("shared-session");
    lab.runAc(lab.ac.handle({ type: "start" }, 0));
    lab.settle();
    const shared = lab.ac.sharedSession!;
    expect(shared.address).toMatch(/^100\.64\./);
    expect(lab.server.sessionCount).toBe(1);
    const N = 200;
    for (let i = 0; i < N; i++) lab.dial(i);
    lab.settle();
    const addresses = lab.ac.addressTable();
    expect(addresses).toHaveLength(N);
    expect(new Set(addresses.map((a) => a.address)).size).toBe(N);
    for (let i = 0; i < N; i++) {
      const user = lab.users.get(i)!;
      lab.runUser(i, [{ type: "send", frame: user.link.ipFrame(datagram(user.link.localAddress!, "198.51.100.7", i))! }]);
    }
    lab.settle();
    for (let i = 0; i < N; i++) {
      const user = lab.users.get(i)!;
      expect(user.received).toEqual([datagram("198.51.100.7", user.link.localAddress!, i)]);
    }
    // Every datagram crossed on the one session.
    expect(lab.server.sessionCount).toBe(1);
    expect(lab.serverEvents.filter((e) => e.type === "ip").every((e) => e.type === "ip" && e.sessionId === shared.sessionId)).toBe(true);
    // Hang-ups release addresses and report octets; the shared session stays.
    for (let i = 0; i < 10; i++) lab.runAc(lab.ac.handle({ type: "line-closed", line: i }, 0));
    expect(lab.ac.addressTable()).toHaveLength(N - 10);
    expect(lab.acEvents.filter((e) => e.type === "line-down")).toHaveLength(10);
  });

  it("a wrong password closes that line only; a spoofed source address is dropped", () => {
    const lab = new Lab("shared-session");
    lab.runAc(lab.ac.handle({ type: "start" }, 0));
    lab.dial(1);
    lab.dial(2, "user2", "wrong");
    lab.settle();
    expect(lab.users.get(2)!.closed).toBe(true);
    expect(lab.ac.addressTable().map((a) => a.line)).toEqual([1]);
    const user = lab.users.get(1)!;
    const spoof = Buffer.concat([Buffer.from([0xff, 0x03]), user.link.ipFrame(datagram("10.1.0.200", "198.51.100.7", 1))!]);
    const out = lab.ac.handle({ type: "line-frame", line: 1, frame: spoof }, 0);
    expect(out).toEqual([expect.objectContaining({ type: "emit", event: expect.objectContaining({ type: "dropped", cause: "line-spoofed-source" }) })]);
  });

  it("an empty pool: the line asking for an address gets IPCP Configure-Reject, then LCP Terminate-Request, and is closed and refused", () => {
    const lab = new Lab("shared-session", {
      shared: { username: "shared", password: "sharedpw", localAddress: "10.1.0.1", pool: new AddressPool("10.1.0.2", "10.1.0.3"), lineAuth: "pap" },
    });
    lab.runAc(lab.ac.handle({ type: "start" }, 0));
    lab.settle();
    const toLines: { line: number; frame: Buffer }[] = [];
    const runAc = lab.runAc.bind(lab);
    lab.runAc = (actions) => {
      for (const a of actions) if (a.type === "line-send") toLines.push({ line: a.line, frame: a.frame });
      runAc(actions);
    };
    for (const line of [1, 2, 3, 4]) lab.dial(line, `user${line}`, `pw${line}`);
    lab.settle();
    expect(lab.ac.addressTable().map((a) => a.line)).toEqual([1, 2]);
    for (const line of [3, 4]) {
      expect(lab.users.get(line)!.closed).toBe(true);
      const frames = toLines.filter((f) => f.line === line).map((f) => decodePppFrame(f.frame));
      // IPCP Configure-Reject (code 4) of the IP-Address option (3), then LCP Terminate-Request (code 5).
      const reject = frames.findIndex((f) => f.protocol === PppProtocol.ipcp && f.information[0] === 4);
      expect(reject).toBeGreaterThanOrEqual(0);
      expect(frames[reject]!.information[4]).toBe(3);
      expect(frames.findIndex((f, i) => i > reject && f.protocol === PppProtocol.lcp && f.information[0] === 5)).toBeGreaterThan(reject);
    }
    const refused = lab.acEvents.filter((e) => e.type === "refused");
    expect(refused).toEqual([
      { type: "refused", line: 3, reason: "no-address" },
      { type: "refused", line: 4, reason: "no-address" },
    ]);
    // A hang-up gives its address back: the next line gets it.
    lab.runAc(lab.ac.handle({ type: "line-closed", line: 1 }, 0));
    lab.dial(5, "user5", "pw5");
    lab.settle();
    expect(lab.ac.addressTable().map((a) => a.line).sort()).toEqual([2, 5]);
  });

  it("lines authenticated with CHAP: the verdict event carries what a RADIUS CHAP-Password needs", () => {
    const lab = new Lab("shared-session", {
      shared: { username: "shared", password: "sharedpw", localAddress: "10.1.0.1", pool: new AddressPool("10.1.0.2", "10.1.0.9"), lineAuth: "chap" },
    });
    const seen: string[] = [];
    lab.lineVerdict = (e) => {
      const ok = e.method === "chap" && e.response.equals(chapMd5Response(e.identifier, USERS[e.peerId] ?? "", e.challenge));
      seen.push(`${e.peerId}:${ok}`);
      return ok;
    };
    lab.runAc(lab.ac.handle({ type: "start" }, 0));
    lab.dial(3);
    lab.dial(4, "user4", "not-it");
    lab.settle();
    expect(seen).toEqual(["user3:true", "user4:false"]);
    expect(lab.ac.addressTable().map((a) => a.line)).toEqual([3]);
  });

  it("the shared session comes up with CHAP too", () => {
    const lab = new Lab("shared-session", {}, "chap");
    lab.runAc(lab.ac.handle({ type: "start" }, 0));
    lab.settle();
    expect(lab.ac.sharedSession?.address).toMatch(/^100\.64\./);
  });
});

describe("PppoeServerRole keepalive", () => {
  it("a session whose peer stops answering LCP echoes ends with a PADT and frees its address", () => {
    const pool = new AddressPool("100.64.0.2", "100.64.0.2");
    const server = new PppoeServerRole({ mac: SERVER_MAC, acName: "isp", cookieSecret: randomBytes(16), auth: "none", users: {}, localAddress: "100.64.0.1", pool, randomBytes, echoIntervalMs: 1000, echoFailures: 2 });
    const ac = new AccessConcentrator({ mode: "session-per-line", mac: AC_MAC, maxLines: 1, maxSessions: 1, randomBytes });
    const user = new PppLink({ role: "client", username: "x", password: "y", magic: 5 });
    const timers = new Set<string>();
    const queue: (() => void)[] = [];
    let silent = false;
    const fromServer = (actions: PppoeServerRoleAction[]): void => {
      for (const a of actions) {
        if (a.type === "send") queue.push(() => fromAc(ac.handle({ type: "frame", bytes: a.bytes }, 0)));
        if (a.type === "set-timer") timers.add(a.name);
      }
    };
    const fromAc = (actions: ConcentratorAction[]): void => {
      for (const a of actions) {
        if (a.type === "send") queue.push(() => fromServer(server.handle({ type: "frame", bytes: a.bytes }, 0)));
        if (a.type === "line-send" && !silent) queue.push(() => fromUser(user.handle({ type: "frame", bytes: a.frame })));
      }
    };
    const fromUser = (actions: PppLinkAction[]): void => {
      for (const a of actions) if (a.type === "send") queue.push(() => fromAc(ac.handle({ type: "line-frame", line: 1, frame: a.frame }, 0)));
    };
    const settle = (): void => {
      while (queue.length) queue.shift()!();
    };
    fromAc(ac.handle({ type: "line-open", line: 1 }, 0));
    fromUser(user.handle({ type: "open" }));
    settle();
    expect(server.links()).toHaveLength(1);
    const echoTimer = [...timers].find((t) => t.endsWith("/echo"))!;
    // Answered echoes keep the session.
    for (let i = 0; i < 4; i++) {
      fromServer(server.handle({ type: "timer", name: echoTimer }, 0));
      settle();
    }
    expect(server.sessionCount).toBe(1);
    // The end user goes silent (its line dead, the concentrator gone): the echoes go unanswered.
    silent = true;
    const ended: PppoeServerRoleEvent[] = [];
    const sent: Buffer[] = [];
    const collect = (actions: PppoeServerRoleAction[]): void => {
      for (const a of actions) {
        if (a.type === "emit") ended.push(a.event);
        if (a.type === "send") sent.push(a.bytes);
      }
    };
    for (let i = 0; i < 3; i++) collect(server.handle({ type: "timer", name: echoTimer }, 0));
    for (let i = 0; i < 3; i++) collect(server.handle({ type: "timer", name: echoTimer.replace("/echo", "/lcp") }, 0));
    const padts = sent.map((b) => decodePppoeFrame(b).packet).filter((p) => p.kind === "discovery" && p.code === "PADT");
    expect(padts).toHaveLength(1);
    expect(ended.filter((e) => e.type === "session-ended")).toEqual([expect.objectContaining({ type: "session-ended", by: "server", reason: "echo-timeout" })]);
    expect(server.sessionCount).toBe(0);
    expect(pool.allocate()).toBe("100.64.0.2");
  });
});
