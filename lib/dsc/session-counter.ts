// What a session-limit policy asks of its counter, whichever keeps the counts: the distributed session counters
// (peer to peer) or Redis.
import type { AuthoriseRequest, EntityStats, RefusalCause } from "../../protocols/dsc/index.js";

export type { AuthoriseRequest, EntityStats, RefusalCause };

/** A session granted, or refused with the cause and the entity at its limit. */
export type CounterDecision = { granted: true } | { granted: false; cause: RefusalCause; entity: string };

/** What a session-limit policy asks of its counter, whichever keeps the counts: the distributed session counters or Redis. */
export interface SessionCounter {
  /** May this session count against its entities? Idempotent per session id. */
  authorise(req: AuthoriseRequest): CounterDecision | PromiseLike<CounterDecision>;
  /** The session ended (or was never set up): it stops counting. Unknown ids are ignored. */
  release(sessionId: string, entities: readonly string[]): void | PromiseLike<void>;
  /** Every entity with a count or decisions here, with them. */
  entityStats(): Iterable<[string, EntityStats]> | PromiseLike<Iterable<[string, EntityStats]>>;
}
