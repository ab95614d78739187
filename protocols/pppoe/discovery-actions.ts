// Sans-I/O interface shared by the PPPoE Discovery machines: events in, actions out; time only from events.
import { decodePppoeFrame } from "./pppoe-codec.js";
import { PppoeDecodeError } from "./pppoe-decode-error.js";
import type { PppoeFrame } from "./pppoe-frame.js";

/** What a Discovery machine asks of its driver: send a frame, set or cancel a timer, emit. */
export type PppoeAction<E> =
  | { type: "send"; bytes: Buffer; frame: PppoeFrame }
  | { type: "set-timer"; name: string; delayMs: number }
  | { type: "cancel-timer"; name: string }
  | { type: "emit"; event: E };

/** Frame-port events: `bytes` is one whole Ethernet frame as received. */
export type PppoePortEvent = { type: "frame"; bytes: Buffer } | { type: "timer"; name: string };

/** A received frame decoded, or the drop its decode error makes (any other exception is a bug and is thrown). */
export function decodeOrDrop(bytes: Buffer): { frame: PppoeFrame } | PppoeDrop {
  try {
    return { frame: decodePppoeFrame(bytes) };
  } catch (err) {
    if (err instanceof PppoeDecodeError) return { type: "dropped", cause: err.code, detail: err.message };
    throw err;
  }
}

/** Why a frame was dropped: a decode error code or a Discovery rule; counted and logged by the driver. */
export interface PppoeDrop {
  type: "dropped";
  cause: string;
  detail: string;
}
