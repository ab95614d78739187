import fc from "fast-check";
import type { DscEnvelope, DscMessage, DscSession, EntityCount } from "../../../protocols/dsc/index.js";

const id = fc.string({ minLength: 1, maxLength: 40 });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });

export const sessionArb: fc.Arbitrary<DscSession> = fc.record({
  id,
  entities: fc.array(id, { minLength: 1, maxLength: 16 }),
  owner: id,
  server: fc.string({ maxLength: 40 }),
  port: fc.integer({ min: 0, max: 65535 }),
});

export const countArb: fc.Arbitrary<EntityCount> = fc.record({ entity: id, active: uint32, overSubscribed: uint32 });

export const messageArb: fc.Arbitrary<DscMessage> = fc.oneof(
  fc.record({ kind: fc.constant("request" as const), seq: uint32, session: sessionArb }),
  fc.record({ kind: fc.constant("response" as const), seq: uint32, granted: fc.boolean(), refusedEntity: fc.string({ maxLength: 40 }), counts: fc.array(countArb, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant("update" as const), session: sessionArb }),
  fc.record({ kind: fc.constant("broadcast" as const), counts: fc.array(countArb, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant("termination" as const), sessionId: id, entities: fc.array(id, { minLength: 1, maxLength: 16 }), owner: id }),
  fc.record({
    kind: fc.constant("resync" as const),
    fresh: fc.boolean(),
    owned: fc.array(sessionArb, { maxLength: 4 }),
    viewed: fc.array(countArb, { maxLength: 4 }),
    recovered: fc.array(sessionArb, { maxLength: 4 }),
  }),
);

export const envelopeArb: fc.Arbitrary<DscEnvelope> = fc.record({ from: id, message: messageArb });
