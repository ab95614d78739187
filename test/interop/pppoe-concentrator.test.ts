// `callgate pppoe-concentrator` against `callgate pppoe-server` over a veth pair into a network namespace (the
// server and its socat bridge run inside it), with a thousand end-user lines (TCP, HDLC-framed PPP driven by
// our PPP client machine), FreeRADIUS as the accounting and authentication server, and tshark on the veth:
// - a session per line: 1,000 sessions, each line's datagram reflected to it alone, byte for byte; hang-ups
//   send PADTs, the server's PADTs close lines, FreeRADIUS records exactly one Start (naming the user) and
//   one Stop with octets per line (sent by the accounting exporter from its spool);
// - a concentrator killed with SIGKILL: the server keeps the sessions; the restarted one finds them in its
//   journal, ends them with PADTs and sends their Stops, each recorded once;
// - one shared session: 1,000 lines authenticated through FreeRADIUS, addressed from the pool, their datagrams
//   demultiplexed by destination address;
// - a shared session with a pool of two: the third and fourth lines are refused and closed, counted, logged once;
// - tshark dissects the capture without a malformed frame.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePppoeFrame } from "../../protocols/pppoe/index.js";
import { killStartedProcesses, spawnCli, startProcess, type RunningProcess } from "../support/cli-process.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { LineClient, TSHARK_PPPOE_FIELDS, flaggedFrames, ourPppoeFields, framesOfPcap, readyLine, run, spawnCliInNetns, tsharkFields, udpDatagram, vethPair } from "../support/pppoe-lab.js";

const suffix = randomBytes(3).toString("hex");
const NETNS = `cgcon-${suffix}`;
const NEAR = `cgca${suffix}`; // the concentrator's side, here
const FAR = `cgcb${suffix}`; // the server's side, in NETNS
const LINES = Number(process.env.PPPOE_LAB_LINES ?? 1000);
const SECRET = "pppoe-lab-secret";
const KILLED = Math.min(50, LINES);

let dir = "";
let tshark: RunningProcess | undefined;
let freeradius: { detailFile: string; stop: () => Promise<void> } | undefined;
let ports = { auth: 0, acct: 0 };
let server: RunningProcess | undefined;
const clients: LineClient[] = [];
const pcapFile = (): string => join(dir, "concentrator.pcap");

const USERS = Array.from({ length: LINES }, (_, i) => [`user${i}`, `pw-${i}`] as const);

function startServer(): Promise<RunningProcess> {
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    [
      `framePort: { interface: ${FAR} }`,
      "acName: isp",
      "auth: pap",
      `users: { ${[...USERS, ["shared", "shared-pw"]].map(([u, p]) => `${u}: ${p}`).join(", ")} }`,
      "localAddress: 100.64.0.1",
      "pool: { first: 100.64.0.10, last: 100.64.15.250 }",
      "maxSessions: 2000",
      "",
    ].join("\n"),
  );
  const proc = spawnCliInNetns(NETNS, "pppoe-server", ["--config", config, "--log-level", "debug"]);
  return proc.waitFor('"ready":true', { stream: "stdout", what: "pppoe-server" }).then(() => proc);
}

function startConcentrator(mode: "session-per-line" | "shared-session", name: string, extra: string[] = []): Promise<RunningProcess> {
  const config = join(dir, `${name}.yaml`);
  const lines = [
    `mode: ${mode}`,
    `framePort: { interface: ${NEAR} }`,
    "acName: isp",
    `lines: { listen: "127.0.0.1:0", maxLines: ${LINES}, maxFrameBytes: 1600 }`,
    `maxSessions: ${LINES}`,
    `radius: { secret: ${SECRET}, acct: "127.0.0.1:${ports.acct}", auth: "127.0.0.1:${ports.auth}", nasIdentifier: lab-ac, nasIpAddress: 127.0.0.1 }`,
    `journal: ${join(dir, `${name}.journal`)}`,
    'metrics: "127.0.0.1:0"',
    ...extra,
  ];
  if (mode === "shared-session") lines.push("shared: { username: shared, password: shared-pw, localAddress: 10.1.0.1, pool: { first: 10.1.0.10, last: 10.1.7.250 }, lineAuth: pap }");
  writeFileSync(config, `${lines.join("\n")}\n`);
  const proc = spawnCli("pppoe-concentrator", ["--config", config, "--log-level", "info"]);
  return proc.waitFor('"ready":true', { stream: "stdout", what: "pppoe-concentrator" }).then(() => proc);
}

async function metric(proc: RunningProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://${String(readyLine(proc).metrics)}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

async function eventually(test: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `count` lines dialled in batches; resolves once every one has its address (IPCP open). */
async function dialLines(proc: RunningProcess, count: number, first = 0): Promise<LineClient[]> {
  const at = String(readyLine(proc).lines).split(":");
  const out: LineClient[] = [];
  for (let b = first; b < first + count; b += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, first + count - b) }, (_, k) => LineClient.dial(at[0]!, Number(at[1]), USERS[b + k]![0], USERS[b + k]![1], 0x1000 + b + k)),
    );
    await Promise.all(batch.map((c) => c.until(() => c.link.phase === "open", 60_000, "a line's IPCP")));
    out.push(...batch);
  }
  clients.push(...out);
  return out;
}

/**
 * Each line sends one datagram and waits for it to come back, 100 lines at a time: the frame port's UDP sockets
 * (socat's and ours) hold a few hundred frames, and a burst of every line at once would overflow them.
 */
async function echoInBatches(lines: LineClient[], datagram: (c: LineClient, i: number) => Buffer, ac: RunningProcess): Promise<void> {
  for (let b = 0; b < lines.length; b += 100) {
    const batch = lines.slice(b, b + 100);
    batch.forEach((c, k) => c.sendIp(datagram(c, b + k)));
    await Promise.all(batch.map((c) => c.until(() => c.received.length >= 1, 30_000, `line ${lines.indexOf(c)}'s datagram back`))).catch((err: unknown) => {
      throw new Error(`${String(err)}\nconcentrator:\n${ac.output().slice(-3000)}\nserver:\n${server!.output().slice(-2000)}`);
    });
  }
}

function detailRecords(): string[] {
  if (!existsSync(freeradius!.detailFile)) return [];
  return readFileSync(freeradius!.detailFile, "utf8").split(/\n\n+/).filter((r) => r.includes("Acct-Status-Type"));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pppoe-con-"));
  await run("ip", ["netns", "add", NETNS]);
  await run("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
  await vethPair(NEAR, FAR, NETNS);
  tshark = startProcess("tshark", ["-i", NEAR, "-F", "pcap", "-w", pcapFile(), "-f", "ether proto 0x8863 or ether proto 0x8864"], "tshark");
  await tshark.waitFor("Capturing on", { ms: 30_000 });
  ports = { auth: await freeUdpPort(), acct: await freeUdpPort() };
  freeradius = await startFreeradiusLab({
    dir,
    secret: SECRET,
    authPort: ports.auth,
    acctPort: ports.acct,
    users: USERS.map(([u, p]) => `${u}\tCleartext-Password := "${p}"\n`).join(""),
  });
  server = await startServer();
});

afterAll(async () => {
  for (const c of clients) c.hangUp();
  killStartedProcesses();
  await freeradius?.stop();
  await run("ip", ["link", "del", NEAR]).catch(() => undefined);
  await run("ip", ["netns", "del", NETNS]).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a PPPoE session per line", () => {
  it(`${LINES} lines get ${LINES} sessions; each line's datagram comes back to it alone, byte for byte; hang-ups and the server's PADTs empty both tables; FreeRADIUS has a Start and a Stop with octets per line`, async () => {
    const ac = await startConcentrator("session-per-line", "per-line");
    const lines = await dialLines(ac, LINES);
    expect(await metric(ac, "callgate_pppoe_sessions")).toBe(LINES);
    expect(new Set(lines.map((c) => c.link.localAddress)).size).toBe(LINES);
    await echoInBatches(lines, (c, i) => udpDatagram(c.link.localAddress!, "100.64.0.1", Buffer.from(`line ${i} says hello`)), ac);
    lines.forEach((c, i) => expect(c.received).toEqual([udpDatagram("100.64.0.1", c.link.localAddress!, Buffer.from(`line ${i} says hello`))]));

    // Half the lines hang up: PADT each, the server ends those sessions.
    for (const c of lines.slice(0, LINES / 2)) c.hangUp();
    await server!.waitFor('"by":"host","reason":"padt"', { times: LINES / 2, ms: 60_000 });
    await eventually(async () => (await metric(ac, "callgate_pppoe_sessions")) === LINES / 2, 30_000, "the concentrator's table at half");
    // The server stops: its PADTs close the other half of the lines and empty the table.
    expect(await server!.stop("SIGTERM")).toBe(0);
    await eventually(() => lines.every((c) => c.closed), 30_000, "every line closed").catch((err: unknown) => {
      throw new Error(`${String(err)}: ${lines.filter((c) => !c.closed).length} open\nconcentrator:\n${ac.output().slice(-3000)}\nserver:\n${server!.output().slice(-3000)}`);
    });
    await eventually(async () => (await metric(ac, "callgate_pppoe_sessions")) === 0, 30_000, "an empty table");
    await eventually(() => new Set(detailRecords().filter((r) => /Acct-Status-Type = Stop/.test(r)).map((r) => /Acct-Session-Id = "([^"]+)"/.exec(r)?.[1])).size >= LINES, 60_000, `${LINES} Accounting-Stop records`).catch((err: unknown) => {
      throw new Error(`${String(err)}\nconcentrator:\n${ac.output().slice(-3000)}`);
    });
    expect(await ac.stop("SIGTERM")).toBe(0);

    const records = detailRecords();
    const starts = records.filter((r) => /Acct-Status-Type = Start/.test(r));
    const stops = records.filter((r) => /Acct-Status-Type = Stop/.test(r));
    // Exactly one Start and one Stop per session in FreeRADIUS's detail file: retransmissions are the same
    // bytes from the same port, which FreeRADIUS takes as duplicates.
    const sessionIdOf = (r: string): string | undefined => /Acct-Session-Id = "([^"]+)"/.exec(r)?.[1];
    expect(starts).toHaveLength(LINES);
    expect(new Set(starts.map(sessionIdOf)).size).toBe(LINES);
    // Each Start names the user of the PAP it relayed (known before the Start is sent), not the line.
    const startUsers = starts.map((r) => /User-Name = "([^"]+)"/.exec(r)?.[1]);
    expect(startUsers.every((u) => u !== undefined && /^user\d+$/.test(u))).toBe(true);
    expect(new Set(startUsers).size).toBe(LINES);
    expect(stops).toHaveLength(LINES);
    const stopsById = new Map(stops.map((r) => [sessionIdOf(r), r]));
    expect(stopsById.size).toBe(LINES);
    const causes = [...stopsById.values()].map((r) => /Acct-Terminate-Cause = (\S+)/.exec(r)?.[1]);
    expect(causes.filter((c) => c === "User-Request")).toHaveLength(LINES / 2);
    expect(causes.filter((c) => c === "Admin-Reset")).toHaveLength(LINES / 2);
    // Each Stop names the user whose PAP it relayed and counts the line's octets both ways.
    const users = new Set([...stopsById.values()].map((r) => /User-Name = "([^"]+)"/.exec(r)?.[1]));
    expect(users.size).toBe(LINES);
    for (const r of stopsById.values()) {
      expect(Number(/Acct-Input-Octets = (\d+)/.exec(r)?.[1])).toBeGreaterThan(0);
      expect(Number(/Acct-Output-Octets = (\d+)/.exec(r)?.[1])).toBeGreaterThan(0);
    }
  });
});

describe("a concentrator killed with SIGKILL", () => {
  it("the server keeps the sessions; the restarted concentrator finds them in its journal, PADTs them and sends their Stops with the last interim counts", async () => {
    server = await startServer();
    // Interim counts every 300 ms: a kill loses at most that much of each session's octets.
    const ac = await startConcentrator("session-per-line", "killed", ["interimIntervalMs: 300"]);
    const lines = await dialLines(ac, KILLED);
    const startsOf = (): Set<string | undefined> => new Set(detailRecords().filter((r) => /Acct-Status-Type = Start/.test(r)).map((r) => /Acct-Session-Id = "([^"]+)"/.exec(r)?.[1]));
    const killedIds = new Set<string>();
    await eventually(() => startsOf().size >= LINES + KILLED, 30_000, "the killed run's Starts");
    lines.forEach((c, i) => c.sendIp(udpDatagram(c.link.localAddress!, "100.64.0.1", Buffer.from(`before the kill ${i}`))));
    await Promise.all(lines.map((c) => c.until(() => c.received.length >= 1, 30_000, "the datagram back")));
    await eventually(() => detailRecords().filter((r) => /Acct-Status-Type = Interim-Update/.test(r) && /Acct-Input-Octets = [1-9]/.test(r)).length >= KILLED, 30_000, "interim counts");
    // The killed run's sessions: Started and not Stopped.
    const idOf = (r: string): string => /Acct-Session-Id = "([^"]+)"/.exec(r)?.[1] ?? "";
    const stopped = new Set(detailRecords().filter((r) => /Acct-Status-Type = Stop/.test(r)).map(idOf));
    for (const r of detailRecords()) if (/Acct-Status-Type = Start/.test(r) && !stopped.has(idOf(r))) killedIds.add(idOf(r));
    expect(killedIds.size).toBe(KILLED);
    await ac.stop("SIGKILL");
    await eventually(() => lines.every((c) => c.closed), 10_000, "the lines dropped with the process");
    // The server sees nothing: no PADT came, its sessions stay.
    await new Promise((r) => setTimeout(r, 500));
    expect(server!.output().match(/"msg":"session ended"/g) ?? []).toHaveLength(0);
    const restarted = await startConcentrator("session-per-line", "killed");
    expect(readyLine(restarted).staleSessions).toBe(KILLED);
    await server!.waitFor('"by":"host","reason":"padt"', { times: KILLED, ms: 30_000 });
    const rebootStops = (): Map<string | undefined, string> =>
      new Map(detailRecords().filter((r) => /Acct-Terminate-Cause = NAS-Reboot/.test(r)).map((r) => [/Acct-Session-Id = "([^"]+)"/.exec(r)?.[1], r]));
    await eventually(() => rebootStops().size >= KILLED, 30_000, "the stale sessions' Stops");
    const stops = [...rebootStops().values()];
    expect(stops).toHaveLength(KILLED);
    expect(new Set(rebootStops().keys())).toEqual(killedIds);
    expect(await restarted.stop("SIGTERM")).toBe(0);
    // Each killed session has exactly one Start and one Stop in the detail file, the kill notwithstanding.
    const ofKilled = detailRecords().filter((r) => killedIds.has(/Acct-Session-Id = "([^"]+)"/.exec(r)?.[1] ?? ""));
    expect(ofKilled.filter((r) => /Acct-Status-Type = Start/.test(r))).toHaveLength(KILLED);
    expect(ofKilled.filter((r) => /Acct-Status-Type = Stop/.test(r))).toHaveLength(KILLED);
    // Their octets are the last interim counts the killed run wrote to its journal.
    for (const r of stops) expect(Number(/Acct-Input-Octets = (\d+)/.exec(r)?.[1])).toBeGreaterThan(0);
    // The journal holds nothing open any more.
    expect(readFileSync(join(dir, "killed.journal"), "utf8").split("\n").filter((l) => l.includes('"op":"open"')).length).toBe(
      readFileSync(join(dir, "killed.journal"), "utf8").split("\n").filter((l) => l.includes('"op":"close"')).length,
    );
  });
});

describe("one shared session", () => {
  it(`${LINES} lines authenticated through FreeRADIUS share one session; each gets an address and its own datagram back by destination`, async () => {
    const before = server!.output().length;
    const ac = await startConcentrator("shared-session", "shared");
    await ac.waitFor('"msg":"shared session up"');
    const sharedLinks = (server!.output().slice(before).match(/"user":"shared","msg":"link up"/g) ?? []).length;
    expect(sharedLinks).toBe(1);
    const lines = await dialLines(ac, LINES);
    const addresses = lines.map((c) => c.link.localAddress!);
    expect(new Set(addresses).size).toBe(LINES);
    expect(addresses.every((a) => a.startsWith("10.1."))).toBe(true);
    await echoInBatches(lines, (c, i) => udpDatagram(c.link.localAddress!, "198.51.100.7", Buffer.from(`shared line ${i}`)), ac);
    lines.forEach((c, i) => expect(c.received).toEqual([udpDatagram("198.51.100.7", c.link.localAddress!, Buffer.from(`shared line ${i}`))]));
    expect(await metric(ac, "callgate_pppoe_sessions")).toBe(1);
    // Still one session at the server: every line's traffic crossed on it.
    expect((server!.output().slice(before).match(/"msg":"session started"/g) ?? []).length).toBe(1);
    for (const c of lines) c.hangUp();
    await eventually(async () => (await metric(ac, "callgate_access_lines")) === 0, 30_000, "no lines");
    expect(await ac.stop("SIGTERM")).toBe(0);
    await server!.waitFor('"reason":"padt"', { ms: 10_000 });
  });
});

describe("a shared session whose pool runs out", () => {
  it("lines past the pool are refused (IPCP Configure-Reject, LCP Terminate-Request, line closed), counted, logged once", async () => {
    const config = join(dir, "small-pool.yaml");
    writeFileSync(
      config,
      [
        "mode: shared-session",
        `framePort: { interface: ${NEAR} }`,
        "acName: isp",
        'lines: { listen: "127.0.0.1:0", maxLines: 10 }',
        'metrics: "127.0.0.1:0"',
        `users: { ${USERS.slice(0, 4).map(([u, p]) => `${u}: ${p}`).join(", ")} }`,
        "shared: { username: shared, password: shared-pw, localAddress: 10.2.0.1, pool: { first: 10.2.0.10, last: 10.2.0.11 }, lineAuth: pap }",
        "",
      ].join("\n"),
    );
    const ac = spawnCli("pppoe-concentrator", ["--config", config, "--log-level", "info"]);
    await ac.waitFor('"ready":true', { stream: "stdout", what: "pppoe-concentrator" });
    await ac.waitFor('"msg":"shared session up"');
    const at = String(readyLine(ac).lines).split(":");
    const lines = await Promise.all(USERS.slice(0, 4).map(([u, p], i) => LineClient.dial(at[0]!, Number(at[1]), u, p, 0x7000 + i)));
    clients.push(...lines);
    await eventually(() => lines.filter((c) => c.link.phase === "open").length === 2 && lines.filter((c) => c.closed).length === 2, 30_000, "two lines up, two refused");
    expect(new Set(lines.filter((c) => c.link.phase === "open").map((c) => c.link.localAddress))).toEqual(new Set(["10.2.0.10", "10.2.0.11"]));
    const metrics = await (await fetch(`http://${String(readyLine(ac).metrics)}/metrics`)).text();
    const refused = metrics.split("\n").find((l) => l.includes('cause="line-refused-no-address"'));
    expect(Number(refused?.split(" ").at(-1))).toBe(2);
    expect(ac.output().match(/dropped: PPPoE:line-refused-no-address/g) ?? []).toHaveLength(1);
    for (const c of lines) c.hangUp();
    expect(await ac.stop("SIGTERM")).toBe(0);
  });
});

describe("tshark on the veth", () => {
  it("dissects every frame without a malformed one; its PPPoE, LCP, PAP, IPCP and IPv4 fields equal ours", async () => {
    await tshark!.stop("SIGINT");
    const frames = framesOfPcap(pcapFile());
    expect(frames.length).toBeGreaterThan(LINES * 20);
    expect(flaggedFrames(pcapFile())).toBe("");
    // Discovery (AC-Name), LCP (code, identifier, MRU), PAP (code, peer id), IPCP (address), IPv4 (addresses).
    const rows = tsharkFields(pcapFile(), TSHARK_PPPOE_FIELDS);
    const ours = ourPppoeFields(frames);
    expect(rows).toEqual(ours);
    // Per-line mode: each session carried the datagrams of one line only (none crossed on the wire).
    const bySession = new Map<number, Set<string>>();
    for (const b of frames) {
      const p = decodePppoeFrame(b).packet;
      if (p.kind !== "session") continue;
      const text = p.payload.subarray(2).toString("latin1");
      const m = /^line (\d+) says hello$/.exec(text.slice(28));
      if (m) bySession.set(p.sessionId, (bySession.get(p.sessionId) ?? new Set()).add(m[1]!));
    }
    expect([...bySession.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...bySession.values()].map((s) => [...s][0])).size).toBe(LINES);
  });
});
