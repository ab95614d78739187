// The option negotiation automaton of RFC 1661 §4, shared by LCP and IPCP (RFC 1332 §2): events in,
// actions out; what to request and what to accept is the caller's policy. Sans-I/O: timers are actions.
import { decodeControlPacket, encodeControlPacket } from "./ppp-codec.js";
import type { ControlPacket, ControlProtocolName, PppOption } from "./ppp-codec.js";
import { PppoeDecodeError } from "./pppoe-decode-error.js";

/** The states of RFC 1661 §4.2 this automaton uses (Starting/Stopping folded into Initial/Closing). */
export type NegotiationState = "initial" | "req-sent" | "ack-rcvd" | "ack-sent" | "opened" | "closing" | "closed";

/** The verdict on the peer's options: ack, or nak/reject with the options concerned. */
export type Judgement = { verdict: "ack" } | { verdict: "nak" | "reject"; options: PppOption[] };

/** What a control protocol asks for and what it accepts of the peer. */
export interface NegotiationPolicy {
  /** Options of our next Configure-Request. */
  request(): PppOption[];
  /** The peer's Configure-Request: Ack it, or Nak/Reject the options listed (RFC 1661 §5.3, §5.4). */
  judge(options: PppOption[]): Judgement;
  /** The peer Nak'd these of our options with the values it wants (§5.3). */
  nakked(options: PppOption[]): void;
  /** The peer Rejected these of our options (§5.4). */
  rejected(options: PppOption[]): void;
}

/** What the automaton asks: send, start or stop its timer, this-layer-up or -down. */
export type NegotiationAction =
  | { type: "send"; packet: ControlPacket; bytes: Buffer }
  | { type: "set-timer"; delayMs: number }
  | { type: "cancel-timer" }
  | { type: "up" }
  | { type: "down" }
  | { type: "finished"; reason: "closed" | "peer-terminated" | "no-answer" | "refused" }
  | { type: "echo-reply"; identifier: number; magic: number; data: Buffer }
  | { type: "dropped"; cause: string; detail: string };

/** Restart timer and counters of the automaton (RFC 1661 §4.6). */
export interface NegotiationOptions {
  protocol: ControlProtocolName;
  policy: NegotiationPolicy;
  /** Restart timer (RFC 1661 §4.6, default 3 s). */
  restartMs?: number;
  /** Max-Configure (default 10) and Max-Terminate (default 2) of §4.6. */
  maxConfigure?: number;
  maxTerminate?: number;
  /** Max-Failure (§4.6, default 5): Naks sent before Naks become Rejects. */
  maxFailure?: number;
  /** Our Magic-Number for Echo-Reply (LCP only). */
  magic?: number;
}

/** The option negotiation automaton of RFC 1661 §4, shared by LCP and IPCP. */
export class NegotiationMachine {
  private current: NegotiationState = "initial";
  private identifier = 0;
  private lastRequest: Buffer | undefined;
  private restarts = 0;
  private failures = 0;
  private readonly restartMs: number;

  constructor(private readonly options: NegotiationOptions) {
    this.restartMs = options.restartMs ?? 3000;
  }

  get state(): NegotiationState {
    return this.current;
  }

  /** The lower layer is up and we want the link (RFC 1661 §4.1 Up + Open). */
  open(): NegotiationAction[] {
    if (this.current !== "initial" && this.current !== "closed") return [];
    this.restarts = this.options.maxConfigure ?? 10;
    this.failures = this.options.maxFailure ?? 5;
    this.current = "req-sent";
    return this.sendConfigureRequest(true);
  }

  /** Administrative Close: Terminate-Request until acknowledged or Max-Terminate (§4.3 "Close"). */
  close(): NegotiationAction[] {
    const wasOpened = this.current === "opened";
    if (this.current === "initial" || this.current === "closed" || this.current === "closing") return [];
    this.current = "closing";
    this.restarts = this.options.maxTerminate ?? 2;
    return [...(wasOpened ? [{ type: "down" } as const] : []), ...this.sendTerminateRequest()];
  }

  /** The lower layer went away: no packets, just the state (§4.3 "Down"). */
  abort(): NegotiationAction[] {
    const wasOpened = this.current === "opened";
    this.current = "initial";
    return [{ type: "cancel-timer" }, ...(wasOpened ? [{ type: "down" } as const] : [])];
  }

  /** The restart timer fired (RFC 1661 §4.1, TO+ or TO-). */
  timeout(): NegotiationAction[] {
    switch (this.current) {
      case "req-sent":
      case "ack-rcvd":
      case "ack-sent":
        if (this.restarts <= 0) {
          this.current = "closed";
          return [{ type: "finished", reason: "no-answer" }];
        }
        if (this.current === "ack-rcvd") this.current = "req-sent";
        return this.sendConfigureRequest(false);
      case "closing":
        if (this.restarts <= 0) {
          this.current = "closed";
          return [{ type: "finished", reason: "closed" }];
        }
        return this.sendTerminateRequest();
      default:
        return [];
    }
  }

  /** One received packet of this protocol (the Information of its PPP frame). */
  receive(information: Buffer): NegotiationAction[] {
    let packet: ControlPacket;
    try {
      packet = decodeControlPacket(information, this.options.protocol);
    } catch (err) {
      if (err instanceof PppoeDecodeError) return [{ type: "dropped", cause: `${this.options.protocol}-${err.code}`, detail: err.message }];
      throw err;
    }
    if (this.current === "initial") return [{ type: "dropped", cause: `${this.options.protocol}-not-open`, detail: `${packet.code} before the link is open` }];
    switch (packet.code) {
      case "configure-request":
        return this.onConfigureRequest(packet.identifier, packet.options);
      case "configure-ack":
        return this.onConfigureAck(packet.identifier, information);
      case "configure-nak":
      case "configure-reject":
        return this.onNakOrReject(packet.code, packet.identifier, packet.options);
      case "terminate-request":
        return this.onTerminateRequest(packet.identifier);
      case "terminate-ack":
        return this.onTerminateAck();
      case "echo-request":
        if (this.current !== "opened") return [];
        return [this.send({ code: "echo-reply", identifier: packet.identifier, magic: this.options.magic ?? 0, data: packet.data })];
      case "echo-reply":
        return [{ type: "echo-reply", identifier: packet.identifier, magic: packet.magic, data: packet.data }];
      case "discard-request":
      case "code-reject":
      case "protocol-reject":
        // RXJ+: nothing this layer sends can be rejected without ending the link another way (§4.3).
        return [];
      case "unknown":
        return [this.send({ code: "code-reject", identifier: this.nextIdentifier(), rejected: information.subarray(0, Math.min(information.length, 1400)) })];
    }
  }

  /** An Echo-Request with our magic (LCP keepalive). */
  echoRequest(data: Buffer = Buffer.alloc(0)): NegotiationAction[] {
    if (this.current !== "opened") return [];
    return [this.send({ code: "echo-request", identifier: this.nextIdentifier(), magic: this.options.magic ?? 0, data })];
  }

  private nextIdentifier(): number {
    this.identifier = (this.identifier + 1) & 0xff;
    return this.identifier;
  }

  private send(packet: ControlPacket): NegotiationAction {
    return { type: "send", packet, bytes: encodeControlPacket(packet) };
  }

  private sendConfigureRequest(fresh: boolean): NegotiationAction[] {
    // Retransmissions keep the Identifier; new contents get a new one (RFC 1661 §5.1).
    const options = this.options.policy.request();
    const identifier = fresh || !this.lastRequest ? this.nextIdentifier() : this.identifier;
    const action = this.send({ code: "configure-request", identifier, options });
    this.lastRequest = action.type === "send" ? action.bytes : undefined;
    this.restarts--;
    return [action, { type: "set-timer", delayMs: this.restartMs }];
  }

  private sendTerminateRequest(): NegotiationAction[] {
    this.restarts--;
    return [this.send({ code: "terminate-request", identifier: this.nextIdentifier(), data: Buffer.alloc(0) }), { type: "set-timer", delayMs: this.restartMs }];
  }

  private onConfigureRequest(identifier: number, options: PppOption[]): NegotiationAction[] {
    if (this.current === "closing") return [];
    if (this.current === "closed") {
      return [this.send({ code: "terminate-ack", identifier, data: Buffer.alloc(0) })];
    }
    const out: NegotiationAction[] = [];
    if (this.current === "opened") {
      // A renegotiation: This-Layer-Down, then our own request again (§4.3 RCR in Opened).
      out.push({ type: "down" });
      this.current = "req-sent";
      this.restarts = this.options.maxConfigure ?? 10;
      out.push(...this.sendConfigureRequest(true));
    }
    let judgement = this.options.policy.judge(options);
    if (judgement.verdict === "nak") {
      // After Max-Failure Naks the options are Rejected instead, so negotiation converges (§4.6).
      if (this.failures <= 0) judgement = { verdict: "reject", options: judgement.options };
      else this.failures--;
    }
    if (judgement.verdict === "ack") {
      out.push(this.send({ code: "configure-ack", identifier, options }));
      if (this.current === "ack-rcvd") {
        this.current = "opened";
        out.push({ type: "cancel-timer" }, { type: "up" });
      } else this.current = "ack-sent";
      return out;
    }
    out.push(this.send({ code: judgement.verdict === "nak" ? "configure-nak" : "configure-reject", identifier, options: judgement.options }));
    if (this.current === "ack-sent") this.current = "req-sent";
    return out;
  }

  private onConfigureAck(identifier: number, information: Buffer): NegotiationAction[] {
    const sent = this.lastRequest;
    // An Ack must match the Identifier and options of the last request (RFC 1661 §5.2).
    if (!sent || identifier !== this.identifier || information.length < sent.length || !information.subarray(4, sent.length).equals(sent.subarray(4))) {
      return [{ type: "dropped", cause: `${this.options.protocol}-stale-ack`, detail: `Configure-Ack ${identifier} does not match request ${this.identifier}` }];
    }
    switch (this.current) {
      case "req-sent":
        this.current = "ack-rcvd";
        this.restarts = this.options.maxConfigure ?? 10;
        return [];
      case "ack-sent":
        this.current = "opened";
        return [{ type: "cancel-timer" }, { type: "up" }];
      case "ack-rcvd":
        this.current = "req-sent";
        return this.sendConfigureRequest(true);
      case "opened":
        this.current = "req-sent";
        return [{ type: "down" }, ...this.sendConfigureRequest(true)];
      default:
        return [];
    }
  }

  private onNakOrReject(code: string, identifier: number, options: PppOption[]): NegotiationAction[] {
    if (identifier !== this.identifier) {
      return [{ type: "dropped", cause: `${this.options.protocol}-stale-nak`, detail: `${code} ${identifier} does not match request ${this.identifier}` }];
    }
    if (code === "configure-nak") this.options.policy.nakked(options);
    else this.options.policy.rejected(options);
    switch (this.current) {
      case "req-sent":
      case "ack-sent":
        return this.sendConfigureRequest(true);
      case "ack-rcvd":
        this.current = "req-sent";
        return this.sendConfigureRequest(true);
      case "opened":
        this.current = "req-sent";
        return [{ type: "down" }, ...this.sendConfigureRequest(true)];
      default:
        return [];
    }
  }

  private onTerminateRequest(identifier: number): NegotiationAction[] {
    const ack = this.send({ code: "terminate-ack", identifier, data: Buffer.alloc(0) });
    if (this.current === "opened") {
      this.current = "closed";
      return [ack, { type: "down" }, { type: "cancel-timer" }, { type: "finished", reason: "peer-terminated" }];
    }
    if (this.current === "req-sent" || this.current === "ack-rcvd" || this.current === "ack-sent") {
      this.current = "req-sent";
      return [ack];
    }
    return [ack];
  }

  private onTerminateAck(): NegotiationAction[] {
    if (this.current === "closing") {
      this.current = "closed";
      return [{ type: "cancel-timer" }, { type: "finished", reason: "closed" }];
    }
    if (this.current === "ack-rcvd") this.current = "req-sent";
    if (this.current === "opened") {
      this.current = "req-sent";
      return [{ type: "down" }, ...this.sendConfigureRequest(true)];
    }
    return [];
  }
}
