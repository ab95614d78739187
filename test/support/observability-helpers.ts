// Reading what a process reports: its JSON log lines (pino) and its Prometheus exposition text.
import { Writable } from "node:stream";
import { pino } from "pino";

/** A logger whose lines are kept, parsed, in `lines`. */
export function captureLog(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

/** The value of one sample line of the exposition text (metric name with its labels in any order), undefined when absent. */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries((m[2] ?? "").split(",").filter(Boolean).map((kv) => kv.split("=").map((x) => x.replace(/^"|"$/g, "")) as [string, string]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
