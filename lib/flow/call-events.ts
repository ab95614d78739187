// Typed events the roles emit per call (through `emit` actions); drivers hand them to an eventemitter3 bus.
import { EventEmitter } from "eventemitter3";

/** What a COPS request was for: authorising the call (AAA), installing its local policy at the edge router (LDP), or removing it when the call is over (noLDP). */
export type CopsPurpose = "AAA" | "LDP" | "noLDP";

/** What the roles report as calls proceed: decisions, call states, usage. */
export type CallEvent =
  | { type: "step"; callId: string; role: string; what: string }
  | { type: "decision"; callId: string; role: string; purpose: CopsPurpose | "Install" | "Remove"; allow: boolean; reason?: string }
  | { type: "established"; callId: string; role: string; at: number }
  | { type: "terminated"; callId: string; role: string; at: number; status?: number; endedBy?: string; reason?: string }
  | { type: "usage"; callId: string; role: string; durationS: number; packets: number; octets: number; octetsFromCaller?: number; octetsFromCallee?: number; reported: "clearinghouse" | "local" | "pending"; transactionId?: string }
  | { type: "error"; callId?: string; role: string; message: string };

/** The `type` of a CallEvent. */
export type CallEventType = CallEvent["type"];
/** The CallEvent of one type. */
export type CallEventOf<T extends CallEventType> = Extract<CallEvent, { type: T }>;

/** Listener map for eventemitter3: one event name per type, plus "*" for all of them. */
export type CallEventMap = { [K in CallEventType]: (event: CallEventOf<K>) => void } & {
  /** Every event, whatever its type. */
  "*": (event: CallEvent) => void;
};

/** The bus of a topology: every role's events, filterable per call with `forCall`. */
export class CallEventBus extends EventEmitter<CallEventMap> {
  private readonly perCall = new Map<string, EventEmitter<CallEventMap>>();

  /** Emits the event under its type and `*`, on the bus and on its call's emitter. */
  publish(event: CallEvent): void {
    (this.emit as (name: string, e: CallEvent) => boolean)(event.type, event);
    this.emit("*", event);
    if (event.callId !== undefined) {
      const callBus = this.perCall.get(event.callId);
      if (callBus) {
        (callBus.emit as (name: string, e: CallEvent) => boolean)(event.type, event);
        callBus.emit("*", event);
      }
    }
  }

  /** An emitter that only hears one call's events; `release` it when done. */
  forCall(callId: string): EventEmitter<CallEventMap> {
    let bus = this.perCall.get(callId);
    if (!bus) {
      bus = new EventEmitter<CallEventMap>();
      this.perCall.set(callId, bus);
    }
    return bus;
  }

  /** Drops a call's emitter (from `forCall`). */
  release(callId: string): void {
    this.perCall.get(callId)?.removeAllListeners();
    this.perCall.delete(callId);
  }
}
