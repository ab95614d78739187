// The OSP clearinghouse (CH of WO 01/35294): authorises calls with tokens and turns usage into CDRs.
import type { OspMessage, OspSpelling, OspTokenSigner } from "../../protocols/osp/index.js";
import type { CdrStore } from "../adapters/cdr-store.js";

export interface ClearinghouseRoute {
  /** Called-number prefix this route serves ("" matches everything). */
  prefix: string;
  /** Ordered destinations: signalling addresses, e.g. "[192.0.2.20]:5060". */
  destinations: { address: string; number?: string }[];
  /** Longest call allowed on this route, in seconds (sent as the destination's UsageDetail Amount). */
  timeLimitSeconds?: number;
  /** Sources (calling-side addresses or numbers' prefixes) allowed to use the route; absent = everyone. */
  allowedSources?: string[];
}

export interface ClearinghouseOptions {
  routes: ClearinghouseRoute[];
  store: CdrStore;
  /** Signs tokens; without it tokens are unsigned TokenInfo XML. */
  signer?: OspTokenSigner;
  tokenLifetimeMs?: number;
  spelling?: OspSpelling;
}

export interface ClearinghouseReply {
  message: OspMessage;
  bytes: Buffer;
}

export class Clearinghouse {
  constructor(readonly options: ClearinghouseOptions) {}

  /** Sans-I/O core: one OSP request in (bytes or a decoded message), its answer out; time only from nowMs. */
  async handle(_request: Buffer | string | OspMessage, _nowMs: number, _peer?: string): Promise<ClearinghouseReply> {
    throw new Error("not implemented yet");
  }
}
