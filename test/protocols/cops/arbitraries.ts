// fast-check arbitraries producing canonical COPS message models (what the decoder returns).
import fc from "fast-check";
import type {
  CopsClientSi,
  CopsDecision,
  CopsInterface,
  CopsMessage,
  CopsServerAddress,
  IntegrityObject,
} from "../../../protocols/cops/index.js";

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
/** IPv6 in the canonical text the decoder produces (RFC 5952), here as WHATWG URL serialises it: an independent canonicaliser. */
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => {
  const words = Array.from({ length: 8 }, (_, i) => ((a[2 * i] ?? 0) << 8) | (a[2 * i + 1] ?? 0));
  // Zero a run sometimes so compression is exercised; half the time any pattern of zero words
  // (single zeros, equal-length runs) so the RFC 5952 §4.2 rules are exercised too.
  if ((a[0] ?? 0) % 2 === 0) words.fill(0, 2, 5);
  else for (let i = 0; i < 8; i++) if (((a[1] ?? 0) >> i) & 1) words[i] = 0;
  const hostname = new URL(`http://[${words.map((w) => w.toString(16)).join(":")}]/`).hostname;
  return hostname.slice(1, -1);
});

export const ifaceArb: fc.Arbitrary<CopsInterface> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: ipv4, ifIndex: u32 }),
  fc.record({ family: fc.constant(6 as const), address: ipv6, ifIndex: u32 }),
);
export const serverArb: fc.Arbitrary<CopsServerAddress> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: ipv4, port: u16 }),
  fc.record({ family: fc.constant(6 as const), address: ipv6, port: u16 }),
);
const handleArb = bytes(1, 24);
const contextArb = fc.record({ rType: u16, mType: u16 });
const codePair = fc.record({ code: u16, subCode: u16 });
const clientSiArb: fc.Arbitrary<CopsClientSi> = fc.record({ cType: fc.constantFrom(1 as const, 2 as const), data: bytes(0, 40) });
const integrityArb: fc.Arbitrary<IntegrityObject> = fc.oneof(
  fc.record({ kind: fc.constant("integrity" as const), cType: fc.constant(1 as const), keyId: u32, sequence: u32, digest: bytes(12, 12) }),
  fc.record({ kind: fc.constant("integrity" as const), cType: fc.constant(2 as const), flags: u16 }),
);

function decisionArb(contextRequired: boolean): fc.Arbitrary<CopsDecision> {
  return fc.record(
    {
      context: contextArb,
      command: u16,
      flags: u16,
      stateless: bytes(0, 12),
      replacement: bytes(0, 12),
      clientSi: bytes(0, 12),
      named: bytes(0, 12),
    },
    { requiredKeys: contextRequired ? ["context", "command", "flags"] : ["command", "flags"] },
  );
}

const base = { clientType: u16, solicited: fc.boolean() };
const withIntegrity = <T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.tuple(arb, fc.option(integrityArb, { nil: undefined })).map(([m, i]) => (i ? { ...m, integrity: i } : m));

export const messageArbs: Record<CopsMessage["op"], fc.Arbitrary<CopsMessage>> = {
  REQ: withIntegrity(
    fc.record(
      {
        op: fc.constant("REQ" as const),
        ...base,
        handle: handleArb,
        context: contextArb,
        inInterface: ifaceArb,
        outInterface: ifaceArb,
        clientSi: fc.array(clientSiArb, { maxLength: 3 }),
        lpdpDecisions: fc.array(decisionArb(false), { maxLength: 3 }),
      },
      { requiredKeys: ["op", "clientType", "solicited", "handle", "context", "clientSi", "lpdpDecisions"] },
    ),
  ),
  DEC: withIntegrity(
    fc.oneof(
      fc.record({ op: fc.constant("DEC" as const), ...base, handle: handleArb, decisions: fc.array(decisionArb(true), { minLength: 1, maxLength: 3 }) }),
      fc.record({ op: fc.constant("DEC" as const), ...base, handle: handleArb, decisions: fc.constant([]), error: codePair }),
    ),
  ),
  RPT: withIntegrity(
    fc.record(
      { op: fc.constant("RPT" as const), ...base, handle: handleArb, reportType: u16, clientSi: clientSiArb },
      { requiredKeys: ["op", "clientType", "solicited", "handle", "reportType"] },
    ),
  ),
  DRQ: withIntegrity(fc.record({ op: fc.constant("DRQ" as const), ...base, handle: handleArb, reason: codePair })),
  SSQ: withIntegrity(fc.record({ op: fc.constant("SSQ" as const), ...base, handle: handleArb }, { requiredKeys: ["op", "clientType", "solicited"] })),
  SSC: withIntegrity(fc.record({ op: fc.constant("SSC" as const), ...base, handle: handleArb }, { requiredKeys: ["op", "clientType", "solicited"] })),
  OPN: withIntegrity(
    fc.record(
      {
        op: fc.constant("OPN" as const),
        ...base,
        pepId: fc.stringMatching(/^[ -~]{0,30}$/),
        clientSi: clientSiArb,
        lastPdpAddress: serverArb,
      },
      { requiredKeys: ["op", "clientType", "solicited", "pepId"] },
    ),
  ),
  CAT: withIntegrity(
    fc.record(
      { op: fc.constant("CAT" as const), ...base, kaTimerSeconds: u16, acctTimerSeconds: u16 },
      { requiredKeys: ["op", "clientType", "solicited", "kaTimerSeconds"] },
    ),
  ),
  CC: withIntegrity(
    fc.record({ op: fc.constant("CC" as const), ...base, error: codePair, redirect: serverArb }, { requiredKeys: ["op", "clientType", "solicited", "error"] }),
  ),
  KA: withIntegrity(fc.record({ op: fc.constant("KA" as const), ...base })),
};

export const anyMessageArb: fc.Arbitrary<CopsMessage> = fc.oneof(...Object.values(messageArbs));
