// Fault injection shared by the drivers: drop / delay / duplicate the Nth message of a kind, and roles that are
// down between two instants. Forced denials are role configuration, not network faults (see lib/flow/topology.ts).
import type { Protocol } from "./message-record.js";

/** A fault applied to the messages that match it. */
export type MessageFault = {
  kind: "drop" | "delay" | "duplicate";
  proto: Protocol;
  msg: string;
  from?: string;
  to?: string;
  /** 1-based: the Nth message matching proto/msg/from/to. */
  nth: number;
  delayMs?: number;
};

/** A time window in which a node is down (crashed, or its links broken). */
export interface DownWindow {
  role: string;
  fromMs: number;
  toMs: number;
}

/** What the driver does with one message: deliver after `extraDelayMs`, `copies` times (0 = dropped). */
export interface FaultVerdict {
  copies: number;
  extraDelayMs: number;
}

/** The verdict for every message when no fault is planned (shared, never mutated). */
const CLEAN: FaultVerdict = Object.freeze({ copies: 1, extraDelayMs: 0 });

/** The faults a driver applies: the Nth message of a kind dropped, delayed or duplicated, and roles down between two instants. */
export class FaultPlan {
  private readonly seen: number[];
  /** No message faults and no down windows: every message passes unchanged. */
  readonly clean: boolean;

  constructor(
    private readonly messageFaults: MessageFault[] = [],
    readonly downWindows: DownWindow[] = [],
  ) {
    this.seen = messageFaults.map(() => 0);
    this.clean = messageFaults.length === 0 && downWindows.length === 0;
  }

  /** Whether the role is inside one of its down windows at `now`. */
  isDown(role: string, now: number): boolean {
    if (this.clean) return false;
    for (const w of this.downWindows) if (w.role === role && now >= w.fromMs && now < w.toMs) return true;
    return false;
  }

  /** Called once per message a node sends, in send order. */
  judge(proto: Protocol, from: string, to: string, label: string, now: number): Readonly<FaultVerdict> {
    if (this.clean) return CLEAN;
    const verdict: FaultVerdict = { copies: 1, extraDelayMs: 0 };
    if (this.isDown(from, now) || this.isDown(to, now)) verdict.copies = 0;
    for (let i = 0; i < this.messageFaults.length; i++) {
      const f = this.messageFaults[i] as MessageFault;
      if (f.proto !== proto || f.msg !== label) continue;
      if (f.from !== undefined && f.from !== from) continue;
      if (f.to !== undefined && f.to !== to) continue;
      const count = (this.seen[i] ?? 0) + 1;
      this.seen[i] = count;
      if (count !== f.nth) continue;
      if (f.kind === "drop") verdict.copies = 0;
      else if (f.kind === "duplicate" && verdict.copies > 0) verdict.copies = 2;
      else if (f.kind === "delay") verdict.extraDelayMs += f.delayMs ?? 1000;
    }
    return verdict;
  }
}
