// A policy server's OSP messageIds stay unique across its restarts, and in-memory runs with one seed keep
// writing the same ones.
import { describe, expect, it } from "vitest";
import { decodeOspMessage } from "../../../protocols/osp/index.js";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import { OspClearinghouseAdapter, startTagOf } from "../../../lib/adapters/osp-clearinghouse-adapter.js";
import type { Exchange } from "../../../lib/adapters/clearinghouse-adapter.js";
import { seededRandom } from "../../../lib/drivers/seeded-random.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

function wire<T>(exchange: Exchange<T>): { bytes: Buffer; correlation: string } {
  if (exchange.kind !== "wire") throw new Error(`expected a wire exchange, got ${exchange.kind}`);
  return exchange;
}

/** One life of POL1: `calls` calls authorised and reported from `startMs` on, messageIds as sent. */
async function life(clearinghouse: Clearinghouse, startMs: number, firstCall: number, calls: number, random?: () => number): Promise<string[]> {
  const adapter = new OspClearinghouseAdapter({ peer: "CH", idPrefix: "pol1", ...(random ? { random } : {}) });
  const ids: string[] = [];
  for (let i = firstCall; i < firstCall + calls; i++) {
    const now = startMs + (i - firstCall) * 10;
    const callId = `call-${i}@192.0.2.10`;
    const auth = wire(adapter.authorise({ side: "originating", callId, source: "sip:14045266060@a", destination: "sip:14043342535@b", now }));
    const answer = adapter.decodeAnswer((await clearinghouse.handle(auth.bytes, now, "POL1")).bytes);
    if (answer.kind !== "authorise" || answer.result.transactionId === undefined) throw new Error("not authorised");
    const report = wire(
      adapter.reportUsage({
        side: "originating", callId, source: "sip:14045266060@a", destination: "sip:14043342535@b", now: now + 5,
        transactionId: answer.result.transactionId, durationS: 3, startMs: now, endMs: now + 3_000,
      }),
    );
    await clearinghouse.handle(report.bytes, now + 5, "POL1");
    ids.push(auth.correlation, report.correlation);
    expect(decodeOspMessage(report.bytes).messageId).toBe(report.correlation);
  }
  return ids;
}

describe("policy server messageIds", () => {
  it("are unique across a restart, and no usage of either life is lost", async () => {
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }] }], store });
    // Both lives draw from the same seed, as every `callgate serve` process of one deploy file does.
    const first = await life(ch, T0, 0, 163, seededRandom(7));
    const second = await life(ch, T0 + 1_700, 163, 163, seededRandom(7));
    expect(new Set([...first, ...second]).size).toBe(first.length + second.length);
    expect(first[0]).toMatch(/^pol1-[0-9a-z]+-1$/);
    expect(await store.count()).toBe(326);
  });

  it("are the same for two in-memory runs with the same seed and clock", async () => {
    const run = () => life(new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }] }], store: new MemoryCdrStore() }), T0, 0, 3, seededRandom(7));
    expect(await run()).toEqual(await run());
    const unseeded = () => life(new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }] }], store: new MemoryCdrStore() }), T0, 0, 3);
    expect(await unseeded()).toEqual(await unseeded());
  });

  it("take the start tag from the first message's time and the seeded source", () => {
    expect(startTagOf(T0)).toBe(T0.toString(36));
    expect(startTagOf(T0 + 1)).not.toBe(startTagOf(T0));
    const seeded = startTagOf(T0, seededRandom(1));
    expect(seeded.startsWith(T0.toString(36))).toBe(true);
    expect(seeded.length).toBe(T0.toString(36).length + 4);
    expect(seeded).not.toBe(startTagOf(T0, seededRandom(2)));
  });
});
