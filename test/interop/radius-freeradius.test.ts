// RADIUS against real peers on loopback: FreeRADIUS answers our client (PAP Access-Request with
// Message-Authenticator, Accounting Start/Interim/Stop landing in its detail file), radclient checks our
// server's answers, and tshark, given the shared secret, dissects every packet of both without a malformed
// flag and finds each Response Authenticator valid.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RadiusCode,
  RadiusUdpClient,
  RadiusUdpServer,
  attributeValue,
  radiusAttribute,
} from "../../protocols/radius/index.js";
import type { RadiusAttribute, RadiusPacket } from "../../protocols/radius/index.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";

const SECRET = "callgate-interop-secret";
const MESSAGE_AUTHENTICATOR: RadiusAttribute = { type: 80, kind: "string", value: Buffer.alloc(16) };
const dir = mkdtempSync(join(tmpdir(), "radius-interop-"));
const pcap = join(dir, "radius.pcap");
let detailFile = "";
let freeradius: { detailFile: string; stop: () => Promise<void> } | undefined;
let tshark: ChildProcess | undefined;
let ourServer: RadiusUdpServer | undefined;
let client: RadiusUdpClient | undefined;
const ports = { auth: 0, acct: 0, ours: 0 };
const serverHandled: RadiusPacket[] = [];
const serverDrops: string[] = [];

/** radclient as a separate process, asynchronously: our server answers from this process's event loop. */
function radclient(args: string[], input: string): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("radclient", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("exit", (status) => resolve({ status, stdout }));
    child.stdin.end(input);
  });
}
let failed = false;

async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  ports.auth = await freeUdpPort();
  ports.acct = await freeUdpPort();
  ourServer = await RadiusUdpServer.listen({
    address: "127.0.0.1",
    port: 0,
    secretFor: (c) => (c.address === "127.0.0.1" ? SECRET : undefined),
    onDrop: (cause) => serverDrops.push(cause),
    handler: async (packet) => {
      serverHandled.push(packet);
      // a slow record, for radclient to retransmit while it is in progress
      if (attributeValue(packet, "Acct-Session-Id") === "slow-1") await new Promise((r) => setTimeout(r, 1500));
      if (packet.code === RadiusCode.AccountingRequest) return { code: RadiusCode.AccountingResponse, attributes: [] };
      const ok = attributeValue(packet, "User-Name") === "alice" && (attributeValue(packet, "User-Password") as Buffer | undefined)?.toString() === "wonderland";
      return ok
        ? { code: RadiusCode.AccessAccept, attributes: [radiusAttribute("Reply-Message", "hello from callgate"), MESSAGE_AUTHENTICATOR] }
        : { code: RadiusCode.AccessReject, attributes: [MESSAGE_AUTHENTICATOR] };
    },
  });
  ports.ours = ourServer.address().port;

  const filter = `udp port ${ports.auth} or udp port ${ports.acct} or udp port ${ports.ours}`;
  tshark = spawn("tshark", ["-i", "lo", "-f", filter, "-w", pcap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let tsharkErr = "";
  tshark.stderr!.on("data", (d: Buffer) => (tsharkErr += d.toString()));
  await waitFor("tshark to capture", () => /Capturing on/.test(tsharkErr));

  freeradius = await startFreeradiusLab({
    dir,
    secret: SECRET,
    authPort: ports.auth,
    acctPort: ports.acct,
    // FreeRADIUS then drops an Access-Request whose Message-Authenticator is absent or wrong
    requireMessageAuthenticator: true,
    users: 'alice\tCleartext-Password := "wonderland"\n\tReply-Message := "welcome alice"\n',
  });
  detailFile = freeradius.detailFile;
  client = await RadiusUdpClient.open({ secret: SECRET, bindAddress: "127.0.0.1", initialTimeoutMs: 1000, maxRetransmissions: 3 });
});

afterAll(async () => {
  await client?.close();
  await ourServer?.close();
  await freeradius?.stop();
  if (tshark?.exitCode === null) tshark.kill("SIGTERM");
  if (failed) console.error(`RADIUS interop files kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

const fr = (): { address: string; port: number } => ({ address: "127.0.0.1", port: ports.auth });
const frAcct = (): { address: string; port: number } => ({ address: "127.0.0.1", port: ports.acct });

function accounting(status: "Start" | "Interim-Update" | "Stop", extra: RadiusAttribute[] = []) {
  return {
    code: RadiusCode.AccountingRequest,
    attributes: [
      radiusAttribute("Acct-Status-Type", status),
      radiusAttribute("Acct-Session-Id", "call-7f3a;caller"),
      radiusAttribute("User-Name", "alice"),
      radiusAttribute("NAS-IP-Address", "127.0.0.1"),
      radiusAttribute("Calling-Station-Id", "sip:alice@example.com"),
      radiusAttribute("Called-Station-Id", "sip:bob@example.com"),
      radiusAttribute("Event-Timestamp", 1_796_600_000),
      ...extra,
    ],
  } as const;
}

describe("RADIUS with FreeRADIUS, radclient and tshark", () => {
  it("FreeRADIUS accepts our PAP Access-Request and rejects a wrong password", async () => {
    try {
      const access = (password: string) => ({
        code: RadiusCode.AccessRequest,
        attributes: [radiusAttribute("User-Name", "alice"), radiusAttribute("User-Password", password), radiusAttribute("NAS-IP-Address", "127.0.0.1"), MESSAGE_AUTHENTICATOR],
      } as const);
      const accept = await client!.request(fr(), access("wonderland"));
      expect(accept.code).toBe(RadiusCode.AccessAccept);
      expect(attributeValue(accept, "Reply-Message")).toBe("welcome alice");
      const reject = await client!.request(fr(), access("looking-glass"));
      expect(reject.code).toBe(RadiusCode.AccessReject);
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it("FreeRADIUS answers Accounting Start, Interim-Update and Stop, and its detail file holds them", async () => {
    try {
      for (const request of [
        accounting("Start"),
        accounting("Interim-Update", [radiusAttribute("Acct-Session-Time", 30), radiusAttribute("Acct-Interim-Interval", 30)]),
        accounting("Stop", [
          radiusAttribute("Acct-Session-Time", 61),
          radiusAttribute("Acct-Input-Octets", 123456),
          radiusAttribute("Acct-Output-Octets", 654321),
          radiusAttribute("Acct-Input-Gigawords", 1),
          radiusAttribute("Acct-Output-Gigawords", 2),
          radiusAttribute("Acct-Terminate-Cause", "User-Request"),
        ]),
      ]) {
        const response = await client!.request(frAcct(), request);
        expect(response.code).toBe(RadiusCode.AccountingResponse);
      }
      const records = readFileSync(detailFile, "utf8").split(/\n\n+/).filter((r) => r.trim());
      expect(records).toHaveLength(3);
      expect(records.map((r) => /Acct-Status-Type = (\S+)/.exec(r)?.[1])).toEqual(["Start", "Interim-Update", "Stop"]);
      for (const r of records) {
        expect(r).toContain('Acct-Session-Id = "call-7f3a;caller"');
        expect(r).toContain('Calling-Station-Id = "sip:alice@example.com"');
        expect(r).toMatch(/Event-Timestamp = "?\w+ +\d+ 2026/);
      }
      const stop = records[2]!;
      for (const line of [
        "Acct-Session-Time = 61",
        "Acct-Input-Octets = 123456",
        "Acct-Output-Octets = 654321",
        "Acct-Input-Gigawords = 1",
        "Acct-Output-Gigawords = 2",
        "Acct-Terminate-Cause = User-Request",
      ])
        expect(stop).toContain(line);
      expect(records[1]).toContain("Acct-Interim-Interval = 30");
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it("radclient gets valid answers from our server for Access and Accounting requests", async () => {
    try {
      const run = (secret: string, kind: "auth" | "acct", input: string) =>
        radclient(["-x", "-r", "1", "-t", "2", `127.0.0.1:${ports.ours}`, kind, secret], input);
      const accept = await run(SECRET, "auth", 'User-Name = "alice", User-Password = "wonderland", Message-Authenticator = 0x00\n');
      expect(accept.status).toBe(0);
      expect(accept.stdout).toMatch(/Received Access-Accept Id \d+ from 127\.0\.0\.1/);
      expect(accept.stdout).toContain('Reply-Message = "hello from callgate"');
      const reject = await run(SECRET, "auth", 'User-Name = "alice", User-Password = "nope", Message-Authenticator = 0x00\n');
      expect(reject.stdout).toMatch(/Received Access-Reject Id \d+/);
      const acct = await run(SECRET, "acct", 'Acct-Status-Type = Start, Acct-Session-Id = "rc-1", Event-Timestamp = 1796600000, Acct-Delay-Time = 0\n');
      expect(acct.status).toBe(0);
      expect(acct.stdout).toMatch(/Received Accounting-Response Id \d+/);
      // radclient's requests arrived with the values it sent: our decoder revealed the password and read the date
      expect(serverHandled.map((p) => attributeValue(p, "User-Password")?.toString())).toEqual(["wonderland", "nope", undefined]);
      expect(attributeValue(serverHandled[2]!, "Event-Timestamp")).toBe(1_796_600_000);
      // a wrong secret gets no answer: our server drops the Accounting-Request as unauthenticated
      const wrong = await run("wrong-secret", "acct", 'Acct-Status-Type = Stop, Acct-Session-Id = "rc-1"\n');
      expect(wrong.status).not.toBe(0);
      expect(wrong.stdout).not.toMatch(/Received/);
      expect(serverHandled).toHaveLength(3);
      expect(serverDrops).toContain("bad-authenticator");
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it("tshark dissects every packet with the secret: none malformed, every Response Authenticator valid", async () => {
    try {
      await new Promise((r) => setTimeout(r, 500)); // let the last datagrams reach the capture file
      tshark!.kill("SIGINT");
      await new Promise((r) => (tshark!.exitCode === null ? tshark!.once("exit", r) : r(undefined)));
      const decodeAs = [ports.auth, ports.acct, ports.ours].flatMap((p) => ["-d", `udp.port==${p},radius`]);
      const out = execFileSync(
        "tshark",
        [
          "-r", pcap, ...decodeAs,
          "-o", `radius.shared_secret:${SECRET}`,
          "-o", "radius.validate_authenticator:TRUE",
          "-T", "fields", "-E", "separator=|",
          "-e", "udp.dstport", "-e", "radius.code", "-e", "radius.rsp", "-e", "radius.authenticator.valid",
          "-e", "radius.authenticator.invalid", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "radius.User_Password",
        ],
        { encoding: "utf8" },
      );
      const rows = out.trim().split("\n").map((l) => l.split("|"));
      // ours→FreeRADIUS: 2 Access + 3 Accounting requests and answers; radclient→ours: 3 answered + 1 unanswered
      expect(rows.length).toBe(10 + 7);
      for (const [port, code, rsp, valid, invalid, malformed, severity] of rows) {
        expect(code, `frame to port ${port}`).toMatch(/^\d+$/);
        expect(malformed).toBe("");
        expect(invalid).not.toBe("1");
        expect(severity ?? "").not.toMatch(/\b(error|warning)\b|^(6291456|8388608|7340032)/i);
        if (rsp === "1") expect(valid, `response code ${code}`).toBe("1");
      }
      const responses = rows.filter((r) => r[2] === "1");
      expect(responses).toHaveLength(8);
      // tshark's own RFC 2865 §5.2 unhiding of our client's User-Password finds the clear text
      const ourPasswords = rows.filter((r) => r[0] === String(ports.auth) && r[1] === "1").map((r) => r[7]);
      expect(ourPasswords).toEqual(["wonderland", "looking-glass"]);
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it("radclient's retransmissions of a request still being handled are dropped, then answered from the cache (RFC 5080 §2.2.2)", async () => {
    try {
      const before = serverHandled.length;
      const dropsBefore = serverDrops.filter((c) => c === "duplicate-in-progress").length;
      const slow = await radclient(
        ["-x", "-r", "5", "-t", "0.4", `127.0.0.1:${ports.ours}`, "acct", SECRET],
        'Acct-Status-Type = Stop, Acct-Session-Id = "slow-1"\n',
      );
      expect(slow.status).toBe(0);
      expect(slow.stdout).toMatch(/Received Accounting-Response/);
      // radclient sent the request more than once, and our handler saw it once
      expect((slow.stdout.match(/Sent Accounting-Request/g) ?? []).length).toBeGreaterThan(1);
      expect(serverHandled.slice(before).map((p) => attributeValue(p, "Acct-Session-Id"))).toEqual(["slow-1"]);
      expect(serverDrops.filter((c) => c === "duplicate-in-progress").length).toBeGreaterThan(dropsBefore);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
