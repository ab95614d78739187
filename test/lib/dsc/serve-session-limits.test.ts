// The deploy file's `sessionLimits` section: how it is read, the refusals of a bad one, and the policy a served
// POL1/POL2 builds from it on a real redis-server (started here on a free port, killed after).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killStartedProcesses, spawnCli } from "../../support/cli-process.js";
import { freePort, useRedisCluster, useRedisServer } from "../../support/redis-server.js";
import { redisClientOf, startServedSessionLimits } from "../../../lib/dsc/serve-session-limits.js";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { rendezvousOwner } from "../../../protocols/dsc/index.js";
import { ROLES_ON_TWO_HOSTS as ROLES, rolesSection } from "../../support/deploy-file.js";
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

describe("a served DSC at start", () => {
  const q = (callId: string, side: "originating" | "terminating") => ({ callId, side, caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: [], now: 0 });
  const dscSettings = (p1: number, p2: number) => ({
    thresholds: { "realm example.com": { global: 1, local: 0 } },
    dsc: { listen: { POL1: { host: "127.0.0.1", port: p1 }, POL2: { host: "127.0.0.1", port: p2 } } },
  });

  it("waits for a peer that comes up late, then counts across the link: no peer reported down", async () => {
    const settings = dscSettings(await freePort(), await freePort());
    const down: string[][] = [];
    let pol1Started = false;
    const starting = startServedSessionLimits(settings, "POL1", 3288, { onPeersDown: (peers) => down.push(peers) }).then((s) => {
      pol1Started = true;
      return s;
    });
    // Nothing listens at POL2's address yet: POL1 keeps dialling it and does not finish starting.
    await new Promise((r) => setTimeout(r, 600));
    expect(pol1Started).toBe(false);
    const pol2 = await startServedSessionLimits(settings, "POL2", 3289, { onPeersDown: (peers) => down.push(peers) });
    const pol1 = await starting;
    try {
      expect(down).toEqual([]);
      // One session of the realm in all: whichever DSC is its authority, one of the two asks across the link.
      expect(await pol1.wrap(undefined).decideAaa(q("c1", "originating"))).toEqual({ allow: true });
      expect(await pol2.wrap(undefined).decideAaa(q("c2", "terminating"))).toEqual({ allow: false, sipStatus: 403, reason: "realm example.com at its session limit" });
    } finally {
      await pol1.close();
      await pol2.close();
    }
  });

  it("a peer that never comes up: the start ends at its deadline and reports the peer down; what it counts is unreachable", async () => {
    const realms = ["example.com", "example.org", "example.net", "a.example", "b.example", "c.example", "d.example"];
    const countedAt = (dsc: string): string => realms.find((r) => rendezvousOwner(`realm ${r}`, ["POL1", "POL2"]) === dsc)!;
    const [there, here] = [countedAt("POL2"), countedAt("POL1")];
    const settings = { ...dscSettings(await freePort(), await freePort()), thresholds: { [`realm ${there}`]: { global: 1, local: 0 }, [`realm ${here}`]: { global: 1, local: 0 } } };
    const down: Array<[string[], number]> = [];
    const t0 = performance.now();
    const pol1 = await startServedSessionLimits(settings, "POL1", 3288, { peerWaitMs: 400, onPeersDown: (peers, waitedMs) => down.push([peers, waitedMs]) });
    try {
      expect(performance.now() - t0).toBeGreaterThanOrEqual(350);
      expect(down).toEqual([[["POL2"], 400]]);
      const policy = pol1.wrap(undefined);
      const ask = (realm: string) => policy.decideAaa({ ...q(`c-${realm}`, "originating"), caller: `sip:alice@${realm}` });
      expect(await ask(there)).toEqual({ allow: false, sipStatus: 503, reason: `realm ${there} session counter unreachable` });
      expect(await ask(here)).toEqual({ allow: true });
    } finally {
      await pol1.close();
    }
  });
});

describe("callgate serve POL1 whose peer DSC never comes up", () => {
  const dir = mkdtempSync(join(tmpdir(), "dsc-serve-"));
  afterAll(() => {
    killStartedProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs which links were not up after its 5 s wait, then serves", async () => {
    const [sip1, pol1, ch, sip2, pol2, uac, uas, dsc1, dsc2] = await Promise.all(Array.from({ length: 9 }, () => freePort()));
    const file = join(dir, "deploy.yaml");
    writeFileSync(
      file,
      [
        ...rolesSection({ UAC: `{ udp: ${uac} }`, SIP1: `{ udp: ${sip1} }`, POL1: pol1!, CH: ch!, SIP2: `{ udp: ${sip2} }`, POL2: pol2!, UAS: `{ udp: ${uas} }` }),
        `sessionLimits: { thresholds: { "realm example.com": { global: 1 } }, dsc: { POL1: ${dsc1}, POL2: ${dsc2} } }`,
        "",
      ].join("\n"),
    );
    const served = spawnCli("serve", ["POL1", "--config", file]);
    await served.waitFor("POL1 ready", { stream: "stdout", ms: 60_000 });
    const log = served.stderr();
    expect(log).toContain("the links to DSC POL2 were not up after 5000 ms");
    expect(log.indexOf("were not up")).toBeLessThan(log.indexOf("POL1 started"));
    expect(await served.stop()).toBe(0);
  }, 90_000);
});
