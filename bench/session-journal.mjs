// Journals of open sessions on this machine's disk, against the disk itself in the same run:
//  - line by line (a policy server's accounting sessions): open + close pairs per second, each line synced
//    before the call returns, against writeSync + fdatasync of the same lines in a bare loop;
//  - in groups (the concentrator's end-user sessions): sessions opened per second when BATCH of them are noted
//    in each event-loop turn (and as many closed, once ten turns' worth are open), against one writeSync +
//    fdatasync of BATCH such lines.
// Run after `npm run build`: node bench/session-journal.mjs   (BENCH_SECONDS to size it, JOURNAL_BATCH)
// Both on this disk and on tmpfs (/dev/shm: syncs cost nothing, what is left is the journals' own work).
// Last line: {"batch":…, "disk_each_pairs_per_s":…, "disk_each_ceiling_pairs_per_s":…, "disk_each_ratio":…,
// "disk_group_sessions_per_s":…, "disk_group_ceiling_sessions_per_s":…, "disk_group_ratio":…, "mem_…" the same}
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import * as accounting from "../dist/lib/accounting/sessions.js";
import * as access from "../dist/lib/access/session-journal.js";
import { onDiskAndTmpfs, rate, ratio, rounded, thousands, writeAndSync } from "./journal-bench.mjs";

const batch = Number(process.env.JOURNAL_BATCH ?? 200);

// Either shape of the two journals' API, so that this file runs against older commits too (bench/ab.mjs).
const openAccounting = (path) => {
  if (accounting.openAccountingSessionJournal) {
    const j = accounting.openAccountingSessionJournal(path);
    return { opened: (s) => j.opened(s), closed: (s) => j.closed(`${s.callId};${s.side}`), close: () => j.close() };
  }
  const j = accounting.AccountingSessionJournal.open(path);
  return { opened: (s) => j.opened(s), closed: (s) => j.closed(s.callId, s.side), close: () => j.close() };
};
const openAccess = (path) => (access.openSessionJournal ? access.openSessionJournal(path) : access.SessionJournal.open(path).journal);

const accountingLine = (i) => `${JSON.stringify({ open: `call-${i}@bench;originating`, callId: `call-${i}@bench`, side: "originating", startMs: 1_765_000_000_000 + i })}\n`;
const accessSession = (i) => ({ key: `bench-${i}`, line: i % 65536, sessionId: (i % 65534) + 1, serverMac: "02:00:00:00:00:01", user: `user${i}@example.net`, startedAt: 1_765_000_000_000 + i });

/** Both measures in `where`: the journals and the bare loops they are held against. */
async function measure(where) {
  // Ceiling, line by line: the two lines of a session, each written and synced.
  const rawFd = openSync(join(where, "raw-each"), "a");
  const eachCeiling = await rate((i) => {
    writeAndSync(rawFd, accountingLine(i));
    writeAndSync(rawFd, `${JSON.stringify({ closed: `call-${i}@bench;originating` })}\n`);
  });
  closeSync(rawFd);
  const acct = openAccounting(join(where, "acct.sessions"));
  const each = await rate((i) => {
    const s = { callId: `call-${i}@bench`, side: "originating", startMs: 1_765_000_000_000 + i };
    acct.opened(s);
    acct.closed(s);
  });
  acct.close();

  // Ceiling, in groups: BATCH open lines in one write, one sync.
  const groupFd = openSync(join(where, "raw-group"), "a");
  const groupCeiling =
    batch *
    (await rate((n) => {
      let text = "";
      for (let k = 0; k < batch; k++) text += `${JSON.stringify({ op: "open", ...accessSession(n * batch + k) })}\n`;
      writeAndSync(groupFd, text);
    }));
  closeSync(groupFd);
  // Sessions open and close as in service: about 10 batches open at a time, each held by the caller too (the
  // concentrator keeps every open session's record by its line).
  const journal = openAccess(join(where, "access.journal"));
  const held = new Map();
  const group =
    batch *
    (await rate((n) => {
      const notes = [];
      for (let k = 0; k < batch; k++) {
        const s = accessSession(n * batch + k);
        held.set(s.key, s);
        notes.push(journal.opened(s));
      }
      if (n >= 10)
        for (let k = 0; k < batch; k++) {
          const key = `bench-${(n - 10) * batch + k}`;
          held.delete(key);
          notes.push(journal.closed(key));
        }
      return Promise.all(notes);
    }));
  journal.close();
  return { each, eachCeiling, group, groupCeiling };
}

const figures = { batch };
for (const [name, m] of await onDiskAndTmpfs("journal-bench", measure)) {
  console.log(`${name}: line by line   ${thousands(m.each)} open+close/s  (bare loop: ${thousands(m.eachCeiling)}/s, ratio ${(m.each / m.eachCeiling).toFixed(3)})`);
  console.log(`${name}: groups of ${batch}  ${thousands(m.group)} sessions/s  (bare loop: ${thousands(m.groupCeiling)}/s, ratio ${(m.group / m.groupCeiling).toFixed(3)})`);
  Object.assign(figures, {
    [`${name}_each_pairs_per_s`]: rounded(m.each),
    [`${name}_each_ceiling_pairs_per_s`]: rounded(m.eachCeiling),
    [`${name}_each_ratio`]: ratio(m.each, m.eachCeiling),
    [`${name}_group_sessions_per_s`]: rounded(m.group),
    [`${name}_group_ceiling_sessions_per_s`]: rounded(m.groupCeiling),
    [`${name}_group_ratio`]: ratio(m.group, m.groupCeiling),
  });
}
console.log(JSON.stringify(figures));
