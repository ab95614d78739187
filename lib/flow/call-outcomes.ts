// Turns the event bus of a run into per-call outcomes, and the topology's state into CDRs and leftovers.
import type { CallEvent } from "./call-events.js";
import type { CallOutcome, CallSpec, RunResult } from "./run-types.js";
import type { FlowTopology } from "./topology.js";

export class OutcomeTracker {
  private readonly byId = new Map<string, CallOutcome>();
  private readonly ended = new Set<string>();
  /** Usage events of a run, kept for its result's CDRs when there is no CDR store; empty when `keepUsage` is false. */
  readonly usage: Array<Extract<CallEvent, { type: "usage" }>> = [];

  constructor(callIds: string[], specs: CallSpec[], private readonly keepUsage = true) {
    callIds.forEach((id, i) => {
      const spec = specs[i];
      if (spec) this.byId.set(id, { callId: id, spec, finalStatusAtCaller: undefined, established: false });
    });
  }

  get allEnded(): boolean {
    return this.ended.size >= this.byId.size;
  }

  onEvent(e: CallEvent): void {
    if (e.type === "usage") {
      if (this.keepUsage && e.reported !== "pending") this.usage.push(e);
      return;
    }
    if (e.role !== "UAC" || e.callId === undefined) return;
    const o = this.byId.get(e.callId);
    if (!o) return;
    if (e.type === "established") {
      o.established = true;
      o.finalStatusAtCaller = 200;
      o.setupLatencyMs = e.at - o.spec.startMs;
    } else if (e.type === "terminated") {
      if (!o.established) o.finalStatusAtCaller = e.status;
      else if (e.endedBy !== undefined) o.endedBy = e.endedBy;
      this.ended.add(e.callId);
    }
  }

  outcomes(): CallOutcome[] {
    return [...this.byId.values()];
  }
}

export async function collectCdrs(topo: FlowTopology, tracker: OutcomeTracker): Promise<RunResult["cdrs"]> {
  if (topo.cdrStore) {
    const records = await topo.cdrStore.query();
    return records.map((r) => {
      const cdr: RunResult["cdrs"][number] = {
        callId: r.callId !== undefined ? Buffer.from(r.callId, "base64").toString("utf8") : "",
        role: r.role ?? "",
        durationS: r.duration ?? 0,
      };
      if (r.source !== undefined) cdr.source = r.source;
      if (r.destination !== undefined) cdr.destination = r.destination;
      return cdr;
    });
  }
  return tracker.usage.map((u) => ({ callId: u.callId, role: u.role === "POL1" ? "source" : "destination", durationS: u.durationS, source: "local" }));
}

export function leftovers(topo: FlowTopology): RunResult["leftovers"] {
  return {
    classifiers: topo.r1.classifiers.size + topo.r2.classifiers.size,
    // The routers' configuration states are the provisioning channel itself, not a call's state.
    copsRequestStates: topo.sip1.copsRequestStates + topo.sip2.copsRequestStates + topo.pol1.copsRequestStates + topo.pol2.copsRequestStates,
    pendingTransactions: topo.uac.pendingTransactions + topo.uas.pendingTransactions + topo.sip1.pendingTransactions + topo.sip2.pendingTransactions,
  };
}

/** When every call should be over at the latest (virtual ms), plus room for timers to settle. */
export function horizonOf(specs: CallSpec[]): number {
  let end = 0;
  for (const c of specs) end = Math.max(end, c.startMs + c.answerDelayMs + c.durationMs + (c.noAnswerTimeoutMs ?? 60_000) + (c.cancelAfterMs ?? 0));
  return end + 120_000;
}
