// RFC 3261 §17.1.1.1 / §17.1.2.1 / §17.2.1 / §17.2.2 and Table 4 (Appendix A): transaction timer values.

/** The RFC 3261 transaction timers. */
export type TransactionTimerName = "A" | "B" | "D" | "E" | "F" | "G" | "H" | "I" | "J" | "K" | "L";

/** T1 (RTT estimate), T2 (max non-INVITE / INVITE-response retransmit interval), T4 (max network lifetime), in ms. */
export interface TransactionTimerConfig {
  t1: number;
  t2: number;
  t4: number;
}

// RFC 3261 Appendix A: T1 500 ms, T2 4 s, T4 5 s.
/** T1 500 ms, T2 4 s, T4 5 s (RFC 3261 Table 4). */
export const DEFAULT_TIMER_CONFIG: Readonly<TransactionTimerConfig> = Object.freeze({ t1: 500, t2: 4000, t4: 5000 });

/** T1, T2 and T4 with the defaults filled in. */
export function resolveTimerConfig(partial?: Partial<TransactionTimerConfig>): TransactionTimerConfig {
  const cfg = { ...DEFAULT_TIMER_CONFIG, ...partial };
  for (const k of ["t1", "t2", "t4"] as const) {
    if (!Number.isFinite(cfg[k]) || cfg[k] <= 0) throw new RangeError(`transaction timer ${k} must be a positive number of ms, got ${cfg[k]}`);
  }
  return cfg;
}

/** Timer B / F / H / J all last 64*T1 (RFC 3261 Table 4), as does Timer L (RFC 6026 §8.11). */
export function transactionTimeout(cfg: TransactionTimerConfig): number {
  return 64 * cfg.t1;
}

/** Timer D: at least 32 s for unreliable transports, 0 for reliable (RFC 3261 §17.1.1.2). */
export function timerD(cfg: TransactionTimerConfig, reliable: boolean): number {
  return reliable ? 0 : Math.max(32_000, 64 * cfg.t1);
}

/** Timer I (§17.2.1) and Timer K (§17.1.2.2): T4 for unreliable transports, 0 for reliable (Table 4). */
export function timerIorK(cfg: TransactionTimerConfig, reliable: boolean): number {
  return reliable ? 0 : cfg.t4;
}

/** Timer J: 64*T1 for unreliable transports, 0 for reliable (RFC 3261 §17.2.2). */
export function timerJ(cfg: TransactionTimerConfig, reliable: boolean): number {
  return reliable ? 0 : transactionTimeout(cfg);
}
