// A policy server as `callgate serve POL1` runs it (socket driver, deploy file with copsSecurity), fed by raw
// TCP sockets: every hostile input gets the CC of RFC 2748 §2.2.8 / §3.7 and a close, the process keeps
// serving, impostors never displace the real PEPs, and a 100,000-REQ flood on one connection holds no more
// request states than configured and leaves none once the connection is gone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { serveRole, type ServedRole } from "../../../lib/flow/serve.js";
import {
  ClientType,
  ErrorCode,
  buildConfigRequest,
  buildSipAaaRequest,
  encodeAaaRequest,
  encodeCopsMessage,
  parseSipAaaDecision,
  type CopsIntegrityConfig,
  type CopsMessage,
} from "../../../protocols/cops/index.js";
import { freePort } from "../../interop/sip-sipp-helpers.js";
import { floodCall as info, handleOf, hostilePdpDeployFile, writeFlood } from "../../support/hostile-pdp.js";
import { RawPep } from "../../support/raw-cops-pep.js";
import { fuzzSeed, randomBytes, seededRandom } from "../../support/seeded-random.js";

const SIP1_KEY: CopsIntegrityConfig = { keyId: 41, key: Buffer.from("8d2c0e0a5b1f4d3c9e7a6b5c4d3e2f10", "hex") };
const MAX_STATES = 500;

const opn = (pepId: string, clientType: number = ClientType.SipAaa): CopsMessage => ({ op: "OPN", clientType, pepId });

let served: ServedRole;
let port: number;
const refusals: string[] = [];

beforeAll(async () => {
  port = await freePort();
  const config = parseDeployConfig(hostilePdpDeployFile(port, SIP1_KEY, MAX_STATES));
  served = await serveRole({ config, role: "POL1", onDrop: (proto, cause, detail) => refusals.push(`${proto} ${cause} ${detail}`) });
});
afterAll(async () => {
  await served?.close();
});

describe("hostile input at a served PDP gets CC with the RFC's Error, then close", () => {
  it.each([
    ["random bytes", Buffer.from("7a1c93e0b45566778899aabbccddeeff", "hex"), ErrorCode.BadMessageFormat],
    ["a length of 0xFFFFFFFF", Buffer.from("100680b1ffffffff", "hex"), ErrorCode.BadMessageFormat],
    ["an oversized length", Buffer.from("100680b17ffffff0", "hex"), ErrorCode.BadMessageFormat],
    ["a length not a multiple of 4", Buffer.from("100680b10000000a0000", "hex"), ErrorCode.BadMessageFormat],
    ["an unknown op code", Buffer.from("100e8cb100000008", "hex"), ErrorCode.BadMessageFormat],
    // An OPN whose PEPID object claims 64 octets inside a 16-octet message.
    ["a truncated object", Buffer.from("10068cb100000010 00400b01 73697031".replace(/ /g, ""), "hex"), ErrorCode.BadMessageFormat],
    ["a REQ before OPN", encodeAaaRequest(handleOf(1), info(1)), ErrorCode.BadMessageFormat],
    ["an unsupported client type", encodeCopsMessage(opn("r1", 0x8008)), ErrorCode.UnsupportedClientType],
    ["an unknown PEPID", encodeCopsMessage(opn("intruder.example.com")), ErrorCode.AuthenticationFailure],
    ["SIP1's PEPID without Integrity", encodeCopsMessage(opn("sip1.example.com")), ErrorCode.AuthenticationRequired],
  ])("%s", async (_name, bytes, code) => {
    const pep = new RawPep(port);
    pep.write(bytes);
    expect(await pep.refusedWith()).toBe(code);
  });

  it("SIP1's PEPID under a wrong key → CC Error 14", async () => {
    const pep = new RawPep(port, { keyId: SIP1_KEY.keyId, key: Buffer.alloc(16, 7) });
    pep.send(opn("sip1.example.com"));
    expect(await pep.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
  });

  it("each refusal was reported as a drop with its cause", () => {
    const causes = ["cops-bad-length", "cops-frame-too-large", "cops-bad-version", "cops-bad-message", "cops-before-open", "cops-unsupported-client-type", "cops-pep-not-admitted", "cops-integrity-missing", "cops-integrity-failed"];
    for (const cause of causes) expect(refusals.some((r) => r.startsWith(`COPS ${cause} `)), cause).toBe(true);
  });
});

describe("random and mutated first messages", () => {
  it("300 connections of random bytes or mutated OPNs: each is answered by CC (or CAT) or just closed, and SIP1 is served afterwards", async () => {
    const rnd = seededRandom(fuzzSeed());
    const validOpn = encodeCopsMessage(opn("r1", ClientType.DiffServPr));
    const inputs: Buffer[] = [];
    for (let i = 0; i < 150; i++) inputs.push(randomBytes(rnd, 1 + Math.floor(rnd() * 64)));
    for (let i = 0; i < 150; i++) {
      const m = Buffer.from(validOpn);
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      inputs.push(m);
    }
    const answers = new Map<string, number>();
    for (let at = 0; at < inputs.length; at += 10) {
      await Promise.all(
        inputs.slice(at, at + 10).map(async (bytes) => {
          const pep = new RawPep(port);
          pep.write(bytes);
          pep.socket.end(); // a first message cut short is closed, not waited for
          const first = await Promise.race([pep.next(), pep.closed.then(() => undefined)]);
          pep.end();
          await pep.closed;
          const key = first === undefined ? "closed" : first.op === "CC" ? `CC ${first.error.code}` : first.op;
          answers.set(key, (answers.get(key) ?? 0) + 1);
        }),
      );
    }
    for (const key of answers.keys()) expect(["closed", "CAT", "CC 3", "CC 6", "CC 7", "CC 13", "CC 14", "CC 15"]).toContain(key);
    expect(answers.get("CC 3")).toBeGreaterThan(100);
    const sip1 = new RawPep(port, SIP1_KEY);
    sip1.send(opn("sip1.example.com"));
    expect((await sip1.next()).op).toBe("CAT");
    sip1.send(buildSipAaaRequest("AAA", handleOf(9), info(9)));
    expect(parseSipAaaDecision(await sip1.next())).toMatchObject({ purpose: "AAA", allowed: true });
    sip1.end();
  }, 60_000);
});

describe("authenticated PEPs", () => {
  it("SIP1 with Integrity gets CAT and DEC AAA; an impostor reusing its PEPID or R1's is refused and SIP1 and R1 stay connected", async () => {
    const sip1 = new RawPep(port, SIP1_KEY);
    sip1.send(opn("sip1.example.com"));
    expect(await sip1.next()).toMatchObject({ op: "CAT", integrity: { keyId: SIP1_KEY.keyId } });
    const r1 = new RawPep(port);
    r1.send(opn("r1", ClientType.DiffServPr));
    expect(await r1.next()).toMatchObject({ op: "CAT" });
    r1.send(buildConfigRequest(handleOf(0x100), [{ instanceId: 1, roles: "edge", maxFlows: 10 }]));
    expect(await r1.next()).toMatchObject({ op: "DEC" });

    for (const [pepId, clientType, code] of [
      ["sip1.example.com", ClientType.SipAaa, ErrorCode.AuthenticationRequired],
      ["r1", ClientType.DiffServPr, ErrorCode.AuthenticationFailure],
    ] as const) {
      const impostor = new RawPep(port);
      impostor.send(opn(pepId, clientType));
      expect(await impostor.refusedWith()).toBe(code);
    }

    sip1.send(buildSipAaaRequest("AAA", handleOf(7), info(7)));
    const dec = await sip1.next();
    expect(dec.op).toBe("DEC");
    expect(parseSipAaaDecision(dec)).toMatchObject({ purpose: "AAA", allowed: true });
    expect(sip1.socket.destroyed).toBe(false);
    expect(r1.socket.destroyed).toBe(false);

    // A tampered REQ on the authenticated connection → CC Error 14 and close (RFC 2748 §2.2.16).
    const tampered = Buffer.from(sip1.sealed(buildSipAaaRequest("AAA", handleOf(8), info(8))));
    tampered[30] = (tampered[30] as number) ^ 0xff;
    sip1.write(tampered);
    expect(await sip1.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
    r1.end();
  });
});

describe("a 100,000-REQ flood on one connection", () => {
  it("holds at most maxRequestStates, refuses the rest with DEC Error 4, and leaves no state after the close", async () => {
    const pep = new RawPep(port, SIP1_KEY);
    pep.send(opn("sip1.example.com"));
    expect((await pep.next()).op).toBe("CAT");
    const total = 100_000;
    let decided = 0;
    let refused = 0;
    let peak = 0;
    const answered = new Promise<void>((resolve) => {
      const take = (): void => {
        void pep.next().then((m) => {
          if (m.op === "DEC" && m.error?.code === ErrorCode.UnableToProcess) refused++;
          else if (m.op === "DEC") decided++;
          peak = Math.max(peak, served.state().copsRequestStates ?? 0);
          if (decided + refused === total) resolve();
          else take();
        });
      };
      take();
    });
    await writeFlood(pep, 1, total);
    await answered;
    expect(decided).toBe(MAX_STATES);
    expect(refused).toBe(total - MAX_STATES);
    expect(peak).toBeLessThanOrEqual(MAX_STATES);
    expect(served.state().copsRequestStates).toBe(MAX_STATES);
    pep.end();
    await pep.closed;
    // The PEP does not come back to resynchronise: once its grace is over, the PDP holds nothing for it.
    for (let i = 0; i < 200 && (served.state().copsRequestStates ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(served.state()).toMatchObject({ copsRequestStates: 0, calls: 0 });
  }, 60_000);
});
