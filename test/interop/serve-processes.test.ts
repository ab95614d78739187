// Issue 6: each role of FIG. 5 / FIG. 6 in its own OS process (`callgate serve ROLE --config FILE`) on
// loopback sockets; the processes' record files merged by time must match the reference ladders.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordFromJsonLine, type MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { TOKEN_HEADER } from "../../lib/roles/sip-proxy.js";
import { generateOspPki, type OspPki } from "../../protocols/osp/index.js";
import { parseSipMessage } from "../../protocols/sip/index.js";
import { fromJsonLines } from "../../lib/replay/ladder-json.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";
import { BUILT_CLI as CLI, killStartedProcesses, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES as SERVERS, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";

/** check-ladder.mjs on the records; its output, after asserting it passed. */
function check(records: MessageRecord[], flow: "setup" | "teardown", noClearinghouse = false): string {
  const res = checkLadder(records, flow, noClearinghouse);
  expect(res.status, `${flow}: ${res.output}`).toBe(0);
  return res.output;
}

afterAll(killStartedProcesses);

async function writeConfig(dir: string, topology: string, extra: string[] = []): Promise<string> {
  const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
  // Each port is free for UDP and TCP alike: a SIP role listens on both when SIP runs over TCP.
  const sip = (port: number): string => `{ udp: ${port}, tcp: ${port} }`;
  const file = join(dir, "deploy.yaml");
  writeFileSync(
    file,
    [
      "name: serve-test",
      "seed: 7",
      `topology: ${topology}`,
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 1, answerDelayMs: 150, durationMs: 300, hangUp: caller }",
      ...extra,
      "",
    ].join("\n"),
  );
  return file;
}

const serve = (role: string, config: string, record: string, extra: string[] = []): RunningProcess => serveProcess(role, config, record, { built: true, extra });
// Nine Node processes starting at once on a loaded machine.
const ready = (s: RunningProcess, role: string): Promise<void> => s.waitFor(`${role} ready`, { what: role, ms: 90_000 });

/** Runs the nine roles as processes, the UAC last; returns the merged records and the UAC's output. */
async function deployment(topology: string, withClearinghouse: boolean, tokens = false, uacArgs: string[] = []): Promise<{ records: MessageRecord[]; uacOut: string; dir: string; files: string[]; pki?: OspPki }> {
  const dir = mkdtempSync(join(tmpdir(), "callgate-serve-"));
  let pki: OspPki | undefined;
  if (tokens) {
    // Keys no seed derives: the CH process signs with the key file, the POL2 process trusts the CA file.
    pki = generateOspPki({ keyType: "p256", notBefore: Date.now() - 3_600_000, notAfter: Date.now() + 3_600_000 });
    writeFileSync(join(dir, "ca.pem"), pki.caCertificatePem);
    writeFileSync(join(dir, "ch-key.pem"), pki.signer.privateKeyPem);
    writeFileSync(join(dir, "ch-cert.pem"), pki.signer.certificatePem);
  }
  const config = await writeConfig(dir, topology, tokens ? ["tokens: { caCertificate: ca.pem, signingKey: ch-key.pem, signingCertificate: ch-cert.pem }"] : []);
  const servers = SERVERS.filter((r) => withClearinghouse || r !== "CH").map((role) => ({ role, s: serve(role, config, join(dir, `${role}.jsonl`)) }));
  for (const { role, s } of servers) await ready(s, role);
  const uac = serve("UAC", config, join(dir, "UAC.jsonl"), uacArgs);
  const code = await uac.exited;
  expect(code, uac.output()).toBe(0);
  // The teardown goes on behind the UAC (COPS reports, usage to the clearinghouse): wait until the files are still.
  const files = ["UAC", ...servers.map((x) => x.role)].map((r) => join(dir, `${r}.jsonl`)).filter((f) => existsSync(f));
  await untilRecordsStill(files);
  for (const { s } of servers) s.child.kill("SIGTERM");
  const codes = await Promise.all(servers.map(({ s }) => s.exited));
  expect(codes).toEqual(servers.map(() => 0));
  for (const { role, s } of servers) expect(s.output()).toContain(`${role} stopped`);
  return { records: mergeRecordFiles(files), uacOut: uac.output(), dir, files, ...(pki ? { pki } : {}) };
}

describe("callgate serve: one role per process on loopback", () => {
  it("FIG. 5 / FIG. 6 with the clearinghouse and tokens signed with PEM key files: the merged record files match both ladders", async () => {
    expect(existsSync(CLI), "run `npm run build` first").toBe(true);
    const { records, uacOut, dir, files, pki } = await deployment("{ clearinghouse: osp-http, signedTokens: true, sipTransport: udp }", true, true);
    expect(uacOut).toContain("UAC ready sip 127.0.0.1:");
    expect(uacOut).toContain("1 call(s), 1 answered and ended, 0 failed");
    const callId = "call-1@callgate.example.com";
    const { setup, teardown } = splitCall(records, callId);
    expect(check(setup, "setup")).toContain("all 28 steps");
    expect(check(teardown, "teardown")).toContain("all 18 steps");
    // `callgate serve merge` prints the same ladder, and splits one call for the checker.
    const all = spawnSync(process.execPath, [CLI, "serve", "merge", ...files], { encoding: "utf8" });
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout.trim().split("\n").map((l) => recordFromJsonLine(l)).map((r) => `${r.msg} ${r.callId}`)).toEqual(records.map((r) => `${r.msg} ${r.callId}`));
    const split = spawnSync(process.execPath, [CLI, "serve", "merge", "--call", callId, "--split", join(dir, "cli"), ...files], { encoding: "utf8" });
    expect(split.status, split.stderr).toBe(0);
    const half = (name: string): MessageRecord[] => fromJsonLines(readFileSync(join(dir, `cli.${name}.jsonl`), "utf8"));
    expect(half("setup").map((r) => r.msg)).toEqual(setup.map((r) => r.msg));
    expect(check(half("teardown"), "teardown")).toContain("all 18 steps");
    // Each message once: every process recorded only what it sent, from its own role.
    const senders = new Set(records.map((r) => r.from));
    expect(senders).toEqual(new Set(["UAC", ...SERVERS]));
    for (const r of records) {
      expect(r.transport?.src).toBe("127.0.0.1");
      expect(r.transport?.dst).toBe("127.0.0.1");
    }
    // The token SIP1 forwards (and POL2 accepted) is signed by the CH process: CMS SignedData (DER), not bare XML.
    const invite = records.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE");
    const token = Buffer.from(parseSipMessage(invite?.bytes ?? Buffer.alloc(0)).getHeader(TOKEN_HEADER) ?? "", "base64");
    expect(token[0]).toBe(0x30);
    expect(token.includes(Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]))).toBe(true); // id-signedData
    // ... by the key from the files: the token carries the certificate of ch-cert.pem.
    const certDer = Buffer.from((pki?.signer.certificatePem ?? "").replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    expect(certDer.length).toBeGreaterThan(100);
    expect(token.includes(certDer)).toBe(true);
    const osp = records.filter((r) => r.proto === "OSP" && r.callId === callId).map((r) => `${r.from}>${r.to} ${r.msg}`);
    expect(osp).toEqual(expect.arrayContaining(["POL1>CH AuthorisationRequest", "CH>POL1 AuthorisationResponse", "POL2>CH UsageIndication", "CH>POL2 UsageConfirmation"]));
  });

  it("without a clearinghouse, SIP over TCP, two calls (--calls 2 on a file saying 1): the ladders match with --no-clearinghouse", async () => {
    const { records, uacOut } = await deployment("{ clearinghouse: none, sipTransport: tcp }", false, false, ["--calls", "2"]);
    expect(uacOut).toContain("2 call(s), 2 answered and ended, 0 failed");
    for (const callId of ["call-1@callgate.example.com", "call-2@callgate.example.com"]) {
      const { setup, teardown } = splitCall(records, callId);
      check(setup, "setup", true);
      check(teardown, "teardown", true);
    }
    expect(records.filter((r) => r.proto === "OSP")).toEqual([]);
    expect(new Set(records.filter((r) => r.proto === "SIP").map((r) => r.transport?.kind))).toEqual(new Set(["tcp"]));
  });

  it("a taken port or a bad file: the process says so and exits (1, resp. 2) instead of hanging", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-serve-"));
    const config = await writeConfig(dir, "{ clearinghouse: osp-http }");
    const port = Number(/POL1: \{ host: 127\.0\.0\.1, cops: (\d+)/.exec(readFileSync(config, "utf8"))?.[1]);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const pol1 = serve("POL1", config, join(dir, "POL1.jsonl"));
      expect(await pol1.exited).toBe(1);
      expect(pol1.output()).toContain(`POL1 cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    writeFileSync(join(dir, "bad.yaml"), "roles:\n  SIP1: { host: 10.1.2.3, sip: { udp: 5060 } }\n");
    const bad = serve("SIP1", join(dir, "bad.yaml"), join(dir, "bad.jsonl"));
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain(`${join(dir, "bad.yaml")}:2:17: roles.SIP1.host: '10.1.2.3' is not a loopback address`);
  });
});
