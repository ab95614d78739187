// `callgate serve POL1` as its own process (the built CLI), fed by raw TCP sockets: hostile first messages get
// the CC of RFC 2748 §2.2.8 / §3.7, an impostor never displaces SIP1, a 100,000-REQ flood on one connection
// is answered (DEC Error 4 beyond the configured states) with the process's RSS under a stated bound, and
// afterwards the process is up and SIP1's OPN / REQ / DEC still succeed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientType, ErrorCode, encodeCopsMessage, parseSipAaaDecision, type CopsIntegrityConfig } from "../../protocols/cops/index.js";
import { killStartedProcesses, rssMb, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { floodAaa as aaa, hostilePdpDeployFile, writeFlood } from "../support/hostile-pdp.js";
import { RawPep } from "../support/raw-cops-pep.js";
import { freePort } from "./sip-sipp-helpers.js";

const SIP1_KEY: CopsIntegrityConfig = { keyId: 5, key: Buffer.from("5e5e5e5e0102030405060708090a0b0c", "hex") };
const MAX_STATES = 10_000;
/** What this test states the policy server's RSS stays under, flood included (measured: about 130 MB). */
const RSS_BOUND_MB = 256;

let pdp: RunningProcess;
let port: number;
let dir: string;

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), "cops-hostile-"));
  const config = join(dir, "deploy.yaml");
  writeFileSync(config, hostilePdpDeployFile(port, SIP1_KEY, MAX_STATES));
  pdp = spawnCli("serve", ["POL1", "--config", config], { built: true });
  await pdp.waitFor("POL1 ready", { stream: "stdout", ms: 110_000 });
});

afterAll(() => {
  killStartedProcesses();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("callgate serve POL1 under hostile COPS input", () => {
  it("garbage, lying lengths, REQ before OPN, unknown PEPIDs and missing Integrity each get their CC; the process stays up", async () => {
    for (const [bytes, code] of [
      [Buffer.from("ffffffffffffffffffffffff", "hex"), ErrorCode.BadMessageFormat],
      [Buffer.from("100680b1ffffffff", "hex"), ErrorCode.BadMessageFormat],
      [Buffer.from("100680b10000000a", "hex"), ErrorCode.BadMessageFormat],
      [encodeCopsMessage(aaa(1)), ErrorCode.BadMessageFormat],
      [encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "intruder.example.com" }), ErrorCode.AuthenticationFailure],
      [encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" }), ErrorCode.AuthenticationRequired],
    ] as const) {
      const pep = new RawPep(port);
      pep.write(bytes);
      expect(await pep.refusedWith()).toBe(code);
    }
    expect(pdp.child.exitCode).toBeNull();
  });

  it("an impostor OPN for SIP1 is refused while SIP1 stays connected; a tampered REQ gets CC 14", async () => {
    const sip1 = new RawPep(port, SIP1_KEY);
    sip1.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    expect((await sip1.next()).op).toBe("CAT");
    const impostor = new RawPep(port);
    impostor.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    expect(await impostor.refusedWith()).toBe(ErrorCode.AuthenticationRequired);
    sip1.send(aaa(2));
    expect(parseSipAaaDecision(await sip1.next())).toMatchObject({ purpose: "AAA", allowed: true });
    const tampered = Buffer.from(sip1.sealed(aaa(3)));
    tampered[24] = (tampered[24] as number) ^ 0x40;
    sip1.write(tampered);
    expect(await sip1.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
  });

  it(`100,000 REQs on one connection: ${MAX_STATES} decided, the rest DEC Error 4, RSS under ${RSS_BOUND_MB} MB; then SIP1 is served`, async () => {
    const pep = new RawPep(port, SIP1_KEY);
    pep.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    expect((await pep.next()).op).toBe("CAT");
    const total = 100_000;
    let decided = 0;
    let refused = 0;
    let peakRss = rssMb(pdp.child.pid ?? 0);
    const answered = (async () => {
      while (decided + refused < total) {
        const m = await pep.next();
        if (m.op !== "DEC") continue;
        if (m.error?.code === ErrorCode.UnableToProcess) refused++;
        else decided++;
        if ((decided + refused) % 5000 === 0) peakRss = Math.max(peakRss, rssMb(pdp.child.pid ?? 0));
      }
    })();
    await writeFlood(pep, 101, total);
    await answered;
    peakRss = Math.max(peakRss, rssMb(pdp.child.pid ?? 0));
    expect({ decided, refused }).toEqual({ decided: MAX_STATES, refused: total - MAX_STATES });
    expect(peakRss).toBeLessThan(RSS_BOUND_MB);
    pep.end();
    await pep.closed;
    expect(pdp.child.exitCode).toBeNull();
    const sip1 = new RawPep(port, SIP1_KEY);
    sip1.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    expect((await sip1.next()).op).toBe("CAT");
    sip1.send(aaa(999_999));
    expect(parseSipAaaDecision(await sip1.next())).toMatchObject({ purpose: "AAA", allowed: true });
    sip1.end();
  }, 120_000);
});
