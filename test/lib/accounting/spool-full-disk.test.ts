// The accounting spool on a full disk (a 64 KiB tmpfs this test mounts): a record whose line does not fit is
// refused (accept throws, nothing is confirmed) and leaves a cut line; once there is room again the next record
// goes on a line of its own, so a restarted exporter finds every record it confirmed and counts the cut line as
// bad. The exporter's sent and answered notes that do not fit are counted, and the record still goes.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingExporter } from "../../../lib/accounting/exporter.js";
import type { AccountingRecord } from "../../../lib/accounting/records.js";
import { AccountingSpool } from "../../../lib/accounting/spool.js";
import { RadiusCode, RadiusUdpServer } from "../../../protocols/radius/index.js";

const dir = mkdtempSync(join(tmpdir(), "acct-full-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (key: string, filler = 0): AccountingRecord => ({
  key,
  sessionId: key,
  status: "Start",
  eventMs: 1,
  attributes: [["Acct-Session-Id", key], ["Acct-Status-Type", "Start"], ...Array.from({ length: filler }, (): [string, string] => ["Reply-Message", "x".repeat(200)])],
});

function withSmallDisk(name: string, body: (mount: string) => Promise<void> | void): Promise<void> {
  const mount = join(dir, name);
  mkdirSync(mount);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
  return Promise.resolve()
    .then(() => body(mount))
    .finally(() => execFileSync("umount", [mount]));
}

const fill = (mount: string): void => expect(() => writeFileSync(join(mount, "filler"), Buffer.alloc(256 * 1024))).toThrow(/ENOSPC/);

describe("AccountingSpool on a full disk", () => {
  it("a record that does not fit is refused and cut; the next one after room is made reads back, the cut line is bad", () =>
    withSmallDisk("spool", (mount) => {
      const path = join(mount, "a.spool");
      const spool = AccountingSpool.open(path, AccountingSpool.recover(path), 40200);
      spool.accept([record("before")]);
      fill(mount);
      // About 13 KB: more than what is left of the spool's last page, so part of it is written.
      expect(() => spool.accept([record("refused", 60)])).toThrow(/ENOSPC/);
      expect(readFileSync(path, "utf8")).toMatch(/"refused"[^\n]*$/);
      unlinkSync(join(mount, "filler"));
      spool.accept([record("after")]);
      spool.close();
      const state = AccountingSpool.recover(path);
      expect(state.pending.map((p) => p.record.key)).toEqual(["before", "after"]);
      expect(state.badLines).toBe(1);
    }));

  it("an exporter whose sent and answered notes do not fit counts them and still delivers the record", () =>
    withSmallDisk("exporter", async (mount) => {
      const s = await RadiusUdpServer.listen({ port: 0, secretFor: () => "s3cret", handler: () => ({ code: RadiusCode.AccountingResponse, attributes: [] }) });
      const path = join(mount, "b.spool");
      const ex = await AccountingExporter.open({ spoolPath: path, servers: [s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
      try {
        fill(mount);
        // Its line (about 2.3 KB) fits in what is left of the spool's page; the note of its bytes after it does not.
        expect(ex.submit([record("k", 10)])).toBe(1);
        expect(await ex.drained(10_000)).toBe(true);
        expect(ex.answered).toBe(1);
        expect(ex.drops.get("spool-write-failed")).toBe(2);
      } finally {
        await ex.close();
        await s.close();
      }
      // What a restart would find: the record (its answer could not be noted: it is sent again), the cut note bad.
      const state = AccountingSpool.recover(path);
      expect(state.pending.map((p) => p.record.key)).toEqual(["k"]);
      expect(state.badLines).toBe(1);
    }));
});
