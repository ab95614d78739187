// Concurrent-session limits across policy servers: the policy adapter and its counters.
export { SessionLimitPolicy, addressOf, entitiesOf, registerSessionCounterMetrics } from "./session-limit-policy.js";
export type { MembershipRules, SessionLimitPolicyOptions } from "./session-limit-policy.js";
export { DscSessionCounter } from "./dsc-counter.js";
export { InProcessDscCluster } from "./in-process.js";
export type { CounterDecision, SessionCounter } from "./session-counter.js";
