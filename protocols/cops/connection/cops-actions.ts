// Sans-I/O machine interface shared by the PEP and PDP connection machines.
import type { CopsMessage } from "../cops-message.js";

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

export interface CopsMachine<In, Out> {
  handle(event: In | CopsTransportEvent, nowMs: number): CopsAction<Out>[];
}
