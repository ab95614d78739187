// A clearinghouse (FIG. 5 CH, an OSP server of ETSI TS 101 321) on real sockets: it authorises calls with signed
// tokens and stores each usage report in its CDR store before it confirms it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OspTokenSigner } from "../../protocols/osp/index.js";
import { MemoryCdrStore } from "../adapters/cdr-store-memory.js";
import { SqliteCdrStore } from "../adapters/cdr-store-sqlite.js";
import type { CdrStore } from "../adapters/cdr-store.js";
import { ClearinghouseNode } from "../roles/ch-node.js";
import { Clearinghouse, type ClearinghouseRoute } from "../roles/clearinghouse.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import { hostPortOf, startDeployedRole, startRoleOnSockets, type DeployedRoleStartOptions, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

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
  /**
   * Instead of `cdrStore`: a SQLite CDR file (needs better-sqlite3), opened at start and closed with the handle, so
   * a restarted clearinghouse keeps what it confirmed; `"temporary"` for one removed on close.
   */
  cdrFile?: string;
  /** Signs its tokens (CMS SignedData); without it tokens are unsigned TokenInfo XML. */
  signer?: OspTokenSigner;
  /** How long a token stays valid (default 5 min). */
  tokenLifetimeMs?: number;
}

/** Starts a clearinghouse (or a deployment's, given `deployed`); its policy servers post to `handle.addresses.osp`. */
export async function startClearinghouse(options: ClearinghouseStartOptions | DeployedRoleStartOptions<ClearinghouseNode>): Promise<RoleHandle<ClearinghouseNode>> {
  if ("deployed" in options) return startDeployedRole(options, { ospServer: true }, {});
  const name = options.name ?? "CH";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  if (options.cdrFile !== undefined && options.cdrStore !== undefined) throw new Error("startClearinghouse takes cdrStore or cdrFile, not both");
  const file = options.cdrFile === undefined ? undefined : openCdrFile(options.cdrFile === "temporary" ? undefined : options.cdrFile);
  const clearinghouse = new Clearinghouse({
    routes: options.routes ?? [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }], timeLimitSeconds: 4 * 3600 }],
    store: file?.store ?? options.cdrStore ?? new MemoryCdrStore(),
    ...(options.signer ? { signer: options.signer } : {}),
    ...(options.tokenLifetimeMs !== undefined ? { tokenLifetimeMs: options.tokenLifetimeMs } : {}),
  });
  const node = new ClearinghouseNode(name, clearinghouse);
  const directory: Record<string, NodeAddresses> = { [name]: { host: listen.host, osp: listen.port } };
  for (const client of options.clients) directory[client] = { host: listen.host };
  return startRoleOnSockets(node, { ospServer: true }, { directory, ...(file ? { release: file.close } : {}) }, options);
}

/**
 * A clearinghouse's SQLite CDR file: `file`, which outlives the process (a restarted clearinghouse keeps what it
 * confirmed and stores a retried report once), or without one a temporary file removed on close (CDRs held in
 * memory would grow with every call, about 1 KB each).
 */
export function openCdrFile(file: string | undefined): { store: SqliteCdrStore; close: () => Promise<void> } {
  const scratch = file === undefined ? mkdtempSync(join(tmpdir(), "callgate-ch-")) : undefined;
  let store: SqliteCdrStore;
  try {
    store = new SqliteCdrStore(file ?? join(scratch ?? "", "cdr.sqlite"));
  } catch (err) {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  return {
    store,
    close: async () => {
      await store.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
