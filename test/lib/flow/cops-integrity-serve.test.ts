// COPS Integrity switched on from a deploy file (copsSecurity, RFC 2748 §2.2.16): every served role of FIG. 5 /
// FIG. 6 on the socket driver; the PEPs sign with the keys their PDP has for them and calls complete, every
// COPS message on the wire carrying an Integrity object; a PEP with a key its PDP does not have is refused.
import { afterEach, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { serveRole, type ServedRole } from "../../../lib/flow/serve.js";
import { decodeCopsMessage } from "../../../protocols/cops/index.js";
import { freePort } from "../../interop/sip-sipp-helpers.js";

const KEYS = {
  SIP1: { keyId: 1, key: "a1a2a3a4a5a6a7a8a9aaabacadaeafb0" },
  R1: { keyId: 2, key: "b1b2b3b4b5b6b7b8b9babbbcbdbebfc0" },
  SIP2: { keyId: 3, key: "c1c2c3c4c5c6c7c8c9cacbcccdcecfd0" },
  R2: { keyId: 4, key: "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0" },
};

const started: ServedRole[] = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.close();
});

async function deployText(security: string[]): Promise<string> {
  const ports = new Set<number>();
  while (ports.size < 6) ports.add(await freePort());
  const [uac, sip1, pol1, sip2, pol2, uas] = [...ports];
  return [
    "seed: 3",
    "topology: { clearinghouse: none }",
    "roles:",
    `  UAC:  { host: 127.0.0.1, sip: { udp: ${uac} } }`,
    `  SIP1: { host: 127.0.0.1, sip: { udp: ${sip1} } }`,
    `  POL1: { host: 127.0.0.1, cops: ${pol1} }`,
    "  R1:   { host: 127.0.0.1 }",
    `  SIP2: { host: 127.0.0.1, sip: { udp: ${sip2} } }`,
    `  POL2: { host: 127.0.0.1, cops: ${pol2} }`,
    "  R2:   { host: 127.0.0.1 }",
    `  UAS:  { host: 127.0.0.1, sip: { udp: ${uas} } }`,
    "calls: { count: 2, intervalMs: 100, answerDelayMs: 100, durationMs: 200, hangUp: caller }",
    "copsSecurity:",
    ...security,
    "",
  ].join("\n");
}

const pep = (role: keyof typeof KEYS) => `      ${role}: { addresses: [127.0.0.1], integrity: { keyId: ${KEYS[role].keyId}, key: ${KEYS[role].key} } }`;

describe("COPS Integrity from the deploy file", () => {
  it("every role served with keys: both calls complete and every COPS message carries a valid Integrity object", async () => {
    const config = parseDeployConfig(await deployText(["  POL1:", "    peps:", pep("SIP1"), pep("R1"), "  POL2:", "    peps:", pep("SIP2"), pep("R2")]));
    const cops: MessageRecord[] = [];
    const errors: string[] = [];
    for (const role of ["POL1", "POL2", "R1", "R2", "SIP1", "SIP2", "UAS"]) {
      started.push(
        await serveRole({
          config,
          role,
          onRecord: (r) => r.proto === "COPS" && cops.push(r),
          onDrop: (proto, cause) => errors.push(`${role} ${proto} ${cause}`),
        }),
      );
    }
    const uac = await serveRole({ config, role: "UAC" });
    started.push(uac);
    const calls = await uac.calls;
    expect(calls?.map((c) => [c.finalStatusAtCaller, c.ended])).toEqual([
      [200, true],
      [200, true],
    ]);
    expect(errors).toEqual([]);
    const ops = new Set(cops.map((r) => r.msg.split(" ")[0]));
    for (const op of ["OPN", "CAT", "REQ", "DEC", "RPT", "DRQ"]) expect(ops, op).toContain(op);
    for (const r of cops) {
      const m = decodeCopsMessage(r.bytes);
      const peer = [r.from, r.to].find((n) => n in KEYS) as keyof typeof KEYS;
      expect(m.integrity, `${r.from}→${r.to} ${r.msg}`).toMatchObject({ cType: 1, keyId: KEYS[peer].keyId });
    }
  }, 30_000);

  it("a PEP whose key its PDP does not have is refused with CC Error 14 and never admitted", async () => {
    const text = await deployText(["  POL1:", "    peps:", pep("SIP1"), pep("R1")]);
    const pdpSide = parseDeployConfig(text);
    // R1's process was given another key than POL1 has for it.
    const r1Side = parseDeployConfig(text.replace(KEYS.R1.key, "ee".repeat(16)));
    const drops: string[] = [];
    const sent: MessageRecord[] = [];
    started.push(await serveRole({ config: pdpSide, role: "POL1", onDrop: (proto, cause) => drops.push(`${proto} ${cause}`), onRecord: (r) => sent.push(r) }));
    started.push(await serveRole({ config: r1Side, role: "R1" }));
    for (let i = 0; i < 100 && drops.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(drops[0]).toBe("COPS cops-integrity-failed");
    expect(sent.filter((r) => r.msg === "CAT")).toEqual([]);
  });
});
