// A driver context for unit tests of the socket driver's caller transports: SIP1 accepts the lab's outside
// caller (peer "UAC"); what the transports hand to SIP1 and the drops they count are kept as text.
import { CallHints } from "../../lib/drivers/call-hints.js";
import type { SocketDriverContext } from "../../lib/drivers/socket-types.js";

export interface CallerDriverContext {
  context: SocketDriverContext;
  /** Messages handed to SIP1, as text. */
  delivered: string[];
  /** Causes of the drops counted. */
  drops: string[];
}

export function callerDriverContext(): CallerDriverContext {
  const delivered: string[] = [];
  const drops: string[] = [];
  const context: SocketDriverContext = {
    options: { externalSipPeer: { acceptor: "SIP1", as: "UAC" }, onDrop: (_proto, cause) => drops.push(cause) },
    now: 0,
    stopped: false,
    hints: new CallHints(),
    isLocal: () => false,
    listening: () => undefined,
    deliver: (_proto, _from, _to, bytes) => delivered.push(bytes.toString("latin1")),
    dispatch: () => undefined,
    record: () => undefined,
  };
  return { context, delivered, drops };
}
