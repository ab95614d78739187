// A policy server's Redis session counter in a process of its own, for the restart tests: it authorises the
// sessions named on its command line under its owner, prints each decision, and keeps its lease until killed.
// argv: JSON {ports, cluster, prefix, owner, leaseMs, sessions: [{id, entities}]}
import { Cluster } from "ioredis";
import { RedisSessionCounter } from "../../../lib/dsc/redis-counter.js";
import { thresholds } from "../../protocols/dsc/traffic.js";

interface ChildConfig {
  ports: number[];
  cluster: boolean;
  prefix: string;
  owner: string;
  leaseMs: number;
  sessions: { id: string; entities: string[] }[];
}

const config = JSON.parse(process.argv[process.argv.length - 1] as string) as ChildConfig;
const redis = config.cluster
  ? new Cluster(config.ports.map((port) => ({ host: "127.0.0.1", port })), { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } })
  : { host: "127.0.0.1", port: config.ports[0] as number };
const counter = new RedisSessionCounter({ threshold: thresholds(), redis, prefix: config.prefix, owner: config.owner, leaseMs: config.leaseMs });
for (const s of config.sessions) {
  const d = await counter.authorise({ sessionId: s.id, entities: s.entities, server: config.owner, port: 3288 });
  process.stdout.write(`${s.id} ${d.granted ? "granted" : `refused ${d.cause}`}\n`);
}
// Up until killed: the lease is renewed meanwhile.
setInterval(() => undefined, 60_000);
