// Call detail records: what the clearinghouse keeps from each UsageIndication, behind one store interface.

export interface CallDetailRecord {
  /** Idempotency key: the reporting peer's messageId and componentId (a retransmission carries the same). */
  messageId: string;
  componentId: string;
  receivedAt: number;
  role?: string;
  transactionId?: string;
  /** CallId bytes as base64. */
  callId?: string;
  source?: string;
  destination?: string;
  destinationSignalAddress?: string;
  startTime?: number;
  endTime?: number;
  /** Seconds (or whatever Unit says) of usage reported. */
  duration?: number;
  unit?: string;
  terminationCause?: number;
  peer?: string;
}

export interface CdrQuery {
  since?: number;
  until?: number;
  transactionId?: string;
  limit?: number;
}

export interface CdrStore {
  /** Stores the record durably unless one with the same (messageId, componentId) exists; true when newly stored. Resolves only once the record is on disk. */
  insertOnce(record: CallDetailRecord): Promise<boolean>;
  query(query?: CdrQuery): Promise<CallDetailRecord[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}
