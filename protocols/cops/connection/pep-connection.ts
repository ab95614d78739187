// Sans-I/O COPS PEP side of one connection (RFC 2748 §2.3, §2.5, §4): OPN/CAT, KA, accounting timer,
// request states by Handle, SSQ/SSC, fail-over to a backup PDP with local decisions and resynchronisation.
import { CopsDecodeError } from "../cops-decode-error.js";
import { encodeCopsMessage, peekCopsHandle } from "../cops-codec.js";
import { ClientType, CommandCode, ErrorCode, ReasonCode, RType } from "../constants.js";
import type {
  CopsClientSi,
  CopsCodePair,
  CopsContext,
  CopsDecisionMessage,
  CopsInterface,
  CopsMessage,
  CopsRequestMessage,
  CopsServerAddress,
} from "../cops-message.js";
import type { CopsAction, CopsTransportEvent } from "./cops-actions.js";
import { handleHex, handleKey, ownBytes, ownHandle } from "./handle-key.js";
import type { HandleKey } from "./handle-key.js";
import { IntegritySession } from "./integrity-session.js";
import { decodeOrError, integrityCloseError, sendAction } from "./message-io.js";
import type { CopsIntegrityConfig } from "./integrity-session.js";

/** PEPID, client type, timers and Integrity of a CopsPepConnection. */
export interface CopsPepOptions {
  clientType: number;
  pepId: string;
  /** PDPs by preference: the primary first, then backups tried in turn when the current one is lost. */
  servers?: CopsServerAddress[];
  /** What the local decision point (LPDP) answers while no PDP is reachable. */
  localDecision?: "fail-open" | "fail-closed";
  integrity?: CopsIntegrityConfig;
  /** Named ClientSI sent in OPN (COPS-PR capabilities, RFC 3084 §3.1). */
  openClientSi?: CopsClientSi;
  /** Random source in [0, 1) for the KA schedule; default Math.random. */
  random?: () => number;
  /** How long to wait for CAT after OPN (default 30 s). */
  openTimeoutMs?: number;
  /** Delay before trying the next PDP after a failed attempt (default 1 s). */
  reconnectDelayMs?: number;
}

/** What a PEP tells its connection to do: request, report, delete, close. */
export type CopsPepCommand =
  | {
      type: "request";
      handle: Buffer;
      context: CopsContext;
      clientSi?: CopsClientSi[];
      inInterface?: CopsInterface;
      outInterface?: CopsInterface;
    }
  | { type: "report"; handle: Buffer; reportType: number; clientSi?: CopsClientSi }
  | { type: "delete"; handle: Buffer; reason?: CopsCodePair }
  | { type: "shutdown"; error?: CopsCodePair };

/** What a PEP connection reports: accepted, decision, synchronise request, closed. */
export type CopsPepEvent =
  | { type: "connect"; server: CopsServerAddress | undefined }
  | { type: "accepted"; kaTimerSeconds: number; acctTimerSeconds: number }
  | { type: "decision"; handle: Buffer; message: CopsDecisionMessage; needsReport: boolean }
  | { type: "local-decision"; handle: Buffer; allowed: boolean }
  | { type: "accounting-due" }
  | { type: "resynchronised"; handles: number }
  | { type: "sync-complete"; handle?: Buffer }
  | { type: "pdp-lost"; reason: string }
  | { type: "closed"; error?: CopsCodePair; redirect?: CopsServerAddress }
  | { type: "protocol-error"; error: string; copsErrorCode?: CopsCodePair };

interface RequestState {
  /**
   * The REQ as last encoded (as sent, sealed when integrity is on): all resynchronisation needs to send it
   * again (RFC 2748 §2.5). Not the message model: one buffer per state.
   */
  request: Buffer;
  awaitingDecision: boolean;
  /** DECs with a configuration context not yet answered by their RPT (RFC 2748 §3.3). */
  pendingReports: number;
  /** Command decided by the LPDP while no PDP was connected, told to the PDP on resync; -1 when none. */
  localCommand: number;
  /** Deleted while no PDP was connected: on resync the PDP gets the REQ, then this DRQ reason (§2.5, §3.4). */
  deletedFor: CopsCodePair | undefined;
  /** A PDP saw this state's REQ (it was open when the REQ went out). */
  pdpKnown: boolean;
}

/** States deleted while no PDP is connected kept for the next one at most (beyond: deleted untold). */
const MAX_UNTOLD_DELETES = 10_000;

/** A PEP connection's state: idle, Client-Open sent, or Client-Accept received (RFC 2748 §2.5). */
export type PepState = "idle" | "opening" | "open";

const HANDLE_SCRATCH = Buffer.alloc(4);

/** The PEP side of one COPS connection (RFC 2748): opens, requests, reports, deletes, keeps alive, resynchronises. */
export class CopsPepConnection {
  private state: PepState = "idle";
  private readonly states = new Map<HandleKey, RequestState>();
  /** When the last message came in: the KA loss timer is re-armed from it when it fires (RFC 2748 §4.4). */
  private lastReceivedMs = 0;
  private integrity: IntegritySession | undefined;
  private kaMs = 0;
  private acctMs = 0;
  private serverIndex = 0;
  private lastPdp: CopsServerAddress | undefined;
  private redirectTo: CopsServerAddress | undefined;
  private everOpened = false;
  private nextHandle = 1;
  private untoldDeletes = 0;
  private readonly random: () => number;

  constructor(private readonly options: CopsPepOptions) {
    this.random = options.random ?? Math.random;
  }

  get connectionState(): PepState {
    return this.state;
  }
  get openHandles(): number {
    return this.states.size;
  }
  /** The PDP currently (or last) targeted. */
  get currentServer(): CopsServerAddress | undefined {
    return this.redirectTo ?? this.options.servers?.[this.serverIndex];
  }
  /** Whether a request state with this Client Handle is installed (RFC 2748 §2.3.1). */
  hasHandle(handle: Buffer): boolean {
    return this.states.has(handleKey(handle));
  }

  /** Handles continue from `first` (a restarted PEP draws a fresh start, so a PDP never sees an old one reused). */
  startHandlesAt(first: number): void {
    this.nextHandle = first >>> 0 || 1;
  }

  /** A 4-octet handle not used by any open request state (handles are reused only after DRQ). */
  allocateHandle(): Buffer {
    for (;;) {
      const value = this.nextHandle >>> 0;
      this.nextHandle = (value + 1) >>> 0 || 1;
      if (this.states.has(value | 0)) continue;
      HANDLE_SCRATCH.writeUInt32BE(value, 0);
      return ownHandle(HANDLE_SCRATCH);
    }
  }

  /** First action list: ask the driver to connect to the primary PDP. */
  start(): CopsAction<CopsPepEvent>[] {
    return [{ type: "emit", event: { type: "connect", server: this.currentServer } }];
  }

  /** Takes a command or transport event at `nowMs` (milliseconds) and returns the actions to perform. */
  handle(event: CopsPepCommand | CopsTransportEvent, nowMs: number): CopsAction<CopsPepEvent>[] {
    const out: CopsAction<CopsPepEvent>[] = [];
    switch (event.type) {
      case "connected":
        this.onConnected(out);
        break;
      case "message":
        this.lastReceivedMs = nowMs;
        this.onMessage(event.bytes, out);
        break;
      case "timer":
        this.onTimer(event.name, nowMs, out);
        break;
      case "disconnected":
        if (this.state !== "idle") this.lose(event.reason ?? "connection closed", out, false);
        else this.scheduleReconnect(out);
        break;
      case "request":
        this.onRequest(event, out);
        break;
      case "report":
        this.onReport(event.handle, event.reportType, event.clientSi, out);
        break;
      case "delete":
        this.onDelete(event.handle, event.reason ?? { code: ReasonCode.Unspecified, subCode: 0 }, out);
        break;
      case "shutdown":
        if (this.state !== "idle") {
          this.send({ op: "CC", clientType: this.options.clientType, error: event.error ?? { code: ErrorCode.ShuttingDown, subCode: 0 } }, out);
          this.stopTimers(out);
          out.push({ type: "close", reason: "shutdown" });
          this.state = "idle";
        }
        break;
    }
    return out;
  }

  // ---- transport ----

  private onConnected(out: CopsAction<CopsPepEvent>[]): void {
    this.state = "opening";
    this.integrity = this.options.integrity ? new IntegritySession(this.options.integrity) : undefined;
    // RFC 2748 §3.5: OPN names the PEP and, after fail-over, the last PDP it was connected to.
    const opn: CopsMessage = { op: "OPN", clientType: this.options.clientType, pepId: this.options.pepId };
    if (this.options.openClientSi) opn.clientSi = this.options.openClientSi;
    if (this.lastPdp) opn.lastPdpAddress = this.lastPdp;
    this.send(opn, out);
    out.push({ type: "set-timer", name: "open-timeout", delayMs: this.options.openTimeoutMs ?? 30_000 });
  }

  private onMessage(bytes: Buffer, out: CopsAction<CopsPepEvent>[]): void {
    const msg = decodeOrError(bytes);
    if (msg instanceof CopsDecodeError) {
      this.onMalformed(bytes, msg, out);
      return;
    }
    if (this.integrity) {
      const verdict = this.integrity.check(bytes, msg);
      if (verdict !== "ok") {
        this.closeWithError(integrityCloseError(verdict), `integrity ${verdict}`, out);
        return;
      }
    }
    switch (msg.op) {
      case "CAT":
        this.onAccept(msg.kaTimerSeconds, msg.acctTimerSeconds ?? 0, out);
        break;
      case "CC":
        this.onClientClose(msg.error, msg.redirect, out);
        break;
      case "DEC":
        this.onDecision(msg, out);
        break;
      case "SSQ":
        this.onSyncRequest(msg.handle, out);
        break;
      case "KA":
        break;
      default:
        out.push({ type: "emit", event: { type: "protocol-error", error: `unexpected ${msg.op} from PDP` } });
    }
  }

  private onMalformed(bytes: Buffer, err: CopsDecodeError, out: CopsAction<CopsPepEvent>[]): void {
    const handle = peekCopsHandle(bytes);
    const state = handle ? this.states.get(handleKey(handle)) : undefined;
    if (bytes[1] === 2 && handle && state) {
      // RFC 2748 §2.2.5: a DEC the PEP cannot use → DRQ Reason 13 (unknown object) or 12 (malformed decision).
      const reason =
        err.code === "unknown-object"
          ? { code: ReasonCode.UnknownObjectFromPdp, subCode: err.copsErrorCode.subCode }
          : { code: ReasonCode.MalformedDecision, subCode: 0 };
      out.push({ type: "emit", event: { type: "protocol-error", error: err.message, copsErrorCode: err.copsErrorCode } });
      this.onDelete(handle, reason, out);
      return;
    }
    this.closeWithError(err.copsErrorCode, err.message, out);
  }

  private onAccept(kaSeconds: number, acctSeconds: number, out: CopsAction<CopsPepEvent>[]): void {
    if (this.state !== "opening") {
      out.push({ type: "emit", event: { type: "protocol-error", error: "CAT outside of opening" } });
      return;
    }
    this.state = "open";
    this.everOpened = true;
    this.kaMs = kaSeconds * 1000;
    this.acctMs = acctSeconds * 1000;
    out.push({ type: "cancel-timer", name: "open-timeout" });
    if (this.kaMs > 0) {
      this.scheduleKeepAlive(out);
      out.push({ type: "set-timer", name: "ka-loss", delayMs: this.kaMs });
    }
    if (this.acctMs > 0) out.push({ type: "set-timer", name: "acct", delayMs: this.acctMs });
    out.push({ type: "emit", event: { type: "accepted", kaTimerSeconds: kaSeconds, acctTimerSeconds: acctSeconds } });
    // Resynchronise: every state decided locally or left unanswered is re-sent (RFC 2748 §2.5).
    let resent = 0;
    for (const [key, state] of this.states) {
      state.awaitingDecision = true;
      state.pendingReports = 0; // RPTs owed to the old PDP are void; the new one decides afresh
      this.resend(state, true, out);
      resent++;
      state.pdpKnown = true;
      if (state.deletedFor === undefined) continue;
      // Ended while no PDP listened: the PDP learns the state (and accounts for it), then its end.
      this.untoldDeletes--;
      const handle = peekCopsHandle(state.request);
      this.states.delete(key);
      if (handle) this.send({ op: "DRQ", clientType: this.options.clientType, handle, reason: state.deletedFor }, out);
    }
    if (resent > 0) out.push({ type: "emit", event: { type: "resynchronised", handles: resent } });
  }

  private onClientClose(error: CopsCodePair, redirect: CopsServerAddress | undefined, out: CopsAction<CopsPepEvent>[]): void {
    this.stopTimers(out);
    out.push({ type: "emit", event: redirect ? { type: "closed", error, redirect } : { type: "closed", error } });
    out.push({ type: "close", reason: `CC error ${error.code}` });
    this.state = "idle";
    if (redirect) {
      // RFC 2748 §2.2.13: connect to the named PDP instead.
      this.redirectTo = redirect;
      out.push({ type: "emit", event: { type: "connect", server: redirect } });
    } else {
      this.failOver(out);
    }
  }

  private onDecision(msg: CopsDecisionMessage, out: CopsAction<CopsPepEvent>[]): void {
    const state = this.states.get(handleKey(msg.handle));
    if (!state) {
      out.push({ type: "emit", event: { type: "protocol-error", error: `DEC for unknown handle ${handleHex(msg.handle)}` } });
      return;
    }
    if (msg.solicited) state.awaitingDecision = false;
    state.localCommand = -1;
    let needsReport = false;
    for (const d of msg.decisions) if (((d.context?.rType ?? 0) & RType.Configuration) !== 0) needsReport = true;
    if (needsReport) state.pendingReports++;
    out.push({ type: "emit", event: { type: "decision", handle: msg.handle, message: msg, needsReport } });
  }

  private onSyncRequest(handle: Buffer | undefined, out: CopsAction<CopsPepEvent>[]): void {
    const ct = this.options.clientType;
    if (handle) {
      const state = this.states.get(handleKey(handle));
      // RFC 2748 §3.5 / §2.2.5: an unknown handle is answered by DRQ Reason 10.
      if (state) this.resend(state, false, out);
      else this.send({ op: "DRQ", clientType: ct, handle, reason: { code: ReasonCode.SynchronizeHandleUnknown, subCode: 0 } }, out);
      this.send({ op: "SSC", clientType: ct, handle }, out);
      return;
    }
    for (const state of this.states.values()) {
      state.awaitingDecision = true;
      this.resend(state, false, out);
    }
    this.send({ op: "SSC", clientType: ct }, out);
  }

  private onTimer(name: string, nowMs: number, out: CopsAction<CopsPepEvent>[]): void {
    switch (name) {
      case "ka-send":
        if (this.state === "open") {
          this.send({ op: "KA", clientType: ClientType.KeepAlive }, out);
          this.scheduleKeepAlive(out);
        }
        break;
      case "ka-loss":
        if (this.state !== "open") break;
        if (nowMs < this.lastReceivedMs + this.kaMs) {
          // A message came in since the timer was set: it runs from that message (RFC 2748 §4.4).
          out.push({ type: "set-timer", name: "ka-loss", delayMs: this.lastReceivedMs + this.kaMs - nowMs });
          break;
        }
        this.lose("keep-alive timer expired", out, true);
        break;
      case "open-timeout":
        if (this.state === "opening") this.lose("no CAT", out, true);
        break;
      case "acct":
        if (this.state === "open" && this.acctMs > 0) {
          out.push({ type: "emit", event: { type: "accounting-due" } });
          out.push({ type: "set-timer", name: "acct", delayMs: this.acctMs });
        }
        break;
      case "reconnect":
        if (this.state === "idle") out.push({ type: "emit", event: { type: "connect", server: this.currentServer } });
        break;
    }
  }

  // ---- application commands ----

  private onRequest(cmd: Extract<CopsPepCommand, { type: "request" }>, out: CopsAction<CopsPepEvent>[]): void {
    const key = handleKey(cmd.handle);
    const req: CopsRequestMessage = {
      op: "REQ",
      clientType: this.options.clientType,
      solicited: false,
      handle: cmd.handle,
      context: cmd.context,
      clientSi: cmd.clientSi ?? [],
      lpdpDecisions: [],
    };
    if (cmd.inInterface) req.inInterface = cmd.inInterface;
    if (cmd.outInterface) req.outInterface = cmd.outInterface;
    const open = this.state === "open";
    const bytes = open ? this.send(req, out) : encodeCopsMessage(req);
    let state = this.states.get(key);
    if (state === undefined) {
      state = { request: bytes, awaitingDecision: false, pendingReports: 0, localCommand: -1, deletedFor: undefined, pdpKnown: false };
      this.states.set(key, state);
    }
    state.request = ownBytes(bytes); // kept for the call's life (resynchronisation)
    if (open) {
      state.awaitingDecision = true;
      state.pdpKnown = true;
      return;
    }
    // No PDP: the LPDP decides (fail-open admits, fail-closed refuses) and the PDP learns it on resync.
    const allowed = (this.options.localDecision ?? "fail-closed") === "fail-open";
    state.localCommand = allowed ? CommandCode.Install : CommandCode.Remove;
    out.push({ type: "emit", event: { type: "local-decision", handle: cmd.handle, allowed } });
  }

  private onReport(handle: Buffer, reportType: number, clientSi: CopsClientSi | undefined, out: CopsAction<CopsPepEvent>[]): void {
    const state = this.states.get(handleKey(handle));
    if (!state) {
      out.push({ type: "emit", event: { type: "protocol-error", error: `report on unknown handle ${handleHex(handle)}` } });
      return;
    }
    // RFC 2748 §3.3: the RPT answering a DEC is solicited; accounting reports are not.
    const solicited = state.pendingReports > 0;
    if (solicited) state.pendingReports--;
    if (this.state !== "open") return;
    const rpt: CopsMessage = { op: "RPT", clientType: this.options.clientType, solicited, handle, reportType };
    if (clientSi) rpt.clientSi = clientSi;
    this.send(rpt, out);
  }

  private onDelete(handle: Buffer, reason: CopsCodePair, out: CopsAction<CopsPepEvent>[]): void {
    const key = handleKey(handle);
    const state = this.states.get(key);
    if (state === undefined || state.deletedFor !== undefined) return;
    // RFC 2748 §2.5: the PDP that comes back must hear of a state a PDP admitted, or the LPDP did (its usage),
    // before its DRQ; one the LPDP refused and no PDP ever saw needs no word.
    const untold = state.pdpKnown || state.localCommand === CommandCode.Install;
    if (this.state !== "open" && this.everOpened && untold && this.untoldDeletes < MAX_UNTOLD_DELETES) {
      state.deletedFor = reason;
      this.untoldDeletes++;
      return;
    }
    this.states.delete(key);
    if (this.state === "open") this.send({ op: "DRQ", clientType: this.options.clientType, handle, reason }, out);
  }

  // ---- helpers ----

  /** Queues `msg` for sending; returns its bytes. */
  private send(msg: CopsMessage, out: CopsAction<CopsPepEvent>[]): Buffer {
    const action = sendAction(msg, this.integrity);
    out.push(action);
    return action.bytes;
  }

  /**
   * Sends a state's REQ again from its stored bytes (SSQ, RFC 2748 §3.5; resync after a new CAT, §2.5), with the
   * LPDP's decision when `withLocal` (the LPDP decisions are otherwise cleared, as on any fresh REQ), sealed afresh.
   */
  private resend(state: RequestState, withLocal: boolean, out: CopsAction<CopsPepEvent>[]): void {
    const decoded = decodeOrError(state.request);
    if (decoded instanceof CopsDecodeError || decoded.op !== "REQ") return; // only a REQ this PEP encoded is kept
    const req: CopsRequestMessage = {
      op: "REQ",
      clientType: decoded.clientType,
      solicited: false,
      handle: decoded.handle,
      context: decoded.context,
      clientSi: decoded.clientSi,
      lpdpDecisions: decoded.lpdpDecisions,
    };
    if (decoded.inInterface) req.inInterface = decoded.inInterface;
    if (decoded.outInterface) req.outInterface = decoded.outInterface;
    if (withLocal) req.lpdpDecisions = state.localCommand >= 0 ? [{ command: state.localCommand, flags: 0 }] : [];
    state.request = ownBytes(this.send(req, out));
  }

  private scheduleKeepAlive(out: CopsAction<CopsPepEvent>[]): void {
    // RFC 2748 §4.4: KA at a random point between 1/4 and 3/4 of the KA timer.
    const delayMs = Math.round(this.kaMs * (0.25 + 0.5 * this.random()));
    out.push({ type: "set-timer", name: "ka-send", delayMs });
  }

  private stopTimers(out: CopsAction<CopsPepEvent>[]): void {
    for (const name of ["open-timeout", "ka-send", "ka-loss", "acct"]) out.push({ type: "cancel-timer", name });
  }

  private closeWithError(error: CopsCodePair, why: string, out: CopsAction<CopsPepEvent>[]): void {
    if (this.state !== "idle") this.send({ op: "CC", clientType: this.options.clientType, error }, out);
    out.push({ type: "emit", event: { type: "protocol-error", error: why, copsErrorCode: error } });
    this.lose(why, out, true);
  }

  private lose(reason: string, out: CopsAction<CopsPepEvent>[], closeSocket: boolean): void {
    this.stopTimers(out);
    if (closeSocket) out.push({ type: "close", reason });
    const wasOpen = this.state === "open" || this.everOpened;
    this.state = "idle";
    if (wasOpen) out.push({ type: "emit", event: { type: "pdp-lost", reason } });
    this.failOver(out);
  }

  private failOver(out: CopsAction<CopsPepEvent>[]): void {
    const current = this.currentServer;
    if (this.everOpened && current) this.lastPdp = current;
    this.redirectTo = undefined;
    const n = this.options.servers?.length ?? 0;
    if (n > 0) this.serverIndex = (this.serverIndex + 1) % n;
    // The next PDP is tried after the reconnect delay, so a PDP refusing at once cannot make us spin.
    out.push({ type: "set-timer", name: "reconnect", delayMs: this.options.reconnectDelayMs ?? 1000 });
  }

  private scheduleReconnect(out: CopsAction<CopsPepEvent>[]): void {
    const n = this.options.servers?.length ?? 0;
    if (n > 0) this.serverIndex = (this.serverIndex + 1) % n;
    out.push({ type: "set-timer", name: "reconnect", delayMs: this.options.reconnectDelayMs ?? 1000 });
  }
}
