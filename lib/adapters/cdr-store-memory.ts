// In-memory CDR store for the in-memory driver and tests: same contract, no disk.
import type { CallDetailRecord, CdrQuery, CdrStore } from "./cdr-store.js";
import { cdrIdentity, filterCdrs } from "./cdr-store.js";

/** A CDR store in memory: for tests and short runs (lost on exit). */
export class MemoryCdrStore implements CdrStore {
  private readonly records = new Map<string, CallDetailRecord>();
  private nextTransactionId = 1n;

  async insertOnce(record: CallDetailRecord): Promise<boolean> {
    const key = cdrIdentity(record);
    if (this.records.has(key)) return false;
    this.records.set(key, { ...record });
    return true;
  }

  reserveTransactionIds(count: number, floor: bigint): bigint {
    const first = this.nextTransactionId > floor ? this.nextTransactionId : floor;
    this.nextTransactionId = first + BigInt(count);
    return first;
  }

  async query(query: CdrQuery = {}): Promise<CallDetailRecord[]> {
    return filterCdrs([...this.records.values()], query);
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  async close(): Promise<void> {}
}
