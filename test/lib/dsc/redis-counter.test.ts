// The Redis session counter against a real redis-server and a real Redis Cluster of three masters (started here
// on free ports, killed after): random concurrent traffic from five policy servers' clients, clients killed
// mid-batch and replaced, never above a threshold, the counts exact after each batch (sessions a dead client left
// undecided named as such) and 0 at the end. On the cluster a session's user, group and realm hash to different
// slots, so each is reserved on its own slot and a refusal undoes the others.
import fc from "fast-check";
import { Cluster, Redis } from "ioredis";
import calculateSlot from "ioredis/built/utils/calculateSlot.js";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EntityThreshold } from "../../../protocols/dsc/index.js";
import { SessionLimitPolicy } from "../../../lib/dsc/session-limit-policy.js";
import { killStartedProcesses, startProcess } from "../../support/cli-process.js";
import { freePort, useRedisCluster, useRedisServer } from "../../support/redis-server.js";
import { RedisSessionCounter } from "../../../lib/dsc/redis-counter.js";
import { ENTITIES, entitiesOf, REALM, thresholds } from "../../protocols/dsc/traffic.js";

afterAll(killStartedProcesses);

const threshold = thresholds();
const redis = useRedisServer();
const cluster = useRedisCluster(3);

/** Every counter a test made, closed (and its cluster client disconnected) after the file. */
const made: RedisSessionCounter[] = [];
afterAll(async () => {
  for (const c of made) {
    await c.close();
    c.redis.disconnect();
  }
});

type Extra = { owner?: string; leaseMs?: number; threshold?: (entity: string) => EntityThreshold | undefined };
const BACKENDS = {
  "redis-server": (prefix: string, extra: Extra = {}): RedisSessionCounter => {
    const c = new RedisSessionCounter({ threshold, ...extra, redis: { host: "127.0.0.1", port: redis.port(), lazyConnect: false }, prefix });
    made.push(c);
    return c;
  },
  "Redis Cluster": (prefix: string, extra: Extra = {}): RedisSessionCounter => {
    const client = new Cluster(cluster.ports().map((port) => ({ host: "127.0.0.1", port })), { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } });
    const c = new RedisSessionCounter({ threshold, ...extra, prefix, redis: client });
    made.push(c);
    return c;
  },
};

const CHILD = join(process.cwd(), "test", "lib", "dsc", "redis-counter-child.ts");

/** Polls `check` until it holds (a generous deadline: a loaded machine is slow, a fast one is not waited for). */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

describe.each(Object.keys(BACKENDS) as (keyof typeof BACKENDS)[])("RedisSessionCounter on %s", (backend) => {
  const counterFor = BACKENDS[backend];
  it("random concurrent traffic from five clients, some killed mid-batch: never above a threshold, exact after each batch, 0 at the end", async () => {
    let granted = 0;
    let refused = 0;
    const highest = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 2, maxLength: 8 }), async (batches) => {
        const prefix = `${backend === "Redis Cluster" ? "c" : "t"}${run++}`;
        const clients = Array.from({ length: 5 }, () => counterFor(prefix));
        const watch = counterFor(prefix);
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
          // Meanwhile another connection watches: no entity is ever above its threshold, not even mid-batch.
          let settled = false;
          const watcher = (async () => {
            while (!settled) for (const e of ENTITIES) highest.set(e, Math.max(highest.get(e) ?? 0, await watch.active(e)));
          })();
          if (b.kill !== null) {
            // The policy server's client dies with commands in flight; a new one takes its place.
            const victim = clients[b.kill] as RedisSessionCounter;
            victim.redis.disconnect();
            dead.add(victim);
            clients[b.kill] = counterFor(prefix);
          }
          await Promise.all(asked);
          settled = true;
          await watcher;
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
        for (const c of [...clients, ...dead]) {
          await c.close();
          c.redis.disconnect();
        }
      }),
      { numRuns: 25 },
    );
    expect(granted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(20);
    for (const e of ENTITIES) expect(highest.get(e), e).toBeLessThanOrEqual(threshold(e)?.global ?? 0);
    // The watcher saw the realm at its threshold at some point: it looked while the limits mattered.
    expect(highest.get(REALM)).toBe(threshold(REALM)?.global);
  }, 240_000);

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

  it("loads its script again after SCRIPT FLUSH", async () => {
    const c = counterFor("flush");
    expect(await c.authorise({ sessionId: "z1", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: true });
    // Every node forgets it.
    for (const port of backend === "Redis Cluster" ? cluster.ports() : [redis.port()]) {
      const admin = new Redis({ host: "127.0.0.1", port });
      await admin.script("FLUSH");
      admin.disconnect();
    }
    expect(await c.authorise({ sessionId: "z2", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: true });
    expect(await c.authorise({ sessionId: "z3", entities: ["user u1"], server: "p", port: 1 })).toEqual({ granted: false, cause: "limit", entity: "user u1" });
    await c.close();
  });

  it("a session whose entities hash to different slots is counted on each, or on none when one is at its limit", async () => {
    const entities = ["user u0", "group ga", REALM];
    const probe = counterFor("slots");
    const slots = entities.map((e) => calculateSlot(probe.keysOf(e)[0]));
    expect(new Set(slots).size, "three slots: on a cluster one script could not touch them all (CROSSSLOT)").toBe(3);
    // The entity of the highest slot is reserved last: at its limit, the two reserved before it are undone.
    const last = entities[slots.indexOf(Math.max(...slots))] as string;
    const c = counterFor("slots", { threshold: (e) => ({ global: e === last ? 1 : 5, local: 0 }) });
    expect(await c.authorise({ sessionId: "a", entities, server: "pol-a", port: 3288 })).toEqual({ granted: true });
    for (const e of entities) expect(await c.connections(e)).toEqual({ a: "pol-a:3288" });
    expect(await c.authorise({ sessionId: "b", entities, server: "pol-a", port: 3288 })).toEqual({ granted: false, cause: "limit", entity: last });
    const stats = new Map(await c.entityStats());
    for (const e of entities) {
      expect(await c.active(e), e).toBe(1);
      expect(stats.get(e), e).toEqual({ active: 1, granted: 1, refused: 1, overSubscribed: 0 });
      expect(await c.connections(e)).toEqual({ a: "pol-a:3288" });
    }
    expect(await c.redis.hkeys(c.ownerKeys().sessions)).toEqual(["a"]);
    await c.release("a", entities);
    for (const e of entities) expect(await c.active(e), e).toBe(0);
    expect(await c.redis.hlen(c.ownerKeys().sessions)).toBe(0);
  });

  it("a session granted before its policy server was killed (SIGKILL) is released by its id alone after the restart", async () => {
    const prefix = `restart-${backend === "Redis Cluster" ? "c" : "s"}`;
    const entities = ["user u0", "group ga", REALM];
    const ports = backend === "Redis Cluster" ? cluster.ports() : [redis.port()];
    const child = startProcess(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ ports, cluster: backend === "Redis Cluster", prefix, owner: "pol-a", leaseMs: 30_000, sessions: [{ id: "call-1/originating", entities }] })], "redis counter pol-a");
    await child.waitFor("call-1/originating granted", { ms: 60_000 });
    child.child.kill("SIGKILL");
    await child.exited;
    const other = counterFor(prefix, { owner: "pol-b", leaseMs: 0 });
    for (const e of entities) expect(await other.active(e), e).toBe(1);
    // pol-a's lease outlives the crash: another policy server leaves its sessions alone.
    expect(await other.reclaimExpired()).toBe(0);
    // The restarted pol-a knows nothing of the call; its end (COPS DRQ) releases the session by id.
    const restarted = counterFor(prefix, { owner: "pol-a" });
    const policy = new SessionLimitPolicy({ counter: restarted, server: "pol-a", port: 3288 });
    policy.callEnded({ callId: "call-1", side: "originating", now: 0 });
    await until("the session released", async () => (await Promise.all(entities.map((e) => other.active(e)))).every((n) => n === 0));
    expect(await other.redis.hlen(restarted.ownerKeys().sessions)).toBe(0);
    // Released once: a second end changes nothing.
    await restarted.release("call-1/originating", []);
    for (const e of entities) expect(await other.active(e)).toBe(0);
  }, 90_000);

  it("a release Redis did not take (disconnected), by entities or by id alone, is sent again once it is back", async () => {
    const c = counterFor(`away-${backend === "Redis Cluster" ? "c" : "s"}`, { owner: "pol-away" });
    const entities = ["user u2", "group ga", REALM];
    for (const id of ["w1", "w2"]) expect(await c.authorise({ sessionId: id, entities, server: "pol-away", port: 3288 })).toEqual({ granted: true });
    expect(await c.active(REALM)).toBe(2);
    c.redis.disconnect();
    await until("the client closed", async () => c.redis.status === "end");
    await c.release("w1", entities);
    // w2 as after a restart: its entities only in its record.
    await c.release("w2", []);
    expect(c.releasesPending).toBe(2);
    await c.redis.connect();
    await until("both released", async () => c.releasesPending === 0 && (await c.active(REALM)) === 0);
    for (const e of entities) expect(await c.active(e), e).toBe(0);
    expect(await c.redis.hlen(c.ownerKeys().sessions)).toBe(0);
  });

  it("a policy server killed for good: once its lease ran out, another's counter releases its sessions", async () => {
    const prefix = `gone-${backend === "Redis Cluster" ? "c" : "s"}`;
    const ports = backend === "Redis Cluster" ? cluster.ports() : [redis.port()];
    const sessions = [
      { id: "g1", entities: ["user u1", "group ga", REALM] },
      { id: "g2", entities: ["user u4", "group gb", REALM] },
    ];
    const child = startProcess(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ ports, cluster: backend === "Redis Cluster", prefix, owner: "pol-gone", leaseMs: 1500, sessions })], "redis counter pol-gone");
    await child.waitFor("g2 granted", { ms: 60_000 });
    const live = counterFor(prefix, { owner: "pol-live", leaseMs: 600 });
    expect(await live.active(REALM)).toBe(2);
    await until("pol-gone's lease", async () => (await live.redis.exists(live.ownerKeys("pol-gone").lease)) === 1);
    // Alive: nothing reclaimed, however often asked.
    expect(await live.reclaimExpired()).toBe(0);
    expect(await live.active(REALM)).toBe(2);
    child.child.kill("SIGKILL");
    await child.exited;
    // Its lease runs out; pol-live's renewals reclaim its sessions and forget it.
    await until("pol-gone's sessions reclaimed", async () => (await live.active(REALM)) === 0);
    for (const e of ["user u1", "user u4", "group ga", "group gb"]) expect(await live.active(e), e).toBe(0);
    await until("pol-gone forgotten", async () => (await live.redis.sismember(`${prefix}:owners`, "pol-gone")) === 0);
    expect(await live.redis.exists(live.ownerKeys("pol-gone").sessions)).toBe(0);
    expect(await live.redis.sismember(`${prefix}:owners`, "pol-live")).toBe(1);
  }, 90_000);
});

it("RedisSessionCounter fails closed when Redis is unreachable", async () => {
  const dead = await freePort();
  const c = new RedisSessionCounter({ threshold, redis: { host: "127.0.0.1", port: dead, retryStrategy: () => null } });
  expect(await c.authorise({ sessionId: "y", entities: ["realm example.net"], server: "p", port: 1 })).toEqual({ granted: false, cause: "unreachable", entity: "realm example.net" });
  await c.close();
});

