// The access roles fed lies: 20,000 mutated Ethernet frames and line frames each, after real sessions exist.
// Every input is handled or dropped with a cause, never an exception.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PppLink, encodePppoeFrame } from "../../../protocols/pppoe/index.js";
import { AddressPool } from "../../../lib/access/address-pool.js";
import { AccessConcentrator, type ConcentratorAction } from "../../../lib/access/concentrator.js";
import { PppoeServerRole, type PppoeServerRoleAction } from "../../../lib/access/pppoe-server-role.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";
import { pppoeFrameArb } from "../../protocols/pppoe/arbitraries.js";

const RUNS = 20_000;
const AC = "02:00:00:00:0a:01";
const SRV = "02:00:00:00:0b:01";

function mutate(seed: Buffer, rnd: () => number): Buffer {
  return mutateBytes(seed, rnd, {
    interesting: (out, pos, r) => {
      if (out.length >= pos + 2) out.writeUInt16BE([0, 1, 0x8863, 0x8864, 0xc021, 0xc023, 0x8021, 0x0021, 0xffff][Math.floor(r() * 9)] ?? 0, pos);
    },
    fixLength: (out) => {
      if (out.length >= 20) out.writeUInt16BE(Math.min(0xffff, out.length - 20), 18);
    },
  });
}

describe("access roles under mutated input", () => {
  it(`concentrator and server: ${RUNS} mutated frames each way, only drops`, () => {
    const server = new PppoeServerRole({ mac: SRV, acName: "isp", cookieSecret: randomBytes(16), auth: "pap", users: { a: "b" }, localAddress: "100.64.0.1", pool: new AddressPool("100.64.0.2", "100.64.0.200"), randomBytes });
    const ac = new AccessConcentrator({ mode: "session-per-line", mac: AC, maxLines: 10, maxSessions: 10, randomBytes });
    const user = new PppLink({ role: "client", username: "a", password: "b", magic: 9 });
    const wire: Buffer[] = [];
    const queue: (() => void)[] = [];
    const fromAc = (actions: ConcentratorAction[]): void => {
      for (const a of actions) {
        if (a.type === "send") {
          wire.push(a.bytes);
          queue.push(() => fromServer(server.handle({ type: "frame", bytes: a.bytes }, 0)));
        } else if (a.type === "line-send") queue.push(() => fromUser(user.handle({ type: "frame", bytes: a.frame })));
      }
    };
    const fromServer = (actions: PppoeServerRoleAction[]): void => {
      for (const a of actions) if (a.type === "send") {
        wire.push(a.bytes);
        queue.push(() => fromAc(ac.handle({ type: "frame", bytes: a.bytes }, 0)));
      }
    };
    const fromUser = (actions: ReturnType<PppLink["handle"]>): void => {
      for (const a of actions) if (a.type === "send") queue.push(() => fromAc(ac.handle({ type: "line-frame", line: 1, frame: a.frame }, 0)));
    };
    fromAc(ac.handle({ type: "line-open", line: 1 }, 0));
    fromUser(user.handle({ type: "open" }));
    while (queue.length) queue.shift()!();
    expect(user.phase).toBe("open");

    const seed = fuzzSeed();
    const rnd = seededRandom(seed);
    const corpus = [...wire, ...fc.sample(pppoeFrameArb, { numRuns: 200, seed: 21 }).map(encodePppoeFrame)];
    let drops = 0;
    for (let i = 0; i < RUNS; i++) {
      const input = mutate(corpus[i % corpus.length]!, rnd);
      try {
        for (const a of [...ac.handle({ type: "frame", bytes: input }, 0), ...server.handle({ type: "frame", bytes: input }, 0)]) {
          if (a.type === "emit" && a.event.type === "dropped") drops++;
        }
        // A line that lies: the same bytes as a PPP frame from line 2 (whose session is not up).
        if (i === 0) ac.handle({ type: "line-open", line: 2 }, 0);
        ac.handle({ type: "line-frame", line: 2, frame: input.subarray(14) }, 0);
      } catch (err) {
        throw new Error(`seed ${seed}, input ${input.toString("hex")}: ${String(err)}`);
      }
    }
    expect(drops).toBeGreaterThan(RUNS / 10);
    // The table holds at most the two lines' sessions, whatever the lies started or ended.
    expect(ac.sessionTable().length).toBeLessThanOrEqual(2);
  });
});
