// The deploy file's `sessionLimits` section: how it is read, the refusals of a bad one, and the policy a served
// POL1/POL2 builds from it on a real redis-server (started here on a free port, killed after).
import { describe, expect, it } from "vitest";
import { useRedisCluster, useRedisServer } from "../../support/redis-server.js";
import { redisClientOf, startServedSessionLimits } from "../../../lib/dsc/serve-session-limits.js";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

const redis = useRedisServer();
const cluster = useRedisCluster(3);

const refusal = (text: string): string => thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}${text}`, "/etc/callgate/deploy.yaml")).message;

describe("deploy file sessionLimits", () => {
  it("DSC ports on the policy servers' hosts, local thresholds 0 unless given, TLS files beside the deploy file", () => {
    const c = parseDeployConfig(
      `${ROLES}sessionLimits:\n  thresholds: { "realm example.com": { global: 3, local: 1 }, "group sales": { global: 2 } }\n  groups: { "alice@example.com": [sales] }\n  failClosed: false\n  dsc: { POL1: 7001, POL2: 7002, tls: { ca: pki/ca.pem, POL1: { key: pki/pol1.key, cert: pki/pol1.pem }, POL2: { key: pki/pol2.key, cert: pki/pol2.pem } } }\n`,
      "/etc/callgate/deploy.yaml",
    );
    expect(c.sessionLimits).toEqual({
      thresholds: { "realm example.com": { global: 3, local: 1 }, "group sales": { global: 2, local: 0 } },
      membership: { groups: { "alice@example.com": ["sales"] } },
      failClosed: false,
      dsc: {
        listen: { POL1: { host: "127.0.0.1", port: 7001 }, POL2: { host: "127.0.0.2", port: 7002 } },
        tls: { ca: "/etc/callgate/pki/ca.pem", keys: { POL1: { key: "/etc/callgate/pki/pol1.key", cert: "/etc/callgate/pki/pol1.pem" }, POL2: { key: "/etc/callgate/pki/pol2.key", cert: "/etc/callgate/pki/pol2.pem" } } },
      },
    });
    expect(parseDeployConfig(ROLES).sessionLimits).toBeUndefined();
  });

  it("refuses a section with both or neither backend, an entity of no known kind, a local threshold above the global one", () => {
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1 } }, redis: "redis://127.0.0.1:6379", dsc: { POL1: 7001, POL2: 7002 } }\n`)).toMatch(/sessionLimits.*either dsc.*or redis/);
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1 } } }\n`)).toMatch(/sessionLimits.*either dsc.*or redis/);
    expect(refusal(`sessionLimits: { thresholds: { "tenant a": { global: 1 } }, redis: "redis://127.0.0.1:6379" }\n`)).toMatch(/sessionLimits.thresholds.*tenant a/s);
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1, local: 2 } }, redis: "redis://127.0.0.1:6379" }\n`)).toMatch(/sessionLimits.thresholds.realm a.com.local: 2 is above the global threshold 1/);
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1 } }, dsc: { POL1: 7001 } }\n`)).toMatch(/sessionLimits.dsc.*POL2/);
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1 } }, redis: "http://127.0.0.1:6379" }\n`)).toMatch(/sessionLimits.redis/);
    // ROLES has POL1's COPS on 127.0.0.1:3288: its DSC cannot listen there too.
    expect(refusal(`sessionLimits: { thresholds: { "realm a.com": { global: 1 } }, dsc: { POL1: 3288, POL2: 7002 } }\n`)).toMatch(/sessionLimits.dsc.POL1: tcp 127.0.0.1:3288 is already POL1.cops's/);
  });

  it("reads a Redis URL: a database, or a cluster through one node, and the owner's lease; refuses other options", () => {
    expect(redisClientOf("redis://10.0.0.5:6380/3")).toEqual({ cluster: false, options: { node: { host: "10.0.0.5", port: 6380 }, db: 3 } });
    expect(redisClientOf("redis://10.0.0.5?cluster=yes&leaseMs=60000")).toEqual({ cluster: true, options: { node: { host: "10.0.0.5", port: 6379 }, db: 0, leaseMs: 60000 } });
    expect(() => redisClientOf("redis://10.0.0.5/2?cluster=yes")).toThrow("sessionLimits.redis: Redis Cluster has database 0 only, not 2");
    expect(() => redisClientOf("redis://10.0.0.5?clustre=yes")).toThrow("sessionLimits.redis: 'clustre=yes' is not cluster=yes|no or leaseMs=<ms>");
    expect(() => redisClientOf("redis://10.0.0.5?leaseMs=soon")).toThrow(/'leaseMs=soon' is not/);
    expect(() => redisClientOf("redis://10.0.0.5/x")).toThrow("sessionLimits.redis: '/x' is no database number");
  });

  it.each([
    ["redis-server", () => `redis://127.0.0.1:${redis.port()}/3`],
    // The user's and the realm's keys hash to different slots: reserved slot by slot.
    ["a Redis Cluster of three", () => `redis://127.0.0.1:${cluster.ports()[1]}?cluster=yes`],
  ])("on %s, POL1 (callers) and POL2 share a realm's count: the limit holds across both, a refusal names the realm, an end frees a place", async (_backend, url) => {
    const settings = { thresholds: { "realm example.com": { global: 2, local: 0 }, "user alice@example.com": { global: 5, local: 0 } }, redis: { url: url() } };
    const pol1 = await startServedSessionLimits(settings, "POL1", 3288);
    const pol2 = await startServedSessionLimits(settings, "POL2", 3289);
    try {
      const p1 = pol1.wrap(undefined);
      const p2 = pol2.wrap(undefined);
      const q = (callId: string, side: "originating" | "terminating") => ({ callId, side, caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: [], now: 0 });
      expect(await p1.decideAaa(q("c1", "originating"))).toEqual({ allow: true });
      // POL2 counts the callee's realm: the same realm, the same count.
      expect(await p2.decideAaa(q("c2", "terminating"))).toEqual({ allow: true });
      expect(await p1.decideAaa(q("c3", "originating"))).toEqual({ allow: false, sipStatus: 403, reason: "realm example.com at its session limit" });
      // POL1 does not count the terminating side, POL2 not the originating.
      expect(await p1.decideAaa(q("c4", "terminating"))).toEqual({ allow: true });
      p2.callEnded({ callId: "c2", side: "terminating", now: 1 });
      let again: unknown;
      for (let i = 0; i < 50; i++) {
        again = await p1.decideAaa(q(`c5-${i}`, "originating"));
        if ((again as { allow: boolean }).allow) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(again).toEqual({ allow: true });
    } finally {
      await pol1.close();
      await pol2.close();
    }
  });
});
