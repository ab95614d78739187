// Faults on the socket driver: a message dropped, delayed or duplicated as the FaultPlan judges it, and roles down
// between two instants (their links broken, their peers told, then a restart), on real timers.
import type { FaultPlan } from "./fault-plan.js";
import type { Protocol } from "./message-record.js";

/** What happens when a role goes down and comes back. */
export interface DownWindowHandlers {
  down(role: string): void;
  up(role: string): void;
}

/** The FaultPlan on real timers; every timer it arms is cleared by `clear`. */
export class SocketFaults {
  private readonly timeouts = new Set<NodeJS.Timeout>();

  constructor(readonly plan: FaultPlan) {}

  isDown(name: string, now: number): boolean {
    return this.plan.isDown(name, now);
  }

  /** Moves one message as the plan judges it: `transmit` runs once per copy, at once or after the planned delay. */
  send(proto: Protocol, from: string, to: string, label: string, now: number, transmit: () => void): void {
    const verdict = this.plan.judge(proto, from, to, label, now);
    for (let copy = 0; copy < verdict.copies; copy++) {
      if (verdict.extraDelayMs > 0) {
        const t = setTimeout(() => {
          this.timeouts.delete(t);
          transmit();
        }, verdict.extraDelayMs);
        this.timeouts.add(t);
      } else {
        transmit();
      }
    }
  }

  /** Arms the plan's down windows, in ms from now. */
  scheduleDownWindows(handlers: DownWindowHandlers): void {
    for (const w of this.plan.downWindows) {
      this.timeouts.add(setTimeout(() => handlers.down(w.role), w.fromMs));
      this.timeouts.add(setTimeout(() => handlers.up(w.role), w.toMs));
    }
  }

  clear(): void {
    for (const t of this.timeouts) clearTimeout(t);
    this.timeouts.clear();
  }
}
