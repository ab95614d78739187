// Metrics of the access roles, in the process's RoleMetrics registry beside the common ones.
import { Counter, Gauge } from "prom-client";
import type { RoleMetrics } from "../observability/metrics.js";

export class AccessMetrics {
  /** PPPoE sessions held now. */
  readonly sessions: Gauge;
  /** End users' lines connected now. */
  readonly lines: Gauge;
  /** Ethernet frames through the frame port, by direction (in, out). */
  readonly frames: Counter<"direction">;
  /** End-user sessions ended, by who ended them. */
  readonly sessionsEnded: Counter<"by">;

  constructor(metrics: RoleMetrics) {
    const registers = [metrics.registry];
    this.sessions = new Gauge({ name: "callgate_pppoe_sessions", help: "PPPoE sessions held", registers });
    this.lines = new Gauge({ name: "callgate_access_lines", help: "End-user lines connected", registers });
    this.frames = new Counter({ name: "callgate_pppoe_frames_total", help: "Ethernet frames through the frame port, by direction", labelNames: ["direction"], registers });
    this.sessionsEnded = new Counter({ name: "callgate_access_sessions_ended_total", help: "End-user sessions ended, by who ended them", labelNames: ["by"], registers });
  }
}
