// Session counts in Redis, for deployments that outgrow peer counters: one Lua script checks every entity of
// a session and counts it against all of them, or none, atomically (EVALSHA). Each entity's keys share a hash
// tag, `{<entity>}`, so that Redis Cluster can place entities on different shards.
//
// Each counter has an owner (its policy server) and keeps a record of its sessions, session id → entities, in
// its owner's hash, written by the same script that grants: a restarted policy server releases a session by
// id alone. The owner holds a lease it renews; any counter on the same Redis releases the sessions of an owner
// whose lease ran out (a policy server that died for good).
//
// On Redis Cluster a script may touch the keys of one slot only. A session whose keys share a slot takes the
// same path; otherwise its record is written first, then each slot's entities are reserved by the same script,
// in slot order, and a refusal undoes the reservations made before it: no entity is ever above its threshold.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import calculateSlot from "ioredis/built/utils/calculateSlot.js";
import type { EntityStats, EntityThreshold } from "../../protocols/dsc/index.js";
import type { AuthoriseRequest, CounterDecision, SessionCounter } from "./session-counter.js";

// KEYS: per entity, its session set then its stats hash; last, if their number is odd, the owner's session
// record hash. ARGV[1]: the session id, ARGV[2]: "server:port", ARGV[3]: the session's entities (its record),
// ARGV[3 + i]: entity i's global threshold. Returns 0 (granted) or the index of the first entity at its limit.
const AUTHORISE = `
local n = math.floor(#KEYS / 2)
local sid = ARGV[1]
for i = 1, n do
  local set = KEYS[2 * i - 1]
  if redis.call('SISMEMBER', set, sid) == 0 and redis.call('SCARD', set) >= tonumber(ARGV[3 + i]) then
    for j = 1, n do redis.call('HINCRBY', KEYS[2 * j], 'refused', 1) end
    return i
  end
end
for i = 1, n do
  if redis.call('SADD', KEYS[2 * i - 1], sid) == 1 then
    redis.call('HINCRBY', KEYS[2 * i], 'granted', 1)
    redis.call('HSET', KEYS[2 * i], 'conn:' .. sid, ARGV[2])
  end
end
if #KEYS % 2 == 1 then redis.call('HSET', KEYS[#KEYS], sid, ARGV[3]) end
return 0
`;

// KEYS as above; ARGV[1]: the session id, ARGV[2]: "end", or "undo" (a reservation taken back: counted refused).
const RELEASE = `
local sid = ARGV[1]
for i = 1, math.floor(#KEYS / 2) do
  if redis.call('SREM', KEYS[2 * i - 1], sid) == 1 then
    redis.call('HDEL', KEYS[2 * i], 'conn:' .. sid)
    if ARGV[2] == 'undo' then
      redis.call('HINCRBY', KEYS[2 * i], 'granted', -1)
      redis.call('HINCRBY', KEYS[2 * i], 'refused', 1)
    end
  end
end
if #KEYS % 2 == 1 then redis.call('HDEL', KEYS[#KEYS], sid) end
return 0
`;

const SCRIPTS = { authorise: AUTHORISE, release: RELEASE } as const;
const SHA = { authorise: sha1(AUTHORISE), release: sha1(RELEASE) } as const;

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** A session's entities as its record holds them (entity names never hold a newline: they are header values). */
const RECORD_SEPARATOR = "\n";

/** Thresholds per entity, the Redis client or its options, owner, key prefix, fail-closed behaviour and timeouts of a RedisSessionCounter. */
export interface RedisSessionCounterOptions {
  /** The limits of an entity; undefined: not counted. */
  threshold(entity: string): EntityThreshold | undefined;
  /** A client of the caller's (a `Redis`, or a `Cluster` for Redis Cluster), or options for a `Redis` this counter makes (and closes). */
  redis: Redis | Cluster | RedisOptions;
  /** Key prefix (default `callgate:dsc`). */
  prefix?: string;
  /** Who owns the sessions this counter grants: the same after a restart, its own per policy server (default: the host name). */
  owner?: string;
  /** How long the owner's lease lasts unless renewed (ms, default 30,000; renewed every third of it). 0: no lease, no reclaiming. */
  leaseMs?: number;
  /** Refuse (default) or grant when Redis does not answer. */
  failClosed?: boolean;
  /** How long a command waits for a connection being made (ms, default 1,000). */
  connectTimeoutMs?: number;
}

/** Session counts in Redis: one Lua script counts a session against all its entities, or none, atomically. */
export class RedisSessionCounter implements SessionCounter {
  readonly redis: Redis | Cluster;
  /** Whose sessions this counter grants (its record hash and lease are the owner's). */
  readonly owner: string;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly cluster: boolean;
  private readonly leaseMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** The wait for a connection being made, while there is one. */
  private connecting: Promise<void> | undefined;
  /** Entities this process asked about, for its metrics. */
  private readonly seen = new Set<string>();
  /** Releases Redis did not take (disconnected): sent again when it is ready. */
  private readonly unreleased = new Map<string, readonly string[]>();

  constructor(private readonly opts: RedisSessionCounterOptions) {
    const given = opts.redis instanceof Redis || opts.redis instanceof Cluster;
    this.owned = !given;
    this.redis = given ? (opts.redis as Redis | Cluster) : new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 1, ...(opts.redis as RedisOptions) });
    this.cluster = this.redis instanceof Cluster;
    this.prefix = opts.prefix ?? "callgate:dsc";
    this.owner = opts.owner ?? hostname();
    this.leaseMs = opts.leaseMs ?? 30_000;
    // Errors surface as failed commands (fail closed); the client's own event would be unhandled.
    this.redis.on("error", () => undefined);
    this.redis.on("ready", () => {
      for (const [id, entities] of [...this.unreleased]) {
        this.unreleased.delete(id);
        void this.release(id, entities);
      }
      void this.renewLease().catch(() => undefined);
    });
    if (this.leaseMs > 0) {
      this.leaseTimer = setInterval(() => void this.renewLease().then(() => this.reclaimExpired()).catch(() => undefined), Math.max(1, Math.floor(this.leaseMs / 3)));
      this.leaseTimer.unref();
      if (this.redis.status === "ready") void this.renewLease().catch(() => undefined);
    }
  }

  /** The SHA1 of the check-and-count script (EVALSHA; Redis loads it at the first authorisation). */
  scriptSha(): string {
    return SHA.authorise;
  }

  /** Releases waiting for Redis to be reachable again. */
  get releasesPending(): number {
    return this.unreleased.size;
  }

  /** The keys of an entity: its session set and its stats hash, both under the entity's hash tag. */
  keysOf(entity: string): [string, string] {
    const tag = this.tag(entity);
    return [`${this.prefix}:{${tag}}:sessions`, `${this.prefix}:{${tag}}:stats`];
  }

  /** The hash of an owner's sessions (session id → its entities) and its lease, both under the owner's hash tag. */
  ownerKeys(owner: string = this.owner): { sessions: string; lease: string } {
    const tag = this.tag(`owner ${owner}`);
    return { sessions: `${this.prefix}:{${tag}}:owned`, lease: `${this.prefix}:{${tag}}:lease` };
  }

  async authorise(req: AuthoriseRequest): Promise<CounterDecision> {
    const limited = [...new Set(req.entities)].filter((e) => this.opts.threshold(e) !== undefined);
    if (limited.length === 0) return { granted: true };
    for (const e of limited) this.seen.add(e);
    const conn = `${req.server}:${req.port}`;
    const record = limited.join(RECORD_SEPARATOR);
    const thresholdOf = (e: string): string => String((this.opts.threshold(e) as EntityThreshold).global);
    const ownerKey = this.ownerKeys().sessions;
    try {
      const keys = [...limited.flatMap((e) => this.keysOf(e)), ownerKey];
      if (!this.cluster || calculateSlot.generateMulti(keys) !== -1) {
        // One slot (or no cluster): checked and counted in one script, with the session's record.
        const at = Number(await this.run("authorise", keys, [req.sessionId, conn, record, ...limited.map(thresholdOf)]));
        return at === 0 ? { granted: true } : { granted: false, cause: "limit", entity: limited[at - 1] as string };
      }
      return await this.authoriseAcrossSlots(req.sessionId, limited, conn, record, thresholdOf);
    } catch {
      if (this.opts.failClosed === false) return { granted: true };
      return { granted: false, cause: "unreachable", entity: limited[0] as string };
    }
  }

  /** The session ended: it stops counting. Without its entities (granted before a restart), they are read from its record. */
  async release(sessionId: string, entities: readonly string[]): Promise<void> {
    let limited = [...new Set(entities)].filter((e) => this.opts.threshold(e) !== undefined);
    // Nothing limited: nothing was counted or recorded.
    if (entities.length > 0 && limited.length === 0) return;
    try {
      if (entities.length === 0) {
        await this.ready();
        const record = await this.redis.hget(this.ownerKeys().sessions, sessionId);
        if (record === null) return;
        limited = record.split(RECORD_SEPARATOR).filter((e) => e !== "");
      }
      await this.releaseOf(this.owner, sessionId, limited, "end");
    } catch {
      // Sent again once Redis is back (by id alone, from the record, if the entities were not known).
      this.unreleased.set(sessionId, limited);
    }
  }

  /** Active sessions of an entity. */
  async active(entity: string): Promise<number> {
    await this.ready();
    return this.redis.scard(this.keysOf(entity)[0]);
  }

  /** The server and port that established each active session of an entity (connection identity). */
  async connections(entity: string): Promise<Record<string, string>> {
    await this.ready();
    const all = await this.redis.hgetall(this.keysOf(entity)[1]);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith("conn:")) out[k.slice(5)] = v;
    return out;
  }

  async entityStats(): Promise<[string, EntityStats][]> {
    const out: [string, EntityStats][] = [];
    await this.ready();
    for (const e of this.seen) {
      const [set, stats] = this.keysOf(e);
      const [active, h] = await Promise.all([this.redis.scard(set), this.redis.hmget(stats, "granted", "refused")]);
      // Checked and counted by scripts: an entity is never above its threshold here.
      out.push([e, { active, granted: Number(h[0] ?? 0), refused: Number(h[1] ?? 0), overSubscribed: 0 }]);
    }
    return out;
  }

  /**
   * Releases the sessions of every other owner whose lease ran out (its policy server is gone), and forgets the
   * owner once none is left. Runs at each lease renewal; returns the sessions released.
   */
  async reclaimExpired(): Promise<number> {
    await this.ready();
    let released = 0;
    const registry = `${this.prefix}:owners`;
    for (const owner of await this.redis.smembers(registry)) {
      if (owner === this.owner) continue;
      const keys = this.ownerKeys(owner);
      if ((await this.redis.exists(keys.lease)) === 1) continue;
      const records = await this.redis.hgetall(keys.sessions);
      for (const [sessionId, record] of Object.entries(records)) {
        await this.releaseOf(owner, sessionId, record.split(RECORD_SEPARATOR).filter((e) => e !== ""), "end");
        released++;
      }
      // Back in the meantime (a restart under the same name): it stays registered.
      if ((await this.redis.hlen(keys.sessions)) === 0 && (await this.redis.exists(keys.lease)) === 0) await this.redis.srem(registry, owner);
    }
    return released;
  }

  /** Stops renewing the lease and closes the Redis connection (if the counter opened it). The sessions stay counted until released. */
  async close(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    if (this.owned) this.redis.disconnect();
  }

  private tag(name: string): string {
    // Braces inside the tag would end it early: they are escaped.
    return name.replace(/[{}]/g, (c) => (c === "{" ? "%7B" : "%7D"));
  }

  private async renewLease(): Promise<void> {
    if (this.leaseMs <= 0 || this.redis.status !== "ready") return;
    await this.redis.set(this.ownerKeys().lease, String(Date.now()), "PX", this.leaseMs);
    await this.redis.sadd(`${this.prefix}:owners`, this.owner);
  }

  /**
   * Cluster, entities on several slots: the record first (a counter that dies midway leaves it for the release by id
   * or the reclaiming), then each slot's entities reserved in slot order; a refusal undoes the earlier slots.
   */
  private async authoriseAcrossSlots(sessionId: string, limited: string[], conn: string, record: string, thresholdOf: (e: string) => string): Promise<CounterDecision> {
    await this.ready();
    const ownerKey = this.ownerKeys().sessions;
    await this.redis.hset(ownerKey, sessionId, record);
    const groups = this.bySlot(limited);
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as string[];
      const at = Number(await this.run("authorise", group.flatMap((e) => this.keysOf(e)), [sessionId, conn, record, ...group.map(thresholdOf)]));
      if (at === 0) continue;
      for (const done of groups.slice(0, g)) await this.run("release", done.flatMap((e) => this.keysOf(e)), [sessionId, "undo"]);
      // Refused: counted against every entity, as one script counts it on a single slot.
      for (const e of groups.slice(g + 1).flat()) await this.redis.hincrby(this.keysOf(e)[1], "refused", 1);
      await this.redis.hdel(ownerKey, sessionId);
      return { granted: false, cause: "limit", entity: group[at - 1] as string };
    }
    return { granted: true };
  }

  /** Releases a session of `owner` from its entities and its record: in one script, or slot by slot on a cluster. */
  private async releaseOf(owner: string, sessionId: string, entities: readonly string[], mode: "end" | "undo"): Promise<void> {
    const ownerKey = this.ownerKeys(owner).sessions;
    const keys = [...entities.flatMap((e) => this.keysOf(e)), ownerKey];
    if (!this.cluster || calculateSlot.generateMulti(keys) !== -1) {
      await this.run("release", keys, [sessionId, mode]);
      return;
    }
    for (const group of this.bySlot(entities)) await this.run("release", group.flatMap((e) => this.keysOf(e)), [sessionId, mode]);
    // The record goes last: a release cut short is done again from it.
    await this.redis.hdel(ownerKey, sessionId);
  }

  /** Entities grouped by the slot of their keys, in slot order. */
  private bySlot(entities: readonly string[]): string[][] {
    const groups = new Map<number, string[]>();
    for (const e of entities) {
      const slot = calculateSlot(this.keysOf(e)[0]);
      const group = groups.get(slot);
      if (group) group.push(e);
      else groups.set(slot, [e]);
    }
    return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
  }

  /** Connected, or waits up to `connectTimeoutMs` for it (commands are not queued while disconnected); one wait shared by all. */
  private async ready(): Promise<void> {
    if (this.redis.status === "ready") return;
    if (this.redis.status === "end") throw new Error("redis client closed");
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off("ready", onReady);
        this.connecting = undefined;
        reject(new Error("redis not ready"));
      }, this.opts.connectTimeoutMs ?? 1000);
      const onReady = (): void => {
        clearTimeout(timer);
        this.connecting = undefined;
        resolve();
      };
      this.redis.once("ready", onReady);
    });
    return this.connecting;
  }

  private async run(which: "authorise" | "release", keys: string[], args: string[]): Promise<unknown> {
    await this.ready();
    try {
      return await this.redis.evalsha(SHA[which], keys.length, ...keys, ...args);
    } catch (err) {
      // A new, restarted or flushed Redis (or another cluster node) does not have the script yet: EVAL loads it.
      if (!String(err).includes("NOSCRIPT")) throw err;
      return this.redis.eval(SCRIPTS[which], keys.length, ...keys, ...args);
    }
  }
}
