// The Redis session counter against a real redis-server (started here on a free port, killed after): random
// concurrent traffic from five policy servers' clients, clients killed mid-batch and replaced, the counts
// exact after each batch (sessions a dead client left undecided named as such) and 0 at the end.
import fc from "fast-check";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { freePort, useRedisServer } from "../../support/redis-server.js";
import { RedisSessionCounter } from "../../../lib/dsc/redis-counter.js";
import { ENTITIES, entitiesOf, thresholds } from "../../protocols/dsc/traffic.js";

const threshold = thresholds();
const redis = useRedisServer();

const counterFor = (prefix: string): RedisSessionCounter => new RedisSessionCounter({ threshold, redis: { host: "127.0.0.1", port: redis.port(), lazyConnect: false }, prefix });

interface Batch {
  ask: { client: number; user: number; userOnly: boolean }[];
  ends: number;
  kill: number | null;
}

const batchArb: fc.Arbitrary<Batch> = fc.record({
  ask: fc.array(fc.record({ client: fc.nat(4), user: fc.nat(5), userOnly: fc.boolean() }), { minLength: 1, maxLength: 12 }),
  ends: fc.nat(5),
  kill: fc.option(fc.nat(4), { freq: 3 }),
});

let run = 0;

describe("RedisSessionCounter on redis-server", () => {
  it("random concurrent traffic from five clients, some killed mid-batch: never above a threshold, exact after each batch, 0 at the end", async () => {
    let granted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 2, maxLength: 8 }), async (batches) => {
        const prefix = `t${run++}`;
        const clients = Array.from({ length: 5 }, () => counterFor(prefix));
        const active = new Map<string, string[]>();
        // Undecided when their client died: Redis may have counted them before the connection broke.
        const orphans = new Map<string, string[]>();
        const dead = new Set<RedisSessionCounter>();
        let n = 0;
        for (const b of batches) {
          const asked = b.ask.map(async (a) => {
            const id = `s${n++}`;
            const entities = entitiesOf(a.user, a.userOnly);
            const c = clients[a.client] as RedisSessionCounter;
            const d = await c.authorise({ sessionId: id, entities, server: `pol-${a.client}`, port: 3288 });
            if (d.granted) {
              granted++;
              active.set(id, entities);
            } else {
              refused++;
              // As SessionLimitPolicy does: a session not decided may have been counted; its release is idempotent.
              if (d.cause !== "limit") {
                if (dead.has(c)) orphans.set(id, entities);
                else await c.release(id, entities);
              }
            }
          });
          if (b.kill !== null) {
            // The policy server's client dies with commands in flight; a new one takes its place.
            const victim = clients[b.kill] as RedisSessionCounter;
            victim.redis.disconnect();
            dead.add(victim);
            clients[b.kill] = counterFor(prefix);
          }
          await Promise.all(asked);
          for (const [id, entities] of [...active].slice(0, b.ends)) {
            await (clients[0] as RedisSessionCounter).release(id, entities);
            active.delete(id);
          }
          const probe = clients[0] as RedisSessionCounter;
          for (const e of ENTITIES) {
            const inRedis = await probe.active(e);
            expect(inRedis, e).toBeLessThanOrEqual(threshold(e)?.global ?? 0);
            const members = new Set(await probe.redis.smembers(probe.keysOf(e)[0]));
            const orphaned = [...orphans].filter(([id, ents]) => ents.includes(e) && members.has(id)).length;
            expect(inRedis, e).toBe([...active.values()].filter((ents) => ents.includes(e)).length + orphaned);
          }
        }
        for (const [id, entities] of [...active, ...orphans]) await (clients[1] as RedisSessionCounter).release(id, entities);
        for (const e of ENTITIES) expect(await (clients[2] as RedisSessionCounter).active(e)).toBe(0);
        for (const c of [...clients, ...dead]) await c.close();
      }),
      { numRuns: 25 },
    );
    expect(granted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(20);
  }, 120_000);

  it("keeps each session's connection identity; keys carry the entity's hash tag", async () => {
    const c = counterFor("ident");
    expect(c.keysOf("realm example.net")).toEqual(["ident:{realm example.net}:sessions", "ident:{realm example.net}:stats"]);
    expect(await c.authorise({ sessionId: "x1", entities: ["user u0", "realm example.net"], server: "pol-a", port: 3288 })).toEqual({ granted: true });
    expect(await c.connections("realm example.net")).toEqual({ x1: "pol-a:3288" });
    await c.release("x1", ["user u0", "realm example.net"]);
    expect(await c.connections("realm example.net")).toEqual({});
    const stats = new Map(await c.entityStats());
    expect(stats.get("realm example.net")).toEqual({ active: 0, granted: 1, refused: 0, overSubscribed: 0 });
    await c.close();
  });

  it("fails closed when Redis is unreachable", async () => {
    const dead = await freePort();
    const c = new RedisSessionCounter({ threshold, redis: { host: "127.0.0.1", port: dead, retryStrategy: () => null } });
    expect(await c.authorise({ sessionId: "y", entities: ["realm example.net"], server: "p", port: 1 })).toEqual({ granted: false, cause: "unreachable", entity: "realm example.net" });
    await c.close();
  });

  it("loads its script again after SCRIPT FLUSH", async () => {
    const c = counterFor("flush");
    expect(await c.authorise({ sessionId: "z1", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: true });
    const admin = new Redis({ host: "127.0.0.1", port: redis.port() });
    await admin.script("FLUSH");
    expect(await c.authorise({ sessionId: "z2", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: true });
    expect(await c.authorise({ sessionId: "z3", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: false, cause: "limit", entity: "user u1" });
    admin.disconnect();
    await c.close();
  });
});
