// A clearinghouse (FIG. 5 CH, an OSP server of ETSI TS 101 321) on real sockets: it authorises calls with signed
// tokens and stores each usage report in its CDR store before it confirms it.
import type { OspTokenSigner } from "../../protocols/osp/index.js";
import { MemoryCdrStore } from "../adapters/cdr-store-memory.js";
import type { CdrStore } from "../adapters/cdr-store.js";
import { ClearinghouseNode } from "../roles/ch-node.js";
import { Clearinghouse, type ClearinghouseRoute } from "../roles/clearinghouse.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import { hostPortOf, startRoleOnSockets, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface ClearinghouseStartOptions extends RoleSocketOptions {
  /** The clearinghouse's node name (default "CH"): its policy servers' OSP adapters name it as their peer. */
  name?: string;
  /** Where OSP is served over HTTP (path /osp; default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /** Node names of the policy servers it serves (their requests say `User-Agent: callgate-NAME`); others get 400. */
  clients: string[];
  /** Routes by called number prefix (default: every number to one destination, 4 hours). */
  routes?: ClearinghouseRoute[];
  /** Where CDRs go before their UsageConfirmation (default: a MemoryCdrStore). */
  cdrStore?: CdrStore;
  /** Signs its tokens (CMS SignedData); without it tokens are unsigned TokenInfo XML. */
  signer?: OspTokenSigner;
  /** How long a token stays valid (default 5 min). */
  tokenLifetimeMs?: number;
}

/** Starts a clearinghouse; its policy servers post to `handle.addresses.osp`. */
export async function startClearinghouse(options: ClearinghouseStartOptions): Promise<RoleHandle<ClearinghouseNode>> {
  const name = options.name ?? "CH";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  const clearinghouse = new Clearinghouse({
    routes: options.routes ?? [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }], timeLimitSeconds: 4 * 3600 }],
    store: options.cdrStore ?? new MemoryCdrStore(),
    ...(options.signer ? { signer: options.signer } : {}),
    ...(options.tokenLifetimeMs !== undefined ? { tokenLifetimeMs: options.tokenLifetimeMs } : {}),
  });
  const node = new ClearinghouseNode(name, clearinghouse);
  const directory: Record<string, NodeAddresses> = { [name]: { host: listen.host, osp: listen.port } };
  for (const client of options.clients) directory[client] = { host: listen.host };
  return startRoleOnSockets(node, { ospServer: true }, { directory }, options);
}
