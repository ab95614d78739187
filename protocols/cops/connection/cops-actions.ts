// Sans-I/O machine interface shared by the PEP and PDP connection machines.
import type { CopsMessage } from "../cops-message.js";

/** What a COPS connection machine asks of its driver: send, set or cancel a timer, emit, close. */
export type CopsAction<E = unknown> =
  | { type: "send"; bytes: Buffer; message: CopsMessage }
  | { type: "set-timer"; name: string; delayMs: number }
  | { type: "cancel-timer"; name: string }
  | { type: "emit"; event: E }
  | { type: "close"; reason: string };

/** Transport events every machine understands. `bytes` is one whole framed COPS message. */
export type CopsTransportEvent =
  | { type: "connected" }
  | { type: "message"; bytes: Buffer }
  | { type: "timer"; name: string }
  | { type: "disconnected"; reason?: string };

/** A sans-I/O COPS connection machine: inputs in, actions out. */
export interface CopsMachine<In, Out> {
  /** Takes a command or transport event at `nowMs` (milliseconds) and returns the actions to perform. */
  handle(event: In | CopsTransportEvent, nowMs: number): CopsAction<Out>[];
}
