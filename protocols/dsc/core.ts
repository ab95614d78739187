// The distributed session counter (DSC), sans I/O: events in (a session to authorise or end, a message from a
// peer DSC, a peer's link up or down, a timer), actions out (frames to send, decisions, timers).
//
// Every entity (a user, a group, a realm) has a global threshold and, at every DSC, a local threshold, and one
// authoritative DSC. A DSC grants a session at once while its view of the entity's count is below the local
// threshold and reports it afterwards (Update); beyond that it asks the authoritative DSC (Request), which
// grants only below the global threshold. The authoritative DSC keeps each entity's sessions with the DSC that
// authorised them, counts every time a late report takes the entity past its global threshold (over-
// subscription), and broadcasts each change to the DSCs that authorised sessions for the entity.
import { AuthorityMap } from "./authority.js";
import { decodeDscEnvelope, encodeDscFrame, type DscMessage, type DscMessageKind, type DscSession, type EntityCount } from "./codec.js";
import { DscDecodeError } from "./errors.js";

/** Session limits of one entity: the global cap and the local grant-without-asking threshold. */
export interface EntityThreshold {
  /** Sessions the entity may have active across all DSCs. */
  global: number;
  /** While this DSC's view of the entity's count is below this, it grants without asking. */
  local: number;
}

/** Identity, peers, thresholds and timeouts of a DscCore. */
export interface DscCoreOptions {
  /** This DSC's identity (as its peers and its certificate name it). */
  id: string;
  /** The other DSCs. */
  peers: readonly string[];
  /** The limits of an entity; undefined: the entity is not limited and not counted. */
  threshold(entity: string): EntityThreshold | undefined;
  /** Entities assigned to an authoritative DSC by configuration; the others by rendezvous hashing. */
  authority?: ReadonlyMap<string, string>;
  /** Refuse a session that needs an unreachable authoritative DSC (default). False: grant it locally, reconciled when it is back. */
  failClosed?: boolean;
  /** How long a Request waits for its Response (ms, default 2,000). */
  requestTimeoutMs?: number;
}

/** A session to authorise: its id, the entities it counts against, and who establishes it. */
export interface AuthoriseRequest {
  sessionId: string;
  entities: readonly string[];
  /** Connection identity: the server that establishes the session, and its port. */
  server: string;
  port: number;
}

/** Why a session was refused: an entity at its limit, an authoritative DSC unreachable or too slow to answer, or the session ended before its decision. */
export type RefusalCause = "limit" | "unreachable" | "timeout" | "ended";

/** What the driver does for the core: send a frame, report a decision, set or cancel a timer, drop a peer that sent a bad frame. */
export type DscAction =
  | { type: "send"; to: string; kind: DscMessageKind; frame: Buffer }
  | { type: "decided"; sessionId: string; granted: true; local: boolean }
  | { type: "decided"; sessionId: string; granted: false; cause: RefusalCause; entity: string }
  | { type: "set-timer"; key: string; delayMs: number }
  | { type: "cancel-timer"; key: string }
  /** A peer sent a frame that is not a valid message, or one in another DSC's name: close its connection. */
  | { type: "bad-peer"; peer: string; error: DscDecodeError };

/** What one DSC knows of an entity, for metrics and tests. */
export interface EntityStats {
  /** Active sessions: the record's count at the authoritative DSC, the latest view elsewhere. */
  active: number;
  /** Sessions this DSC granted, and refused, for the entity. */
  granted: number;
  refused: number;
  /** Times the entity was found above its global threshold (the authoritative DSC's count, as last broadcast elsewhere). */
  overSubscribed: number;
}

interface OwnSession {
  session: DscSession;
  state: "pending" | "granted";
  /** Authoritative peers still to answer a Request (seq by peer). */
  waiting: Map<string, number>;
  /** Peers that granted a Request of this session (to be told if it is refused after all). */
  grantedBy: string[];
  /** Limited entities another DSC is authoritative for. */
  viewed: string[];
  /** Of those, the ones granted on this DSC's view (reserved until the decision, then reported in an Update). */
  onView: string[];
  /** Limited entities this DSC is authoritative for. */
  mine: string[];
  /** Limited entities, deduplicated. */
  limited: string[];
}

interface AuthRecord {
  sessions: Map<string, DscSession>;
  overSubscribed: number;
  /** DSCs that authorised sessions for the entity (since this DSC started, or told it so in a Resync). */
  authorisers: Set<string>;
}

interface View {
  /** The count its authority last told us, moved by our own grants and ends meanwhile. */
  active: number;
  overSubscribed: number;
  /** Our undecided sessions granted on this view. */
  reserved: number;
}

interface PeerLink {
  up: boolean;
  /** A Resync was sent to it since this DSC started (the first one says `fresh`). */
  synced: boolean;
  /** A Resync came from it since this DSC started (the first one's `recovered` rebuilds our sessions). */
  heard: boolean;
}

const REQUEST_TIMER = "dsc-request:";

/** The sans-I/O distributed session counter of one DSC: authorisations, ends, peer frames and timers in, actions out. */
export class DscCore {
  readonly id: string;
  private readonly authority: AuthorityMap;
  private readonly sessions = new Map<string, OwnSession>();
  private readonly records = new Map<string, AuthRecord>();
  private readonly views = new Map<string, View>();
  private readonly links = new Map<string, PeerLink>();
  private readonly stats = new Map<string, { granted: number; refused: number }>();
  /** Outstanding Requests: seq → session id. */
  private readonly requests = new Map<number, { sessionId: string; peer: string }>();
  private seq = 0;
  /** Sessions ended or refused since this DSC started, while some peer has not yet sent its Resync: not to be recovered from it. */
  private readonly ended = new Set<string>();
  private readonly failClosed: boolean;
  private readonly requestTimeoutMs: number;

  constructor(private readonly opts: DscCoreOptions) {
    this.id = opts.id;
    if (opts.peers.includes(opts.id)) throw new Error(`DSC ${opts.id} lists itself as a peer`);
    this.authority = new AuthorityMap([opts.id, ...opts.peers], opts.authority);
    for (const p of opts.peers) this.links.set(p, { up: false, synced: false, heard: false });
    this.failClosed = opts.failClosed ?? true;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
  }

  /** The DSC authoritative for `entity`. */
  authorityOf(entity: string): string {
    return this.authority.of(entity);
  }

  // ---- events ----

  /** A session to authorise: decided at once (local grant, or refusal) or after the authoritative DSCs answer. */
  authorise(req: AuthoriseRequest): DscAction[] {
    const out: DscAction[] = [];
    const known = this.sessions.get(req.sessionId);
    if (known !== undefined) {
      // Asked again: the same answer, once it is known.
      if (known.state === "granted") out.push({ type: "decided", sessionId: req.sessionId, granted: true, local: known.waiting.size === 0 });
      return out;
    }
    const limited: string[] = [];
    for (const e of req.entities) if (!limited.includes(e) && this.opts.threshold(e) !== undefined) limited.push(e);
    const session: DscSession = { id: req.sessionId, entities: limited, owner: this.id, server: req.server, port: req.port };
    const own: OwnSession = { session, state: "pending", waiting: new Map(), grantedBy: [], viewed: [], onView: [], mine: [], limited };
    if (limited.length === 0) {
      // Nothing to count: granted, and kept so that its end is a no-op.
      own.state = "granted";
      this.sessions.set(req.sessionId, own);
      out.push({ type: "decided", sessionId: req.sessionId, granted: true, local: true });
      return out;
    }
    // Check every entity before counting any: the session is refused if one of them is at its threshold.
    const remote = new Set<string>();
    const onView: string[] = [];
    for (const e of limited) {
      const t = this.opts.threshold(e) as EntityThreshold;
      const auth = this.authority.of(e);
      if (auth === this.id) {
        if (this.recordOf(e).sessions.size >= t.global) return this.refuseAtOnce(req.sessionId, limited, "limit", e);
      } else {
        // Granted here only with a view of the entity's count: a first request for it goes to its authority.
        const view = this.views.get(e);
        if (view !== undefined && view.active + view.reserved < t.local) onView.push(e);
        else if (this.links.get(auth)?.up) remote.add(auth);
        else if (this.failClosed) return this.refuseAtOnce(req.sessionId, limited, "unreachable", e);
        // Fail open: granted on the local view; the authoritative DSC learns of it when it is back (Resync).
        else onView.push(e);
      }
    }
    this.sessions.set(req.sessionId, own);
    for (const e of limited) {
      if (this.authority.of(e) === this.id) {
        own.mine.push(e);
        this.count(e, session, out);
      } else {
        own.viewed.push(e);
        if (onView.includes(e)) {
          own.onView.push(e);
          this.viewFor(e).reserved++;
        }
      }
    }
    if (remote.size === 0) return this.grant(own, out);
    for (const peer of remote) {
      const seq = this.nextSeq();
      own.waiting.set(peer, seq);
      this.requests.set(seq, { sessionId: session.id, peer });
      this.send(peer, { kind: "request", seq, session }, out);
      out.push({ type: "set-timer", key: REQUEST_TIMER + seq, delayMs: this.requestTimeoutMs });
    }
    return out;
  }

  /** A session ended (or its setup was refused elsewhere): it stops counting everywhere. Unknown ids are ignored. */
  terminate(sessionId: string): DscAction[] {
    const own = this.sessions.get(sessionId);
    const out: DscAction[] = [];
    if (own === undefined) return out;
    if (own.state === "pending") return this.refuse(own, "ended", own.limited[0] ?? "", out);
    this.release(own, out);
    return out;
  }

  /** One frame's payload from `peer` (the identity its connection proved). */
  receive(peer: string, payload: Uint8Array): DscAction[] {
    const out: DscAction[] = [];
    let msg: DscMessage;
    try {
      const env = decodeDscEnvelope(payload);
      if (env.from !== peer || !this.links.has(peer)) throw new DscDecodeError("bad-value", 0, `message from ${env.from} on the connection of ${peer}`, "from");
      msg = env.message;
    } catch (err) {
      if (!(err instanceof DscDecodeError)) throw err;
      out.push({ type: "bad-peer", peer, error: err });
      return out;
    }
    switch (msg.kind) {
      case "request":
        this.onRequest(peer, msg.seq, msg.session, out);
        break;
      case "response":
        this.onResponse(peer, msg.seq, msg.granted, msg.refusedEntity, msg.counts, out);
        break;
      case "update":
        this.onUpdate(peer, msg.session, out);
        break;
      case "broadcast":
        this.applyCounts(peer, msg.counts);
        break;
      case "termination":
        this.onTermination(peer, msg.sessionId, msg.entities, out);
        break;
      case "resync":
        this.onResync(peer, msg.fresh, msg.owned, msg.viewed, msg.recovered, out);
        break;
    }
    return out;
  }

  /** This DSC can send to `peer` again (a new connection): it resynchronises first. */
  peerUp(peer: string): DscAction[] {
    const link = this.links.get(peer);
    const out: DscAction[] = [];
    if (link === undefined || link.up) return out;
    link.up = true;
    const owned: DscSession[] = [];
    for (const own of this.sessions.values()) {
      if (own.state === "granted" && own.session.entities.some((e) => this.authority.of(e) === peer)) owned.push(own.session);
    }
    const viewed: EntityCount[] = [];
    for (const [entity, v] of this.views) if (this.authority.of(entity) === peer) viewed.push({ entity, active: v.active, overSubscribed: v.overSubscribed });
    const recovered: DscSession[] = [];
    const seen = new Set<string>();
    for (const rec of this.records.values()) {
      for (const s of rec.sessions.values()) {
        if (s.owner === peer && !seen.has(s.id)) {
          seen.add(s.id);
          recovered.push(s);
        }
      }
    }
    this.send(peer, { kind: "resync", fresh: !link.synced, owned, viewed, recovered }, out);
    link.synced = true;
    // Our entities' counts it has a view of: broadcasts it missed while the link was down.
    const counts: EntityCount[] = [];
    for (const [entity, rec] of this.records) if (rec.authorisers.has(peer)) counts.push(this.countOf(entity));
    if (counts.length > 0) this.send(peer, { kind: "broadcast", counts }, out);
    return out;
  }

  /** `peer` is unreachable: Requests waiting on it fail (closed: refused; open: granted locally). */
  peerDown(peer: string): DscAction[] {
    const link = this.links.get(peer);
    const out: DscAction[] = [];
    if (link === undefined || !link.up) return out;
    link.up = false;
    // A grant it gave an undecided session may be lost with it: the session is reported again when decided (Update, or the Resync).
    for (const own of this.sessions.values()) {
      if (own.state === "pending" && own.grantedBy.includes(peer)) own.grantedBy = own.grantedBy.filter((p) => p !== peer);
    }
    for (const [seq, r] of [...this.requests]) {
      if (r.peer !== peer) continue;
      this.requests.delete(seq);
      out.push({ type: "cancel-timer", key: REQUEST_TIMER + seq });
      this.requestFailed(r.sessionId, peer, "unreachable", out);
    }
    return out;
  }

  /** A timer this core set (a `set-timer` action's key) fired. */
  timer(key: string): DscAction[] {
    const out: DscAction[] = [];
    if (!key.startsWith(REQUEST_TIMER)) return out;
    const seq = Number(key.slice(REQUEST_TIMER.length));
    const r = this.requests.get(seq);
    if (r === undefined) return out;
    this.requests.delete(seq);
    // A late grant is undone: the Termination follows the Request on the same ordered link.
    const own = this.sessions.get(r.sessionId);
    if (own) this.send(r.peer, { kind: "termination", sessionId: own.session.id, entities: own.session.entities, owner: this.id }, out);
    this.requestFailed(r.sessionId, r.peer, "timeout", out);
    return out;
  }

  // ---- what this DSC knows ----

  /** An entity's count and this DSC's decisions for it. */
  entityStats(entity: string): EntityStats {
    const s = this.stats.get(entity);
    const rec = this.authority.of(entity) === this.id ? this.records.get(entity) : undefined;
    const view = this.views.get(entity);
    return {
      active: rec ? rec.sessions.size : (view?.active ?? 0),
      granted: s?.granted ?? 0,
      refused: s?.refused ?? 0,
      overSubscribed: rec ? rec.overSubscribed : (view?.overSubscribed ?? 0),
    };
  }

  /** This DSC's view of an entity another DSC is authoritative for (undefined: none yet). */
  viewOf(entity: string): EntityCount | undefined {
    const v = this.views.get(entity);
    return v && { entity, active: v.active, overSubscribed: v.overSubscribed };
  }

  /** Every entity this DSC has a count, a view or decisions for. */
  entities(): string[] {
    return [...new Set([...this.records.keys(), ...this.views.keys(), ...this.stats.keys()])];
  }

  /** The sessions the authoritative record of `entity` holds here (with their connection identity), if this DSC is authoritative. */
  recordedSessions(entity: string): DscSession[] {
    const rec = this.authority.of(entity) === this.id ? this.records.get(entity) : undefined;
    return rec ? [...rec.sessions.values()] : [];
  }

  /** The DSCs the record of `entity` says authorised sessions for it. */
  authorisers(entity: string): string[] {
    return [...(this.records.get(entity)?.authorisers ?? [])];
  }

  /** Sessions this DSC authorised that are still active (granted) or being decided. */
  ownSessions(): { session: DscSession; state: "pending" | "granted" }[] {
    return [...this.sessions.values()].map((o) => ({ session: o.session, state: o.state }));
  }

  /** This DSC's sessions that still count against `entity`. */
  localActive(entity: string): number {
    let n = 0;
    for (const o of this.sessions.values()) if (o.state === "granted" && o.session.entities.includes(entity)) n++;
    return n;
  }

  // ---- the requesting side ----

  private grant(own: OwnSession, out: DscAction[]): DscAction[] {
    own.state = "granted";
    for (const e of own.limited) this.statsOf(e).granted++;
    out.push({ type: "decided", sessionId: own.session.id, granted: true, local: own.grantedBy.length === 0 });
    // Reported after the answer (local grants): one Update per authoritative peer that has not granted it itself.
    // The view counts the session until that peer's broadcast says so itself.
    const told = new Set(own.grantedBy);
    for (const e of own.viewed) {
      if (told.has(this.authority.of(e))) continue;
      const v = this.viewFor(e);
      if (own.onView.includes(e)) v.reserved--;
      v.active++;
    }
    for (const e of own.viewed) {
      const auth = this.authority.of(e);
      if (told.has(auth)) continue;
      told.add(auth);
      if (this.links.get(auth)?.up) this.send(auth, { kind: "update", session: own.session }, out);
    }
    return out;
  }

  private refuseAtOnce(sessionId: string, limited: string[], cause: RefusalCause, entity: string): DscAction[] {
    for (const e of limited) this.statsOf(e).refused++;
    return [{ type: "decided", sessionId, granted: false, cause, entity }];
  }

  private refuse(own: OwnSession, cause: RefusalCause, entity: string, out: DscAction[]): DscAction[] {
    for (const [peer, seq] of own.waiting) {
      this.requests.delete(seq);
      out.push({ type: "cancel-timer", key: REQUEST_TIMER + seq });
      // It may have granted already: the Termination undoes it (ordered after the Request).
      if (this.links.get(peer)?.up) own.grantedBy.push(peer);
    }
    own.waiting.clear();
    for (const peer of new Set(own.grantedBy)) {
      if (this.links.get(peer)?.up) this.send(peer, { kind: "termination", sessionId: own.session.id, entities: own.session.entities, owner: this.id }, out);
    }
    this.uncount(own, out);
    for (const e of own.limited) this.statsOf(e).refused++;
    out.push({ type: "decided", sessionId: own.session.id, granted: false, cause, entity });
    return out;
  }

  /** Stops counting a session of this DSC: its view here, its records here, and a Termination to each other authority. */
  private release(own: OwnSession, out: DscAction[]): void {
    const told = new Set<string>();
    for (const e of own.viewed) {
      const auth = this.authority.of(e);
      if (told.has(auth)) continue;
      told.add(auth);
      if (this.links.get(auth)?.up) this.send(auth, { kind: "termination", sessionId: own.session.id, entities: own.session.entities, owner: this.id }, out);
    }
    this.uncount(own, out);
  }

  private uncount(own: OwnSession, out: DscAction[]): void {
    this.sessions.delete(own.session.id);
    // Ended or refused: a Resync still to come must not revive it. Bounded: a peer that never comes back does not make this grow forever.
    if (!this.allHeard() && this.ended.size < 100_000) this.ended.add(own.session.id);
    if (own.state === "pending") {
      for (const e of own.onView) this.viewFor(e).reserved--;
    } else {
      for (const e of own.viewed) {
        const v = this.viewFor(e);
        if (v.active > 0) v.active--;
      }
    }
    for (const e of own.mine) this.uncountRecord(e, own.session.id, out);
  }

  private requestFailed(sessionId: string, peer: string, cause: "unreachable" | "timeout", out: DscAction[]): void {
    const own = this.sessions.get(sessionId);
    if (own === undefined || own.state !== "pending") return;
    own.waiting.delete(peer);
    const entity = own.viewed.find((e) => this.authority.of(e) === peer) ?? own.limited[0] ?? "";
    if (this.failClosed) {
      this.refuse(own, cause, entity, out);
      return;
    }
    if (own.waiting.size === 0) this.grant(own, out);
  }

  private onResponse(peer: string, seq: number, granted: boolean, refusedEntity: string, counts: EntityCount[], out: DscAction[]): void {
    this.applyCounts(peer, counts);
    const r = this.requests.get(seq);
    if (r === undefined || r.peer !== peer) return; // late (timed out) or not ours
    this.requests.delete(seq);
    out.push({ type: "cancel-timer", key: REQUEST_TIMER + seq });
    const own = this.sessions.get(r.sessionId);
    if (own === undefined || own.state !== "pending") return;
    own.waiting.delete(peer);
    if (!granted) {
      this.refuse(own, "limit", refusedEntity || (own.viewed.find((e) => this.authority.of(e) === peer) ?? ""), out);
      return;
    }
    own.grantedBy.push(peer);
    if (own.waiting.size === 0) this.grant(own, out);
  }

  // ---- the authoritative side ----

  private onRequest(peer: string, seq: number, session: DscSession, out: DscAction[]): void {
    const mine = session.entities.filter((e) => this.authority.of(e) === this.id && this.opts.threshold(e) !== undefined);
    // The asker keeps a view of these entities from now on (the Response's counts): it is told each change.
    for (const e of mine) this.recordOf(e).authorisers.add(peer);
    let refused = "";
    for (const e of mine) {
      const rec = this.recordOf(e);
      if (!rec.sessions.has(session.id) && rec.sessions.size >= (this.opts.threshold(e) as EntityThreshold).global) {
        refused = e;
        break;
      }
    }
    if (refused === "") for (const e of mine) this.count(e, { ...session, owner: peer }, out, peer);
    else for (const e of mine) this.statsOf(e).refused++;
    const counts = mine.map((e) => this.countOf(e));
    this.send(peer, { kind: "response", seq, granted: refused === "", refusedEntity: refused, counts }, out);
  }

  private onUpdate(peer: string, session: DscSession, out: DscAction[]): void {
    for (const e of session.entities) {
      if (this.authority.of(e) === this.id && this.opts.threshold(e) !== undefined) this.count(e, { ...session, owner: peer }, out, peer);
    }
  }

  private onTermination(peer: string, sessionId: string, entities: string[], out: DscAction[]): void {
    for (const e of entities) {
      if (this.authority.of(e) !== this.id) continue;
      const s = this.records.get(e)?.sessions.get(sessionId);
      if (s !== undefined && s.owner === peer) this.uncountRecord(e, sessionId, out);
    }
  }

  private onResync(peer: string, fresh: boolean, owned: DscSession[], viewed: EntityCount[], recovered: DscSession[], out: DscAction[]): void {
    const link = this.links.get(peer) as PeerLink;
    const changed = new Set<string>();
    // The peer's own sessions: the whole truth, unless it restarted (then ours are kept and its report added).
    if (!fresh) {
      for (const [entity, rec] of this.records) {
        for (const [id, s] of rec.sessions) {
          if (s.owner === peer) {
            rec.sessions.delete(id);
            changed.add(entity);
          }
        }
      }
    }
    for (const s of owned) {
      for (const e of s.entities) {
        if (this.authority.of(e) !== this.id || this.opts.threshold(e) === undefined) continue;
        const rec = this.recordOf(e);
        rec.authorisers.add(peer);
        if (rec.sessions.has(s.id)) continue;
        this.addToRecord(e, rec, { ...s, owner: peer });
        changed.add(e);
      }
    }
    for (const c of viewed) {
      if (this.authority.of(c.entity) !== this.id) continue;
      this.recordOf(c.entity).authorisers.add(peer);
      changed.add(c.entity);
    }
    // Restarted ourselves: the first Resync from each peer gives back the sessions we had authorised.
    if (!link.heard) {
      link.heard = true;
      for (const s of recovered) {
        if (s.owner !== this.id || this.sessions.has(s.id) || this.ended.has(s.id)) continue;
        const own: OwnSession = { session: s, state: "granted", waiting: new Map(), grantedBy: [], viewed: [], onView: [], mine: [], limited: [...s.entities] };
        for (const e of s.entities) {
          if (this.authority.of(e) === this.id) {
            own.mine.push(e);
            const rec = this.recordOf(e);
            if (!rec.sessions.has(s.id)) {
              this.addToRecord(e, rec, s);
              changed.add(e);
            }
          } else {
            own.viewed.push(e);
          }
        }
        this.sessions.set(s.id, own);
        // Its other authorities may not know it (we died before telling them): every one counts it, once.
        const told = new Set([peer]);
        for (const e of own.viewed) {
          const auth = this.authority.of(e);
          if (told.has(auth)) continue;
          told.add(auth);
          if (this.links.get(auth)?.up) this.send(auth, { kind: "update", session: s }, out);
        }
      }
    }
    // Our entities' counts: to the peer (its view is exact again), and to their other authorisers.
    for (const e of changed) this.broadcast(e, out);
    const counts: EntityCount[] = [];
    for (const [entity, rec] of this.records) if (rec.authorisers.has(peer) && !changed.has(entity)) counts.push(this.countOf(entity));
    if (counts.length > 0) this.send(peer, { kind: "broadcast", counts }, out);
  }

  /** Counts a session in an entity's record (once), with over-subscription, and broadcasts the change. */
  private count(entity: string, session: DscSession, out: DscAction[], from?: string): void {
    const rec = this.recordOf(entity);
    if (from !== undefined) rec.authorisers.add(from);
    if (rec.sessions.has(session.id)) return;
    this.addToRecord(entity, rec, session);
    this.broadcast(entity, out);
  }

  private addToRecord(entity: string, rec: AuthRecord, session: DscSession): void {
    const t = this.opts.threshold(entity);
    if (t !== undefined && rec.sessions.size >= t.global) rec.overSubscribed++;
    rec.sessions.set(session.id, session);
  }

  private uncountRecord(entity: string, sessionId: string, out: DscAction[]): void {
    const rec = this.records.get(entity);
    if (rec === undefined || !rec.sessions.delete(sessionId)) return;
    this.broadcast(entity, out);
  }

  private broadcast(entity: string, out: DscAction[]): void {
    const rec = this.records.get(entity);
    if (rec === undefined) return;
    const counts = [this.countOf(entity)];
    for (const peer of rec.authorisers) {
      if (peer !== this.id && this.links.get(peer)?.up) this.send(peer, { kind: "broadcast", counts }, out);
    }
  }

  private applyCounts(peer: string, counts: EntityCount[]): void {
    for (const c of counts) {
      // Only an entity's authoritative DSC speaks for its count.
      if (this.authority.of(c.entity) !== peer) continue;
      const v = this.viewFor(c.entity);
      v.active = c.active;
      v.overSubscribed = c.overSubscribed;
    }
  }

  // ---- helpers ----

  private allHeard(): boolean {
    for (const link of this.links.values()) if (!link.heard) return false;
    this.ended.clear();
    return true;
  }

  private countOf(entity: string): EntityCount {
    const rec = this.records.get(entity);
    return { entity, active: rec?.sessions.size ?? 0, overSubscribed: rec?.overSubscribed ?? 0 };
  }

  private recordOf(entity: string): AuthRecord {
    let rec = this.records.get(entity);
    if (rec === undefined) {
      rec = { sessions: new Map(), overSubscribed: 0, authorisers: new Set() };
      this.records.set(entity, rec);
    }
    return rec;
  }

  private viewFor(entity: string): View {
    let v = this.views.get(entity);
    if (v === undefined) {
      v = { active: 0, overSubscribed: 0, reserved: 0 };
      this.views.set(entity, v);
    }
    return v;
  }

  private statsOf(entity: string): { granted: number; refused: number } {
    let s = this.stats.get(entity);
    if (s === undefined) {
      s = { granted: 0, refused: 0 };
      this.stats.set(entity, s);
    }
    return s;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private send(to: string, message: DscMessage, out: DscAction[]): void {
    out.push({ type: "send", to, kind: message.kind, frame: encodeDscFrame({ from: this.id, message }) });
  }
}
