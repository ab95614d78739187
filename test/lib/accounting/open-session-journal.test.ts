// The one journal of open sessions behind the accounting and the concentrator journals: a line synced at once or
// in bounded groups, the file rewritten after 10,000 closes, a full disk refusing every later note, and a process
// killed while it writes: every session it was told is on disk is found open again.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { OpenSessionJournal, readSessionJournal, type SessionJournalFormat } from "../../../lib/accounting/open-session-journal.js";

const dir = mkdtempSync(join(tmpdir(), "open-sessions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => void vi.useRealTimers());

interface Seat {
  id: string;
  count: number;
}

const SEATS: SessionJournalFormat<Seat> = {
  keyOf: (s) => s.id,
  reopen: "keep",
  openLine: (s) => ({ o: s.id, count: s.count }),
  closeLine: (id) => ({ c: id }),
  updateLine: (id, patch) => ({ u: id, count: patch.count }),
  read: (l) => {
    if (typeof l.o === "string" && Number.isInteger(l.count)) return { open: { id: l.o, count: l.count as number } };
    if (typeof l.u === "string" && Number.isInteger(l.count)) return { update: l.u, patch: { count: l.count as number } };
    if (typeof l.c === "string") return { close: l.c };
    return undefined;
  },
};
const lines = (path: string): string[] => readFileSync(path, "utf8").split("\n").filter(Boolean);

describe("OpenSessionJournal", () => {
  it("group: lines noted within the delay share one sync; none is confirmed before it", async () => {
    vi.useFakeTimers();
    const path = join(dir, "group.journal");
    const j = OpenSessionJournal.open(path, SEATS, { sync: "group", maxDelayMs: 100 });
    const confirmed: string[] = [];
    void j.opened({ id: "a", count: 0 }).then(() => confirmed.push("a"));
    await vi.advanceTimersByTimeAsync(40);
    void j.opened({ id: "b", count: 0 }).then(() => confirmed.push("b"));
    void j.updated("a", { count: 3 }).then(() => confirmed.push("a3"));
    await vi.advanceTimersByTimeAsync(40);
    expect(confirmed).toEqual([]);
    expect(lines(path)).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(confirmed).toEqual(["a", "b", "a3"]);
    expect(j.flushes).toBe(1);
    expect(lines(path)).toHaveLength(3);
    // A note on a session not open writes nothing.
    await j.closed("zz");
    await j.updated("zz", { count: 1 });
    expect(j.flushes).toBe(1);
    j.close();
    expect(OpenSessionJournal.open(path, SEATS, { sync: "each" }).open).toEqual([{ id: "a", count: 3 }, { id: "b", count: 0 }]);
  });

  it("each: the line is synced when the call returns; closed, it refuses later notes", () => {
    const path = join(dir, "each.journal");
    const j = OpenSessionJournal.open(path, SEATS, { sync: "each" });
    void j.opened({ id: "a", count: 1 });
    expect(lines(path)).toEqual(['{"o":"a","count":1}']);
    void j.opened({ id: "a", count: 2 }); // kept: the first record stands
    void j.closed("a");
    expect(j.flushes).toBe(2);
    j.close();
    expect(() => j.opened({ id: "b", count: 0 })).toThrow(/closed/);
  });

  it("rewrites the file with only the open sessions after 10,000 closes", async () => {
    const path = join(dir, "compact.journal");
    const j = OpenSessionJournal.open(path, SEATS, { sync: "group", maxDelayMs: 0 });
    await Promise.all(Array.from({ length: 10_001 }, (_, i) => j.opened({ id: `s${i}`, count: i })));
    expect(lines(path)).toHaveLength(10_001);
    await Promise.all(Array.from({ length: 9_999 }, (_, i) => j.closed(`s${i}`)));
    expect(lines(path)).toHaveLength(20_000);
    await j.closed("s9999");
    expect(lines(path)).toEqual(['{"o":"s10000","count":10000}']);
    // Appended to the new file from then on.
    await j.updated("s10000", { count: 7 });
    j.close();
    expect(lines(path)).toHaveLength(2);
    expect(OpenSessionJournal.open(path, SEATS, { sync: "each" }).open).toEqual([{ id: "s10000", count: 7 }]);
  });

  it.each([["each" as const], ["group" as const]])("%s: a full disk refuses the note whose line did not fit, and every later one; the file keeps what was synced", async (sync) => {
    const mount = join(dir, `small-${sync}`);
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
    try {
      const path = join(mount, "full.journal");
      const j = OpenSessionJournal.open(path, SEATS, sync === "each" ? { sync } : { sync, maxDelayMs: 0 });
      await j.opened({ id: "before", count: 0 });
      expect(() => writeFileSync(join(mount, "filler"), Buffer.alloc(256 * 1024))).toThrow(/ENOSPC/);
      // Longer than what is left of the journal's last page: part of it is written, then the disk is full.
      const big = { id: "x".repeat(10_000), count: 1 };
      if (sync === "each") {
        expect(() => j.opened(big)).toThrow(/ENOSPC/);
        expect(() => j.closed("before")).toThrow(/ENOSPC/);
      } else {
        await expect(j.opened(big)).rejects.toThrow(/ENOSPC/);
        await expect(j.closed("before")).rejects.toThrow(/ENOSPC/);
      }
      j.close();
      expect(readSessionJournal(readFileSync(path, "utf8"), SEATS)).toEqual({ open: new Map([["before", { id: "before", count: 0 }]]), badLines: 1 });
    } finally {
      execFileSync("umount", [mount]);
    }
  });

  it.each([["each" as const], ["group" as const]])("%s: a process SIGKILLed while it notes sessions: every one it confirmed is open after the restart", async (sync) => {
    const path = join(dir, `killed-${sync}.journal`);
    const journalModule = join(process.cwd(), "lib/accounting/open-session-journal.ts");
    // Opens sessions without end, printing each once it is confirmed; closes one of every third batch.
    const script = `
      const { OpenSessionJournal } = await import(${JSON.stringify(journalModule)});
      const f = { keyOf: (s) => s.id, reopen: "keep", openLine: (s) => ({ o: s.id, count: s.count }), closeLine: (id) => ({ c: id }),
        read: (l) => typeof l.o === "string" ? { open: { id: l.o, count: l.count } } : typeof l.c === "string" ? { close: l.c } : undefined };
      const j = OpenSessionJournal.open(${JSON.stringify(path)}, f, ${JSON.stringify(sync === "each" ? { sync } : { sync, maxDelayMs: 0 })});
      for (let i = 0; ; i++) {
        const batch = [0, 1, 2, 3].map((k) => ({ id: "s" + (i * 4 + k), count: i }));
        await Promise.all(batch.map((s) => j.opened(s)));
        process.stdout.write(batch.map((s) => "open " + s.id + "\\n").join(""));
        if (i % 3 === 0) {
          process.stdout.write("closing " + batch[0].id + "\\n");
          await j.closed(batch[0].id);
          process.stdout.write("closed " + batch[0].id + "\\n");
        }
      }`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + 30_000;
    while ((out.match(/^closed /gm) ?? []).length < 20 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await exited;
    expect(err).toBe("");
    const told = out.slice(0, out.lastIndexOf("\n") + 1).split("\n").filter(Boolean);
    const confirmedOpen = new Set(told.filter((l) => l.startsWith("open ")).map((l) => l.slice(5)));
    const confirmedClosed = new Set(told.filter((l) => l.startsWith("closed ")).map((l) => l.slice(7)));
    // Asked to close: open or closed after the kill, depending on when it came.
    const closing = new Set(told.filter((l) => l.startsWith("closing ")).map((l) => l.slice(8)));
    expect(confirmedClosed.size).toBeGreaterThanOrEqual(20);
    const reopened = OpenSessionJournal.open(path, SEATS, { sync: "each" });
    const open = new Set(reopened.open.map((s) => s.id));
    for (const id of confirmedOpen) if (!closing.has(id)) expect(open.has(id), id).toBe(true);
    for (const id of confirmedClosed) expect(open.has(id), id).toBe(false);
    // Nothing beyond what was noted: every session open is one the child asked for (confirmed, or in flight).
    for (const id of open) expect(id).toMatch(/^s\d+$/);
    reopened.close();
  }, 60_000);
});
