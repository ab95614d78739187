import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { EventQueue } from "../../../lib/drivers/event-queue.js";

describe("EventQueue", () => {
  it("pops by time, then in insertion order, for any interleaving of pushes and pops", () => {
    const op = fc.oneof(
      fc.record({ push: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.double({ min: 0, max: 50, noNaN: true })) }),
      fc.constant({ pop: true as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const queue = new EventQueue<number>();
        const model: { at: number; seq: number }[] = [];
        let seq = 0;
        let floor = 0; // a driver never schedules before the current instant
        for (const o of ops) {
          if ("push" in o) {
            const at = Math.max(floor, o.push);
            queue.push(at, seq);
            model.push({ at, seq: seq++ });
          } else {
            model.sort((a, b) => a.at - b.at || a.seq - b.seq);
            const want = model.shift();
            const got = queue.pop();
            expect(got === undefined ? undefined : { at: got.at, seq: got.item }).toEqual(want);
            if (want) floor = want.at;
          }
          expect(queue.size).toBe(model.length);
        }
        model.sort((a, b) => a.at - b.at || a.seq - b.seq);
        for (const want of model) {
          const head = queue.peek();
          expect(head && { at: head.at, seq: head.item }).toEqual(want);
          queue.pop();
        }
        expect(queue.pop()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("retain drops the items refused and keeps the rest in time, then insertion order, between pushes and pops", () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 50 }) }),
      fc.constant({ pop: true as const }),
      fc.record({ dropMod: fc.integer({ min: 2, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new EventQueue<number>();
        let model: { at: number; seq: number }[] = [];
        let seq = 0;
        let floor = 0;
        for (const o of ops) {
          if ("push" in o) {
            const at = Math.max(floor, o.push);
            queue.push(at, seq);
            model.push({ at, seq: seq++ });
          } else if ("dropMod" in o) {
            queue.retain((item) => item % o.dropMod !== 0);
            model = model.filter((m) => m.seq % o.dropMod !== 0);
          } else {
            model.sort((a, b) => a.at - b.at || a.seq - b.seq);
            const want = model.shift();
            const got = queue.pop();
            expect(got === undefined ? undefined : { at: got.at, seq: got.item }).toEqual(want);
            if (want) floor = want.at;
          }
          expect(queue.size).toBe(model.length);
        }
        model.sort((a, b) => a.at - b.at || a.seq - b.seq);
        for (const want of model) {
          const got = queue.pop();
          expect(got && { at: got.at, seq: got.item }).toEqual(want);
        }
        expect(queue.pop()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("accepts pushes earlier than the head (a queue, not only a clock)", () => {
    const queue = new EventQueue<string>();
    queue.push(10, "late");
    queue.push(5, "early");
    queue.push(10, "late2");
    expect([queue.pop()?.item, queue.pop()?.item, queue.pop()?.item, queue.pop()]).toEqual(["early", "late", "late2", undefined]);
  });
});
