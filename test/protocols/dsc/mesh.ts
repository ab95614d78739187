// DSCs in one process: every directed link an ordered queue of frames (as one TCP connection is), delivered in
// whatever order the test picks across links; DSCs killed (state lost, links broken) and started again.
import { DscCore, DscFrameDecoder, type AuthoriseRequest, type DscAction, type DscCoreOptions, type EntityThreshold } from "../../../protocols/dsc/index.js";

export interface Decision {
  granted: boolean;
  cause?: string;
  entity?: string;
}

export class Mesh {
  readonly cores = new Map<string, DscCore | undefined>();
  /** Frames in flight, per directed link `from>to`. */
  readonly queues = new Map<string, Buffer[]>();
  readonly timers = new Map<string, Set<string>>();
  readonly decisions = new Map<string, Decision>();
  readonly badPeers: { at: string; peer: string; code: string }[] = [];
  private readonly decoders = new Map<string, DscFrameDecoder>();
  private readonly linksDown = new Set<string>();

  constructor(
    readonly ids: string[],
    private readonly options: Omit<DscCoreOptions, "id" | "peers">,
    private readonly onDecided: (dsc: string, sessionId: string, d: Decision) => void = () => undefined,
  ) {
    for (const id of ids) this.cores.set(id, this.fresh(id));
    for (const a of ids) for (const b of ids) if (a !== b) this.apply(a, this.core(a).peerUp(b));
  }

  core(id: string): DscCore {
    const c = this.cores.get(id);
    if (c === undefined) throw new Error(`${id} is not running`);
    return c;
  }

  alive(id: string): boolean {
    return this.cores.get(id) !== undefined;
  }

  authorise(id: string, req: AuthoriseRequest): void {
    this.apply(id, this.core(id).authorise(req));
  }

  terminate(id: string, sessionId: string): void {
    this.apply(id, this.core(id).terminate(sessionId));
  }

  /** Links with frames in flight. */
  busyLinks(): string[] {
    return [...this.queues].filter(([, q]) => q.length > 0).map(([k]) => k);
  }

  /** Delivers the oldest frame of one link. */
  deliver(link: string): void {
    const q = this.queues.get(link);
    const frame = q?.shift();
    if (frame === undefined) return;
    const [from, to] = link.split(">") as [string, string];
    const core = this.cores.get(to);
    if (core === undefined) return;
    let dec = this.decoders.get(link);
    if (dec === undefined) {
      dec = new DscFrameDecoder();
      this.decoders.set(link, dec);
    }
    for (const payload of dec.push(frame)) this.apply(to, core.receive(from, payload));
  }

  /** Delivers everything in flight (and whatever that sends), links taken in turn. */
  drain(limit = 100_000): void {
    for (let n = 0; n < limit; n++) {
      const busy = this.busyLinks();
      if (busy.length === 0) return;
      this.deliver(busy[n % busy.length] as string);
    }
    throw new Error("the mesh did not settle");
  }

  fireTimer(id: string, key: string): void {
    if (!this.timers.get(id)?.delete(key)) return;
    this.apply(id, this.core(id).timer(key));
  }

  /** The DSC dies: its state is lost, its links break (frames in flight on them are lost). */
  kill(id: string): void {
    this.cores.set(id, undefined);
    for (const link of [...this.linksDown]) if (link.startsWith(`${id}>`) || link.endsWith(`>${id}`)) this.linksDown.delete(link);
    this.timers.delete(id);
    for (const k of [...this.queues.keys()]) {
      if (k.startsWith(`${id}>`) || k.endsWith(`>${id}`)) {
        this.queues.delete(k);
        this.decoders.delete(k);
      }
    }
    for (const other of this.ids) if (this.alive(other)) this.apply(other, this.core(other).peerDown(id));
  }

  /**
   * The DSC starts again with no state and dials its peers; their links back to it come up now too, or only
   * at `reconnect` (they dial again later), as over TCP.
   */
  restart(id: string, linksBack = true): void {
    if (this.alive(id)) return;
    this.cores.set(id, this.fresh(id));
    for (const other of this.ids) {
      if (other === id || !this.alive(other)) continue;
      this.apply(id, this.core(id).peerUp(other));
      if (linksBack) this.apply(other, this.core(other).peerUp(id));
      else this.linksDown.add(`${other}>${id}`);
    }
  }

  /** Links left down by a restart come up. */
  reconnect(): void {
    for (const link of [...this.linksDown]) {
      this.linksDown.delete(link);
      const [from, to] = link.split(">") as [string, string];
      if (this.alive(from) && this.alive(to)) this.apply(from, this.core(from).peerUp(to));
    }
  }

  threshold(entity: string): EntityThreshold | undefined {
    return this.options.threshold(entity);
  }

  private fresh(id: string): DscCore {
    return new DscCore({ ...this.options, id, peers: this.ids.filter((p) => p !== id) });
  }

  private apply(id: string, actions: DscAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send": {
          const k = `${id}>${a.to}`;
          if (!this.alive(a.to)) break;
          let q = this.queues.get(k);
          if (q === undefined) {
            q = [];
            this.queues.set(k, q);
          }
          q.push(a.frame);
          break;
        }
        case "decided": {
          const d: Decision = a.granted ? { granted: true } : { granted: false, cause: a.cause, entity: a.entity };
          this.decisions.set(a.sessionId, d);
          this.onDecided(id, a.sessionId, d);
          break;
        }
        case "set-timer": {
          let t = this.timers.get(id);
          if (t === undefined) {
            t = new Set();
            this.timers.set(id, t);
          }
          t.add(a.key);
          break;
        }
        case "cancel-timer":
          this.timers.get(id)?.delete(a.key);
          break;
        case "bad-peer":
          this.badPeers.push({ at: id, peer: a.peer, code: a.error.code });
          break;
      }
    }
  }
}
