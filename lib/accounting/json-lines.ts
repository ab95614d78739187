// The accounting files (spool, journal of open sessions) are JSON lines, appended and fsynced; rewritten whole
// by a synced temporary file renamed into place, so that a crash leaves either the old file or the new one.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

/** Each line that is a JSON object, in order; any other line (a torn last line after a crash, damage) is counted. */
export function parseJsonLines(content: string): { objects: Record<string, unknown>[]; badLines: number } {
  const objects: Record<string, unknown>[] = [];
  let badLines = 0;
  for (const text of content.split("\n")) {
    if (text === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      badLines++;
      continue;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) objects.push(value as Record<string, unknown>);
    else badLines++;
  }
  return { objects, badLines };
}

/** Replaces the file at `path` with `lines` (one JSON value each): written whole (a short write continued), fsynced, renamed into place. */
export function replaceJsonLines(path: string, lines: unknown[]): void {
  const tmp = `${path}.new`;
  const bytes = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  const fd = openSync(tmp, "w");
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
