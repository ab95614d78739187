// In-memory CDR store for the in-memory driver and tests: same contract, no disk.
import type { CallDetailRecord, CdrQuery, CdrStore } from "./cdr-store.js";
import { filterCdrs } from "./cdr-store.js";

export class MemoryCdrStore implements CdrStore {
  private readonly records = new Map<string, CallDetailRecord>();

  async insertOnce(record: CallDetailRecord): Promise<boolean> {
    const key = `${record.messageId}\u0000${record.componentId}`;
    if (this.records.has(key)) return false;
    this.records.set(key, { ...record });
    return true;
  }

  async query(query: CdrQuery = {}): Promise<CallDetailRecord[]> {
    return filterCdrs([...this.records.values()], query);
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  async close(): Promise<void> {}
}
