// The one durable append writer of the accounting files (spool, journals of open sessions, the RADIUS proxy's
// journal): appends and syncs, a short write continued, a write failing part way on a full disk (a 64 KiB tmpfs
// this test mounts) leaving a cut line that the next append ends first, and a rewrite that fails leaving the old
// file appended to.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableAppendFile } from "../../../lib/accounting/durable-append.js";
import { replaceJsonLines } from "../../../lib/accounting/json-lines.js";

const dir = mkdtempSync(join(tmpdir(), "durable-append-"));
const mount = join(dir, "small");

beforeAll(() => {
  mkdirSync(mount);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
});
afterAll(() => {
  execFileSync("umount", [mount]);
  rmSync(dir, { recursive: true, force: true });
});

const filler = join(mount, "filler");
/** Leaves the disk full: the filler takes every page left. */
const fill = (): void => expect(() => writeFileSync(filler, Buffer.alloc(256 * 1024))).toThrow(/ENOSPC/);
const free = (): void => rmSync(filler, { force: true });

describe("DurableAppendFile", () => {
  it("appends whole lines, multi-byte ones too, each synced once; a write after close throws", () => {
    const path = join(dir, "plain");
    const f = new DurableAppendFile(path, "fdatasync");
    f.append('{"a":"é€😀"}\n');
    f.write('{"b":1}\n');
    f.write('{"c":2}\n');
    f.sync();
    f.sync();
    expect(f.syncs).toBe(2);
    f.close();
    expect(readFileSync(path, "utf8")).toBe('{"a":"é€😀"}\n{"b":1}\n{"c":2}\n');
    expect(() => f.append("x\n")).toThrow(/closed/);
  });

  it("a write failing part way on a full disk throws and leaves a cut line; the next append after room is made starts a line of its own", () => {
    const path = join(mount, "cut");
    const f = new DurableAppendFile(path, "fsync");
    f.append('{"n":1}\n');
    fill();
    // Longer than what is left of the file's last page: part of it is written, then the disk is full.
    expect(() => f.append(`${JSON.stringify({ n: 2, pad: "x".repeat(10_000) })}\n`)).toThrow(/ENOSPC/);
    free();
    f.append('{"n":3}\n');
    f.close();
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines[0]).toBe('{"n":1}');
    expect(lines[1]).toMatch(/^\{"n":2,"pad":"x+$/);
    expect(lines.slice(2)).toEqual(['{"n":3}', ""]);
    unlinkSync(path);
  });

  it("a rewrite that throws leaves the old file, appended to; one that succeeds is appended to", () => {
    const path = join(dir, "reopen");
    const f = new DurableAppendFile(path, "fdatasync");
    f.append("1\n");
    expect(() =>
      f.reopen(() => {
        throw new Error("no room for the rewrite");
      }),
    ).toThrow(/no room/);
    f.append("2\n");
    expect(readFileSync(path, "utf8")).toBe("1\n2\n");
    f.reopen(() => writeFileSync(path, "new\n"));
    f.append("3\n");
    f.close();
    expect(readFileSync(path, "utf8")).toBe("new\n3\n");
  });

  it("a rewrite larger than the room left throws and leaves the old file whole (no part of the new one renamed into place)", () => {
    const path = join(mount, "rewrite");
    replaceJsonLines(path, [{ n: 1 }, { n: 2 }]);
    const f = new DurableAppendFile(path, "fsync");
    f.append('{"n":3}\n');
    fill();
    free();
    // Room for part of it only: 40 KiB of filler, then 40 KiB of lines.
    writeFileSync(filler, Buffer.alloc(40 * 1024));
    expect(() => f.reopen(() => replaceJsonLines(path, Array.from({ length: 400 }, (_, n) => ({ n, pad: "x".repeat(90) }))))).toThrow(/ENOSPC/);
    f.append('{"n":4}\n');
    f.close();
    expect(readFileSync(path, "utf8")).toBe('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n');
    free();
    rmSync(`${path}.new`, { force: true });
    unlinkSync(path);
  });

  it("any sequence of appends, full disks and freed room: every confirmed line is read back whole, once, in order, and no line joins two", () => {
    type Op = { append: number[] } | { fill: true } | { free: true };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 3 }).map((append) => ({ append })) },
      { weight: 1, arbitrary: fc.constant({ fill: true as const }) },
      { weight: 2, arbitrary: fc.constant({ free: true as const }) },
    );
    let run = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const path = join(mount, `model-${run++}`);
        const f = new DurableAppendFile(path, "fdatasync");
        const confirmed: string[] = [];
        const refused: string[] = [];
        let n = 0;
        try {
          for (const o of ops) {
            if ("fill" in o) {
              try {
                writeFileSync(filler, Buffer.alloc(256 * 1024));
              } catch {
                // Full: what the op is for.
              }
            } else if ("free" in o) free();
            else {
              const lines = o.append.map((pad) => JSON.stringify({ n: n++, pad: "é".repeat(pad % 7) + "x".repeat(pad) }));
              try {
                f.append(lines.map((l) => `${l}\n`).join(""));
                confirmed.push(...lines);
              } catch (err) {
                expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
                refused.push(...lines);
              }
            }
          }
          f.close();
          const read = readFileSync(path, "utf8").split("\n").filter((l) => l !== "");
          const whole = read.filter((l) => confirmed.includes(l) || refused.includes(l));
          expect(whole.filter((l) => confirmed.includes(l))).toEqual(confirmed);
          // Anything else is the start of a line whose append was refused, cut where the disk filled.
          for (const l of read) if (!whole.includes(l)) expect(refused.some((r) => r.startsWith(l))).toBe(true);
        } finally {
          free();
          rmSync(path, { force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
