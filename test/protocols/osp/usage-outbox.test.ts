import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageOutbox } from "../../../protocols/osp/index.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-outbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("UsageOutbox journal", () => {
  it("keeps added entries across reopen until delivered, oldest first", async () => {
    const path = join(dir, "a.journal");
    const box = new UsageOutbox(path);
    await Promise.all([box.add("m1", Buffer.from("one")), box.add("m2", Buffer.from("two")), box.add("m3", Buffer.from("three"))]);
    box.markDelivered("m2");
    box.close();
    const again = new UsageOutbox(path);
    expect(again.pending().map((e) => [e.id, e.bytes.toString()])).toEqual([["m1", "one"], ["m3", "three"]]);
    again.close();
  });

  it("ignores a torn last line (crash in the middle of a write)", async () => {
    const path = join(dir, "b.journal");
    const box = new UsageOutbox(path);
    await box.add("m1", Buffer.from("one"));
    box.close();
    appendFileSync(path, `A m2 ${Buffer.from("two").toString("base64").slice(0, 2)}`);
    const again = new UsageOutbox(path);
    expect(again.pending().map((e) => e.id)).toEqual(["m1"]);
    again.close();
  });

  it("compacts delivered entries away when opened", async () => {
    const path = join(dir, "c.journal");
    const box = new UsageOutbox(path);
    for (let i = 0; i < 50; i++) await box.add(`m${i}`, Buffer.from(`x${i}`));
    for (let i = 0; i < 49; i++) box.markDelivered(`m${i}`);
    box.close();
    new UsageOutbox(path).close();
    expect(readFileSync(path, "utf8")).toBe(`A m49 ${Buffer.from("x49").toString("base64")}\n`);
  });

  it("a second add of an id still being written resolves with that same write", async () => {
    const path = join(dir, "e.journal");
    const box = new UsageOutbox(path);
    const first = box.add("m1", Buffer.from("one"));
    const second = box.add("m1", Buffer.from("one"));
    expect(second).toBe(first);
    await second;
    expect(readFileSync(path, "utf8")).toBe(`A m1 ${Buffer.from("one").toString("base64")}\n`);
    box.close();
  });

  it("adds an id once and refuses ids with whitespace", async () => {
    const box = new UsageOutbox(join(dir, "d.journal"));
    await box.add("m1", Buffer.from("one"));
    await box.add("m1", Buffer.from("other"));
    expect(box.pending().map((e) => e.bytes.toString())).toEqual(["one"]);
    await expect(box.add("a b", Buffer.from("x"))).rejects.toThrow(/whitespace/);
    box.close();
  });
});
