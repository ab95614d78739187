// RFC 3261 §18.2.1 and RFC 3581 §4: a server stamps the top Via of a request it receives with the address the
// request came from (received) and, when the client asked with a bare rport, the source port.
import { splitTopLevelCommas } from "../codec/header-lexer.js";
import type { ViaHeader } from "../codec/header-via.js";

/**
 * The first Via header value with `received` and `rport` filled from the request's source, or undefined when
 * nothing changes (no rport asked and the sent-by host is the source address). Only the first via-parm of a
 * comma list is touched.
 */
export function stampReceived(value: string, top: ViaHeader, source: { host: string; port: number }): string | undefined {
  const askedPort = top.rport === true;
  if (!askedPort && top.host === source.host) return undefined;
  const comma = value.indexOf(",") >= 0 ? splitTopLevelCommas(value, "Via") : undefined;
  let first = comma === undefined ? value : comma[0]!;
  if (askedPort) first = first.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${source.port}`);
  // §18.2.1: received is added even when sent-by is a name that resolves to the source; a stale one is replaced.
  if (top.received !== undefined) first = first.replace(/;\s*received\s*=\s*[^;]*/i, "");
  first = `${first};received=${source.host}`;
  return comma === undefined ? first : [first, ...comma.slice(1)].join(", ");
}
