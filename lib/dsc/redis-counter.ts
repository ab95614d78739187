// Session counts in Redis, for deployments that outgrow peer counters: one Lua script checks every entity of
// a session and counts it against all of them, or none, atomically (EVALSHA). Each entity's keys share a hash
// tag, `{<entity>}`, so that Redis Cluster can place entities on different shards.
import { Redis, type RedisOptions } from "ioredis";
import type { EntityStats, EntityThreshold } from "../../protocols/dsc/index.js";
import type { AuthoriseRequest, CounterDecision, SessionCounter } from "./session-counter.js";

// KEYS: per entity, its session set then its stats hash. ARGV[1]: the session id, ARGV[2]: "server:port",
// ARGV[2 + i]: entity i's global threshold. Returns 0 (granted) or the index of the first entity at its limit.
const AUTHORISE = `
local n = #KEYS / 2
local sid = ARGV[1]
for i = 1, n do
  local set = KEYS[2 * i - 1]
  if redis.call('SISMEMBER', set, sid) == 0 and redis.call('SCARD', set) >= tonumber(ARGV[2 + i]) then
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
return 0
`;

// KEYS as above; ARGV[1]: the session id.
const RELEASE = `
for i = 1, #KEYS / 2 do
  if redis.call('SREM', KEYS[2 * i - 1], ARGV[1]) == 1 then redis.call('HDEL', KEYS[2 * i], 'conn:' .. ARGV[1]) end
end
return 0
`;

/** Thresholds per entity, the Redis client or its options, key prefix, fail-closed behaviour and connect timeout of a RedisSessionCounter. */
export interface RedisSessionCounterOptions {
  /** The limits of an entity; undefined: not counted. */
  threshold(entity: string): EntityThreshold | undefined;
  /** A client of the caller's, or options for one this counter makes (and closes). */
  redis: Redis | RedisOptions;
  /** Key prefix (default `callgate:dsc`). */
  prefix?: string;
  /** Refuse (default) or grant when Redis does not answer. */
  failClosed?: boolean;
  /** How long a command waits for a connection being made (ms, default 1,000). */
  connectTimeoutMs?: number;
}

/** Session counts in Redis: one Lua script counts a session against all its entities, or none, atomically. */
export class RedisSessionCounter implements SessionCounter {
  readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private authoriseSha = "";
  private releaseSha = "";
  /** Entities this process asked about, for its metrics. */
  private readonly seen = new Set<string>();
  /** Releases Redis did not take (disconnected): sent again when it is ready. */
  private readonly unreleased = new Map<string, readonly string[]>();

  constructor(private readonly opts: RedisSessionCounterOptions) {
    this.owned = !(opts.redis instanceof Redis);
    this.redis = opts.redis instanceof Redis ? opts.redis : new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 1, ...opts.redis });
    this.prefix = opts.prefix ?? "callgate:dsc";
    // Errors surface as failed commands (fail closed); the client's own event would be unhandled.
    this.redis.on("error", () => undefined);
    this.redis.on("ready", () => {
      for (const [id, entities] of [...this.unreleased]) {
        this.unreleased.delete(id);
        void this.release(id, entities);
      }
    });
  }

  /** The SHA1 of the check-and-count script once loaded ("" before the first authorisation). */
  scriptSha(): string {
    return this.authoriseSha;
  }

  /** Releases waiting for Redis to be reachable again. */
  get releasesPending(): number {
    return this.unreleased.size;
  }

  /** The keys of an entity: its session set and its stats hash, both under the entity's hash tag. */
  keysOf(entity: string): [string, string] {
    // Braces inside the tag would end it early: they are escaped.
    const tag = entity.replace(/[{}]/g, (c) => (c === "{" ? "%7B" : "%7D"));
    return [`${this.prefix}:{${tag}}:sessions`, `${this.prefix}:{${tag}}:stats`];
  }

  async authorise(req: AuthoriseRequest): Promise<CounterDecision> {
    const limited = [...new Set(req.entities)].filter((e) => this.opts.threshold(e) !== undefined);
    if (limited.length === 0) return { granted: true };
    for (const e of limited) this.seen.add(e);
    const keys = limited.flatMap((e) => this.keysOf(e));
    const args = [req.sessionId, `${req.server}:${req.port}`, ...limited.map((e) => String((this.opts.threshold(e) as EntityThreshold).global))];
    let at: number;
    try {
      at = Number(await this.run("authorise", keys, args));
    } catch {
      if (this.opts.failClosed === false) return { granted: true };
      return { granted: false, cause: "unreachable", entity: limited[0] as string };
    }
    return at === 0 ? { granted: true } : { granted: false, cause: "limit", entity: limited[at - 1] as string };
  }

  async release(sessionId: string, entities: readonly string[]): Promise<void> {
    const limited = [...new Set(entities)].filter((e) => this.opts.threshold(e) !== undefined);
    if (limited.length === 0) return;
    try {
      await this.run("release", limited.flatMap((e) => this.keysOf(e)), [sessionId]);
    } catch {
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
      // Checked and counted in one script: an entity is never above its threshold here.
      out.push([e, { active, granted: Number(h[0] ?? 0), refused: Number(h[1] ?? 0), overSubscribed: 0 }]);
    }
    return out;
  }

  /** Closes the Redis connection (if the counter opened it). */
  async close(): Promise<void> {
    if (this.owned) this.redis.disconnect();
  }

  /** Connected, or waits up to `connectTimeoutMs` for it (commands are not queued while disconnected). */
  private async ready(): Promise<void> {
    if (this.redis.status === "ready") return;
    if (this.redis.status === "end") throw new Error("redis client closed");
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off("ready", onReady);
        reject(new Error("redis not ready"));
      }, this.opts.connectTimeoutMs ?? 1000);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once("ready", onReady);
    });
  }

  private async run(which: "authorise" | "release", keys: string[], args: string[]): Promise<unknown> {
    await this.ready();
    const script = which === "authorise" ? AUTHORISE : RELEASE;
    let sha = which === "authorise" ? this.authoriseSha : this.releaseSha;
    if (sha === "") {
      sha = String(await this.redis.script("LOAD", script));
      if (which === "authorise") this.authoriseSha = sha;
      else this.releaseSha = sha;
    }
    try {
      return await this.redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      // A restarted or flushed Redis forgot the script: loaded again, once.
      if (!String(err).includes("NOSCRIPT")) throw err;
      if (which === "authorise") this.authoriseSha = "";
      else this.releaseSha = "";
      return this.run(which, keys, args);
    }
  }
}
