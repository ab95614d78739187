// Issue 12 evidence "Integrity and TLS from a deploy file": nine `callgate serve` processes whose deploy file
// switches TLS on everywhere (SIP between the nodes over TLS, COPS over TLS, OSP over HTTPS, mutual TLS with a
// pinned CA) and COPS Integrity keys (copsSecurity). A call completes and its merged ladder passes
// check-ladder.mjs; tshark, capturing on loopback during the run, sees TLS records only: no cleartext SIP,
// COPS or OSP.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { decodeCopsMessage } from "../../protocols/cops/index.js";
import { killStartedProcesses, startProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { makeTestPki } from "../support/tls-test-pki.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";

const ROLES = ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"] as const;
const SERVERS = ROLES.filter((r) => r !== "UAC");
const KEYS = { SIP1: [1, "a1a2a3a4a5a6a7a8a9aaabacadaeafb0"], R1: [2, "b1b2b3b4b5b6b7b8b9babbbcbdbebfc0"], SIP2: [3, "c1c2c3c4c5c6c7c8c9cacbcccdcecfd0"], R2: [4, "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0"] } as const;

afterAll(killStartedProcesses);

function tshark(...args: string[]): string {
  return execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

describe("TLS and Integrity from a deploy file, nine serve processes", () => {
  it("a call completes over SIP-TLS, COPS-TLS with Integrity and OSP-HTTPS; the loopback capture holds TLS records only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-tls-serve-"));
    makeTestPki([...ROLES], "callgate deploy CA", dir); // ca.pem, <role>.pem and <role>.key in the deploy file's directory
    const named = await namedFreePorts(["uac", "uacTls", "sip1", "sip1Tls", "pol1", "ch", "sip2", "sip2Tls", "pol2", "uas", "uasTls"]);
    const { uac, uacTls, sip1, sip1Tls, pol1, ch, sip2, sip2Tls, pol2, uas, uasTls } = named;
    const ports = Object.values<number>(named);
    const sip = (udp: number, tls: number): string => `{ udp: ${udp}, tls: ${tls} }`;
    const pep = (role: keyof typeof KEYS): string => `      ${role}: { addresses: [127.0.0.1], integrity: { keyId: ${KEYS[role][0]}, key: ${KEYS[role][1]} } }`;
    const config = join(dir, "deploy.yaml");
    writeFileSync(
      config,
      [
        "name: tls-everywhere",
        "seed: 11",
        "topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: tcp }",
        ...rolesSection({ UAC: sip(uac, uacTls), SIP1: sip(sip1, sip1Tls), POL1: pol1, CH: ch, SIP2: sip(sip2, sip2Tls), POL2: pol2, UAS: sip(uas, uasTls) }),
        "calls: { count: 1, answerDelayMs: 150, durationMs: 300, hangUp: caller }",
        "copsSecurity:",
        "  POL1:",
        "    peps:",
        pep("SIP1"),
        pep("R1"),
        "  POL2:",
        "    peps:",
        pep("SIP2"),
        pep("R2"),
        "tls:",
        "  ca: ca.pem",
        "  requireClientCert: true",
        "  sip: true",
        "  cops: true",
        "  osp: true",
        "  roles:",
        ...ROLES.map((r) => `    ${r}: { certificate: ${r.toLowerCase()}.pem, key: ${r.toLowerCase()}.key }`),
        "",
      ].join("\n"),
    );

    // Every port of the deployment, TCP and UDP, captured on loopback from before the first connection.
    const pcap = join(dir, "tls.pcap");
    const filter = ports.map((p) => `port ${p}`).join(" or ");
    const capture = startProcess("tshark", ["-i", "lo", "-f", `host 127.0.0.1 and (${filter})`, "-w", pcap]);
    await capture.waitFor("Capturing on", { ms: 30_000 });

    // `callgate serve` from the sources (tsx), so the test runs what is checked in.
    const servers = SERVERS.map((role) => ({ role, s: serveProcess(role, config, join(dir, `${role}.jsonl`)) }));
    for (const { role, s } of servers) await s.waitFor(`${role} ready`, { what: role, ms: 90_000 });
    const uacRun = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
    expect(await uacRun.exited, uacRun.output()).toBe(0);
    expect(uacRun.output()).toContain("1 call(s), 1 answered and ended, 0 failed");

    const files = ROLES.map((r) => join(dir, `${r}.jsonl`)).filter((f) => existsSync(f));
    await untilRecordsStill(files);
    for (const { s } of servers) s.child.kill("SIGTERM");
    expect(await Promise.all(servers.map(({ s }) => s.exited))).toEqual(servers.map(() => 0));
    await new Promise((r) => setTimeout(r, 500)); // the last segments reach the capture
    capture.child.kill("SIGINT");
    await capture.exited;
    expect(statSync(pcap).size).toBeGreaterThan(0);

    // The ladder of the call, from the processes' record files, matches FIG. 5 and FIG. 6.
    const records: MessageRecord[] = mergeRecordFiles(files);
    const { setup, teardown } = splitCall(records, "call-1@callgate.example.com");
    const s = checkLadder(setup, "setup");
    expect(s.status, s.output).toBe(0);
    expect(s.output).toContain("all 28 steps");
    const t = checkLadder(teardown, "teardown");
    expect(t.status, t.output).toBe(0);
    // Integrity on: every COPS message the roles sent carries an Integrity object (C-Num 16).
    const cops = records.filter((r) => r.proto === "COPS");
    expect(cops.length).toBeGreaterThan(20);
    for (const r of cops) expect(decodeCopsMessage(r.bytes).integrity, r.msg).toBeDefined();

    // On the wire: every port decoded as TLS. Handshakes and application data records are seen ...
    const asTls = ports.flatMap((p) => ["-d", `tcp.port==${p},tls`]);
    const handshakes = tshark("-r", pcap, ...asTls, "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tcp.dstport").trim().split("\n").filter(Boolean).map(Number);
    // ClientHellos to every TLS listener: SIP1, SIP2, UAS (SIP), POL1, POL2 (COPS), CH (OSP).
    expect(new Set(handshakes)).toEqual(new Set([sip1Tls, sip2Tls, uasTls, pol1, pol2, ch]));
    const appData = tshark("-r", pcap, ...asTls, "-Y", "tls.record.opaque_type == 23 || tls.record.content_type == 23", "-T", "fields", "-e", "frame.number").trim().split("\n").filter(Boolean);
    expect(appData.length).toBeGreaterThan(records.length / 2);
    // ... and nothing else: no frame tshark reads as SIP, COPS, HTTP or XML, with its heuristics and the COPS port rule ...
    expect(tshark("-r", pcap, "-Y", "sip || cops || http || xml", "-T", "fields", "-e", "frame.number").trim()).toBe("");
    // ... no UDP payload at all (SIP runs over TLS between every node) ...
    expect(tshark("-r", pcap, "-Y", "udp", "-T", "fields", "-e", "frame.number").trim()).toBe("");
    // ... and no cleartext of any of the three protocols in the TCP payload bytes.
    const payload = Buffer.from(tshark("-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.payload").replace(/[^0-9a-f]/gi, ""), "hex").toString("latin1");
    expect(payload.length).toBeGreaterThan(10_000);
    for (const clear of ["SIP/2.0", "INVITE sip:", "Call-ID", "call-1@callgate.example.com", "sip1.example.com", "<Message", "AuthorisationRequest", "POST /osp"]) expect(payload.includes(clear), clear).toBe(false);
    // Each COPS message's 8-byte header (version 1, op code, client type 0x8cb1 or COPS-PR 2) does not occur either.
    for (const r of cops.slice(0, 10)) expect(payload.includes(r.bytes.subarray(0, 8).toString("latin1")), `${r.msg} header`).toBe(false);
  });
});
