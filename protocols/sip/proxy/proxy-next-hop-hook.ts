// The hook of a plain outbound-proxy style forwarder: new requests, and in-dialog requests without a Route
// (as SIPp's built-in scenarios send them), go to one next hop; routed in-dialog requests follow Route (§16.12).
import type { ProxyHook } from "./proxy-types.js";
import type { TransportAddress } from "../transport/transport-types.js";

/** A proxy hook that forwards every request to one next hop (what `callgate proxy` runs). */
export function nextHopHook(nextHop: TransportAddress): ProxyHook {
  return (ctx) => (ctx.inDialog && ctx.hasRoute ? { action: "forward" } : { action: "forward", targets: [{ nextHop }] });
}
