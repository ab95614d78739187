// DSCs in one process, linked without sockets: frames are delivered in order per link, each in a microtask of
// its own (later than the send, before any timer: the in-memory driver's virtual clock does not move meanwhile).
// For tests, embedding and the in-memory driver.
import { DscCore, DscFrameDecoder, type AuthoriseRequest, type DscAction, type DscCoreOptions, type EntityStats } from "../../protocols/dsc/index.js";
import type { CounterDecision, SessionCounter } from "./session-counter.js";

/** Distributed session counters in one process, linked without sockets: for tests, embedding and the in-memory driver. */
export class InProcessDscCluster {
  readonly cores = new Map<string, DscCore>();
  private readonly waiting = new Map<string, (d: CounterDecision) => void>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly decoders = new Map<string, DscFrameDecoder>();
  private inFlight = 0;

  /** `unreachable`: DSCs of the set whose links never come up (an authority cut off from the others). */
  constructor(ids: readonly string[], options: Omit<DscCoreOptions, "id" | "peers">, links: { unreachable?: readonly string[] } = {}) {
    const cut = new Set(links.unreachable ?? []);
    for (const id of cut) if (!ids.includes(id)) throw new Error(`unreachable DSC ${id} is not in this cluster`);
    for (const id of ids) this.cores.set(id, new DscCore({ ...options, id, peers: ids.filter((p) => p !== id) }));
    for (const a of ids) for (const b of ids) if (a !== b && !cut.has(a) && !cut.has(b)) this.run(a, this.core(a).peerUp(b));
  }

  /** The core of one DSC of the cluster. */
  core(id: string): DscCore {
    const c = this.cores.get(id);
    if (c === undefined) throw new Error(`no DSC ${id} in this cluster`);
    return c;
  }

  /** The session counter of one DSC of the cluster. */
  counter(id: string): SessionCounter {
    const core = this.core(id);
    return {
      authorise: (req: AuthoriseRequest) =>
        new Promise<CounterDecision>((resolve) => {
          this.waiting.set(`${id}|${req.sessionId}`, resolve);
          this.run(id, core.authorise(req));
        }),
      release: (sessionId: string) => this.run(id, core.terminate(sessionId)),
      entityStats: (): [string, EntityStats][] => core.entities().map((e) => [e, core.entityStats(e)]),
    };
  }

  /** Frames sent and not yet delivered. */
  get framesInFlight(): number {
    return this.inFlight;
  }

  /** Every timer cleared (the cluster is done). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private run(id: string, actions: DscAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send": {
          const link = `${id}>${a.to}`;
          this.inFlight++;
          queueMicrotask(() => {
            this.inFlight--;
            let dec = this.decoders.get(link);
            if (dec === undefined) this.decoders.set(link, (dec = new DscFrameDecoder()));
            for (const payload of dec.push(a.frame)) this.run(a.to, this.core(a.to).receive(id, payload));
          });
          break;
        }
        case "decided": {
          const key = `${id}|${a.sessionId}`;
          const resolve = this.waiting.get(key);
          this.waiting.delete(key);
          resolve?.(a.granted ? { granted: true } : { granted: false, cause: a.cause, entity: a.entity });
          break;
        }
        case "set-timer":
          this.timers.set(`${id}|${a.key}`, setTimeout(() => this.run(id, this.core(id).timer(a.key)), a.delayMs));
          break;
        case "cancel-timer": {
          const t = this.timers.get(`${id}|${a.key}`);
          if (t) clearTimeout(t);
          this.timers.delete(`${id}|${a.key}`);
          break;
        }
        case "bad-peer":
          throw new Error(`DSC ${id} got a bad frame from ${a.peer}: ${a.error.message}`);
      }
    }
  }
}
