// Session limits of a served policy server (the deploy file's `sessionLimits` section, `callgate serve POL1|POL2`):
// each policy server runs its DSC on its own port and dials the others, or every policy server counts in Redis.
import { readFileSync } from "node:fs";
import { DscNode, type EntityThreshold } from "../../protocols/dsc/index.js";
import type { CallSide, PolicyAdapter } from "../adapters/policy-adapter.js";
import type { RoleMetrics } from "../observability/metrics.js";
import { DscSessionCounter } from "./dsc-counter.js";
import { SessionLimitPolicy, type MembershipRules } from "./session-limit-policy.js";
import type { SessionCounter } from "./session-counter.js";

/** The `sessionLimits` section as read from the deploy file (paths absolute). */
export interface SessionLimitSettings {
  /** Limits by entity name (`user alice@example.net`, `group sales`, `realm example.net`); others are not counted. */
  thresholds: Record<string, EntityThreshold>;
  membership?: MembershipRules;
  /** Refuse (default) or grant when the counter cannot decide. */
  failClosed?: boolean;
  /** Peer counters: each policy server's DSC on this host and port (the DSC is named after its role). */
  dsc?: {
    listen: Record<string, { host: string; port: number }>;
    /** Mutual TLS between the DSCs: the CA and each DSC's key and certificate (PEM files; the certificate's CN is the role). */
    tls?: { ca: string; keys: Record<string, { key: string; cert: string }> };
    requestTimeoutMs?: number;
  };
  /** Counts in Redis instead: `redis://host:port[/db]`. */
  redis?: { url: string };
}

export interface ServedSessionLimits {
  /** The policy of this server: `inner` decides once the counter granted. */
  wrap(inner: PolicyAdapter | undefined): SessionLimitPolicy;
  registerMetrics(metrics: RoleMetrics): void;
  close(): Promise<void>;
}

/** How a served counter starts. */
export interface ServedSessionLimitsOptions {
  /** How long a DSC waits at start for the links to its peers (default 5 s). */
  peerWaitMs?: number;
  /** Told of the peers whose links were still down when the start stopped waiting for them. */
  onPeersDown?: (peers: string[], waitedMs: number) => void;
}

/** Starts the counter of `role` (POL1 counts the caller's entities, POL2 the callee's) for its COPS `port`. */
export async function startServedSessionLimits(
  settings: SessionLimitSettings,
  role: "POL1" | "POL2",
  port: number,
  options: ServedSessionLimitsOptions = {},
): Promise<ServedSessionLimits> {
  const threshold = (entity: string): EntityThreshold | undefined => settings.thresholds[entity];
  const failClosed = settings.failClosed ?? true;
  let counter: SessionCounter;
  let close: () => Promise<void>;
  if (settings.dsc) {
    const own = settings.dsc.listen[role];
    if (own === undefined) throw new Error(`sessionLimits.dsc.listen names no ${role}`);
    const tls = settings.dsc.tls;
    const keys = tls?.keys[role];
    if (tls && keys === undefined) throw new Error(`sessionLimits.dsc.tls.keys names no ${role}`);
    const node = new DscNode({
      id: role,
      threshold,
      failClosed,
      listen: own,
      peers: Object.entries(settings.dsc.listen).filter(([id]) => id !== role).map(([id, a]) => ({ id, host: a.host, port: a.port })),
      ...(tls && keys ? { tls: { ca: readFileSync(tls.ca, "utf8"), key: readFileSync(keys.key, "utf8"), cert: readFileSync(keys.cert, "utf8") } } : {}),
      ...(settings.dsc.requestTimeoutMs !== undefined ? { requestTimeoutMs: settings.dsc.requestTimeoutMs } : {}),
    });
    await node.start();
    // The peers start beside it: wait (bounded) for their links, so the first calls find their authorities
    // instead of being refused as unreachable while the links come up. A peer still down after that counts as such.
    const waitMs = options.peerWaitMs ?? 5_000;
    const down = await node.ready(Object.keys(settings.dsc.listen).filter((id) => id !== role), waitMs);
    if (down.length > 0) options.onPeersDown?.(down, waitMs);
    counter = new DscSessionCounter(node);
    close = () => node.close();
  } else if (settings.redis) {
    const { cluster, options } = redisClientOf(settings.redis.url);
    // Loaded only when a deployment counts on Redis (ioredis stays out of every other process).
    const [{ RedisSessionCounter }, { Cluster }] = await Promise.all([import("./redis-counter.js"), import("ioredis")]);
    // The role owns its sessions: a restarted POL1 releases the ones granted before by their ids.
    const redis = new RedisSessionCounter({
      threshold,
      failClosed,
      owner: role,
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      redis: cluster ? new Cluster([options.node], { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } }) : { ...options.node, db: options.db },
    });
    counter = redis;
    close = async () => {
      await redis.close();
      // A cluster client is given to the counter, so it is closed here.
      if (cluster) redis.redis.disconnect();
    };
  } else {
    throw new Error("sessionLimits needs dsc or redis");
  }
  const side: CallSide = role === "POL1" ? "originating" : "terminating";
  let policy: SessionLimitPolicy | undefined;
  return {
    wrap: (inner) => {
      policy = new SessionLimitPolicy({
        counter, server: role, port, sides: [side],
        ...(inner ? { inner } : {}),
        ...(settings.membership ? { membership: settings.membership } : {}),
      });
      return policy;
    },
    registerMetrics: (metrics) => policy?.registerMetrics(metrics),
    close,
  };
}

/**
 * `redis://host:port[/db][?cluster=yes][&leaseMs=N]`: one Redis (database `db`), or a Redis Cluster reached
 * through this node (database 0 only); `leaseMs`, the owner's lease (docs/session-counters.md).
 */
export function redisClientOf(text: string): { cluster: boolean; options: { node: { host: string; port: number }; db: number; leaseMs?: number } } {
  const url = new URL(text);
  const db = Number(url.pathname.replace(/^\//, "") || "0");
  if (!Number.isInteger(db) || db < 0) throw new Error(`sessionLimits.redis: '${url.pathname}' is no database number`);
  let cluster = false;
  let leaseMs: number | undefined;
  for (const [name, value] of url.searchParams) {
    if (name === "cluster" && ["yes", "no"].includes(value)) cluster = value === "yes";
    else if (name === "leaseMs" && /^\d+$/.test(value)) leaseMs = Number(value);
    else throw new Error(`sessionLimits.redis: '${name}=${value}' is not cluster=yes|no or leaseMs=<ms>`);
  }
  if (cluster && db !== 0) throw new Error(`sessionLimits.redis: Redis Cluster has database 0 only, not ${db}`);
  const node = { host: url.hostname, port: Number(url.port || "6379") };
  return { cluster, options: { node, db, ...(leaseMs !== undefined ? { leaseMs } : {}) } };
}
