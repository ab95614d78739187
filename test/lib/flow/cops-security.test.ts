// The deploy file's copsSecurity: what each policy server admits, and how a first COPS message is judged.
import { describe, expect, it } from "vitest";
import { identifyCopsPeer, copsCredentialsOf, copsPepIntegrityOf } from "../../../lib/flow/cops-security.js";
import { DeployConfigError, loadDeployConfig, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ClientType, ErrorCode, IntegritySession, decodeCopsMessage, encodeCopsMessage, type CopsMessage } from "../../../protocols/cops/index.js";
import { thrownBy } from "../../support/thrown.js";

const ROLES = `roles:
  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }
  POL1: { host: 127.0.0.1, cops: 3288 }
  R1:   { host: 127.0.0.1 }
topology: { clearinghouse: none }
`;
const KEY = "00112233445566778899aabbccddeeff";
const SECURE = `${ROLES}copsSecurity:
  POL1:
    maxRequestStates: 2000
    peps:
      SIP1: { addresses: [127.0.0.2], integrity: { keyId: 9, key: ${KEY} } }
`;
const opn = (pepId: string, clientType: number = ClientType.SipAaa): CopsMessage => ({ op: "OPN", clientType, pepId });
const from = (address: string, linked: string[] = []) => ({ address, port: 40000, linked: (peer: string) => linked.includes(peer) });

describe("copsSecurity in the deploy file", () => {
  it("gives each PEP its PEPID, addresses and keys; a PEP signs with the keys its PDP has for it", () => {
    const config = parseDeployConfig(SECURE);
    expect(copsCredentialsOf(config.copsSecurity, "POL1")).toEqual([
      { pepId: "sip1.example.com", addresses: ["127.0.0.2"], integrity: { keyId: 9, key: Buffer.from(KEY, "hex") } },
    ]);
    expect(copsPepIntegrityOf(config.copsSecurity, "SIP1")).toEqual({ keyId: 9, key: Buffer.from(KEY, "hex") });
    expect(copsPepIntegrityOf(config.copsSecurity, "R1")).toBeUndefined();
    // Without the section, a PDP admits its FIG. 5 PEPs from anywhere, without Integrity.
    expect(copsCredentialsOf(parseDeployConfig(ROLES).copsSecurity, "POL1")).toEqual([{ pepId: "sip1.example.com" }, { pepId: "r1" }]);
  });
  it("the example deployment examples/deploy/cops-integrity.yaml gives every PEP keys its PDP holds", () => {
    const config = loadDeployConfig("examples/deploy/cops-integrity.yaml");
    for (const [pdp, peps] of [["POL1", ["SIP1", "R1"]], ["POL2", ["SIP2", "R2"]]] as const) {
      expect(copsCredentialsOf(config.copsSecurity, pdp).map((c) => [c.pepId, c.addresses, c.integrity?.key.length])).toEqual(peps.map((r) => [r.toLowerCase().startsWith("sip") ? `${r.toLowerCase()}.example.com` : r.toLowerCase(), ["127.0.0.1"], 16]));
      for (const pep of peps) expect(copsPepIntegrityOf(config.copsSecurity, pep)).toEqual(copsCredentialsOf(config.copsSecurity, pdp).find((c) => c.pepId.startsWith(pep.toLowerCase()))?.integrity);
    }
  });
  it("names the field of each mistake", () => {
    const err = thrownBy(DeployConfigError, () =>
      parseDeployConfig(`${ROLES}copsSecurity:\n  POL1:\n    maxRequestStates: 10\n    maxPendingRequests: 5\n    peps:\n      SIP2: { addresses: [not-an-ip] }\n`),
    );
    expect(err.problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      "copsSecurity.POL1.maxPendingRequests: is below maxRequestStates: a REQ per open state could not wait for its DEC",
      "copsSecurity.POL1.peps.SIP2: SIP2 is not a PEP of POL1 (its PEPs: SIP1, R1)",
      "copsSecurity.POL1.peps.SIP2.addresses.0: 'not-an-ip' is not an IP address",
    ]);
    expect(thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}copsSecurity: { POL1: { peps: { SIP1: { integrity: { keyId: 1, key: abcd } } } } }\n`)).message).toMatch(/copsSecurity\.POL1\.peps\.SIP1\.integrity\.key/);
  });
});

describe("identifyCopsPeer: the first message of a connection to POL1", () => {
  const security = parseDeployConfig(SECURE).copsSecurity;
  const refusal = (r: ReturnType<typeof identifyCopsPeer>) => (typeof r === "string" ? { role: r } : { cause: r.cause, cc: decodeCopsMessage(r.answer) });
  it("admits SIP1 with Integrity from its address", () => {
    expect(identifyCopsPeer(security, "POL1", new IntegritySession({ keyId: 9, key: Buffer.from(KEY, "hex") }).seal(opn("sip1.example.com")).bytes, from("127.0.0.2"))).toBe("SIP1");
  });
  it.each([
    ["an OPN without PEPID", Buffer.from("1006000000000008", "hex"), "127.0.0.2", "cops-bad-message", ErrorCode.MandatoryObjectMissing],
    ["garbage", Buffer.from("7f06000000000008", "hex"), "127.0.0.2", "cops-bad-message", ErrorCode.BadMessageFormat],
    ["a KA first", encodeCopsMessage({ op: "KA", clientType: 0 }), "127.0.0.2", "cops-before-open", ErrorCode.BadMessageFormat],
    ["SIP1 without Integrity", encodeCopsMessage(opn("sip1.example.com")), "127.0.0.2", "cops-integrity-missing", ErrorCode.AuthenticationRequired],
    ["R1, not listed", encodeCopsMessage(opn("r1", ClientType.DiffServPr)), "127.0.0.2", "cops-pep-not-admitted", ErrorCode.AuthenticationFailure],
  ])("refuses %s with the PDP's CC", (_name, bytes, address, cause, code) => {
    expect(refusal(identifyCopsPeer(security, "POL1", bytes, from(address)))).toMatchObject({ cause, cc: { op: "CC", error: { code } } });
  });
  it("refuses SIP1 from another address, and an unauthenticated OPN for a PEP already linked", () => {
    const sealed = new IntegritySession({ keyId: 9, key: Buffer.from(KEY, "hex") }).seal(opn("sip1.example.com")).bytes;
    expect(refusal(identifyCopsPeer(security, "POL1", sealed, from("127.0.0.3")))).toMatchObject({ cause: "cops-pep-not-admitted", cc: { error: { code: 14 } } });
    const open = parseDeployConfig(ROLES).copsSecurity;
    expect(identifyCopsPeer(open, "POL1", encodeCopsMessage(opn("r1", 2)), from("127.0.0.9"))).toBe("R1");
    expect(refusal(identifyCopsPeer(open, "POL1", encodeCopsMessage(opn("r1", 2)), from("127.0.0.9", ["R1"])))).toMatchObject({ cause: "cops-pep-not-admitted", cc: { error: { code: 14 } } });
  });
});
