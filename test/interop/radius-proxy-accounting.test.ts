// `callgate radius-proxy` keeps NAS accounting through its spools: radclient (the NAS) sends Start and Stop
// for client-provider and master subscribers, each with a Class and a Vendor-Specific of a vendor no dictionary
// knows, through a proxy in its own process, to two FreeRADIUS servers on loopback (the master's and the client
// provider's) that keep each record once (the once-only recipe of docs/accounting.md; their `received` log shows
// every request that reached them, resends included).
// - The client provider's server is down while the Starts are answered; the proxy is SIGKILLed right after the
//   NAS got its last Accounting-Response, restarted, and the server started again: every Start reaches it.
// - The proxy is SIGKILLed again in the middle of the Interim-Updates and Stops (radclient retransmits what went
//   unanswered to the restarted proxy).
// Each detail file then holds exactly one Start, one of each Interim-Update and one Stop per session, each under
// its identity (the master: the provider's virtual identity), with the Class and the Vendor-Specific byte for
// byte. A NAS retransmission
// (a new request with a longer Acct-Delay-Time) after its record was delivered reaches neither server again.
// A proxy whose journal and spools are on a full disk (a tmpfs the test mounts) leaves the NAS unanswered and
// counts it; the NAS's retransmission once there is room is answered, and the record reaches both servers once.
// A NAS flooding while the client provider's server is away gets no answer past the backlog limit (counted),
// the spool stops growing, and what it sends again once the server is back reaches it once.
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RadiusCode, decodeRadiusPacket, encodeRadiusPacket, radiusAttribute, vendorSpecific, verifyRadiusPacket } from "../../protocols/radius/index.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { accountingOnce, restartLab, stopLab, type Lab } from "./radius-accounting-helpers.js";

const NAS_SECRET = "nas-secret-1";
const MASTER_SECRET = "master-secret-2";
const CLIENT_SECRET = "client-secret-3";
const dir = mkdtempSync(join(tmpdir(), "radius-proxy-acct-"));
const configFile = join(dir, "radius-proxy.yaml");
/** A Class of bytes that are not text (RFC 2865 §5.25), and a Vendor-Specific of the RFC 5612 example enterprise. */
const CLASS_HEX = "00ff800a227bc328";
const VSA_VALUE_HEX = "00ff220a7d";
/** An attribute type of the experimental range (RFC 3575), unknown to both dictionaries. */
const UNKNOWN_HEX = "0102fe";
const CLIENT_SESSIONS = Array.from({ length: 24 }, (_, i) => ({ user: `sub${i}@isp-b.example`, session: `c-${i}` }));
const MASTER_SESSIONS = Array.from({ length: 6 }, (_, i) => ({ user: `alice${i}@master.example`, session: `m-${i}` }));
const ALL = [...CLIENT_SESSIONS, ...MASTER_SESSIONS];
const EVENT_TIMESTAMP = Math.floor(Date.now() / 1000);

let master: Lab;
let clientProvider: Lab;
let masterOptions: Parameters<typeof startFreeradiusLab>[0];
let clientOptions: Parameters<typeof startFreeradiusLab>[0];
let clientReceived = "";
let masterReceived = "";
let proxy: RunningProcess;
let acctPort = 0;
let labRestarts = 0;

interface DetailBlock {
  [attribute: string]: string;
}

/** The records of a detail file, attribute names as FreeRADIUS writes them (Attr-26.32473.1 included). */
function detail(path: string): DetailBlock[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split(/\n\n+/)
    .filter((b) => b.trim() !== "")
    .map((block) => {
      const r: DetailBlock = {};
      for (const line of block.split("\n").slice(1)) {
        const m = /^\s+(\S+) = "?(.*?)"?$/.exec(line);
        if (m) r[m[1]!] = m[2]!;
      }
      return r;
    });
}

const count = (blocks: DetailBlock[], session: string, status: string): number => blocks.filter((b) => b["Acct-Session-Id"] === session && b["Acct-Status-Type"] === status).length;
/** A session's Interim-Updates by Acct-Session-Time, sorted: each once. */
const interims = (blocks: DetailBlock[], session: string): string[] =>
  blocks.filter((b) => b["Acct-Session-Id"] === session && b["Acct-Status-Type"] === "Interim-Update").map((b) => b["Acct-Session-Time"]!).sort((a, b) => Number(a) - Number(b));

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Interim-Updates before each Stop: load enough that a kill after a few answers lands mid-load on any machine. */
const INTERIMS = 8;
const INTERIM_TIMES = Array.from({ length: INTERIMS }, (_, k) => String(5 * (k + 1)));

/** A record as radclient reads it; `seconds` into the session (Acct-Session-Time, and Event-Timestamp past the Start). */
function packetText(user: string, session: string, status: "Start" | "Interim-Update" | "Stop", seconds = 0): string {
  return [
    `User-Name = "${user}"`,
    `Acct-Status-Type = ${status}`,
    `Acct-Session-Id = "${session}"`,
    `NAS-IP-Address = 10.0.0.9`,
    `NAS-Identifier = "nas-9"`,
    `Event-Timestamp = ${EVENT_TIMESTAMP + seconds}`,
    ...(status === "Start" ? [] : [`Acct-Session-Time = ${seconds}`]),
    `Class = 0x${CLASS_HEX}`,
    `Attr-26.32473.1 = 0x${VSA_VALUE_HEX}`,
    `Attr-195 = 0x${UNKNOWN_HEX}`,
  ].join("\n");
}

/** radclient with `parallel` requests in flight, retrying each `retries` times every 2 s; `onLine` sees its output as it comes. */
function radclient(status: "Start" | "Stop", parallel: number, onLine?: (answered: number) => void): Promise<{ answered: number; out: string }> {
  // Before each Stop, its session's Interim-Updates (every 5 s); the Stop at 60 s.
  const packets = ALL.flatMap((s) =>
    status === "Start" ? [packetText(s.user, s.session, "Start")] : [...Array.from({ length: INTERIMS }, (_, k) => packetText(s.user, s.session, "Interim-Update", 5 * (k + 1))), packetText(s.user, s.session, "Stop", 60)],
  );
  return radclientSend(packets, parallel, acctPort, 8, onLine);
}

/** radclient sending `packets` to `port`, `parallel` in flight, each retried `retries` times every 2 s. */
function radclientSend(packets: string[], parallel: number, port: number, retries: number, onLine?: (answered: number) => void): Promise<{ answered: number; out: string }> {
  const file = join(dir, `packets-${randomBytes(4).toString("hex")}.txt`);
  writeFileSync(file, `${packets.join("\n\n")}\n`);
  return new Promise((resolve, reject) => {
    // Line-buffered, so each answer is seen when it comes.
    const args = ["-oL", "radclient", "-x", "-p", String(parallel), "-r", String(retries), "-t", "2", "-f", file, `127.0.0.1:${port}`, "acct", NAS_SECRET];
    const child = spawn("stdbuf", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let answered = 0;
    const take = (d: Buffer): void => {
      out += d.toString();
      const now = out.match(/Received Accounting-Response/g)?.length ?? 0;
      if (now !== answered) {
        answered = now;
        onLine?.(answered);
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("exit", () => resolve({ answered, out }));
  });
}

async function startProxy(): Promise<void> {
  proxy = spawnCli("radius-proxy", ["--config", configFile, "--log-level", "info"]);
  await proxy.waitFor("radius-proxy listening", { stream: "stdout", ms: 30_000 });
}

beforeAll(async () => {
  const [mAuth, mAcct, cAuth, cAcct, authPort] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  acctPort = await freeUdpPort();
  const masterDir = mkdtempSync(join(dir, "master-"));
  const clientDir = mkdtempSync(join(dir, "client-"));
  const masterOnce = accountingOnce(masterDir);
  const clientOnce = accountingOnce(clientDir);
  clientReceived = clientOnce.received;
  masterReceived = masterOnce.received;
  masterOptions = { dir: masterDir, secret: MASTER_SECRET, authPort: mAuth, acctPort: mAcct, users: "", modules: masterOnce.modules, accounting: masterOnce.accounting };
  clientOptions = { dir: clientDir, secret: CLIENT_SECRET, authPort: cAuth, acctPort: cAcct, users: "", modules: clientOnce.modules, accounting: clientOnce.accounting };
  [master, clientProvider] = await Promise.all([startFreeradiusLab(masterOptions), startFreeradiusLab(clientOptions)]);
  writeFileSync(
    configFile,
    `listen: { address: 127.0.0.1, authPort: ${authPort}, acctPort: ${acctPort} }
nas:
  - { address: 127.0.0.1, secret: ${NAS_SECRET} }
journal: capacity.jsonl
master:
  realms: [master.example]
  radius: { address: 127.0.0.1, authPort: ${mAuth}, acctPort: ${mAcct}, secret: ${MASTER_SECRET} }
clients:
  - name: isp-b
    realms: [isp-b.example]
    virtualIdentity: { user: isp-b-virtual, password: isp-b-virtual-pw }
    capacity: { ports: 1000 }
    radius: { address: 127.0.0.1, authPort: ${cAuth}, acctPort: ${cAcct}, secret: ${CLIENT_SECRET} }
`,
  );
  await startProxy();
}, 90_000);

afterAll(async () => {
  await proxy?.stop();
  killStartedProcesses();
  await Promise.all([master?.stop(), clientProvider?.stop()]);
});

describe("radius-proxy accounting through its spools", () => {
  it("Starts answered while the client provider's server is down, the proxy SIGKILLed right after; interims and Stops with the proxy SIGKILLed mid-load: each record once at each server, identities, Class and Vendor-Specific intact", async () => {
    await stopLab(clientProvider, ++labRestarts);
    const starts = await radclient("Start", 8);
    expect(starts.answered, starts.out).toBe(ALL.length);
    // Every record was answered, so every one is spooled: the proxy dies now.
    expect(await proxy.stop("SIGKILL")).toBe(null);
    expect(detail(clientProvider.detailFile).filter((b) => b["Acct-Status-Type"] === "Start")).toHaveLength(0);
    await startProxy();
    // The client provider's server comes back after a while and gets what was spooled for it.
    clientProvider = await restartLab(clientOptions, undefined, ++labRestarts);
    await until("every Start at both servers", () => {
      const c = detail(clientProvider.detailFile);
      const m = detail(master.detailFile);
      return CLIENT_SESSIONS.every((s) => count(c, s.session, "Start") >= 1) && ALL.every((s) => count(m, s.session, "Start") >= 1);
    });

    // Interim-Updates and Stops, one at a time; the proxy is SIGKILLed after the 40th answer and started again,
    // and radclient retransmits what went unanswered to the new process.
    const STOP_LEG = ALL.length * (INTERIMS + 1);
    let killed: Promise<unknown> | undefined;
    let answeredAtKill = 0;
    const stops = radclient("Stop", 1, (answered) => {
      if (answered >= 40 && !killed) {
        answeredAtKill = answered;
        killed = proxy.stop("SIGKILL").then(() => startProxy());
      }
    });
    const done = await stops;
    await killed;
    expect(answeredAtKill).toBeLessThan(STOP_LEG);
    expect(done.answered, done.out).toBe(STOP_LEG);
    // Some request went unanswered by the killed proxy and was sent again.
    expect(done.out.match(/Sent Accounting-Request/g)!.length, done.out).toBeGreaterThan(STOP_LEG);
    await until("every interim and Stop at both servers", () => {
      const c = detail(clientProvider.detailFile);
      const m = detail(master.detailFile);
      const done = (blocks: DetailBlock[], session: string): boolean => count(blocks, session, "Stop") >= 1 && count(blocks, session, "Interim-Update") >= INTERIMS;
      return CLIENT_SESSIONS.every((s) => done(c, s.session)) && ALL.every((s) => done(m, s.session));
    });

    const c = detail(clientProvider.detailFile);
    const m = detail(master.detailFile);
    for (const { user, session } of CLIENT_SESSIONS) {
      for (const status of ["Start", "Stop"]) {
        expect(count(c, session, status), `${session} ${status} at the client provider`).toBe(1);
        expect(count(m, session, status), `${session} ${status} at the master`).toBe(1);
      }
      for (const blocks of [c, m]) expect(interims(blocks, session), `${session} interims`).toEqual(INTERIM_TIMES);
      for (const b of c.filter((x) => x["Acct-Session-Id"] === session)) expect(b["User-Name"]).toBe(user);
      for (const b of m.filter((x) => x["Acct-Session-Id"] === session)) expect(b["User-Name"]).toBe("isp-b-virtual");
    }
    for (const { user, session } of MASTER_SESSIONS) {
      for (const status of ["Start", "Stop"]) expect(count(m, session, status), `${session} ${status} at the master`).toBe(1);
      expect(interims(m, session)).toEqual(INTERIM_TIMES);
      for (const b of m.filter((x) => x["Acct-Session-Id"] === session)) expect(b["User-Name"]).toBe(user);
      expect(c.some((x) => x["Acct-Session-Id"] === session)).toBe(false);
    }
    // The NAS's Class, Vendor-Specific and unknown attribute, byte for byte in every record at both servers.
    for (const b of [...c, ...m]) {
      expect(b["Class"]).toBe(`0x${CLASS_HEX}`);
      expect(b["Attr-26.32473.1"]).toBe(`0x${VSA_VALUE_HEX}`);
      expect(b["Attr-195"]).toBe(`0x${UNKNOWN_HEX}`);
    }
    expect(c.some((b) => /alice|isp-b-virtual/.test(b["User-Name"] ?? ""))).toBe(false);
    expect(m.some((b) => /@isp-b/.test(b["User-Name"] ?? ""))).toBe(false);
    expect(c.filter((b) => b["Acct-Status-Type"] === "Stop").every((b) => b["Acct-Session-Time"] === "60")).toBe(true);
  }, 180_000);

  it("a NAS retransmission (a new request, a longer Acct-Delay-Time) after its record was delivered reaches no server again", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    const replies: Buffer[] = [];
    socket.on("message", (msg) => replies.push(msg));
    const send = async (identifier: number, session: string, delay: number): Promise<void> => {
      const packet = {
        code: RadiusCode.AccountingRequest,
        identifier,
        authenticator: Buffer.alloc(16),
        attributes: [
          radiusAttribute("User-Name", "dup@isp-b.example"),
          radiusAttribute("Acct-Status-Type", "Start"),
          radiusAttribute("Acct-Session-Id", session),
          radiusAttribute("NAS-IP-Address", "10.0.0.9"),
          radiusAttribute("Event-Timestamp", EVENT_TIMESTAMP),
          radiusAttribute("Acct-Delay-Time", delay),
          radiusAttribute("Class", Buffer.from(CLASS_HEX, "hex")),
          vendorSpecific(32473, [{ vendorType: 1, value: Buffer.from(VSA_VALUE_HEX, "hex") }]),
        ],
      };
      const datagram = encodeRadiusPacket(packet, NAS_SECRET);
      const before = replies.length;
      socket.send(datagram, acctPort, "127.0.0.1");
      await until("the Accounting-Response", () => replies.length > before, 15_000);
      const reply = replies[replies.length - 1]!;
      expect(verifyRadiusPacket(reply, NAS_SECRET, datagram.subarray(4, 20))).toBe("ok");
      expect(decodeRadiusPacket(reply, NAS_SECRET).code).toBe(RadiusCode.AccountingResponse);
    };
    const requests = (file: string, session: string): number => (existsSync(file) ? readFileSync(file, "utf8").split(`Acct-Session-Id = "${session}"\n`).length - 1 : 0);
    const received = (session: string): [number, number] => [requests(clientReceived, session), requests(masterReceived, session)];
    const session = `dup-${randomBytes(4).toString("hex")}`;
    await send(11, session, 0);
    await until("the first Start at both servers", () => count(detail(clientProvider.detailFile), session, "Start") === 1 && count(detail(master.detailFile), session, "Start") === 1);
    const requestsBefore = received(session);
    await send(12, session, 4);
    // A later record of another session: sent after anything the retransmission could have spooled.
    const marker = `${session}-marker`;
    await send(13, marker, 0);
    await until("the marker at the client provider", () => count(detail(clientProvider.detailFile), marker, "Start") === 1);
    await until("the marker at the master", () => count(detail(master.detailFile), marker, "Start") === 1);
    socket.close();
    expect(received(session)).toEqual(requestsBefore);
    expect(count(detail(clientProvider.detailFile), session, "Start")).toBe(1);
    expect(count(detail(master.detailFile), session, "Start")).toBe(1);
  }, 60_000);

  it("a full disk: the record is neither journaled nor spooled, so the NAS is not answered (counted); its retransmission once there is room is, and the record reaches both servers once", async () => {
    const small = join(dir, "small");
    mkdirSync(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", small]);
    let second: RunningProcess | undefined;
    const socket = createSocket("udp4");
    try {
      const [auth2, acct2] = [await freeUdpPort(), await freeUdpPort()];
      const metricsPort = 20_000 + Math.floor(Math.random() * 20_000);
      const config2 = join(small, "radius-proxy.yaml");
      writeFileSync(config2, readFileSync(configFile, "utf8").replace(/authPort: \d+, acctPort: \d+ \}/, `authPort: ${auth2}, acctPort: ${acct2} }`));
      second = spawnCli("radius-proxy", ["--config", config2, "--metrics", `127.0.0.1:${metricsPort}`, "--log-level", "info"]);
      await second.waitFor("radius-proxy listening", { stream: "stdout", ms: 30_000 });
      const drops = async (cause: string): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const line = text.split("\n").find((l) => l.startsWith("callgate_drops_total") && l.includes(`cause="${cause}"`));
        return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
      };
      expect(() => writeFileSync(join(small, "filler"), Buffer.alloc(1024 * 1024))).toThrow(/ENOSPC/);

      await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
      const replies: Buffer[] = [];
      socket.on("message", (msg) => replies.push(msg));
      const session = `full-${randomBytes(4).toString("hex")}`;
      const datagram = encodeRadiusPacket(
        {
          code: RadiusCode.AccountingRequest,
          identifier: 21,
          authenticator: Buffer.alloc(16),
          attributes: [
            radiusAttribute("User-Name", "full@isp-b.example"),
            radiusAttribute("Acct-Status-Type", "Start"),
            radiusAttribute("Acct-Session-Id", session),
            radiusAttribute("NAS-IP-Address", "10.0.0.9"),
            radiusAttribute("Event-Timestamp", EVENT_TIMESTAMP),
          ],
        },
        NAS_SECRET,
      );
      socket.send(datagram, acct2, "127.0.0.1");
      const deadline = Date.now() + 15_000;
      while ((await drops("journal-not-written")) < 1) {
        if (Date.now() > deadline) throw new Error(`no journal-not-written drop:\n${second.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(replies).toHaveLength(0);

      // Room again: the NAS sends the same request again and gets its answer.
      unlinkSync(join(small, "filler"));
      socket.send(datagram, acct2, "127.0.0.1");
      await until("the Accounting-Response", () => replies.length === 1, 15_000);
      expect(verifyRadiusPacket(replies[0]!, NAS_SECRET, datagram.subarray(4, 20))).toBe("ok");
      expect(decodeRadiusPacket(replies[0]!, NAS_SECRET).code).toBe(RadiusCode.AccountingResponse);
      await until("the record at both servers", () => count(detail(clientProvider.detailFile), session, "Start") === 1 && count(detail(master.detailFile), session, "Start") === 1);
      for (const b of detail(clientProvider.detailFile).filter((x) => x["Acct-Session-Id"] === session)) expect(b["User-Name"]).toBe("full@isp-b.example");
      for (const b of detail(master.detailFile).filter((x) => x["Acct-Session-Id"] === session)) expect(b["User-Name"]).toBe("isp-b-virtual");
      // The session the first attempt opened in the ledger is in the journal (written before the answer).
      const journal = readFileSync(join(small, "capacity.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { kind: string; session?: string });
      expect(journal.filter((e) => e.kind === "start" && e.session === `10.0.0.9|${session}`)).toHaveLength(1);
    } finally {
      socket.close();
      await second?.stop();
      execFileSync("umount", [small]);
    }
  }, 90_000);

  it("a NAS flooding while the client provider's server is away: past the backlog limit its records go unanswered (counted) and the spool stops growing; sent again as the server takes them, each reaches it once", async () => {
    const floodDir = mkdtempSync(join(dir, "flood-"));
    const [auth3, acct3] = [await freeUdpPort(), await freeUdpPort()];
    const metricsPort = 20_000 + Math.floor(Math.random() * 20_000);
    const config3 = join(floodDir, "radius-proxy.yaml");
    writeFileSync(config3, readFileSync(configFile, "utf8").replace(/authPort: \d+, acctPort: \d+ \}/, `authPort: ${auth3}, acctPort: ${acct3} }`));
    const third = spawnCli("radius-proxy", ["--config", config3, "--metrics", `127.0.0.1:${metricsPort}`, "--accounting-backlog", "20", "--log-level", "info"]);
    const socket = createSocket("udp4");
    try {
      await third.waitFor("radius-proxy listening", { stream: "stdout", ms: 30_000 });
      await stopLab(clientProvider, ++labRestarts);
      // The NAS: 60 Starts at once from one socket, each its own Identifier.
      await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
      const answered = new Set<number>();
      socket.on("message", (msg) => {
        if (decodeRadiusPacket(msg, NAS_SECRET).code === RadiusCode.AccountingResponse) answered.add(msg[1]!);
      });
      const sessions = Array.from({ length: 60 }, (_, i) => `flood-${i}`);
      const datagrams = sessions.map((session, i) =>
        encodeRadiusPacket(
          {
            code: RadiusCode.AccountingRequest,
            identifier: i,
            authenticator: Buffer.alloc(16),
            attributes: [
              radiusAttribute("User-Name", `flood${i}@isp-b.example`),
              radiusAttribute("Acct-Status-Type", "Start"),
              radiusAttribute("Acct-Session-Id", session),
              radiusAttribute("NAS-IP-Address", "10.0.0.9"),
              radiusAttribute("Event-Timestamp", EVENT_TIMESTAMP),
            ],
          },
          NAS_SECRET,
        ),
      );
      const drops = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const line = text.split("\n").find((l) => l.startsWith("callgate_drops_total") && l.includes('cause="accounting-backlog-full"'));
        return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
      };
      for (const d of datagrams) socket.send(d, acct3, "127.0.0.1");
      const deadline = Date.now() + 20_000;
      while (answered.size + (await drops()) < 60) {
        if (Date.now() > deadline) throw new Error(`answered ${answered.size}, refused ${await drops()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(answered.size).toBe(20);
      expect(await drops()).toBe(40);
      // The client provider's spool holds the 20 answered records and no more.
      const spool = readFileSync(join(floodDir, "capacity.jsonl.acct-client-isp-b.spool"), "utf8");
      expect(spool.split("\n").filter((l) => l.startsWith('{"rec"'))).toHaveLength(20);

      clientProvider = await restartLab(clientOptions, undefined, ++labRestarts);
      await until("the 20 spooled records at the client provider", () => sessions.filter((s) => count(detail(clientProvider.detailFile), s, "Start") === 1).length === 20);
      // The NAS sends what is unanswered again, every second, as a NAS retries (at most 20 wait in the spool at a
      // time): all are answered in the end, each stored once.
      const until60 = Date.now() + 60_000;
      while (answered.size < 60) {
        if (Date.now() > until60) throw new Error(`answered ${answered.size} of 60`);
        for (const [i, d] of datagrams.entries()) if (!answered.has(i)) socket.send(d, acct3, "127.0.0.1");
        await new Promise((r) => setTimeout(r, 1000));
      }
      await until("every flood record at both servers", () => {
        const c = detail(clientProvider.detailFile);
        const m = detail(master.detailFile);
        return sessions.every((s) => count(c, s, "Start") >= 1 && count(m, s, "Start") >= 1);
      });
      const c = detail(clientProvider.detailFile);
      const m = detail(master.detailFile);
      for (const s of sessions) {
        expect(count(c, s, "Start"), s).toBe(1);
        expect(count(m, s, "Start"), s).toBe(1);
      }
    } finally {
      socket.close();
      await third.stop();
    }
  }, 120_000);
});
