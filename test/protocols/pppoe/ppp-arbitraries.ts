// fast-check arbitraries of valid PPP frames and LCP, IPCP, PAP and CHAP packets.
import fc from "fast-check";
import type { ChapPacket, ControlPacket, PapPacket, PppOption } from "../../../protocols/pppoe/index.js";

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
const identifier = fc.integer({ min: 0, max: 255 });

const FIXED_LCP: Record<number, number> = { 1: 2, 2: 4, 5: 4, 7: 0, 8: 0 };
const FIXED_IPCP: Record<number, number> = { 3: 4, 129: 4, 131: 4 };

function optionArb(fixed: Record<number, number>, auth: boolean): fc.Arbitrary<PppOption> {
  return fc.oneof(
    fc.constantFrom(...Object.keys(fixed).map(Number)).chain((type) => bytes(fixed[type]!, fixed[type]!).map((data) => ({ type, data }))),
    ...(auth ? [bytes(2, 6).map((data) => ({ type: 3, data }))] : []),
    fc
      .record({ type: fc.integer({ min: 0, max: 255 }).filter((t) => !(t in fixed) && !(auth && t === 3)), data: bytes(0, 12) })
      .map((o) => o),
  );
}

export function controlPacketArb(protocol: "lcp" | "ipcp"): fc.Arbitrary<ControlPacket> {
  const options = fc.array(optionArb(protocol === "lcp" ? FIXED_LCP : FIXED_IPCP, protocol === "lcp"), { maxLength: 6 });
  const common: fc.Arbitrary<ControlPacket>[] = [
    fc.record({ code: fc.constantFrom("configure-request", "configure-ack", "configure-nak", "configure-reject" as const), identifier, options }),
    fc.record({ code: fc.constantFrom("terminate-request", "terminate-ack" as const), identifier, data: bytes(0, 16) }),
    fc.record({ code: fc.constant("code-reject" as const), identifier, rejected: bytes(0, 16) }),
  ];
  const lcpOnly: fc.Arbitrary<ControlPacket>[] = [
    fc.record({ code: fc.constant("protocol-reject" as const), identifier, protocol: fc.integer({ min: 0, max: 0xffff }), rejected: bytes(0, 16) }),
    fc.record({ code: fc.constantFrom("echo-request", "echo-reply", "discard-request" as const), identifier, magic: fc.integer({ min: 0, max: 0xffffffff }), data: bytes(0, 16) }),
  ];
  const unknown = fc
    .record({ codeNumber: fc.integer({ min: protocol === "lcp" ? 12 : 8, max: 255 }), identifier, data: bytes(0, 16) })
    .map((v): ControlPacket => ({ code: "unknown", ...v }));
  return fc.oneof(...common, ...(protocol === "lcp" ? lcpOnly : []), unknown);
}

export const papPacketArb: fc.Arbitrary<PapPacket> = fc.oneof(
  fc.record({ code: fc.constant("authenticate-request" as const), identifier, peerId: bytes(0, 40), password: bytes(0, 40) }),
  fc.record({ code: fc.constantFrom("authenticate-ack", "authenticate-nak" as const), identifier, message: bytes(0, 40) }),
);

export const chapPacketArb: fc.Arbitrary<ChapPacket> = fc.oneof(
  fc.record({ code: fc.constantFrom("challenge", "response" as const), identifier, value: bytes(1, 32), name: bytes(0, 24) }),
  fc.record({ code: fc.constantFrom("success", "failure" as const), identifier, message: bytes(0, 40) }),
);

/** A valid two-octet PPP Protocol (odd low octet, even high octet; RFC 1661 §2). */
export const pppProtocolArb = fc.integer({ min: 0, max: 0xffff }).map((p) => (p | 1) & ~0x100);
