// In-memory network with a virtual clock: every message and timer goes through one queue ordered by virtual
// time then sequence, so a run is deterministic and a one-hour call replays in milliseconds.
import { EventQueue } from "./event-queue.js";
import { FaultPlan } from "./fault-plan.js";
import type { MessageRecord, Protocol } from "./message-record.js";
import type { FlowNode, NodeAction, NodeEvent, SipArrival, SipTransportName } from "./node.js";

/** Settings of a MemoryNetwork: latency, faults, what to call for every record and event, loop guards. */
export interface MemoryNetworkOptions<E> {
  /** One-way latency of a message; default 1 ms for every hop. */
  latencyMs?: number | ((proto: Protocol, from: string, to: string) => number);
  faults?: FaultPlan;
  /** Called with every message moved, as it is recorded. */
  onRecord?: (record: MessageRecord) => void;
  /** Called with every event a node emits (the roles' call events). */
  onEmit?: (node: string, event: E, now: number) => void;
  /**
   * The SIP transport between nodes: SIP deliveries then name it (`arrival`, no listener in memory), as the socket
   * driver's do. Unset (and no sipNodeTransports): deliveries name none.
   */
  sipTransport?: SipTransportName;
  /** SIP to and from these nodes runs over this transport instead of `sipTransport` (the receiver's entry first). */
  sipNodeTransports?: Record<string, SipTransportName>;
  /** Synthetic addresses for captures (pcap) of an in-memory run. */
  transportOf?: (proto: Protocol, from: string, to: string) => MessageRecord["transport"];
  /** Events one virtual instant may hold before the run is declared a loop (default 200,000). */
  maxEventsPerInstant?: number;
  /** Events one network may process over its life before the run is declared a loop (default 200 million). */
  maxEventsTotal?: number;
}

/** A run that keeps producing events without virtual time moving on (or without end): names what loops. */
export class EventLoopError extends Error {
  constructor(
    message: string,
    readonly at: number,
    readonly lastEvents: string[],
  ) {
    super(message);
    this.name = "EventLoopError";
  }
}

const LOOP_SAMPLE = 16;

/** One arrival per transport: in memory a node has no listener, only the transport a message came over. */
const ARRIVALS: Record<SipTransportName, SipArrival> = { udp: { transport: "udp" }, tcp: { transport: "tcp" }, tls: { transport: "tls" } };

/**
 * A queued event: one shape for every kind (monomorphic reads in `run`). A timer has no event until it fires, only
 * its key, which a cancel or a new setting of the key clears: a cancelled timer waits in the queue as this alone.
 */
class Pending {
  constructor(
    readonly node: string,
    readonly event: NodeEvent | undefined,
    public timerKey: string | undefined,
    readonly broadcast: boolean,
  ) {}
}

/** The in-memory driver: delivers the nodes' messages and timers on a virtual clock, deterministic for a seed. */
export class MemoryNetwork<E = unknown> {
  private readonly nodes = new Map<string, FlowNode<E>>();
  private readonly queue = new EventQueue<Pending>();
  /** Live timers per node and key (a replaced or cancelled one has its key cleared). */
  private readonly timers = new Map<string, Map<string, Pending>>();
  /** Cancelled or replaced timers still in the queue: dropped in one pass once they outnumber the rest. */
  private deadTimers = 0;
  private clock = 0;
  private readonly faults: FaultPlan;
  private readonly downEdgesScheduled = new Set<string>();
  messagesMoved = 0;
  /** Events processed over the network's life. */
  eventsProcessed = 0;
  private instant = -1;
  private eventsThisInstant = 0;
  private readonly maxPerInstant: number;
  private readonly maxTotal: number;

  constructor(private readonly opts: MemoryNetworkOptions<E> = {}) {
    this.faults = opts.faults ?? new FaultPlan();
    this.maxPerInstant = opts.maxEventsPerInstant ?? 200_000;
    this.maxTotal = opts.maxEventsTotal ?? 200_000_000;
  }

  get now(): number {
    return this.clock;
  }

  /** Adds a node; it gets its start event when the network starts. */
  add(node: FlowNode<E>): this {
    this.nodes.set(node.name, node);
    this.scheduleDownWindows(node.name);
    return this;
  }

  /** The node of that name. */
  node(name: string): FlowNode<E> | undefined {
    return this.nodes.get(name);
  }

  /** Queue an event for a node at an absolute virtual time. */
  at(time: number, node: string, event: Omit<NodeEvent, "now"> & { type: NodeEvent["type"] }): void {
    this.queue.push(Math.max(time, this.clock), new Pending(node, { ...event, now: time } as NodeEvent, undefined, false));
  }

  /** Deliver `start` to every node at the current time. */
  start(): void {
    for (const name of this.nodes.keys()) this.at(this.clock, name, { type: "start" });
  }

  /** Run actions a node produced outside an event (e.g. an application placing a call). */
  perform(node: string, actions: NodeAction<E>[]): void {
    this.apply(node, actions);
  }

  /**
   * Process events until the queue is empty or virtual time passes `untilMs`; the clock then stands at `untilMs`
   * (unless `maxEvents` stopped the run first). Returns the events processed.
   */
  async run(opts: { untilMs?: number; maxEvents?: number } = {}): Promise<number> {
    const until = opts.untilMs ?? Number.POSITIVE_INFINITY;
    const max = opts.maxEvents ?? Number.POSITIVE_INFINITY;
    let processed = 0;
    for (;;) {
      const head = this.queue.peek();
      if (head === undefined || head.at > until) break;
      if (processed >= max) return processed;
      this.queue.pop();
      this.advanceTo(head.at);
      const { node, timerKey, broadcast } = head.item;
      let event = head.item.event;
      if (broadcast && event !== undefined) {
        for (const [name, target] of this.nodes) {
          if (name === node || this.faults.isDown(name, this.clock)) continue;
          processed++;
          this.count(name, event);
          event.now = this.clock;
          const out = target.handle(event);
          this.apply(name, Array.isArray(out) ? out : await out);
        }
        continue;
      }
      if (event === undefined) {
        if (timerKey === undefined) {
          this.deadTimers--;
          continue; // cancelled or replaced
        }
        this.timers.get(node)?.delete(timerKey);
        event = { type: "timer", now: 0, key: timerKey };
      }
      const target = this.nodes.get(node);
      if (target === undefined) continue;
      if (this.faults.isDown(node, this.clock)) continue;
      processed++;
      this.count(node, event);
      event.now = this.clock; // each queued event is delivered once (a broadcast one in turn), so it is stamped in place
      const out = target.handle(event);
      // Only an asynchronous core (the clearinghouse's CDR store) costs an await; the clock stands still meanwhile.
      this.apply(node, Array.isArray(out) ? out : await out);
    }
    // Time passes to `until` even when later events wait in the queue: a caller running in slices must see the
    // clock move, or it would ask for the same empty slice forever.
    if (until !== Number.POSITIVE_INFINITY && this.clock < until) this.clock = until;
    return processed;
  }

  private advanceTo(at: number): void {
    if (at !== this.instant) {
      this.instant = at;
      this.eventsThisInstant = 0;
      this.loopSample.length = 0;
    }
    this.clock = at;
  }

  private readonly loopSample: string[] = [];

  /** Bounds on events per virtual instant and in total, so a loop between nodes fails loudly instead of spinning. */
  private count(node: string, event: NodeEvent): void {
    this.eventsProcessed++;
    const n = ++this.eventsThisInstant;
    if (n > this.maxPerInstant - LOOP_SAMPLE || this.eventsProcessed > this.maxTotal - LOOP_SAMPLE) {
      this.loopSample.push(describeEvent(node, event));
      if (n > this.maxPerInstant) {
        throw new EventLoopError(
          `memory network: more than ${this.maxPerInstant} events at virtual time ${this.clock} ms without time moving on; last events: ${this.loopSample.join("; ")}`,
          this.clock,
          [...this.loopSample],
        );
      }
      if (this.eventsProcessed > this.maxTotal) {
        throw new EventLoopError(
          `memory network: more than ${this.maxTotal} events in one run (at virtual time ${this.clock} ms); last events: ${this.loopSample.join("; ")}`,
          this.clock,
          [...this.loopSample],
        );
      }
    }
  }

  private apply(from: string, actions: NodeAction<E>[]): void {
    for (const action of actions) {
      switch (action.type) {
        case "send": {
          const verdict = this.faults.judge(action.proto, from, action.to, action.label, this.clock);
          const base = this.latency(action.proto, from, action.to) + verdict.extraDelayMs;
          for (let copy = 0; copy < verdict.copies; copy++) {
            this.messagesMoved++;
            if (this.opts.onRecord) {
              const record: MessageRecord = {
                t: this.clock,
                proto: action.proto,
                from,
                to: action.to,
                msg: action.label,
                callId: action.callId,
                bytes: action.bytes,
              };
              const transport = this.opts.transportOf?.(action.proto, from, action.to);
              if (transport) record.transport = transport;
              this.opts.onRecord(record);
            }
            const deliver: NodeEvent = { type: "deliver", now: 0, proto: action.proto, from, bytes: action.bytes, callId: action.callId, label: action.label };
            if (action.proto === "SIP") {
              const arrival = this.sipArrival(from, action.to);
              if (arrival !== undefined) deliver.arrival = arrival;
            }
            this.queue.push(this.clock + base + copy, new Pending(action.to, deliver, undefined, false));
          }
          break;
        }
        case "set-timer": {
          const timer = new Pending(from, undefined, action.key, false);
          const mine = this.timersOf(from);
          const replaced = mine.get(action.key);
          if (replaced !== undefined) this.forget(replaced);
          mine.set(action.key, timer);
          this.queue.push(this.clock + Math.max(0, action.delayMs), timer);
          break;
        }
        case "cancel-timer": {
          const mine = this.timers.get(from);
          const cancelled = mine?.get(action.key);
          if (cancelled !== undefined) {
            this.forget(cancelled);
            mine!.delete(action.key);
          }
          break;
        }
        case "emit":
          this.opts.onEmit?.(from, action.event, this.clock);
          break;
      }
    }
  }

  /** The transport of SIP from one node to another, as its delivery names it (none when the run sets no transport). */
  private sipArrival(from: string, to: string): SipArrival | undefined {
    const byNode = this.opts.sipNodeTransports;
    const transport = byNode?.[to] ?? byNode?.[from] ?? this.opts.sipTransport;
    return transport === undefined ? undefined : ARRIVALS[transport];
  }

  /**
   * A timer cancelled or set again: its queued entry no longer fires. Long timers cancelled early (Timer C, 32 s
   * transaction timers) would wait in the queue until their deadline; once they are most of it, they are dropped.
   */
  private forget(timer: Pending): void {
    timer.timerKey = undefined;
    if (++this.deadTimers > 1024 && this.deadTimers * 2 > this.queue.size) {
      this.queue.retain((p) => p.event !== undefined || p.timerKey !== undefined);
      this.deadTimers = 0;
    }
  }

  private timersOf(node: string): Map<string, Pending> {
    let mine = this.timers.get(node);
    if (mine === undefined) {
      mine = new Map();
      this.timers.set(node, mine);
    }
    return mine;
  }

  private latency(proto: Protocol, from: string, to: string): number {
    const l = this.opts.latencyMs ?? 1;
    return typeof l === "number" ? l : l(proto, from, to);
  }

  /** A role that is down loses its connections (peers hear peer-down) and restarts with no state when back. */
  private scheduleDownWindows(name: string): void {
    for (const w of this.faults.downWindows) {
      if (w.role !== name) continue;
      const key = `${w.role}@${w.fromMs}`;
      if (this.downEdgesScheduled.has(key)) continue;
      this.downEdgesScheduled.add(key);
      const down: NodeEvent = { type: "peer-down", now: w.fromMs, proto: "COPS", peer: w.role };
      this.queue.push(w.fromMs, new Pending(w.role, down, undefined, true));
      this.queue.push(w.toMs, new Pending(w.role, { type: "restart", now: w.toMs }, undefined, false));
      const up: NodeEvent = { type: "peer-up", now: w.toMs, proto: "COPS", peer: w.role };
      this.queue.push(w.toMs, new Pending(w.role, up, undefined, true));
    }
  }
}

/** One line per event for a loop report: node, event kind, and the message's first line or the timer's key. */
function describeEvent(node: string, event: NodeEvent): string {
  switch (event.type) {
    case "deliver": {
      const what = event.label ?? `${event.bytes.length} bytes`;
      return `${event.from}->${node} ${event.proto} ${what}${event.callId ? ` (${event.callId})` : ""}`;
    }
    case "timer":
      return `${node} timer ${event.key}`;
    case "peer-down":
    case "peer-up":
      return `${node} ${event.type} ${event.peer}`;
    default:
      return `${node} ${event.type}`;
  }
}
