// `callgate radius-proxy` between radclient (the NAS) and two FreeRADIUS servers on loopback, the master
// provider's and a client provider's, configured by this test. The four cases of realm capacity sharing:
// a master subscriber; a client subscriber accepted; one rejected by its provider; a client provider out of
// ports. Accounting lands twice: the master's detail file under the virtual identity, the client's under the
// subscriber's. A lying or flooding NAS (wrong secret, garbage, retransmissions) gets silent drops, counted and
// logged once, and a retransmission its cached answer; the proxy killed with open sessions keeps counting them.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialLine } from "../../lib/auth/credential-store.js";
import { RadiusCode, decodeRadiusPacket, encodeRadiusPacket, radiusAttribute, verifyRadiusPacket } from "../../protocols/radius/index.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";

const NAS_SECRET = "nas-secret-1";
const MASTER_SECRET = "master-secret-2";
const CLIENT_SECRET = "client-secret-3";
const dir = mkdtempSync(join(tmpdir(), "radius-proxy-"));
type Lab = Awaited<ReturnType<typeof startFreeradiusLab>>;
let master: Lab;
let clientProvider: Lab;
let proxy: RunningProcess;
const configFile = join(dir, "radius-proxy.yaml");
const journal = join(dir, "capacity.jsonl");
let authPort = 0;
let acctPort = 0;
let metricsPort = 0;

function radclient(args: string[], input: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("radclient", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (status) => resolve({ status, out }));
    child.stdin.end(input);
  });
}

const access = (user: string, password: string, secret = NAS_SECRET): Promise<{ status: number | null; out: string }> =>
  radclient(["-x", "-r", "1", "-t", "5", `127.0.0.1:${authPort}`, "auth", secret], `User-Name = "${user}"\nUser-Password = "${password}"\nNAS-IP-Address = 10.0.0.9\nMessage-Authenticator = 0x00\n`);

const accounting = (user: string, status: "Start" | "Stop", session: string, seconds = 0, secret = NAS_SECRET): Promise<{ status: number | null; out: string }> =>
  radclient(
    ["-x", "-r", "1", "-t", "5", `127.0.0.1:${acctPort}`, "acct", secret],
    `User-Name = "${user}"\nAcct-Status-Type = ${status}\nAcct-Session-Id = "${session}"\nNAS-IP-Address = 10.0.0.9\n${status === "Stop" ? `Acct-Session-Time = ${seconds}\n` : ""}`,
  );

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name) && labels.split(",").every((kv) => l.includes(kv)));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

/** The detail file once it holds `n` matches of `pattern` (and of each further pattern/count pair), within 20 s. */
async function detailHolding(file: string, ...want: (RegExp | number)[]): Promise<string> {
  const until = Date.now() + 20_000;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    let ok = true;
    for (let i = 0; i < want.length; i += 2) if ((text.match(want[i] as RegExp)?.length ?? 0) < (want[i + 1] as number)) ok = false;
    if (ok || Date.now() > until) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startProxy(): Promise<void> {
  proxy = spawnCli("radius-proxy", ["--config", configFile, "--metrics", `127.0.0.1:${metricsPort}`, "--log-level", "info"]);
  await proxy.waitFor("radius-proxy listening", { stream: "stdout" });
}

beforeAll(async () => {
  const [mAuth, mAcct, cAuth, cAcct] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  authPort = await freeUdpPort();
  acctPort = await freeUdpPort();
  metricsPort = 20_000 + Math.floor(Math.random() * 20_000);
  [master, clientProvider] = await Promise.all([
    startFreeradiusLab({
      dir: mkdtempSync(join(dir, "master-")),
      secret: MASTER_SECRET,
      authPort: mAuth,
      acctPort: mAcct,
      users: `alice@master.example Cleartext-Password := "alice-pw"\n\tReply-Message := "master says hi"\nisp-b-virtual Cleartext-Password := "isp-b-virtual-pw"\n`,
    }),
    startFreeradiusLab({
      dir: mkdtempSync(join(dir, "client-")),
      secret: CLIENT_SECRET,
      authPort: cAuth,
      acctPort: cAcct,
      users: `bob@isp-b.example Cleartext-Password := "bob-pw"\n\tReply-Message := "isp-b welcomes bob", Session-Timeout := 86400\ncarol@isp-b.example Cleartext-Password := "carol-pw"\n`,
    }),
  ]);
  writeFileSync(join(dir, "credentials"), `${credentialLine("SHA-256", "dave", "master.example", "dave-pw")}\n`);
  writeFileSync(
    configFile,
    `listen: { address: 127.0.0.1, authPort: ${authPort}, acctPort: ${acctPort} }
nas:
  - { address: 127.0.0.1, secret: ${NAS_SECRET} }
journal: ${journal}
master:
  realms: [master.example]
  credentials: ${join(dir, "credentials")}
  radius: { address: 127.0.0.1, authPort: ${mAuth}, acctPort: ${mAcct}, secret: ${MASTER_SECRET} }
clients:
  - name: isp-b
    realms: [isp-b.example]
    virtualIdentity: { user: isp-b-virtual, password: isp-b-virtual-pw }
    capacity: { ports: 2, secondsPerPeriod: 360000, credit: 1000, pricePerMinute: 1 }
    radius: { address: 127.0.0.1, authPort: ${cAuth}, acctPort: ${cAcct}, secret: ${CLIENT_SECRET} }
`,
  );
  await startProxy();
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  killStartedProcesses();
  await Promise.all([master?.stop(), clientProvider?.stop()]);
});

describe("radius-proxy: the four cases of the seed through radclient", () => {
  it("a master subscriber: known locally (HA1 store) or answered by the master's server", async () => {
    const local = await access("dave@master.example", "dave-pw");
    expect(local.out).toMatch(/Received Access-Accept/);
    const wrong = await access("dave@master.example", "not-dave");
    expect(wrong.out).toMatch(/Received Access-Reject/);
    const remote = await access("alice@master.example", "alice-pw");
    expect(remote.out).toMatch(/Received Access-Accept/);
    expect(remote.out).toMatch(/Reply-Message = "master says hi"/);
  });

  it("a client subscriber accepted: its provider's answer, Session-Timeout capped by the credit left", async () => {
    const r = await access("bob@isp-b.example", "bob-pw");
    expect(r.out).toMatch(/Received Access-Accept/);
    expect(r.out).toMatch(/Reply-Message = "isp-b welcomes bob"/);
    // 1000 credit at 1 per minute: 60,000 s, below the provider's 86,400.
    expect(r.out).toMatch(/Session-Timeout = 60000/);
  });

  it("a client subscriber rejected by its provider", async () => {
    const r = await access("bob@isp-b.example", "guess");
    expect(r.out).toMatch(/Received Access-Reject/);
  });

  it("an unknown realm is refused", async () => {
    const r = await access("eve@nowhere.example", "x");
    expect(r.out).toMatch(/Received Access-Reject/);
    expect(r.out).toMatch(/refused: unknown-realm/);
  });

  it("accounting twice, then a client provider out of ports", async () => {
    // Wait out the reservations of the accepted access above (held until their Start or 60 s): Start them.
    expect((await accounting("bob@isp-b.example", "Start", "s-bob")).out).toMatch(/Received Accounting-Response/);
    expect((await access("carol@isp-b.example", "carol-pw")).out).toMatch(/Received Access-Accept/);
    expect((await accounting("carol@isp-b.example", "Start", "s-carol")).out).toMatch(/Received Accounting-Response/);
    const full = await access("bob@isp-b.example", "bob-pw");
    expect(full.out).toMatch(/Received Access-Reject/);
    expect(full.out).toMatch(/refused: capacity-ports/);
    expect((await accounting("carol@isp-b.example", "Stop", "s-carol", 125)).out).toMatch(/Received Accounting-Response/);
    expect((await access("bob@isp-b.example", "bob-pw")).out).toMatch(/Received Access-Accept/);
    expect((await accounting("bob@isp-b.example", "Start", "s-bob-2")).out).toMatch(/Received Accounting-Response/);
    expect((await accounting("alice@master.example", "Start", "s-alice")).out).toMatch(/Received Accounting-Response/);

    // Answered once spooled; the servers have them when the exporters are done.
    const masterDetail = await detailHolding(master.detailFile, /User-Name = "isp-b-virtual"/g, 4, /alice@master/g, 1);
    const clientDetail = await detailHolding(clientProvider.detailFile, /User-Name = "(bob|carol)@isp-b.example"/g, 4);
    // The master: isp-b's sessions under its virtual identity, its own subscriber under hers; no isp-b subscriber.
    expect(masterDetail.match(/User-Name = "isp-b-virtual"/g)?.length).toBe(4);
    expect(masterDetail).toMatch(/User-Name = "alice@master.example"/);
    expect(masterDetail).not.toMatch(/bob@|carol@/);
    for (const s of ["s-bob", "s-carol", "s-bob-2"]) expect(masterDetail).toMatch(new RegExp(`Acct-Session-Id = "${s}"`));
    // The client provider: each subscriber's own records, nothing of the master's.
    expect(clientDetail.match(/User-Name = "bob@isp-b.example"/g)?.length).toBe(2);
    expect(clientDetail.match(/User-Name = "carol@isp-b.example"/g)?.length).toBe(2);
    expect(clientDetail).not.toMatch(/isp-b-virtual|alice@/);
    expect(clientDetail).toMatch(/Acct-Session-Time = 125/);
  });
});

describe("radius-proxy: a lying, flooding or repeating NAS", () => {
  it("a wrong secret: Access-Request (bad Message-Authenticator) and Accounting-Request (bad authenticator) dropped unanswered, counted", async () => {
    const beforeMa = await metric("callgate_drops_total", 'cause="bad-message-authenticator"');
    const beforeAuth = await metric("callgate_drops_total", 'cause="bad-authenticator"');
    const a = await radclient(["-x", "-r", "1", "-t", "1", `127.0.0.1:${authPort}`, "auth", "wrong-secret"], `User-Name = "bob@isp-b.example"\nUser-Password = "bob-pw"\nMessage-Authenticator = 0x00\n`);
    expect(a.out).not.toMatch(/Received Access-/);
    const b = await accounting("bob@isp-b.example", "Start", "s-liar", 0, "wrong-secret");
    expect(b.out).not.toMatch(/Received Accounting-Response/);
    expect(await metric("callgate_drops_total", 'cause="bad-message-authenticator"')).toBe(beforeMa + 1);
    expect(await metric("callgate_drops_total", 'cause="bad-authenticator"')).toBe(beforeAuth + 1);
    expect(readFileSync(clientProvider.detailFile, "utf8")).not.toMatch(/s-liar/);
  });

  it("a retransmission is answered from the cache with the same bytes and handled once", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    const replies: Buffer[] = [];
    socket.on("message", (m) => replies.push(m));
    const authenticator = randomBytes(16);
    const datagram = encodeRadiusPacket(
      {
        code: RadiusCode.AccessRequest,
        identifier: 77,
        authenticator,
        attributes: [radiusAttribute("Message-Authenticator", Buffer.alloc(16)), radiusAttribute("User-Name", "alice@master.example"), radiusAttribute("User-Password", "alice-pw")],
      },
      NAS_SECRET,
    );
    const accepts = await metric("callgate_decisions_total", 'verdict="accept"');
    socket.send(datagram, authPort, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 600));
    socket.send(datagram, authPort, "127.0.0.1");
    socket.send(datagram, authPort, "127.0.0.1");
    const until = Date.now() + 5000;
    while (replies.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    socket.close();
    expect(replies).toHaveLength(3);
    expect(replies[1]!.equals(replies[0]!)).toBe(true);
    expect(replies[2]!.equals(replies[0]!)).toBe(true);
    expect(verifyRadiusPacket(replies[0]!, NAS_SECRET, authenticator)).toBe("ok");
    expect(decodeRadiusPacket(replies[0]!, NAS_SECRET).code).toBe(RadiusCode.AccessAccept);
    expect(await metric("callgate_decisions_total", 'verdict="accept"')).toBe(accepts + 1);
  });

  it("a flood of garbage and forged packets: every one dropped and counted, one log line per cause, service goes on", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    const before = await metric("callgate_drops_total", 'cause="bad-authenticator"');
    const beforeMalformed = await metric("callgate_drops_total", 'cause="malformed:truncated"');
    const forged = encodeRadiusPacket(
      { code: RadiusCode.AccountingRequest, identifier: 1, authenticator: Buffer.alloc(16), attributes: [radiusAttribute("User-Name", "x@isp-b.example"), radiusAttribute("Acct-Status-Type", "Start")] },
      "forger",
    );
    for (let i = 0; i < 2000; i++) {
      socket.send(i % 2 ? forged : randomBytes(10), acctPort, "127.0.0.1");
      // Paced: what is tested is the proxy's handling, not the kernel's socket buffer.
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
    expect(await metric("callgate_drops_total", 'cause="bad-authenticator"')).toBe(before + 1000);
    expect(await metric("callgate_drops_total", 'cause="malformed:truncated"')).toBe(beforeMalformed + 1000);
    expect(proxy.stderr().split("\n").filter((l) => l.includes('"cause":"RADIUS:malformed:truncated"'))).toHaveLength(1);
    expect((await access("alice@master.example", "alice-pw")).out).toMatch(/Received Access-Accept/);
  });
});

describe("radius-proxy killed with sessions open", () => {
  it("after SIGKILL and a restart the open sessions still hold their ports", async () => {
    // Open now: s-bob and s-bob-2 (2 ports of 2).
    expect(await proxy.stop("SIGKILL")).toBe(null);
    await startProxy();
    expect(proxy.stdout()).toMatch(/radius-proxy listening/);
    const full = await access("carol@isp-b.example", "carol-pw");
    expect(full.out).toMatch(/refused: capacity-ports/);
    expect((await accounting("bob@isp-b.example", "Stop", "s-bob", 60)).out).toMatch(/Received Accounting-Response/);
    expect((await access("carol@isp-b.example", "carol-pw")).out).toMatch(/Received Access-Accept/);
    const lines = readFileSync(journal, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { kind: string; session: string });
    expect(lines.filter((l) => l.kind === "start").map((l) => l.session)).toEqual(["10.0.0.9|s-bob", "10.0.0.9|s-carol", "10.0.0.9|s-bob-2"]);
  });
});
