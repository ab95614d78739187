import { describe, expect, it } from "vitest";
import { EventLoopError, MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import { FaultPlan } from "../../../lib/drivers/fault-plan.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { send, type FlowNode, type NodeAction, type NodeEvent } from "../../../lib/drivers/node.js";

/** A pings B `count` times, one per 10 ms timer; B answers each ping with a pong. */
function pinger(count: number): FlowNode & { log: string[] } {
  const log: string[] = [];
  let sent = 0;
  return {
    name: "A",
    log,
    handle(ev: NodeEvent): NodeAction[] {
      if (ev.type === "start") return [{ type: "set-timer", key: "tick", delayMs: 10 }];
      if (ev.type === "timer") {
        sent++;
        const out: NodeAction[] = [send("SIP", "B", Buffer.from(`ping ${sent}`), "PING", `c${sent}`)];
        if (sent < count) out.push({ type: "set-timer", key: "tick", delayMs: 10 });
        return out;
      }
      if (ev.type === "deliver") log.push(`${ev.now}:${ev.bytes.toString()}`);
      if (ev.type === "restart" || ev.type === "peer-down" || ev.type === "peer-up") log.push(`${ev.now}:${ev.type}`);
      return [];
    },
  };
}
const ponger: FlowNode = {
  name: "B",
  handle(ev) {
    if (ev.type !== "deliver") return [];
    const n = ev.bytes.toString().split(" ")[1] ?? "?";
    return [send("SIP", ev.from, Buffer.from(`pong ${n}`), "PONG", `c${n}`)];
  },
};

describe("MemoryNetwork", () => {
  it("delivers in virtual time order and records each message once", async () => {
    const records: MessageRecord[] = [];
    const a = pinger(3);
    const net = new MemoryNetwork({ latencyMs: 2, onRecord: (r) => records.push(r) });
    net.add(a).add(ponger);
    net.start();
    await net.run();
    expect(a.log).toEqual(["14:pong 1", "24:pong 2", "34:pong 3"]);
    expect(records.map((r) => `${r.t} ${r.from}>${r.to} ${r.msg} ${r.callId}`)).toEqual([
      "10 A>B PING c1", "12 B>A PONG c1", "20 A>B PING c2", "22 B>A PONG c2", "30 A>B PING c3", "32 B>A PONG c3",
    ]);
    expect(net.now).toBe(34);
  });

  it("replays an hour of timers in well under a second of real time", async () => {
    const a = pinger(360);
    const net = new MemoryNetwork();
    net.add(a).add(ponger);
    net.start();
    await net.run();
    expect(a.log).toHaveLength(360);
    expect(net.now).toBe(3600 + 2);
  });

  it("replacing or cancelling a timer stops the old one firing", async () => {
    const fired: number[] = [];
    const node: FlowNode = {
      name: "T",
      handle(ev) {
        if (ev.type === "start") return [
          { type: "set-timer", key: "x", delayMs: 5 },
          { type: "set-timer", key: "x", delayMs: 50 },
          { type: "set-timer", key: "y", delayMs: 7 },
          { type: "cancel-timer", key: "y" },
        ];
        if (ev.type === "timer") fired.push(ev.now);
        return [];
      },
    };
    const net = new MemoryNetwork();
    net.add(node);
    net.start();
    await net.run();
    expect(fired).toEqual([50]);
  });

  it("drops, duplicates and delays the Nth message of a kind", async () => {
    const records: MessageRecord[] = [];
    const faults = new FaultPlan([
      { kind: "drop", proto: "SIP", msg: "PING", nth: 1 },
      { kind: "duplicate", proto: "SIP", msg: "PONG", nth: 1 },
      { kind: "delay", proto: "SIP", msg: "PING", from: "A", nth: 3, delayMs: 100 },
    ]);
    const a = pinger(3);
    const net = new MemoryNetwork({ faults, onRecord: (r) => records.push(r) });
    net.add(a).add(ponger);
    net.start();
    await net.run();
    // ping 1 dropped (not recorded, no pong); pong 2 duplicated; ping 3 delayed by 100 ms
    expect(a.log).toEqual(["22:pong 2", "23:pong 2", "132:pong 3"]);
    expect(records.filter((r) => r.msg === "PING").map((r) => r.callId)).toEqual(["c2", "c3"]);
  });

  it("a role that is down hears nothing, its peers hear peer-down/peer-up, and it restarts when back", async () => {
    const faults = new FaultPlan([], [{ role: "B", fromMs: 15, toMs: 25 }]);
    const a = pinger(3);
    const net = new MemoryNetwork({ faults });
    net.add(a).add(ponger);
    net.start();
    await net.run();
    expect(a.log).toEqual(["12:pong 1", "15:peer-down", "25:peer-up", "32:pong 3"]);
  });

  it("is deterministic: same inputs, same record stream", async () => {
    const runOnce = async (): Promise<string[]> => {
      const out: string[] = [];
      const net = new MemoryNetwork({ latencyMs: (_p, from) => (from === "A" ? 3 : 1), onRecord: (r) => out.push(`${r.t}${r.msg}${r.callId}`) });
      net.add(pinger(20)).add(ponger);
      net.start();
      await net.run();
      return out;
    };
    expect(await runOnce()).toEqual(await runOnce());
  });

  it("moves the clock to the end of a slice even when later events wait in the queue", async () => {
    const a = pinger(2);
    const net = new MemoryNetwork();
    net.add(a).add(ponger);
    net.start();
    // The first tick is at 10 ms: a 5 ms slice holds no event, yet time must pass, or slicing would never end.
    expect(await net.run({ untilMs: 5 })).toBe(2); // the two start events
    expect(net.now).toBe(5);
    expect(await net.run({ untilMs: 9 })).toBe(0);
    expect(net.now).toBe(9);
    let slices = 0;
    while (a.log.length < 2 && slices < 100) {
      await net.run({ untilMs: net.now + 3 });
      slices++;
    }
    expect(a.log).toEqual(["12:pong 1", "22:pong 2"]);
    expect(slices).toBe(5);
  });

  it("stops a loop that keeps virtual time still and names the looping messages", async () => {
    const echo = (name: string, peer: string): FlowNode => ({
      name,
      handle: (ev) => (ev.type === "start" && name === "A" ? [send("SIP", peer, Buffer.from("x"), "PING", "loop-1")] : ev.type === "deliver" ? [send("SIP", peer, ev.bytes, name === "A" ? "PING" : "PONG", "loop-1")] : []),
    });
    const net = new MemoryNetwork({ latencyMs: 0, maxEventsPerInstant: 1000 });
    net.add(echo("A", "B")).add(echo("B", "A"));
    net.start();
    const failure = await net.run().then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(EventLoopError);
    const err = failure as EventLoopError;
    expect(err.at).toBe(0);
    expect(err.message).toContain("more than 1000 events at virtual time 0 ms");
    expect(err.message).toContain("B->A SIP PONG (loop-1)");
    expect(err.message).toContain("A->B SIP PING (loop-1)");
    expect(err.lastEvents.length).toBeGreaterThan(2);
  });

  it("stops a run that exceeds its total event budget even while time moves on", async () => {
    const net = new MemoryNetwork({ maxEventsTotal: 50 });
    net.add(pinger(1000)).add(ponger);
    net.start();
    await expect(net.run()).rejects.toThrow(/more than 50 events in one run .*A timer tick/);
  });

  it("timers cancelled or set again never fire, also once the many cancelled ones are dropped from the queue; the live ones fire in order", async () => {
    const fired: string[] = [];
    const node: FlowNode = {
      name: "T",
      handle(ev: NodeEvent): NodeAction[] {
        if (ev.type === "timer") {
          fired.push(`${ev.now}:${ev.key}`);
          if (ev.key !== "again") return [];
          // Set while firing, after the drop: more cancelled ones, and a live one at an instant others left.
          const out: NodeAction[] = [];
          for (let i = 0; i < 3000; i++) out.push({ type: "set-timer", key: `C${i}`, delayMs: 181_000 }, { type: "cancel-timer", key: `C${i}` });
          out.push({ type: "set-timer", key: "last", delayMs: 32_000 - ev.now });
          return out;
        }
        if (ev.type !== "start") return [];
        const out: NodeAction[] = [{ type: "set-timer", key: "y", delayMs: 50 }, { type: "set-timer", key: "moved", delayMs: 40 }];
        for (let i = 0; i < 5000; i++) out.push({ type: "set-timer", key: `B${i}`, delayMs: 32_000 + (i % 7) }, { type: "cancel-timer", key: `B${i}` });
        out.push({ type: "set-timer", key: "x", delayMs: 50 }, { type: "set-timer", key: "moved", delayMs: 60 }, { type: "set-timer", key: "again", delayMs: 70 });
        out.push({ type: "set-timer", key: "B1", delayMs: 32_001 }, { type: "set-timer", key: "gone", delayMs: 45 }, { type: "cancel-timer", key: "gone" });
        return out;
      },
    };
    const net = new MemoryNetwork().add(node);
    net.start();
    await net.run({ untilMs: 200_000 });
    expect(fired).toEqual(["50:y", "50:x", "60:moved", "70:again", "32000:last", "32001:B1"]);
  });
});
