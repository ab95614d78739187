// Caller authentication and realm capacity in a replayed scenario (the scenario's `auth` and `realms` sections):
// SIP1 challenges with a SipChallenger whose nonces come from the run's seed (a run repeats byte for byte), POL1
// checks the credentials against the scenario's HA1 lines or credentials file, and a RealmCapacityPolicyAdapter
// holds each client provider to its rented capacity, its accounting kept twice in memory and compared with what
// the scenario expects.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DefaultPolicyAdapter, type PolicyAdapter } from "../adapters/policy-adapter.js";
import type { AccountingRecord } from "../accounting/records.js";
import type { PerSide, RunOptions } from "../flow/run-types.js";
import { CredentialStore, type DigestAlgorithm } from "./credential-store.js";
import { DigestPolicyAdapter } from "./digest-policy-adapter.js";
import { LocalDigestVerifier } from "./digest-verifier.js";
import { NonceMachine } from "./nonce-machine.js";
import { callRealmsProblems, realmCapacityPolicy, type CallRealms } from "./realm-config.js";
import { SipChallenger } from "./sip-challenge.js";

/** The `auth` section: the realm SIP1 challenges with, HA1 lines or a credentials file, the algorithms offered. */
export interface ScenarioAuth {
  realm: string;
  /** A credentials file (username:realm:ALGORITHM:HA1 lines), relative to the scenario. */
  credentials?: string;
  /** The same lines inline. */
  users?: string[];
  algorithms?: DigestAlgorithm[];
  nonceLifetimeMs?: number;
}

/** The `realms` section: the master's realms, the client providers and their rented capacity, the accounting expected. */
export interface ScenarioRealms extends CallRealms {
  /** Records each side should hold at the end, as "STATUS USER" ("Start isp-b-virtual"), by "master" or provider name. */
  expectAccounting?: Record<string, string[]>;
}

/** A sink that keeps what it is given. */
class RecordList {
  readonly records: AccountingRecord[] = [];
  submit(records: AccountingRecord[]): void {
    this.records.push(...records);
  }
}

const userOf = (r: AccountingRecord): string => String(r.attributes.find(([name]) => name === "User-Name")?.[1] ?? "");

/** Seeded random octets: HMAC-SHA-256 of a counter under a key from the seed. */
function seededOctets(seed: number): (n: number) => Buffer {
  const key = createHash("sha256").update(`callgate scenario nonces ${seed}`).digest();
  let counter = 0;
  return (n) => {
    const out: Buffer[] = [];
    for (let got = 0; got < n; got += 32) out.push(createHmac("sha256", key).update(String(counter++)).digest());
    return Buffer.concat(out).subarray(0, n);
  };
}

/** A scenario's caller authentication and realm capacity, ready to put on a run and to judge its accounting. */
export class ReplayAuth {
  private readonly sinks = new Map<string, RecordList>();

  /** POL1's policy around the one it is given: credentials first, then realm capacity. */
  private wrap: (policy: PolicyAdapter) => PolicyAdapter = (p) => p;

  private constructor(
    private readonly challenger: SipChallenger | undefined,
    private readonly realms: ScenarioRealms | undefined,
  ) {}

  /** Builds both from the scenario's sections (files relative to `scenarioPath`); throws an Error naming the field. */
  static open(sections: { auth?: ScenarioAuth; realms?: ScenarioRealms }, scenarioPath: string, seed: number): ReplayAuth | undefined {
    const { auth, realms } = sections;
    if (!auth && !realms) return undefined;
    let challenger: SipChallenger | undefined;
    let withAuth = (p: PolicyAdapter): PolicyAdapter => p;
    if (auth) {
      if ((auth.credentials === undefined) === (auth.users === undefined)) throw new Error("auth: give either credentials (a file) or users (HA1 lines), not both");
      let text: string;
      if (auth.users !== undefined) text = auth.users.join("\n");
      else {
        const path = resolve(dirname(scenarioPath), auth.credentials!);
        try {
          text = readFileSync(path, "utf8");
        } catch (e) {
          throw new Error(`auth.credentials ${auth.credentials!}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
        }
      }
      let store: CredentialStore;
      try {
        store = CredentialStore.parse(text);
      } catch (e) {
        throw new Error(`auth.${auth.users !== undefined ? "users" : "credentials"}: ${(e as Error).message}`);
      }
      const octets = seededOctets(seed);
      challenger = new SipChallenger({
        realm: auth.realm,
        nonces: new NonceMachine({ secret: octets(32), randomBytes: octets, ...(auth.nonceLifetimeMs !== undefined ? { lifetimeMs: auth.nonceLifetimeMs } : {}) }),
        ...(auth.algorithms ? { algorithms: auth.algorithms } : {}),
      });
      const verifier = new LocalDigestVerifier(store);
      withAuth = (p) => new DigestPolicyAdapter(p, verifier, { realm: auth.realm });
    }
    const replay = new ReplayAuth(challenger, realms);
    replay.wrap = withAuth;
    if (realms) {
      const [problem] = callRealmsProblems(realms);
      if (problem) throw new Error(`realms.${problem.path.map((p) => (typeof p === "number" ? `[${p}]` : p)).join(".").replace(/\.\[/g, "[")}: ${problem.message}`);
      for (const name of Object.keys(realms.expectAccounting ?? {}))
        if (name !== "master" && !realms.clients.some((c) => c.name === name)) throw new Error(`realms.expectAccounting: '${name}' is neither master nor a client provider`);
      replay.wrap = (p) => withAuth(realmCapacityPolicy(p, realms, (side) => replay.sink(side)));
    }
    return replay;
  }

  private sink(name: string): RecordList {
    let s = this.sinks.get(name);
    if (!s) this.sinks.set(name, (s = new RecordList()));
    return s;
  }

  /** The run's options with SIP1's challenger and POL1's policy wrapped (credentials first, then realm capacity). */
  prepare(options: RunOptions): RunOptions {
    const given = options.policy;
    const sides: PerSide<PolicyAdapter> = given === undefined ? {} : "decideAaa" in given ? { originating: given, terminating: given } : given;
    const policy: PerSide<PolicyAdapter> = { ...sides, originating: this.wrap(sides.originating ?? new DefaultPolicyAdapter()) };
    return { ...options, policy, ...(this.challenger ? { callerChallenge: this.challenger } : {}) };
  }

  /** The accounting each side holds, as "STATUS USER" lines, by side name. */
  accounting(): Record<string, string[]> {
    return Object.fromEntries([...this.sinks].map(([name, s]) => [name, s.records.map((r) => `${r.status} ${userOf(r)}`)]));
  }

  /** A verdict line on the accounting expected (order within a side not counted), or undefined when none is. */
  verdict(): { ok: boolean; line: string } | undefined {
    const expected = this.realms?.expectAccounting;
    if (!expected) return undefined;
    const held = this.accounting();
    const problems: string[] = [];
    let count = 0;
    for (const [name, lines] of Object.entries(expected)) {
      count += lines.length;
      const got = [...(held[name] ?? [])].sort();
      const want = [...lines].sort();
      if (got.join("\n") !== want.join("\n")) problems.push(`  ${name}: holds [${got.join(", ")}], expected [${want.join(", ")}]`);
    }
    if (problems.length === 0) return { ok: true, line: `realm accounting: all ${count} records as expected` };
    return { ok: false, line: [`realm accounting: ${problems.length} side(s) differ`, ...problems].join("\n") };
  }
}
