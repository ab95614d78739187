// The session counter of a DSC: a DscNode on sockets (TCP/TLS to its peers), or a DscCore alone.
import type { DscNode, EntityStats } from "../../protocols/dsc/index.js";
import type { AuthoriseRequest, CounterDecision, SessionCounter } from "./session-counter.js";

/** The session counter of a distributed session counter (DSC): a node on sockets, or a core alone. */
export class DscSessionCounter implements SessionCounter {
  constructor(readonly node: DscNode) {}

  async authorise(req: AuthoriseRequest): Promise<CounterDecision> {
    const d = await this.node.authorise(req);
    return d.granted ? { granted: true } : d;
  }

  release(sessionId: string): void {
    this.node.terminate(sessionId);
  }

  entityStats(): [string, EntityStats][] {
    const core = this.node.core;
    return core.entities().map((e) => [e, core.entityStats(e)]);
  }
}
